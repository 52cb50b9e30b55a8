"""Datasets: named, versioned sets of test cases in a project."""

import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import psycopg

from evaltool import queries
from evaltool.errors import EvaltoolError

DEFAULT_PROJECT = "default"
_REF = re.compile(r"^([^:\s][^:]*)(?::([^:\s]+))?$")
# Runs of an ensure query: the second sees a row another session committed meanwhile.
_ENSURE_ATTEMPTS = 5


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as named on the command line: NAME or NAME:VERSION, in a project."""

    name: str
    version: str | None = None
    project: str = DEFAULT_PROJECT

    @classmethod
    def parse(cls, text: str, project: str | None = None) -> "DatasetRef":
        """Read NAME[:VERSION]."""
        match = _REF.match(text.strip())
        if not match:
            raise EvaltoolError(f"{text!r}: a dataset is named NAME or NAME:VERSION")
        return cls(match.group(1), match.group(2), project or DEFAULT_PROJECT)

    def __str__(self) -> str:
        label = f"{self.name}:{self.version}" if self.version else self.name
        return label if self.project == DEFAULT_PROJECT else f"{label} (project {self.project})"


@dataclass(frozen=True)
class Dataset:
    """A dataset row that exists."""

    id: int
    ref: DatasetRef
    created: bool = False
    project_created: bool = False


def ensure(conn: psycopg.Connection, ref: DatasetRef) -> Dataset:
    """The dataset, created (with its project) when absent; version 1 unless named.

    Safe when other sessions create the same project or dataset at the same moment.
    """
    version = ref.version or "1"
    named = DatasetRef(ref.name, version, ref.project)
    project_id, project_created = ensure_row(
        conn, "project_ensure", {"project": ref.project}, f"project {ref.project}"
    )
    dataset_id, deleted_at, created = ensure_row(
        conn,
        "dataset_ensure",
        {"project_id": project_id, "name": ref.name, "version": version},
        f"dataset {named}",
    )
    if deleted_at is not None:
        raise EvaltoolError(
            f"dataset {named} was deleted; load into another version, "
            f"or remove it for good with evaltool datasets delete {named.name}:{version} --hard"
        )
    return Dataset(dataset_id, named, created, project_created=project_created)


def ensure_row(
    conn: psycopg.Connection, query: str, params: dict[str, Any], what: str
) -> tuple[Any, ...]:
    """The row of a named `INSERT ... ON CONFLICT DO NOTHING`-then-`SELECT` query.

    When another session inserts the same key at the same moment, the INSERT waits for it
    to commit and does nothing, and the SELECT, which sees the database as it was when the
    statement began, finds nothing either: the statement is run again, and then sees the
    other session's row (or inserts its own if that session rolled back).
    """
    for _ in range(_ENSURE_ATTEMPTS):
        row = conn.execute(queries.get(query), params).fetchone()
        if row is not None:
            return tuple(row)
    raise EvaltoolError(f"{what} is being created and deleted by other sessions: try again")


def find(conn: psycopg.Connection, ref: DatasetRef, *, deleted: bool = False) -> Dataset:
    """An existing dataset (the highest version when none is named), or a clear error."""
    row = conn.execute(
        queries.get("dataset_find"),
        {"project": ref.project, "name": ref.name, "version": ref.version},
    ).fetchone()
    if row is None or (row[2] is not None and not deleted):
        raise EvaltoolError(f"no dataset {ref}: see evaltool datasets list")
    return Dataset(row[0], DatasetRef(ref.name, row[1], ref.project))


def listing(
    conn: psycopg.Connection, project: str | None, *, deleted: bool = False
) -> list[dict[str, Any]]:
    """Datasets with their number of test cases, newest first; deleted ones too if asked.
    A project that does not exist is an error (a typo is not an empty project)."""
    if project is not None:
        names = [name for (name,) in conn.execute(queries.get("project_names"))]
        if project not in names:
            raise EvaltoolError(f"no project {project}: the projects are {', '.join(names)}")
    return queries.fetch_all(conn, "dataset_list", {"project": project, "all": deleted})


def summary(conn: psycopg.Connection, dataset: Dataset) -> dict[str, Any]:
    """A dataset's test cases by origin, top tags and runs."""
    info = queries.fetch_one(conn, "dataset_show", {"dataset_id": dataset.id})
    assert info is not None  # the dataset was found
    return info


def export_lines(conn: psycopg.Connection, dataset: Dataset) -> Generator[str, None, None]:
    """The dataset's live test cases as evaltool JSON lines, streamed from COPY."""
    with conn.cursor().copy(queries.get("dataset_export"), {"dataset_id": dataset.id}) as copy:
        for (line,) in copy.rows():
            yield line


def delete(conn: psycopg.Connection, dataset: Dataset, *, hard: bool) -> None:
    """Soft-delete (hide) a dataset, or delete it with its test cases when `hard`."""
    if not hard:
        conn.execute(queries.get("dataset_soft_delete"), {"dataset_id": dataset.id})
        return
    runs = conn.execute(queries.get("dataset_runs"), {"dataset_id": dataset.id}).fetchone()
    if runs and runs[0]:
        raise EvaltoolError(
            f"dataset {dataset.ref} has {runs[0]} run(s) whose results need its test cases: "
            "delete the runs first, or delete the dataset without --hard"
        )
    conn.execute(queries.get("dataset_hard_delete"), {"dataset_id": dataset.id})
