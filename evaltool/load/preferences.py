"""`evaltool load preferences`: pairwise judgments made elsewhere (annotation tools, arenas)."""

from collections.abc import Sequence
from pathlib import Path

import psycopg

from evaltool import queries
from evaltool.errors import EvaltoolError
from evaltool.load import LoadSummary, load_rows
from evaltool.load.formats import reader, typed_csv
from evaltool.load.records import FieldMap
from evaltool.load.sources import Source
from evaltool.load.stage import Progress


def load_preferences(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    *,
    judge: str,
    judge_kind: str = "human",
    run_a: int | None = None,
    run_b: int | None = None,
    fmt: str = "auto",
    field_map: FieldMap | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> LoadSummary:
    """Load judgment lines; with `run_a` and `run_b`, lines may name test cases instead of
    responses. `judge` and `judge_kind` apply to lines that name none."""
    if (run_a is None) != (run_b is None):
        raise EvaltoolError("give both --run-a and --run-b, or neither")
    field_map = field_map or FieldMap()
    records = reader(
        sources,
        fmt,
        field_map,
        typed_csv(field_map, ("response_a", "response_b"), (), ("details",)),
    )
    with conn.transaction():
        context: dict[str, int | None] = {"run_id": run_a, "run_b_id": run_b}
        target = "responses by id"
        if run_a is not None:
            row = conn.execute(
                queries.get("preference_runs"), {"run_a": run_a, "run_b": run_b}
            ).fetchone()
            assert row is not None
            for run_id, dataset_id in zip((run_a, run_b), row, strict=True):
                if dataset_id is None:
                    raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
            if row[0] != row[1]:
                raise EvaltoolError(f"runs {run_a} and {run_b} answer different datasets")
            context["dataset_id"] = row[0]
            target = f"runs {run_a} and {run_b}"
        return load_rows(
            conn,
            sources,
            kind="preferences",
            target=target,
            created=[],
            context=context,
            rows_view="preference_rows_create",
            insert="preference_insert",
            params={"judge": judge, "judge_kind": judge_kind},
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
            records=records,
        )
