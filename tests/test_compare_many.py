"""Several candidates against one baseline: compare_candidates corrects over all of them,
`evaltool compare` and `report compare` take CANDIDATE..., the report shows outputs side
by side."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import Result
from statsmodels.stats.multitest import multipletests

from evaltool import compare as comparing
from tests.scores import call, make_runs, put_scores

RunCli = Callable[..., Result]


def pass_fail(conn: psycopg.Connection, *runs: list[bool]) -> list[int]:
    """Runs over the same test cases whose metric `ok` passed as given, baseline first."""
    ids = make_runs(conn, [{}] * len(runs[0]), runs=len(runs))
    for run_id, passed in zip(ids, runs, strict=True):
        put_scores(conn, run_id, "ok", [float(p) for p in passed], passed)
    return ids


def borderline(conn: psycopg.Connection) -> list[int]:
    """40 test cases. Candidate 1 loses one and wins one (p 1); candidate 2 loses 7 and
    wins 1 (p 0.039): worse on its own, not once both are tested together (Holm: 0.078)."""
    base = [True] * 30 + [False] * 10
    first = [False] + [True] * 29 + [True] + [False] * 9
    second = [False] * 7 + [True] * 23 + [True] + [False] * 9
    return pass_fail(conn, base, first, second)


@pytest.mark.parametrize("correction, method", [("holm", "holm"), ("bh", "fdr_bh")])
def test_the_correction_covers_the_rows_of_every_candidate(
    conn: psycopg.Connection, correction: str, method: str
) -> None:
    rng = np.random.default_rng(23)
    base, first, second = make_runs(conn, [{}] * 40, runs=3)
    truth = rng.normal(0.6, 0.1, (3, 40))
    for m in range(3):
        put_scores(conn, base, f"m{m}", truth[m].tolist())
        for run_id, shift in ((first, 0.01), (second, -0.04)):
            put_scores(conn, run_id, f"m{m}", (truth[m] + rng.normal(shift, 0.05, 40)).tolist())
    rows = call(conn, "compare_candidates", base, [first, second], correction=correction)
    assert [(r["candidate"], r["metric"]) for r in rows] == [
        (c, m) for c in (first, second) for m in ("m0", "m1", "m2", "availability")
    ]
    # each candidate's unadjusted rows, pooled: 2 candidates on 3 metrics are 6 tests
    # (availability did not change: no pair differs, so it takes no part)
    alone = [
        r
        for c in (first, second)
        for r in call(conn, "compare_runs", base, c, correction="none")
        if r["worse"] + r["better"] > 0
    ]
    assert len(alone) == 6
    pooled = [r["p_value"] for r in alone]
    tested = [r for r in rows if r["metric"] != "availability"]
    assert [r["p_value"] for r in tested] == pytest.approx(pooled)
    adjusted = multipletests(pooled, 0.05, method)[1]
    assert [r["p_adjusted"] for r in tested] == pytest.approx(list(adjusted))
    for r in tested:  # each interval is drawn at the level of the family's test
        assert (r["p_adjusted"] < 0.05) == (not r["ci_low"] <= 0 <= r["ci_high"])
    if correction == "holm":  # the family is larger than either comparison alone
        own = {r["metric"]: r for r in call(conn, "compare_runs", base, second)}
        assert all(r["p_adjusted"] >= own[r["metric"]]["p_adjusted"] for r in tested[3:])


def test_a_candidate_worse_alone_may_not_be_worse_in_the_family(
    conn: psycopg.Connection,
) -> None:
    base, first, second = borderline(conn)
    alone = {r["metric"]: r for r in call(conn, "compare_runs", base, second)}
    assert alone["ok"]["p_value"] == pytest.approx(10 / 256)  # the exact mid-p, 8 discordant
    assert alone["ok"]["verdict"] == "worse"
    rows = {
        (r["candidate"], r["metric"]): r
        for r in call(conn, "compare_candidates", base, [first, second])
    }
    p = [rows[first, "ok"]["p_value"], rows[second, "ok"]["p_value"]]
    assert rows[second, "ok"]["p_adjusted"] == pytest.approx(multipletests(p, 0.05, "holm")[1][1])
    assert rows[second, "ok"]["p_adjusted"] == pytest.approx(2 * 10 / 256)
    assert rows[second, "ok"]["verdict"] == "inconclusive"
    assert rows[first, "ok"]["verdict"] == "inconclusive"
    # one candidate is compare_runs exactly
    one = call(conn, "compare_candidates", base, [second])
    assert [{k: v for k, v in r.items() if k != "candidate"} for r in one] == list(alone.values())
    for wrong, message in (([], "at least one run"), ([first, first], "each run once")):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            conn.execute(
                "SELECT * FROM evaltool.compare_candidates(%s, %s::bigint[])", (base, wrong)
            )


def test_the_gate_fails_when_any_candidate_regresses(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    base, first, second = pass_fail(
        conn,
        [True] * 40,
        [True] * 40,
        [False] * 15 + [True] * 25,  # only the second candidate regresses
    )
    args = ["compare", str(base), str(first), str(second)]
    table = run_cli(*args)
    assert table.exit_code == 0, table.output
    assert f"candidate run {first} (m0 on d0:1) (1 of 2)" in table.stdout
    assert f"candidate run {second} (m0 on d0:1) (2 of 2)" in table.stdout
    assert "holm correction over the rows of all 2 candidates" in table.stdout
    assert "ok: 15 regressed test case(s)" in table.stdout

    gate = run_cli(*args, "--fail-on-regression")
    assert gate.exit_code == 1
    assert gate.stderr.strip() == (
        f"Error: gate failed on run {second}: ok (alpha 0.05, holm correction over 2 "
        "candidates, missing cases: worst)"
    )
    assert run_cli("compare", str(base), str(first), "--fail-on-regression").exit_code == 0

    data = json.loads(run_cli(*args, "--json", "--record").stdout)
    assert [d["candidate"]["run_id"] for d in data] == [first, second]
    assert [d["failed"] for d in data] == [[], ["ok"]]
    assert [d["candidates"] for d in data] == [[first, second]] * 2
    verdicts = [{r["metric"]: r["verdict"] for r in d["metrics"]} for d in data]
    assert verdicts == [
        {"ok": "inconclusive", "availability": "inconclusive"},
        {"ok": "worse", "availability": "inconclusive"},
    ]
    kept = conn.execute(
        """SELECT candidate_run_id, gate_passed, policy -> 'candidates' FROM evaltool.comparison
           WHERE id = ANY (%s) ORDER BY id""",
        ([d["comparison_id"] for d in data],),
    ).fetchall()
    assert kept == [(first, True, [first, second]), (second, False, [first, second])]
    # one candidate keeps its document as it was: an object, no family
    single = json.loads(run_cli("compare", str(base), str(second), "--json").stdout)
    assert isinstance(single, dict) and "candidates" not in single

    md = run_cli(*args, "--format", "md").stdout
    assert md.startswith("### evaltool compare: 2 candidates against m0")
    assert f"**Gate fails: run {second} on ok**" in md
    assert md.count("| metric | n |") == 2

    twice = run_cli("compare", str(base), str(first), str(first))
    assert twice.exit_code == 2 and f"run {first} is given twice" in twice.stderr


def test_a_recorded_family_is_judged_again_as_a_family(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    base, first, second = borderline(conn)
    recorded = run_cli("compare", str(base), str(first), str(second), "--record")
    assert recorded.exit_code == 0, recorded.output
    # judged again with both candidates, it stays inconclusive; alone it would be worse
    again = comparing.recheck(conn, second, "ok", "1")
    assert [(a["verdict"], a["verdict_at_version"], a["changed"]) for a in again] == [
        ("inconclusive", "inconclusive", False)
    ]


def test_the_report_shows_where_the_runs_differ_side_by_side(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    cases = [
        {"id": "same", "input": "q0", "expected": "a", "outputs": ["a", "a", "a"]},
        {
            "id": "second-breaks",
            "input": "q1",
            "expected": "the cat sat",
            "outputs": ["the cat sat", "the cat sat", "<script>alert(1)</script> the dog sat"],
        },
        {
            "id": "both-differ",
            "input": "q2",
            "expected": "b",
            "outputs": ["b", "b!", {"error": "HTTP 500"}],
        },
        {"id": "reworded", "input": "q3", "expected": None, "outputs": ["x y", "x z", "x y"]},
    ]
    base, first, second = make_runs(conn, cases, runs=3)
    put_scores(conn, base, "ok", [1.0] * 4, [True] * 4)
    put_scores(conn, first, "ok", [1.0, 1.0, 0.0, 1.0], [True, True, False, True])
    put_scores(conn, second, "ok", [1.0, 0.0, 0.0, 1.0], [True, False, False, True])
    page = tmp_path / "candidates.html"
    args = ["report", "compare", str(base), str(first), str(second)]
    result = run_cli(*args, "-o", str(page))
    assert result.exit_code == 0, result.output
    source = page.read_text()
    assert source.count("<h3>Candidate ") == 2  # a verdict table each
    side = source[source.index("<h2>Outputs side by side</h2>") :]
    # most disagreement first: two verdicts differ, then one, then only the words
    shown = re.findall(r'<article class="case">\n<header><strong>([^<]+)</strong>', side)
    assert shown == ["both-differ", "second-breaks", "reworded"]
    assert "<script" not in source
    assert (
        "<ins>&lt;script&gt;alert(1)&lt;/script&gt; </ins>the <del>cat</del><ins>dog</ins>" in side
    )
    assert "x <del>y</del><ins>z</ins>" in side
    assert 'class="worse">✗ ok</span>' in side

    bounded = run_cli(*args, "--side-by-side", "1")
    assert bounded.exit_code == 0, bounded.output
    md = bounded.stdout
    assert "<details><summary>Outputs side by side: 3 test case(s) where the runs differ" in md
    assert (
        f"| baseline (run {base}) | candidate 1 (run {first}) | candidate 2 (run {second}) |" in md
    )
    table = md[md.index("Outputs side by side") :].split("</details>")[0]
    assert re.findall(r"^\| <code>([^<]+)</code>", table, re.MULTILINE) == ["both-differ"]
    assert "… and 2 more" in table and "<script" not in md
