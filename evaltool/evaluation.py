"""`evaltool eval`: a suite file's whole evaluation, driving the same functions as the
commands it replaces (load, models add, templates add, run, score, compare, report).

Everything the suite names is checked before anything runs: a model, template, baseline
or reference that does not exist is one line naming the file and the key, and no run is
made. Then the dataset is loaded, inline models and templates are registered, each model
runs with each template (one run each, named by the suite), the runs are scored, compared
with the baseline (every candidate in one family of tests) and reported.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaltool import api, datasets, models, pyscorers, queries, runner, runs, scoring, templates
from evaltool import compare as comparing
from evaltool.errors import EvaltoolError
from evaltool.files import written_whole
from evaltool.load.prompts import load_prompts
from evaltool.load.sources import expand
from evaltool.reports import data, render
from evaltool.suite import Baseline, InlineModel, InlineTemplate, Suite, TemplateRef


@dataclass
class Evaluation:
    """What a suite's evaluation made: its runs (run_summary rows, in the suite's order of
    models and templates), the baseline run, the comparison document and the reports."""

    suite: Suite
    runs: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by run id
    baseline: int | None = None
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # one per candidate
    reports: list[Path] = field(default_factory=list)
    loaded: dict[str, Any] | None = None  # the load summary, when the suite names files


def evaluate(ev: api.Evaltool, suite: Suite, *, progress: bool = False) -> Evaluation:
    """Run the suite: check, load, register, run, score, compare, report."""
    previous = check(ev, suite)
    done = Evaluation(suite)
    conn = ev.conn
    ref = suite.dataset_ref()
    if suite.dataset.files:
        sources = expand([str(f) for f in suite.dataset.files], (".jsonl", ".csv"))
        done.loaded = asdict(load_prompts(conn, sources, ref))
    for model in suite.inline_models():
        _register(conn, model)
    chosen = [_template(ev, spec) for spec in suite.template_specs()]
    metrics = suite.metric_specs()
    cache, cache_only = suite.cache_args()
    made: dict[tuple[str, str | None], int] = {}
    for name in suite.model_names():
        for template in chosen:
            options = runner.CallOptions(
                concurrency=suite.concurrency,
                rpm=suite.rpm,
                tpm=suite.tpm,
                timeout_s=suite.timeout,
                max_retries=suite.max_retries,
            )
            run = ev.run(
                name,
                _dataset_text(ref),
                project=ref.project,
                template=template,
                metrics=metrics,
                repeats=suite.repeats,
                limit=suite.limit,
                sample=suite.sample.n if suite.sample else None,
                seed=suite.sample.seed if suite.sample else None,
                cache=cache,
                cache_only=cache_only,
                tags=suite.tags,
                suite=suite.name,
                options=options,
                progress=progress,
            )
            made[(name, template.ref if template else None)] = run.id
    if suite.reference is not None:
        _score_against_reference(ev, suite, made)
    done.runs = [runs.summary(conn, run_id) for run_id in made.values()]
    done.metrics = {run_id: runs.show(conn, run_id)["metrics"] for run_id in made.values()}
    done.baseline = _baseline(conn, suite, made, previous)
    candidates = [run_id for run_id in made.values() if run_id != done.baseline]
    if done.baseline is not None and candidates:
        done.comparisons = comparing.compare_many(
            conn,
            done.baseline,
            candidates,
            metrics=suite.gate_metrics(),
            policy=suite.policy(),
        )
        for path in suite.reports:
            text = _report_text(conn, done.comparisons, render.format_of(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            with written_whole(path) as handle:
                handle.write(text)
            done.reports.append(path)
    return done


def _report_text(conn: Any, documents: list[dict[str, Any]], fmt: str) -> str:
    """The report of `evaltool report compare` for the suite's comparisons."""
    if len(documents) == 1:
        return render.render("compare", fmt, documents[0])
    return render.render("compare_many", fmt, data.compare_many_report(documents, conn))


def check(ev: api.Evaltool, suite: Suite) -> int | None:
    """Refuse what the suite names that does not exist, before anything is written; returns
    the previous run of the suite when the baseline is `previous` (None on its first run)."""
    conn = ev.conn
    where = str(suite.source or "suite")
    ref = suite.dataset_ref()
    if not suite.dataset.files:
        try:
            datasets.find(conn, ref)
        except EvaltoolError as exc:
            raise EvaltoolError(f"{where}: dataset: {exc}") from None
    for i, model in enumerate(suite.models):
        if not isinstance(model, InlineModel) and models.summary(conn, model.name) is None:
            raise EvaltoolError(
                f"{where}: models.{i}: no model named {model.name!r}: register it "
                "(evaltool models add) or define it here (name, adapter, model_id)"
            )
    for i, spec in enumerate(suite.templates):
        if isinstance(spec, TemplateRef):
            try:
                templates.resolve(conn, spec.ref)
            except EvaltoolError as exc:
                raise EvaltoolError(f"{where}: templates.{i}: {exc}") from None
    known = {r["name"] for r in queries.fetch_all(conn, "scorer_names")}
    for i, metric in enumerate(suite.metric_specs()):
        parsed = scoring.parse_metric(metric)
        if parsed.scorer not in known and pyscorers.resolve(parsed.scorer, parsed.arg) is None:
            raise EvaltoolError(
                f"{where}: metrics.{i}: no scorer {parsed.scorer!r}: see evaltool score --help"
            )
    names = suite.model_names()
    latest = queries.get("runs_latest_of_model")
    if (
        suite.reference is not None
        and suite.reference not in names
        and conn.execute(latest, {"model": suite.reference}).fetchone() is None
    ):
        raise EvaltoolError(
            f"{where}: reference: {suite.reference!r} is neither a model of the suite nor "
            "a model with a completed run"
        )
    baseline = suite.baseline_spec()
    if baseline is None:
        return None
    if baseline.kind == "run":
        found = conn.execute(queries.get("run_exists"), {"run_id": baseline.run_id}).fetchone()
        if not (found and found[0]):
            raise EvaltoolError(f"{where}: baseline: no run {baseline.run_id}")
    elif baseline.kind == "model" and not baseline.in_suite:
        try:
            runs.resolve(conn, str(baseline.model))
        except EvaltoolError as exc:
            raise EvaltoolError(f"{where}: baseline: {exc}") from None
    elif baseline.kind == "previous":
        first = suite.template_specs()[0]
        params = {
            "suite": suite.name,
            "model": names[0],
            "template": first.name if first is not None else None,
        }
        row = queries.fetch_one(conn, "suite_previous_run", params)
        return int(row["id"]) if row else None
    return None


def _register(conn: Any, model: InlineModel) -> None:
    models.ensure(
        conn,
        model.name,
        adapter=model.adapter,
        model_id=model.model_id,
        base_url=model.base_url,
        headers=model.headers or None,
        params=model.params,
        price=(model.price.input_per_mtok, model.price.output_per_mtok) if model.price else None,
        description=model.description,
    )


def _template(
    ev: api.Evaltool, spec: TemplateRef | InlineTemplate | None
) -> templates.Template | None:
    if spec is None:
        return None
    if isinstance(spec, TemplateRef):
        return templates.resolve(ev.conn, spec.ref)
    found, _ = templates.add(ev.conn, spec.name, spec.body, spec.description)
    return found


def _dataset_text(ref: datasets.DatasetRef) -> str:
    return f"{ref.name}:{ref.version}" if ref.version else ref.name


def _score_against_reference(
    ev: api.Evaltool, suite: Suite, made: dict[tuple[str, str | None], int]
) -> None:
    """Score every other run of the suite against the reference model's outputs, with the
    suite's metrics that compare with an expected answer."""
    reference = suite.reference
    assert reference is not None
    mine = [run_id for (model, _), run_id in made.items() if model == reference]
    ref_run = mine[0] if mine else runs.resolve(ev.conn, reference)
    comparable = {
        r["name"] for r in queries.fetch_all(ev.conn, "scorer_names") if r["compares_expected"]
    }
    metrics = [m for m in suite.metric_specs() if scoring.parse_metric(m).scorer in comparable]
    if not metrics:
        return
    for run_id in made.values():
        if run_id != ref_run:
            ev.score(run_id, metrics, reference=ref_run)


def _baseline(
    conn: Any, suite: Suite, made: dict[tuple[str, str | None], int], previous: int | None
) -> int | None:
    spec: Baseline | None = suite.baseline_spec()
    if spec is None:
        return None
    if spec.kind == "run":
        return spec.run_id
    if spec.kind == "previous":
        return previous
    if spec.in_suite:
        return next(run_id for (model, _), run_id in made.items() if model == spec.model)
    return runs.resolve(conn, str(spec.model))
