"""`evaltool preferences`: pairwise judgments, win rates and Bradley-Terry ratings."""

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
import psycopg

from evaltool import datasets, db, display, pairwise, runs
from evaltool.cli.output import (
    echo_json,
    echo_table,
    json_option,
    output_option,
    quiet_option,
    write_lines,
)
from evaltool.errors import EvaltoolError
from evaltool.progress import TaskProgress


@click.group(name="preferences")
def preferences_group() -> None:
    """Pairwise judgments: which of two responses to a test case is better.

    Judgments come from people (evaltool load preferences) or from a judge model
    (preferences judge). The views evaltool.preference_win_rate and evaltool.model_rating
    hold the results for psql.

    \b
    Example:
        evaltool preferences judge demo-v1 demo-v2 --judge gpt-judge
        evaltool preferences ratings
        evaltool preferences winrates --judge-kind human
    """


@preferences_group.command(name="judge")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--judge", "judge", required=True, help="Registered model that judges.")
@click.option(
    "--rubric",
    type=click.Path(dir_okay=False),
    help="Jinja template of the judge's prompt: gets input, expected, output_a, output_b.",
)
@click.option(
    "--one-order",
    is_flag=True,
    help="Show each pair once, A first, instead of in both orders (half the calls).",
)
@click.option("--limit", type=click.IntRange(1), help="Judge at most N test cases this time.")
@click.option(
    "--concurrency", type=click.IntRange(1), default=8, show_default=True, help="Calls at once."
)
@quiet_option
@json_option
def judge(
    run_a: str,
    run_b: str,
    judge: str,
    rubric: str | None,
    one_order: bool,
    limit: int | None,
    concurrency: int,
    quiet: bool,
    as_json: bool,
) -> None:
    """Have model JUDGE compare the responses of RUN_A and RUN_B, test case by test case.

    Test cases that both runs answered without error are judged: the judge sees the
    input, the expected answer if any, and both responses as A (RUN_A's) and B (RUN_B's),
    and answers with {"winner": "A"|"B"|"tie", "reason": ...}, MT-Bench's [[A]]/[[B]]/[[C]],
    or "Winner: A". Each pair is judged in both orders; a verdict that flips with the
    order counts as a tie. Verdicts are saved batch by batch: an interrupted call is
    resumed by running it again, and pairs the judge already judged are never sent again.

    RUN_A and RUN_B are run ids, or model names for their latest completed runs.

    \b
    Example:
        evaltool preferences judge demo-v1 demo-v2 --judge gpt-judge
        evaltool preferences judge 12 14 --judge gpt-judge --rubric pairwise.j2 --limit 200
    """
    with db.connect() as conn:
        a, b, (shared, with_error, judged) = _two_runs(conn, run_a, run_b, judge)
        todo = shared - with_error - judged
        total = todo if limit is None else min(limit, todo)
        with TaskProgress("judging", total, enabled=not quiet, unit="pairs") as progress:
            summary = pairwise.judge_runs(
                conn,
                a,
                b,
                judge,
                rubric_path=rubric,
                both_orders=not one_order,
                limit=limit,
                concurrency=concurrency,
                progress=progress,
            )
    if as_json:
        echo_json(summary.as_dict())
        return
    t = summary.tally
    click.echo(
        f"runs {a} (A) and {b} (B), judge {judge}: {summary.judged:,} pairs judged now"
        f" ({summary.inconsistent:,} flipped with the order and count as ties,"
        f" {summary.no_verdict:,} without a verdict); {summary.already_judged:,} judged"
        f" before, {summary.with_error:,} left out for an error response"
    )
    decisive = t["a_wins"] + t["b_wins"]
    line = f"A wins {t['a_wins']:,}, B wins {t['b_wins']:,}, ties {t['ties']:,}"
    if decisive:
        rate = display.rate(t["a_win_rate"], t["a_win_rate_low"], t["a_win_rate_high"])
        line += f"; A's win rate {rate}, sign test p {display.pvalue(t['p_value'])}"
    click.echo(line)


@preferences_group.command(name="export")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@output_option
@click.option("--judge", help="Leave out the pairs this annotator has already judged.")
@click.option("--limit", type=click.IntRange(1), help="At most N test cases.")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the order of each pair (which run's response is A).",
)
def export(
    run_a: str, run_b: str, output: Path | None, judge: str | None, limit: int | None, seed: int
) -> None:
    """Write the pairs of responses of RUN_A and RUN_B as JSON lines for people to judge.

    One line per test case that both runs answered without error: "response_a",
    "response_b" (response ids), "id", "input", "expected", "output_a", "output_b", and
    "winner": null for the annotator to set to "a", "b" or "tie" (and "reason", if they
    like). The models are not named, and which run's response is A is drawn per test
    case (--seed), so that annotators cannot learn a side. evaltool load preferences
    reads the labelled file back; --skip-invalid loads a partly labelled one and writes
    the lines still without a winner to its rejects file.

    \b
    Example:
        evaltool preferences export demo-v1 demo-v2 -o to-label.jsonl
        evaltool load preferences to-label.jsonl --judge alice
    """
    with db.connect() as conn:
        a, b, _ = _two_runs(conn, run_a, run_b, judge)
        lines = pairwise.export_lines(conn, a, b, judge=judge, limit=limit, seed=seed)
        count = write_lines(lines, output)
    if output:
        click.echo(
            f'wrote {count:,} pairs of runs {a} and {b} to {output}: set each "winner" to '
            f"a, b or tie, then evaltool load preferences {output}",
            err=True,
        )


def _two_runs(
    conn: psycopg.Connection, run_a: str, run_b: str, judge: str | None
) -> tuple[int, int, tuple[int, int, int]]:
    """RUN_A and RUN_B as run ids, refused unless they are two runs with test cases in
    common; with pairwise.count_pairs of them."""
    a, b = runs.resolve(conn, run_a), runs.resolve(conn, run_b)
    if a == b:
        raise EvaltoolError(f"RUN_A and RUN_B are both run {a}: name two runs")
    counts = pairwise.count_pairs(conn, a, b, judge)
    if not counts[0]:
        for run_id, dataset_id in zip((a, b), pairwise.run_datasets(conn, a, b), strict=True):
            if dataset_id is None:
                raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
        raise EvaltoolError(f"runs {a} and {b} answered no test case in common")
    return a, b, counts


def _judgments(
    query: str, notes: Callable[[list[dict[str, Any]]], list[str]] | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The filter options of a judgment summary; the command gets the rows of the named
    query to print as a table, and is not called for --json or when there are none.
    `notes` gives the lines to print on stderr about the rows, with --json too."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @click.option("--judge-kind", type=click.Choice(["human", "model"]), help="Only this kind.")
        @click.option("--judge", help="Only this annotator or judge model.")
        @click.option("--dataset", metavar="NAME[:VERSION]", help="Only this dataset.")
        @click.option("--project", help="Project of --dataset (default: default).")
        @json_option
        @wraps(command)
        def wrapper(
            judge_kind: str | None,
            judge: str | None,
            dataset: str | None,
            project: str | None,
            as_json: bool,
        ) -> None:
            with db.connect() as conn:
                dataset_id = None
                if dataset:
                    ref = datasets.DatasetRef.parse(dataset, project)
                    dataset_id = datasets.find(conn, ref).id
                rows = pairwise.judgment_summary(
                    conn, query, judge_kind=judge_kind, judge=judge, dataset_id=dataset_id
                )
            for note in notes(rows) if notes else []:
                click.echo(note, err=True)
            if as_json:
                echo_json(rows)
            elif not rows:
                click.echo("no judgments between two different models yet")
            else:
                command(rows)

        return wrapper

    return decorate


def _rating_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Why some ratings cannot be compared or read as measured: separate groups of the
    comparison graph, and models whose rating the prior sets."""
    notes = []
    groups = max((r["component"] for r in rows), default=1)
    if groups > 1:
        notes.append(
            f"warning: the comparison graph has {groups} separate groups: ratings are"
            " comparable only within a group"
        )
    bound = [f"{r['model']} ({_never(r)})" for r in rows if r["prior_bound"]]
    if bound:
        notes.append(
            f"note: the prior alone sets the ratings of {', '.join(bound)}: the judgments"
            " put no bound on them"
        )
    return notes


def _never(row: dict[str, Any]) -> str:
    return "never lost" if row["losses"] + row["ties"] == 0 else "never won"


@preferences_group.command(name="ratings")
@_judgments("ratings", notes=_rating_notes)
def ratings(rows: list[dict[str, Any]]) -> None:
    """Bradley-Terry rating per model, best first, with 95% intervals.

    Fitted in SQL (evaltool.bradley_terry) from every judgment between responses of two
    different models; a tie counts as half a win each way. Ratings are on the Elo scale,
    1000 being the average of the models of a group (below); a 100-point gap means the
    better model is preferred about 64% of the time.

    Models never judged against each other, directly or through others, fall in separate
    groups: each group is fitted and ranked on its own, shown in column "group", and its
    ratings say nothing about another group's. A model that never lost (or never won),
    a tie counting as half of each, gets its finite rating from a weak prior only: column
    "prior" says so. Both come with a line on stderr; --json has them as "component" and
    "prior_bound".

    \b
    Example:
        evaltool preferences ratings
        evaltool preferences ratings --judge-kind human --dataset qa --json
    """
    grouped = any(r["component"] > 1 for r in rows)
    bound = any(r["prior_bound"] for r in rows)
    headers = ["rank", "model", "rating", "95% CI", "judgments", "wins", "losses", "ties"]
    table = []
    for r in rows:
        low, high = r["rating_low"], r["rating_high"]
        row = [r["rank"], r["model"], round(r["rating"]), f"{low:,.0f}..{high:,.0f}",
               r["judgments"], r["wins"], r["losses"], r["ties"]]  # fmt: skip
        if grouped:
            row.insert(0, r["component"])
        if bound:
            row.append(_never(r) if r["prior_bound"] else None)
        table.append(row)
    if grouped:
        headers.insert(0, "group")
    if bound:
        headers.append("prior")
    echo_table(headers, table)


@preferences_group.command(name="winrates")
@_judgments("win_rates")
def winrates(rows: list[dict[str, Any]]) -> None:
    """Win rate per pair of models, with a 95% interval and the exact sign test.

    X's win rate is its share of the decisive judgments (ties left out); "better" names
    the model preferred significantly (p < 0.05).

    \b
    Example:
        evaltool preferences winrates
        evaltool preferences winrates --judge gpt-judge --json
    """
    echo_table(
        ["model x", "model y", "judgments", "x wins", "y wins", "ties", "x win rate (95% CI)",
         "p", "better"],
        [
            [
                r["model_x"],
                r["model_y"],
                r["judgments"],
                r["x_wins"],
                r["y_wins"],
                r["ties"],
                display.rate(r["x_win_rate"], r["x_win_rate_low"], r["x_win_rate_high"], empty=""),
                display.pvalue(r["p_value"]),
                r["better"],
            ]
            for r in rows
        ],
    )  # fmt: skip
