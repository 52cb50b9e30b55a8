"""`evaltool judges`: does a new scorer or judge version agree with the old one, do two
judges of preferences agree, and which scorings a run has."""

from typing import Any

import click

from evaltool import db, display, judges, runs
from evaltool.cli.output import echo_json, echo_table, json_option


@click.group(name="judges")
def judges_group() -> None:
    """Judging the judges: agreement between scorer and judge versions, and between judges.

    Every rescoring keeps the scores it replaces (evaltool.score_history), so two versions
    of a scorer or judge can be compared on the same responses: drift. Preferences of two
    judges (a model and the people) on the same pairs: agreement.

    \b
    Example:
        evaltool judges scorings 12 --metric correct
        evaltool judges drift correct --run 12 --from judge-a --to judge-b
        evaltool judges agreement gpt-judge --with human
    """


@judges_group.command(name="drift")
@click.argument("metric")
@click.option(
    "--run", "run_ref", required=True, metavar="RUN", help="Run id, or model name (its latest run)."
)
@click.option(
    "--from",
    "from_version",
    required=True,
    metavar="VERSION",
    help="The earlier version: a scorer version, a judge model's name, or a scoring id "
    "(scoring:ID names the scoring alone).",
)
@click.option(
    "--to",
    "to_version",
    required=True,
    metavar="VERSION",
    help="The version to compare with it, named the same ways.",
)
@json_option
def drift(metric: str, run_ref: str, from_version: str, to_version: str, as_json: bool) -> None:
    """Compare two versions of the scorer or judge of METRIC on the same responses of a run.

    A VERSION names scores of METRIC, current or replaced by a rescoring: by the scorer's
    version, the judge model's name, or the scoring id (evaltool judges scorings lists
    them); scoring:ID names that scoring alone, as a number can also be a version.
    Where several scores of a response match, the latest wins. On the responses
    both versions scored: how often they agree on pass/fail, Cohen's kappa with its 95%
    interval (Fleiss-Cohen-Everitt standard error), the 2x2 table of verdicts, and the
    shift of the mean value (to - from) with its paired t interval and p-value. Then every
    comparison recorded with RUN (evaltool compare --record) is judged again by
    compare_runs with the scores the --to version gave, in each of its runs that has them:
    would its verdict on METRIC have changed? Nothing is written.

    RUN is a run id, or a model name for that model's latest completed run.

    \b
    Example:
        evaltool score 12 --metric correct=llm_judge:judge-a
        evaltool score 12 --metric correct=llm_judge:judge-b
        evaltool judges drift correct --run 12 --from judge-a --to judge-b
        evaltool judges drift exact_match:case --run 12 --from scoring:3 --to scoring:4 --json
    """
    with db.connect() as conn:
        run_id = runs.resolve(conn, run_ref)
        result = judges.drift(conn, run_id, metric, from_version, to_version)
    if as_json:
        echo_json(result)
        return
    _print_drift(result)


def _print_drift(r: dict[str, Any]) -> None:
    click.echo(
        f"run {r['run_id']}, metric {r['metric']}: {r['from']} ({_scorings(r['from_scorings'])})"
        f" -> {r['to']} ({_scorings(r['to_scorings'])}), {display.count(r['n'])} responses"
        " scored by both"
    )
    if r["n_pass_fail"]:
        kappa = _kappa(r["kappa"], r["kappa_low"], r["kappa_high"])
        click.echo(
            f"pass/fail of {display.count(r['n_pass_fail'])}: agreement"
            f" {display.percent(r['agreement'])}, kappa {kappa};"
            f" {display.count(r['n_changed'])} changed"
        )
        echo_table(
            ["", "to passed", "to failed"],
            [
                ["from passed", r["both_passed"], r["from_only_passed"]],
                ["from failed", r["to_only_passed"], r["both_failed"]],
            ],
        )
    if r["n_values"]:
        click.echo(
            f"value of {display.count(r['n_values'])}: mean {display.number(r['mean_from'])}"
            f" -> {display.number(r['mean_to'])}, shift {display.signed(r['mean_shift'])}"
            f" {display.interval(r['shift_low'], r['shift_high'])},"
            f" p {display.pvalue(r['p_value'])}"
        )
    if r["reading"]:
        click.echo(r["reading"])
    compared = r["comparisons"]
    if not compared:
        click.echo("no recorded comparison of this run judged it (evaltool compare --record)")
        return
    changed = [c for c in compared if c["changed"]]
    click.echo(
        f"recorded comparisons judged again under {r['to']}: {len(compared)},"
        f" {len(changed)} verdict{'' if len(changed) == 1 else 's'} would change"
    )
    echo_table(
        ["comparison", "baseline", "candidate", "recorded", f"under {r['to']}", "rescored runs"],
        [
            [
                c["comparison_id"],
                c["baseline_run_id"],
                c["candidate_run_id"],
                c["verdict"],
                c["verdict_at_version"] + (" (changed)" if c["changed"] else ""),
                ", ".join(str(x) for x in c["rescored_runs"]),
            ]
            for c in compared
        ],
    )


@judges_group.command(name="agreement")
@click.argument("judge")
@click.option(
    "--with",
    "other",
    required=True,
    metavar="OTHER",
    help="The other judge: an annotator's or judge model's name, or `human` for every "
    "human judgment.",
)
@json_option
def agreement(judge: str, other: str, as_json: bool) -> None:
    """How JUDGE agrees with OTHER on the pairs of responses both judged (preferences).

    Verdicts are taken by response, whichever was shown first: a means the response with
    the lower id won, b the other. A pair judged by several people counts once per
    judgment. Prints the agreement, Cohen's kappa over a, b and tie with its 95% interval
    (Fleiss-Cohen-Everitt standard error), and the 3x3 table of verdicts.

    \b
    Example:
        evaltool judges agreement gpt-judge --with human
        evaltool judges agreement gpt-judge --with alice --json
    """
    with db.connect() as conn:
        result = judges.agreement(conn, judge, other)
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"{judge} vs {other}: {display.count(result['n'])} judgments compared on"
        f" {display.count(result['pairs'])} pairs judged by both"
    )
    if not result["n"]:
        return
    kappa = _kappa(result["kappa"], result["kappa_low"], result["kappa_high"])
    click.echo(f"agreement {display.percent(result['agreement'])}, kappa {kappa}")
    verdicts = ["a", "b", "tie"]
    echo_table(
        [f"{judge} \\ {other}", *verdicts],
        [[v, *(result["confusion"][v][w] for w in verdicts)] for v in verdicts],
    )
    click.echo("(a: the response with the lower id won, b: the other)")
    click.echo(result["reading"])


@judges_group.command(name="scorings")
@click.argument("run_ref", metavar="RUN")
@click.option("--metric", help="Only the scorings of this metric.")
@json_option
def scorings(run_ref: str, metric: str | None, as_json: bool) -> None:
    """List the scorings of RUN: what scored which metric when, and which are current.

    A scoring is one pass of a scorer over the run for one metric, with the scorer's
    version and, for a judge, the judge model and the rubric's SHA-256 (its first 12 hex
    digits here). Rescoring a metric replaces its current scores; the replaced ones stay
    in evaltool.score_history. The id, the version and the judge can each name a VERSION
    of evaltool judges drift.

    RUN is a run id, or a model name for that model's latest completed run.

    \b
    Example:
        evaltool judges scorings 12
        evaltool judges scorings demo-v2 --metric correct --json
    """
    with db.connect() as conn:
        run_id = runs.resolve(conn, run_ref)
        rows = judges.scorings(conn, run_id, metric)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"run {run_id} has no scorings" + (f" of {metric}" if metric else ""))
        return
    echo_table(
        ["id", "metric", "scorer", "version", "judge", "rubric", "written", "current",
         "replaced", "status", "created", "by"],
        [
            [r["id"], r["metric"], r["scorer"], r["scorer_version"], r["judge_model"],
             r["rubric_sha256"], r["scores"], r["current_scores"], r["replaced_scores"],
             "current" if r["is_current"] else "superseded", r["created_at"], r["created_by"]]
            for r in rows
        ],
    )  # fmt: skip


def _scorings(ids: list[int]) -> str:
    if not ids:
        return "no scoring"
    return ("scoring " if len(ids) == 1 else "scorings ") + ", ".join(map(str, ids))


def _kappa(kappa: float | None, low: float | None, high: float | None) -> str:
    if kappa is None:
        return "undefined"
    if low is None or high is None:
        return f"{kappa:.3f}"
    return f"{kappa:.3f} (95% CI {low:.3f}..{high:.3f})"
