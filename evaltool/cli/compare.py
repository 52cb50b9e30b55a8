"""`evaltool compare`: per-metric verdicts of a candidate run against a baseline run."""

import json
from itertools import groupby
from operator import itemgetter
from typing import Any

import click

from evaltool import compare as comparing
from evaltool import db, display, runs
from evaltool.cli.output import (
    comparison_options,
    echo_json,
    echo_table,
    json_option,
    renamed,
    worst_option,
)
from evaltool.reports import data, render


@click.command(name="compare")
@click.argument("baseline")
@click.argument("candidates", nargs=-1, required=True, metavar="CANDIDATE...")
@comparison_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "md", "json"]),
    default="table",
    show_default=True,
    help="table for people, md for a pull-request comment (json: use --json).",
)
@click.option(
    "--record",
    is_flag=True,
    help="Keep the comparison in the database (table comparison, a row per candidate), "
    "e.g. for a release gate.",
)
@json_option
@worst_option
def compare(
    baseline: str,
    candidates: tuple[str, ...],
    metrics: tuple[str, ...],
    policy: comparing.Policy,
    fail_on_regression: bool,
    fmt: str,
    record: bool,
    as_json: bool,
    worst: int,
) -> None:
    """Compare run CANDIDATE against run BASELINE, metric by metric.

    Each metric gets delta = candidate - baseline with its interval, and a verdict:
    better or worse (the whole interval on one side of 0), not worse than margin (with
    --margin: the interval's lower end above -margin), or inconclusive (the data cannot
    tell; MDE says how large a change this comparison could have seen). Pass/fail metrics
    use Tango's score interval and McNemar's test, continuous ones the paired t interval
    and test, both with an exact sign-flip test below 25 differing cases. The verdicts of
    all metrics (and slices) are adjusted together (--correction), and an availability row
    compares the share of calls that succeeded. With repeats (evaltool run --repeats K),
    each test case is compared by its pass rate (or mean) over its samples. A test case
    the candidate did not answer or was not scored on counts as a failure (--missing).
    The numbers come from the SQL function evaltool.compare_runs; --record keeps them in
    table comparison. A run is given by id, or by model name for that model's latest
    completed run.

    Several candidates (compare 41 42 43) each get their own verdict table against the
    baseline, and the correction covers the rows of all of them at once (4 candidates on
    3 metrics are 12 tests; evaltool.compare_candidates). --fail-on-regression fails when
    any candidate does, --json prints a list with one comparison per candidate, and
    --record keeps a row per candidate.

    \b
    Example:
        evaltool compare 41 42
        evaltool compare 41 42 --metric exact_match --fail-on-regression   # in CI
        evaltool compare 41 42 --fail-on-regression --record    # kept for judges drift
        evaltool compare 41 42 --margin 0.02 --fail-on-regression          # non-inferiority
        evaltool compare 41 42 --by tag --cluster metadata.document
        evaltool compare 41 42 --format md > comment.md
        evaltool compare 41 42 --json | jq '.failed'
        evaltool compare 41 42 43 44 --fail-on-regression      # three candidates, one family
        evaltool compare prod-model cand-a cand-b --json | jq '.[].failed'
    """
    as_json = renamed(as_json, fmt == "json", "--format json", "--json")
    with db.connect() as conn:
        results = comparing.compare_many(
            conn,
            runs.resolve(conn, baseline),
            [runs.resolve(conn, candidate) for candidate in candidates],
            metrics=list(metrics),
            policy=policy,
            worst=worst,
        )
        if record:
            for result in results:
                result["comparison_id"] = comparing.record(conn, result)
    if as_json:
        echo_json(results[0] if len(results) == 1 else results)
    elif fmt == "md" and len(results) == 1:
        click.echo(render.render("compare", "md", results[0]), nl=False)
    elif fmt == "md":
        click.echo(render.render("compare_many", "md", data.compare_many_report(results)), nl=False)
    else:
        for i, result in enumerate(results):
            if i:
                click.echo()
            print_verdicts(result)
    if record and not as_json:
        ids = ", ".join(str(r["comparison_id"]) for r in results)
        click.echo(f"recorded as comparison{'s' if len(results) > 1 else ''} {ids}", err=True)
    comparing.gate_many(results, enforce=fail_on_regression)


def _label(run: dict[str, Any]) -> str:
    return f"run {run['run_id']} ({run['model']} on {run['dataset']}:{run['dataset_version']})"


def _delta(row: dict[str, Any]) -> str:
    if row["delta"] is None:
        return ""
    return f"{display.signed(row['delta'])} {display.interval(row['ci_low'], row['ci_high'])}"


def _missing(row: dict[str, Any]) -> str:
    parts = []
    if row["n_imputed"]:
        how = {"tango": "as failed", "t": "at worst"}.get(row["method"], "imputed")
        parts.append(f"{row['n_imputed']} {how}")
    elif row["n_baseline_only"]:
        parts.append(f"{row['n_baseline_only']} left out")
    if row["n_candidate_only"]:
        parts.append(f"{row['n_candidate_only']} new")
    return ", ".join(parts)


def print_verdicts(result: dict[str, Any]) -> None:
    """One comparison (a document of compare.compare or compare_many) as `evaltool compare`
    prints it: the runs, the verdict table, notes, and the worst regressed test cases."""
    rows = result["metrics"]
    sliced = any(r["slice"] is not None for r in rows)
    family = result.get("candidates")  # several candidates, adjusted together
    nth = f" ({family.index(result['candidate']['run_id']) + 1} of {len(family)})" if family else ""
    click.echo(f"baseline  {_label(result['baseline'])}")
    click.echo(f"candidate {_label(result['candidate'])}{nth}")
    level = rows[0]["ci_level"] if len(rows) == 1 and not family else None
    click.echo(
        f"alpha {result['alpha']} for the whole gate ({result['correction']} correction"
        + (f" over the rows of all {len(family)} candidates" if family else "")
        + (f", intervals at {level:.1%}" if level else ", each interval at its adjusted level")
        + "); delta = candidate - baseline"
    )
    click.echo()
    echo_table(
        [
            "metric",
            *(["slice"] if sliced else []),
            "n",
            "missing",
            "baseline",
            "candidate",
            "delta (CI)",
            "worse",
            "better",
            "p adj",
            "MDE",
            "verdict",
        ],
        [
            [
                r["metric"],
                *([r["slice"] or "all"] if sliced else []),
                r["n_paired"],
                _missing(r),
                display.number(r["baseline_mean"], empty=""),
                display.number(r["candidate_mean"], empty=""),
                _delta(r),
                r["worse"],
                r["better"],
                display.pvalue(r["p_adjusted"], empty=""),
                display.number(r["mde"], empty=""),
                r["verdict"] + (f" (margin {r['margin']:g})" if r["margin"] else ""),
            ]
            for r in rows
        ],
    )
    imputed = sum(r["n_imputed"] for r in rows if r["metric"] != "availability")
    if imputed:
        click.echo(
            f"({imputed} missing candidate scores counted as failures or worst values: "
            "--missing ignore pairs only what both runs have)"
        )
    gains = [r["repeat_gain"] for r in rows if r.get("repeat_gain")]
    if gains:
        click.echo(
            "(repeats: each test case is compared by its mean over its samples; they make "
            f"this comparison as precise as {min(gains):.1f} to {max(gains):.1f} times the "
            "test cases with one sample each)"
        )
    if any(r["verdict"] == "inconclusive" and r["mde"] for r in rows):
        click.echo(
            "(inconclusive: the interval holds 0; MDE is the smallest change this "
            "comparison detects 4 times in 5)"
        )
    for metric, group in groupby(result["regressions"], key=itemgetter("metric")):
        cases = list(group)
        click.echo(f"\n{metric}: {cases[0]['total']} regressed test case(s)")
        for case in cases:
            click.echo(
                f"  {case['external_id'] or case['prompt_id']}: "
                f"expected {_short(case['expected'])}, "
                f"was {_short(case['baseline_output'])}, "
                f"now {_short(case['candidate_output'])}" + _values(case)
            )
        if cases[0]["total"] > len(cases):
            click.echo(f"  ... and {cases[0]['total'] - len(cases)} more")


def _values(case: dict[str, Any]) -> str:
    """A continuous metric's values (or, with repeats, each side's pass rate)."""
    if case["baseline_passed"] is not None or case["baseline_value"] is None:
        return ""
    now = display.number(case["candidate_value"], empty="none")
    return f" ({display.number(case['baseline_value'])} -> {now})"


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
