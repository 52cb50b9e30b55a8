"""`evaltool import`: other tools' result files as datasets, runs, responses and scores.

An importer reads its tool's files once and writes what it finds as records of evaltool's
own load formats (test cases, responses, scores), each with the line it came from, to
temporary files: memory stays bounded whatever the size of the input. The records then go
through the loads of `evaltool load`, with their checks and their FILE:LINE messages, all
in one transaction: an import completes, or leaves the database as it was.

Test cases are named by their input in responses and scores, since a dataset that already
holds them may know them under other ids. A run remembers the files it came from (their
SHA-256), so that importing the same files again adds nothing.
"""

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from evaltool import datasets, display, queries
from evaltool.datasets import DatasetRef
from evaltool.errors import EvaltoolError
from evaltool.imports.read import clean, storable
from evaltool.load.documents import JsonProblem
from evaltool.load.prompts import load_prompts
from evaltool.load.records import Records, dumps
from evaltool.load.results import load_responses, load_scores
from evaltool.load.sources import InputError, Source
from evaltool.load.stage import Progress, Record
from evaltool.progress import enter_phase


class Spool:
    """Records (line, JSON text) in a temporary file, read back in the order written."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Batch.close)
        self.count = 0

    def add(self, line: int, doc: Any) -> None:
        """Keep one record (JSON text holds no raw newline: one record a line)."""
        self._file.write(f"{line}\t{dumps(doc)}\n".encode())
        self.count += 1

    def __iter__(self) -> Iterator[Record]:
        self._file.seek(0)
        for raw in self._file:
            line, _, text = raw.rstrip(b"\n").partition(b"\t")
            yield int(line), text.decode()

    def close(self) -> None:
        """Remove the file."""
        self._file.close()


@dataclass
class RunInfo:
    """What a file says about one run of a model."""

    dataset: str  # name of the dataset its test cases go to, unless --dataset names one
    model: str  # name to find or register the model by
    model_id: str  # the identifier its provider knows it by
    provider: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None  # ISO 8601
    finished_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    """Everything an import read, spooled by dataset, run and input file."""

    tool: str
    model: str | None = None  # --model: the name every run's model is registered as
    runs: dict[str, RunInfo] = field(default_factory=dict)
    cases: dict[tuple[str, Source], Spool] = field(default_factory=dict)
    responses: dict[tuple[str, Source], Spool] = field(default_factory=dict)
    scores: dict[tuple[str, Source], Spool] = field(default_factory=dict)
    _seen: set[bytes] = field(default_factory=set)

    def run(self, key: str, info: RunInfo) -> str:
        """Declare a run (the first declaration of a key wins); returns its key."""
        if key not in self.runs:
            info.model = self.model or clean(info.model) or "unknown"
            # --model names the model: the file's identifier must not find another
            info.model_id = self.model or clean(info.model_id) or info.model
            info.provider = clean(info.provider, 100) or "imported"
            info.name = clean(info.name)
            info.params = storable(info.params)
            info.metadata = storable(info.metadata)
            self.runs[key] = info
        return key

    def case(self, dataset: str, source: Source, line: int, doc: dict[str, Any]) -> None:
        """A test case; one of equal inputs is kept (the database deduplicates them too)."""
        try:
            key = json.dumps(doc["input"], sort_keys=True, default=str)
        except TypeError:  # keys of several types (YAML's 1: and a:): as they come
            key = json.dumps(doc["input"], default=str)
        digest = hashlib.sha256(
            dataset.encode() + b"\0" + key.encode("utf-8", "surrogatepass")
        ).digest()
        if digest not in self._seen:
            self._seen.add(digest)
            _keep(self.cases, (dataset, source), line, doc)

    def response(self, run: str, source: Source, line: int, doc: dict[str, Any]) -> None:
        """A response of a run, naming its test case by "input"."""
        _keep(self.responses, (run, source), line, doc)

    def score(self, run: str, source: Source, line: int, doc: dict[str, Any]) -> None:
        """A score of a run's response, naming its test case by "input" (and "sample")."""
        _keep(self.scores, (run, source), line, doc)

    def close(self) -> None:
        """Remove the spools."""
        for spools in (self.cases, self.responses, self.scores):
            for spool in spools.values():
                spool.close()


def _keep(
    spools: dict[tuple[str, Source], Spool], key: tuple[str, Source], line: int, doc: Any
) -> None:
    """Spool a record; one that cannot be stored (a lone surrogate) stops at its line."""
    if key not in spools:
        spools[key] = Spool()
    try:
        spools[key].add(line, doc)
    except JsonProblem as exc:
        source = key[1]
        raise InputError(f"{source.name}:{line}: {exc}", source.name, line) from None


@dataclass
class ImportedRun:
    """One run of an import, for the summary."""

    id: int
    name: str
    model: str
    dataset: str
    responses: int
    scores: int
    created: bool


@dataclass
class ImportSummary:
    """What an import did."""

    tool: str
    files: list[str]
    datasets: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: list[ImportedRun] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary for --json."""
        return asdict(self)

    def text(self) -> str:
        """Lines for people."""
        lines = [f"imported {', '.join(map(display.one_line, self.files))} ({self.tool})"]
        for name, counts in self.datasets.items():
            lines.append(
                f"  dataset {display.one_line(name)}: {counts['read']:,} test cases, "
                f"{counts['inserted']:,} new"
            )
        for run in self.runs:
            lines.append(
                f"  run {run.id} {run.name!r} ({run.model}): {run.responses:,} responses, "
                f"{run.scores:,} scores"
                + ("" if run.created else " added to the run of an earlier import")
            )
        if self.created:
            lines.append(f"  created {', '.join(self.created)}")
        return "\n".join(lines)


Reader = Callable[[Sequence[Source], Batch], None]


def import_files(
    conn: psycopg.Connection,
    tool: str,
    read: Reader,
    sources: Sequence[Source],
    *,
    dataset: DatasetRef | None = None,
    project: str | None = None,
    model: str | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> ImportSummary:
    """Read the files with `read`, then load what it found in one transaction."""
    batch = Batch(tool, model=model)
    try:
        enter_phase(progress, "reading files")
        read(sources, batch)
        if not batch.cases:
            names = ", ".join(display.one_line(s.name) for s in sources)
            raise EvaltoolError(f"{names}: nothing to import: no test cases or results in it")
        with conn.transaction():
            return _load(conn, batch, sources, dataset, project, progress)
    finally:
        batch.close()


def _load(
    conn: psycopg.Connection,
    batch: Batch,
    sources: Sequence[Source],
    dataset: DatasetRef | None,
    project: str | None,
    progress: Progress,
) -> ImportSummary:
    summary = ImportSummary(batch.tool, [s.name for s in sources])
    imported = {"tool": batch.tool, "sha256": _digest(sources)}
    refs: dict[str, datasets.Dataset] = {}
    names = dict.fromkeys(
        [name for name, _ in batch.cases] + [info.dataset for info in batch.runs.values()]
    )
    for name in names:
        ref = dataset or DatasetRef(name, None, project or datasets.DEFAULT_PROJECT)
        inputs = [source for (of, source) in batch.cases if of == name]
        if inputs:
            loaded = load_prompts(
                conn,
                inputs,
                ref,
                fmt="evaltool",
                records=_reader(batch.cases, name),
                progress=progress,
            )
            counts = summary.datasets.setdefault(str(ref), {"read": 0, "inserted": 0})
            counts["read"] += loaded.read
            counts["inserted"] += loaded.inserted
            summary.created.extend(c for c in loaded.created if c not in summary.created)
        refs[name] = datasets.ensure(conn, ref)
    for key, info in batch.runs.items():
        model_id, model_name = _model(conn, info, summary)
        found = refs[info.dataset]
        run_imported = {**imported, "run": key}
        row = conn.execute(
            queries.get("run_imported_find"),
            {"dataset_id": found.id, "model_id": model_id, "imported": Jsonb(run_imported)},
        ).fetchone()
        created = row is None
        if row is None:
            row = conn.execute(
                queries.get("run_imported"),
                {
                    "dataset_id": found.id,
                    "model_id": model_id,
                    "name": info.name,
                    "params": Jsonb(info.params),
                    "started_at": info.started_at,
                    "finished_at": info.finished_at,
                    "imported": Jsonb({**run_imported, "files": summary.files}),
                    "metadata": Jsonb(info.metadata),
                },
            ).fetchone()
            assert row is not None
        run_id = row[0]
        responses = _inputs(batch.responses, key)
        scores = _inputs(batch.scores, key)
        added = (
            load_responses(
                conn,
                responses,
                run_id=run_id,
                records=_reader(batch.responses, key),
                progress=progress,
            ).inserted
            if responses
            else 0
        )
        if created:
            conn.execute(queries.get("run_imported_span"), {"run_id": run_id})
        scored = (
            load_scores(
                conn,
                scores,
                run_id=run_id,
                scorer=batch.tool,
                records=_reader(batch.scores, key),
                progress=progress,
            ).inserted
            if scores
            else 0
        )
        summary.runs.append(
            ImportedRun(run_id, info.name, model_name, str(found.ref), added, scored, created)
        )
    return summary


def _reader(spools: dict[tuple[str, Source], Spool], key: str) -> Records:
    """The records of one dataset's or run's spools, by input file."""

    def records(source: Source) -> Iterator[Record]:
        return iter(spools[(key, source)])

    return records


def _inputs(spools: dict[tuple[str, Source], Spool], key: str) -> list[Source]:
    return [source for (run, source) in spools if run == key]


def _model(conn: psycopg.Connection, info: RunInfo, summary: ImportSummary) -> tuple[int, str]:
    """The id and name of the run's model: registered already, or now as imported."""
    found = conn.execute(
        queries.get("model_for_import"), {"name": info.model, "model_id": info.model_id}
    ).fetchone()
    if found is not None:
        return int(found[0]), str(found[1])
    provider = datasets.ensure_row(
        conn, "provider_ensure", {"provider": info.provider}, f"provider {info.provider}"
    )
    model_id, created = datasets.ensure_row(
        conn,
        "model_imported",
        {
            "provider_id": provider[0],
            "name": info.model,
            "model_id": info.model_id,
            "description": f"imported from {summary.tool} results",
        },
        f"model {info.model}",
    )
    if created:
        summary.created.append(f"model {info.model} (imported)")
    return int(model_id), info.model


def _digest(sources: Sequence[Source]) -> str:
    """SHA-256 of the input files, in name order: the identity of an import."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.name):
        stream = source.open()
        try:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        finally:
            stream.close()
    return digest.hexdigest()
