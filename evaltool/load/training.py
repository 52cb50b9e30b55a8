"""`evaltool load training`: prompt/completion pairs for training pipelines."""

from collections.abc import Sequence
from pathlib import Path

import psycopg

from evaltool import datasets
from evaltool.load import LoadSummary, load_rows
from evaltool.load.formats import reader, typed_csv
from evaltool.load.records import FieldMap
from evaltool.load.sources import Source
from evaltool.load.stage import Progress


def load_training(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    *,
    project: str,
    data_source: str = "file",
    priority: int = 100,
    fmt: str = "auto",
    field_map: FieldMap | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> LoadSummary:
    """Load {"prompt", "completion" | "enhancement"} lines into training_example."""
    field_map = field_map or FieldMap()
    records = reader(
        sources, fmt, field_map, typed_csv(field_map, ("priority",), (), ("metadata",))
    )
    with conn.transaction():
        # safe when another load creates the same project at the same moment
        project_id, created = datasets.ensure_row(
            conn, "project_ensure", {"project": project}, f"project {project}"
        )
        return load_rows(
            conn,
            sources,
            kind="training",
            target=f"project {project}",
            created=[f"project {project}"] if created else [],
            context={"project_id": project_id},
            rows_view="training_rows_create",
            insert="training_insert",
            params={"data_source": data_source, "priority": priority},
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
            records=records,
        )
