"""`evaltool load responses` and `load scores`: results produced outside evaltool."""

from collections.abc import Sequence
from pathlib import Path

import psycopg

from evaltool import datasets, queries
from evaltool.errors import EvaltoolError
from evaltool.load import LoadSummary, load_rows
from evaltool.load.formats import reader, typed_csv
from evaltool.load.records import FieldMap, Records
from evaltool.load.sources import Source
from evaltool.load.stage import Progress

# Fields of CSV rows read as numbers (the others are text)
RESPONSE_NUMBERS = ("latency_ms", "input_tokens", "output_tokens", "cost_usd", "attempts", "sample")
SCORE_NUMBERS = ("value", "sample", "response_id")


def load_responses(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    *,
    run_id: int | None = None,
    model: str | None = None,
    dataset: datasets.DatasetRef | None = None,
    name: str | None = None,
    fmt: str = "auto",
    field_map: FieldMap | None = None,
    records: Records | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> LoadSummary:
    """Load response lines into an existing run, or into a new run of `model` over `dataset`."""
    field_map = field_map or FieldMap()
    records = records or reader(
        sources,
        fmt,
        field_map,
        typed_csv(field_map, RESPONSE_NUMBERS, ("tokens_estimated",), ("metadata",)),
    )
    with conn.transaction():
        created = []
        if run_id is None:
            if model is None or dataset is None:
                raise EvaltoolError("give --run RUN, or --model and --dataset for a new run")
            found = datasets.find(conn, dataset)
            row = conn.execute(
                queries.get("run_for_load"),
                {
                    "dataset_id": found.id,
                    "model": model,
                    "files": [s.name for s in sources],
                    "name": name or f"loaded from {sources[0].name}",
                },
            ).fetchone()
            if row is None:
                raise EvaltoolError(f"no model named {model!r}: see evaltool models list")
            run_id = row[0]
            created.append(f"run {run_id}")
        dataset_id, model_id, project_id = _run(conn, run_id)
        summary = load_rows(
            conn,
            sources,
            kind="responses",
            target=f"run {run_id}",
            created=created,
            context={
                "project_id": project_id,
                "dataset_id": dataset_id,
                "run_id": run_id,
                "model_id": model_id,
            },
            rows_view="response_rows_create",
            insert="response_insert",
            params={},
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
            records=records,
        )
        conn.execute(queries.get("run_repeats_loaded"), {"run_id": run_id})
        return summary


def load_scores(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    *,
    run_id: int | None = None,
    scorer: str = "imported",
    fmt: str = "auto",
    field_map: FieldMap | None = None,
    records: Records | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> LoadSummary:
    """Load score lines, naming responses by id, or by test case within `run_id`."""
    field_map = field_map or FieldMap()
    records = records or reader(
        sources, fmt, field_map, typed_csv(field_map, SCORE_NUMBERS, ("passed",), ("details",))
    )
    with conn.transaction():
        context: dict[str, int | None] = {"run_id": run_id}
        if run_id is not None:
            context["dataset_id"], context["model_id"], context["project_id"] = _run(conn, run_id)
        return load_rows(
            conn,
            sources,
            kind="scores",
            target=f"run {run_id}" if run_id is not None else "responses by id",
            created=[],
            context=context,
            rows_view="score_rows_create",
            insert="score_insert",
            params={"scorer": scorer},
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
            records=records,
        )


def _run(conn: psycopg.Connection, run_id: int) -> tuple[int, int, int]:
    row = conn.execute(queries.get("run_target"), {"run_id": run_id}).fetchone()
    if row is None:
        raise EvaltoolError(f"no run {run_id}")
    return row[0], row[1], row[2]
