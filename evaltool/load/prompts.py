"""`evaltool load prompts`: test cases into a dataset."""

from collections.abc import Sequence
from pathlib import Path

import psycopg

from evaltool import datasets, queries
from evaltool.errors import EvaltoolError
from evaltool.load import LoadSummary, insert_or_explain, load_rows, stage_files
from evaltool.load.formats import JSONL_FORMATS, container, detect, prompt_csv, reader
from evaltool.load.records import FieldMap, Records
from evaltool.load.sources import Source
from evaltool.load.stage import Progress, Reject, Stage


def load_prompts(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    ref: datasets.DatasetRef,
    *,
    fmt: str = "auto",
    field_map: FieldMap | None = None,
    records: Records | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> LoadSummary:
    """Load test cases from JSON Lines, JSON or CSV inputs into a dataset, in one
    transaction. `fmt` names a format of lines (or a container: jsonl, json, csv); auto
    tells them apart. CSV rows are in evaltool's format, after `field_map`. `records`
    reads the inputs instead (evaltool import)."""
    field_map = field_map or FieldMap()
    if len({container(source, fmt) == "csv" for source in sources}) > 1:
        raise EvaltoolError("CSV and JSON inputs mixed: load them separately")
    records = records or reader(sources, fmt, field_map, prompt_csv(field_map))
    shape = fmt if fmt in JSONL_FORMATS else "auto"
    if container(sources[0], fmt) == "csv":
        shape = "evaltool"
    with conn.transaction():
        dataset = datasets.ensure(conn, ref)
        skip: list[int] = []  # lines set aside for their id, left out of the insert

        def stage_inputs(stage: Stage) -> None:
            stage_files(stage, sources, records, progress, skip_invalid=skip_invalid)
            conn.execute(queries.get(_docs_view(conn, stage, shape)))

        def set_aside(stage: Stage) -> list[Reject]:
            rejects = []
            for ord, external_id, other in _id_conflicts(conn, dataset.id):
                reason = _id_reason(stage, dataset, external_id, other)
                rejects.append(Reject(ord, *stage.locate(ord), reason, ""))
                skip.append(ord)
            return rejects

        def insert(stage: Stage, params: dict[str, object]) -> int:
            def explain(exc: psycopg.Error) -> str | None:
                if exc.diag.constraint_name != "prompt_dataset_external_id_key":
                    return None
                ord, external_id, other = next(iter(_id_conflicts(conn, dataset.id)))
                return f"{stage.where(ord)}: {_id_reason(stage, dataset, external_id, other)}"

            params = {**params, "skip": skip}
            statement = queries.get("prompt_insert")
            if _is_empty(conn, dataset.id):
                try:  # nothing to collide with but repeats inside the input: no ON CONFLICT
                    return insert_or_explain(conn, stage, statement, params, explain)
                except psycopg.errors.UniqueViolation as exc:
                    if exc.diag.constraint_name != "prompt_dataset_hash_key":
                        raise
            deduplicated = f"{statement}\n{queries.get('prompt_on_conflict')}"
            return insert_or_explain(conn, stage, deduplicated, params, explain)

        return load_rows(
            conn,
            sources,
            kind="prompts",
            target=f"dataset {dataset.ref}",
            created=[f"project {ref.project}"] * dataset.project_created
            + [f"dataset {dataset.ref}"] * dataset.created,
            context={"dataset_id": dataset.id},
            rows_view="prompt_rows_create",
            insert=insert,
            params={"dataset_id": dataset.id},
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
            stage_inputs=stage_inputs,
            rows_rejects="prompt_rejects",
            set_aside=set_aside,
        )


def _is_empty(conn: psycopg.Connection, dataset_id: int) -> bool:
    row = conn.execute(queries.get("dataset_is_empty"), {"dataset_id": dataset_id}).fetchone()
    return bool(row and row[0])


def _docs_view(conn: psycopg.Connection, stage: Stage, fmt: str) -> str:
    if fmt != "auto":
        return JSONL_FORMATS[fmt]
    first = conn.execute(queries.get("docs_first")).fetchone()
    return JSONL_FORMATS[detect(first[1], stage.where(first[0])) if first else "evaltool"]


def _id_conflicts(conn: psycopg.Connection, dataset_id: int) -> list[tuple[int, str, int | None]]:
    rows = conn.execute(
        queries.get("prompt_id_conflicts"), {"dataset_id": dataset_id, "skip": []}
    ).fetchall()
    return [(ord, external_id, other) for ord, external_id, other in rows]


def _id_reason(stage: Stage, dataset: datasets.Dataset, external_id: str, other: int | None) -> str:
    where = f"line {stage.where(other)}" if other else f"dataset {dataset.ref}"
    return f'id "{external_id}" is already used by a different input ({where})'
