"""The Python API: evaltool from a script or a notebook, over the same code as the CLI.

    import evaltool

    ev = evaltool.connect()                      # the embedded server, or a URL
    ev.load_dataset("qa", "examples/qa.jsonl")   # files, or a list of dicts
    ev.add_model("v1", my_function)              # a Python callable is a model
    run = ev.run("v1", "qa", metrics=["exact_match"])
    run.metrics()                                # rows of run_metric_summary
    ev.compare(run_a, run)                       # verdicts, as evaltool compare

    evaltool.evaluate(task=my_function, dataset="qa", metrics=["exact_match"])

Every call runs the same functions and SQL as the command line, and stores everything in
the database: a run made here is listed, compared and reported like any other.
"""

import functools
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

import psycopg

from evaltool import (
    adapters,
    compare,
    datasets,
    db,
    models,
    runexport,
    runfilter,
    runner,
    runs,
    scoring,
)
from evaltool import templates as prompt_templates
from evaltool.adapters import local
from evaltool.compare import Policy
from evaltool.errors import EvaltoolError
from evaltool.load.prompts import load_prompts
from evaltool.load.sources import expand
from evaltool.progress import TaskProgress

if TYPE_CHECKING:
    from evaltool.evaluation import Evaluation

Rows = list[dict[str, Any]]
P = ParamSpec("P")
R = TypeVar("R")


def _unit(method: Callable[P, R]) -> Callable[P, R]:
    """One call, one transaction: what a call did is committed when it returns and rolled
    back when it raises, so a notebook loses nothing at a restart and its connection never
    sits idle in a transaction (holding back vacuum) between cells."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        owner: Any = args[0]  # an Evaltool, or a Run of one
        conn: psycopg.Connection = getattr(owner, "client", owner).conn
        try:
            result = method(*args, **kwargs)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return result

    return call


@dataclass(frozen=True)
class Run:
    """A run in the database, with ways to read its results."""

    id: int
    client: "Evaltool"

    @_unit
    def summary(self) -> dict[str, Any]:
        """Its row of run_summary: status, counts, tokens, cost, latency, template."""
        return runs.summary(self.client.conn, self.id)

    @_unit
    def metrics(self) -> Rows:
        """One row per metric scored (run_metric_summary): n, pass rate, mean, intervals."""
        return runs.show(self.client.conn, self.id)["metrics"]

    def responses(self) -> Iterator[dict[str, Any]]:
        """Every response with its test case and scores, as `evaltool runs export` writes
        them, streamed."""
        conn = self.client.conn
        try:
            yield from runexport.records(conn, self.id)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()  # ends the transaction the server-side cursor needed

    def to_pandas(self) -> Any:
        """The responses as a pandas DataFrame (pip install 'evaltool[pandas]')."""
        try:
            import pandas
        except ImportError:
            raise EvaltoolError("to_pandas needs pandas: pip install 'evaltool[pandas]'") from None
        return pandas.DataFrame(list(self.responses()))

    @_unit
    def score(self, metrics: Sequence[str], *, reference: "Run | int | None" = None) -> Rows:
        """Score it with more metrics (SCORER[:ARG] or NAME=SCORER[:ARG])."""
        return self.client.score(self, metrics, reference=reference)


class Evaltool:
    """A connection to evaltool's database and what can be done with it."""

    def __init__(self, conn: psycopg.Connection, url: str) -> None:
        self.conn = conn
        self.url = url  # for the run's workers, which hold connections of their own

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        # as psycopg's own connection does: commit unless the block raised
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()
        self.close()

    @_unit
    def load_dataset(
        self,
        name: str,
        source: str | Path | Iterable[Mapping[str, Any]],
        *,
        version: str | None = None,
        project: str | None = None,
    ) -> dict[str, Any]:
        """Load test cases into dataset NAME[:VERSION] (created when new; a test case that is
        there already is not added twice): from JSON Lines or CSV files (a path, or several
        separated as the shell would not: pass a list of dicts instead), or from dicts with
        the fields of a JSON Lines line (input, expected, id, tags, metadata). Returns the
        load summary."""
        ref = datasets.DatasetRef(name, version, project or datasets.DEFAULT_PROJECT)
        if isinstance(source, str | Path):
            summary = load_prompts(self.conn, expand([str(source)], (".jsonl", ".csv")), ref)
            return asdict(summary)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for row in source:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            return asdict(load_prompts(self.conn, expand([str(path)], (".jsonl",)), ref))

    @_unit
    def add_model(
        self,
        name: str,
        function: Callable[..., Any] | None = None,
        *,
        adapter: str | None = None,
        model_id: str | None = None,
        base_url: str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        price: tuple[float, float] | None = None,
        description: str | None = None,
    ) -> str:
        """Register model NAME, or keep it when it is registered with the same adapter and
        model id (parameters and price that differ become its current ones, with history).

        A Python callable is a model: it takes a test case's input (or the messages a
        template renders) and returns the output. `price` is (input, output) USD per
        million tokens. Returns the name."""
        if function is not None:
            adapter = adapter or "python"
            model_id = model_id or local.register(function, name)
        if adapter is None:
            raise EvaltoolError(f"model {name}: give a function, or adapter= and model_id=")
        models.ensure(
            self.conn,
            name,
            adapter=adapter,
            model_id=model_id,
            base_url=base_url,
            headers=headers,
            params=params,
            price=price,
            description=description,
        )
        return name

    @_unit
    def add_template(
        self,
        name: str,
        *,
        user: str | None = None,
        system: str | None = None,
        messages: list[dict[str, str]] | None = None,
        description: str | None = None,
    ) -> prompt_templates.Template:
        """Store a prompt template (Jinja over the test case: input, expected, metadata,
        tags and the keys of an object input): a user message with an optional system
        message, or whole `messages`. An unchanged body keeps its version."""
        if messages is None:
            if user is None:
                raise EvaltoolError(f"template {name}: give user= (and system=) or messages=")
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": user}
            ]
        messages = prompt_templates.check_body(messages, source=f"template {name}")
        template, _ = prompt_templates.add(self.conn, name, messages, description)
        return template

    @_unit
    def run(
        self,
        model: str,
        dataset: str,
        *,
        template: str | prompt_templates.Template | None = None,
        metrics: Sequence[str] = (),
        repeats: int = 1,
        limit: int | None = None,
        sample: int | None = None,
        seed: str | None = None,
        concurrency: int = 8,
        cache: bool | None = None,
        cache_only: bool = False,
        name: str | None = None,
        tags: Sequence[str] = (),
        suite: str | None = None,
        project: str | None = None,
        options: runner.CallOptions | None = None,
        progress: bool = False,
        max_cost: float | None = None,
    ) -> Run:
        """Run MODEL over DATASET (NAME[:VERSION]) and score it with `metrics`, as
        `evaltool run` then `evaltool score` do, with a progress line on a terminal when
        `progress`. Returns the run; a run that stops on a failure every call would share
        raises EvaltoolError naming the resume command, one its `max_cost` or its project's
        monthly budget stopped BudgetExceeded."""
        options = options or runner.CallOptions(concurrency=concurrency)
        with self.conn.transaction():
            found = (
                prompt_templates.resolve(self.conn, template)
                if isinstance(template, str)
                else template
            )
            run_id = runs.create(
                self.conn,
                model,
                datasets.DatasetRef.parse(dataset, project),
                name=name,
                tags=tuple(tags),
                limit=limit,
                sample=sample,
                seed=seed,
                repeats=repeats,
                options=asdict(options),
                template=found,
                suite=suite,
                max_cost=max_cost,
            )
            target = runs.target(self.conn, run_id)
            adapter = adapters.create(target.snapshot, target.params, options.concurrency)
        self.conn.commit()  # idle, not in a transaction, while the worker runs
        options.cache = runner.cache_mode(target, cache, cache_only)
        label = f"run {run_id} ({target.model} on {target.dataset})"
        with TaskProgress(label, target.pending, enabled=progress) as shown:
            outcome = runner.answer(self.url, target, adapter, options, shown)
        if outcome.fatal:
            raise EvaltoolError(
                f"run {run_id} stopped: {outcome.fatal}. "
                f"Fix it, then: evaltool run --resume {run_id}"
            )
        if outcome.budget:
            raise runs.budget_stop(run_id, outcome.budget)
        if outcome.interrupted:
            raise KeyboardInterrupt(f"run {run_id} interrupted: evaltool run --resume {run_id}")
        made = Run(run_id, self)
        if metrics:
            self.score(made, metrics, progress=progress)
        return made

    @_unit
    def score(
        self,
        run: Run | int,
        metrics: Sequence[str],
        *,
        reference: Run | int | None = None,
        progress: bool = False,
    ) -> Rows:
        """Score a run with metrics (SCORER[:ARG] or NAME=SCORER[:ARG]), against the
        expected answers or, with `reference`, another run's outputs; one summary row per
        metric. With `progress`, progress shows on stderr."""
        specs = [scoring.parse_metric(m) for m in metrics]
        run_id = _run_id(run)
        ref = None if reference is None else _run_id(reference)
        return scoring.score_run(self.conn, run_id, specs, reference=ref, progress=progress)

    @_unit
    def compare(
        self,
        baseline: Run | int | str,
        candidate: Run | int | str,
        *,
        metrics: Sequence[str] | None = None,
        policy: Policy | None = None,
    ) -> dict[str, Any]:
        """The comparison of two runs, as `evaltool compare --json` prints it: `metrics`
        (one verdict row per metric and slice), `failed` (rows that fail the gate),
        `regressions` (the worst test cases)."""
        return compare.compare(
            self.conn,
            self._resolve(baseline),
            self._resolve(candidate),
            metrics=list(metrics) if metrics else None,
            policy=policy,
        )

    @_unit
    def compare_many(
        self,
        baseline: Run | int | str,
        candidates: Sequence[Run | int | str],
        *,
        metrics: Sequence[str] | None = None,
        policy: Policy | None = None,
    ) -> list[dict[str, Any]]:
        """Several candidates against one baseline, as `evaltool compare BASELINE
        CANDIDATE...`: one document per candidate, like compare's, with the correction
        over all of them as one family of tests."""
        return compare.compare_many(
            self.conn,
            self._resolve(baseline),
            [self._resolve(c) for c in candidates],
            metrics=list(metrics) if metrics else None,
            policy=policy,
        )

    @_unit
    def eval_suite(self, path: str | Path) -> "Evaluation":
        """Run the evaluation a suite file describes, as `evaltool eval SUITE.yaml` does
        (without its exit code): its runs, baseline, comparisons and reports."""
        from evaltool import evaluation, suite

        return evaluation.evaluate(self, suite.load(Path(path)))

    @_unit
    def runs(self, query: str = "", limit: int = 50) -> Rows:
        """Runs matching `evaltool runs search` syntax, newest first."""
        return runs.find(self.conn, runfilter.parse(query), limit)

    @_unit
    def get_run(self, ref: int | str) -> Run:
        """A run by id, or a model name for its latest completed run."""
        return Run(self._resolve(ref), self)

    def _resolve(self, ref: Run | int | str) -> int:
        if isinstance(ref, Run):
            return ref.id
        return runs.resolve(self.conn, str(ref))


def connect(url: str | None = None) -> Evaltool:
    """Connect to evaltool's database: `url`, else $EVALTOOL_DATABASE_URL, else the embedded
    server (started when needed). The schema must be migrated (evaltool db migrate)."""
    url = url or db.database_url()
    return Evaltool(db.connect(url), url)


def evaluate(
    task: Callable[..., Any] | str,
    dataset: str,
    metrics: Sequence[str] = ("exact_match",),
    *,
    data: str | Path | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    template: str | None = None,
    repeats: int = 1,
    url: str | None = None,
) -> Run:
    """Run `task` over `dataset`, score it and store everything: the one-liner.

    `task` is a Python callable (registered as a model named after it, or `name`) or the
    name of a registered model. With `data` (a file, or dicts) the dataset is loaded first.
    The run is returned, still connected: `run.metrics()`, `run.to_pandas()`."""
    ev = connect(url)
    if data is not None:
        ev.load_dataset(dataset, data)
    model = ev.add_model(name or _callable_name(task), task) if callable(task) else task
    return ev.run(model, dataset, template=template, metrics=metrics, repeats=repeats)


def _callable_name(function: Callable[..., Any]) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", getattr(function, "__name__", "task")).strip("-")


def _run_id(run: Run | int) -> int:
    return run.id if isinstance(run, Run) else int(run)
