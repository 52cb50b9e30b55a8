"""compare_runs and regressions against scipy, the false-positive rate, `evaltool compare`."""

import json
import math
from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from click.testing import Result
from scipy import stats
from statsmodels.stats.multitest import multipletests

from tests.scores import call, make_runs, put_scores

RunCli = Callable[..., Result]


def compared(conn: psycopg.Connection, base: int, cand: int, **options: object) -> dict:
    """compare_runs' rows by label: metric, or metric[slice]."""
    rows = call(conn, "compare_runs", base, cand, **options)
    return {r["metric"] + (f"[{r['slice']}]" if r["slice"] else ""): r for r in rows}


def pass_fail_runs(
    conn: psycopg.Connection, before: list[bool], after: list[bool]
) -> tuple[int, int]:
    base, cand = make_runs(conn, [{}] * len(before))
    put_scores(conn, base, "ok", [float(x) for x in before], before)
    put_scores(conn, cand, "ok", [float(x) for x in after], after)
    return base, cand


def test_pass_fail_metric_gets_tango_interval_and_mcnemar(conn: psycopg.Connection) -> None:
    # 40 test cases: 3 passed before and failed after, 11 the reverse, 20 passed in both.
    before = [True] * 3 + [False] * 11 + [True] * 20 + [False] * 6
    after = [False] * 3 + [True] * 11 + [True] * 20 + [False] * 6
    base, cand = pass_fail_runs(conn, before, after)
    row = compared(conn, base, cand, alpha=0.1)["ok"]
    assert row["method"] == "tango"
    assert (row["n_paired"], row["worse"], row["better"]) == (40, 3, 11)
    assert row["baseline_mean"] == pytest.approx(23 / 40)
    assert row["delta"] == pytest.approx(8 / 40)
    # 14 discordant pairs, fewer than 25: the exact mid-p where larger than McNemar's
    midp = 2 * (stats.binom.cdf(2, 14, 0.5) + 0.5 * stats.binom.pmf(3, 14, 0.5))
    assert row["p_value"] == pytest.approx(max(midp, 2 * stats.norm.sf(8 / math.sqrt(14))))
    # availability has no discordant pair: it cannot reject, so it is no part of the family
    assert row["p_adjusted"] == row["p_value"]
    assert row["ci_level"] == pytest.approx(0.9)
    low, high = conn.execute("SELECT * FROM evaltool.tango_interval(11, 3, 40, 0.1)").fetchone()
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["verdict"] == "better" and row["gate_passed"]


@pytest.mark.parametrize("n", [12, 30, 200])
def test_continuous_metric_gets_paired_t(conn: psycopg.Connection, n: int) -> None:
    rng = np.random.default_rng(n)
    before = rng.normal(0.6, 0.1, n)
    after = before + rng.normal(-0.03, 0.05, n)
    base, cand = make_runs(conn, [{}] * n)
    put_scores(conn, base, "sim", before.tolist())
    put_scores(conn, cand, "sim", after.tolist())
    row = compared(conn, base, cand, correction="none")["sim"]

    d = after - before
    t = stats.ttest_rel(after, before)
    assert row["method"] == "t"
    assert row["delta"] == pytest.approx(d.mean())
    exact = n < 25  # fewer than 25 differences: the exact sign-flip mid-p where larger
    want_p = (
        max(t.pvalue, sql1(conn, "SELECT evaltool.sign_flip_midp(%s::float8[])", d.tolist()))
        if exact
        else t.pvalue
    )
    assert row["p_value"] == pytest.approx(want_p, rel=1e-6)
    low, high = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
    if row["p_adjusted"] >= 0.05:
        low, high = min(low, 0), max(high, 0)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert (row["worse"], row["better"]) == (int((d < 0).sum()), int((d > 0).sum()))
    assert row["verdict"] == ("worse" if row["p_value"] < 0.05 else "inconclusive")


def sql1(conn: psycopg.Connection, query: str, *args: object) -> float:
    return conn.execute(query, args).fetchone()[0]


def test_d2_the_verdict_follows_the_mean_not_the_ranks(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    """1,000 cases at 9; the candidate drops to 1 on 150 and gains 1 on 850: the mean falls
    by 0.35, and the signed-rank test called that an improvement."""
    base, cand = make_runs(conn, [{}] * 1000)
    put_scores(conn, base, "judge", [9.0] * 1000)
    put_scores(conn, cand, "judge", [1.0] * 150 + [10.0] * 850)
    row = compared(conn, base, cand)["judge"]
    assert row["delta"] == pytest.approx(-0.35)
    assert row["ci_high"] < 0 and row["verdict"] == "worse" and row["gate_passed"] is False
    gate = run_cli("compare", str(base), str(cand), "--fail-on-regression")
    assert gate.exit_code == 1, gate.output
    assert "gate failed on judge" in gate.stderr


def test_d3_d6_test_and_interval_never_disagree(conn: psycopg.Connection) -> None:
    # D3: four pairs that each lost a point
    base, cand = make_runs(conn, [{}] * 4)
    put_scores(conn, base, "judge", [5.0] * 4)
    put_scores(conn, cand, "judge", [4.0] * 4)
    row = compared(conn, base, cand)["judge"]
    assert row["p_value"] == pytest.approx(0.0625) and row["verdict"] == "inconclusive"
    assert row["ci_low"] <= -1 and row["ci_high"] >= 0  # widened to 0 with the exact test
    # D6: 5 of 60 cases pass -> fail: the test and the interval agree
    base, cand = pass_fail_runs(conn, [True] * 60, [False] * 5 + [True] * 55)
    row = compared(conn, base, cand)["ok"]
    assert (row["p_adjusted"] < 0.05) == (row["ci_high"] < 0)


def test_d4_decimal_scores_and_whole_scores_give_one_verdict(conn: psycopg.Connection) -> None:
    rng = np.random.default_rng(4)
    before = rng.integers(0, 11, 40)
    after = np.clip(before + rng.integers(-2, 2, 40), 0, 10)
    base, cand = make_runs(conn, [{}] * 40)
    put_scores(conn, base, "whole", before.astype(float).tolist())
    put_scores(conn, cand, "whole", after.astype(float).tolist())
    put_scores(conn, base, "tenths", (before / 10).tolist())
    put_scores(conn, cand, "tenths", (after / 10).tolist())
    rows = compared(conn, base, cand, correction="none")
    assert rows["whole"]["p_value"] == pytest.approx(rows["tenths"]["p_value"], rel=1e-9)
    assert rows["whole"]["verdict"] == rows["tenths"]["verdict"]


def test_d5_identical_runs_have_an_interval_of_real_width(conn: psycopg.Connection) -> None:
    base, cand = pass_fail_runs(conn, [True] * 30, [True] * 30)
    row = compared(conn, base, cand)["ok"]
    assert row["ci_low"] < -0.05 and row["ci_high"] > 0.05  # not [0, 0]
    assert row["verdict"] == "inconclusive" and row["mde"] > 0


def test_d7_cases_the_candidate_left_unscored_count_as_failures(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    # 200 cases; the baseline passes 160. The candidate fails 40 of those 160, which were
    # never scored: only its 160 passes (and the 40 baseline failures) carry a score.
    base, cand = make_runs(conn, [{}] * 200)
    put_scores(conn, base, "ok", [1.0] * 160 + [0.0] * 40, [True] * 160 + [False] * 40)
    put_scores(
        conn,
        cand,
        "ok",
        [1.0] * 120 + [None] * 40 + [0.0] * 40,
        [True] * 120 + [None] * 40 + [False] * 40,
    )
    row = compared(conn, base, cand)["ok"]
    assert (row["n_paired"], row["n_imputed"], row["n_baseline_only"]) == (200, 40, 40)
    assert row["verdict"] == "worse"
    ignored = compared(conn, base, cand, missing="ignore")["ok"]
    assert (ignored["n_paired"], ignored["n_imputed"], ignored["n_baseline_only"]) == (160, 0, 40)
    gate = run_cli("compare", str(base), str(cand), "--fail-on-regression")
    assert gate.exit_code == 1 and "40 missing candidate scores counted as failures" in gate.stdout


def test_d7_no_paired_data_is_never_a_pass(run_cli: RunCli, conn: psycopg.Connection) -> None:
    base, _ = make_runs(conn, [{"expected": "a"}] * 3)
    _, other = make_runs(conn, [{"expected": "a"}] * 3)  # the same cases, loaded again
    for run_id in (base, other):
        run_cli("score", str(run_id), "--metric", "exact_match")
    result = run_cli("compare", str(base), str(other))
    assert result.exit_code == 2
    assert "have no test case in common" in result.stderr
    # a metric the candidate never scored, with --missing ignore: no paired data
    base, cand = make_runs(conn, [{"expected": "x"}] * 5)
    put_scores(conn, base, "judge", [0.5] * 5)
    put_scores(conn, base, "ok", [1.0] * 5, [True] * 5)
    put_scores(conn, cand, "ok", [1.0] * 5, [True] * 5)
    assert compared(conn, base, cand, missing="ignore")["judge"]["verdict"] == "no paired data"
    gate = run_cli("compare", str(base), str(cand), "--missing", "ignore", "--fail-on-regression")
    assert gate.exit_code == 2 and "no paired data for judge" in gate.stderr


def test_d8_errors_are_not_scores(conn: psycopg.Connection) -> None:
    """A log-probability (higher is better, all negative): 10 errors in 40 scored 0 read
    as an improvement. They are missing values now, counted as the worst value seen."""
    outputs = [["x", "x"]] * 30 + [["x", {"error": "HTTP 429"}]] * 10
    base, cand = make_runs(conn, [{"outputs": o} for o in outputs])
    put_scores(conn, base, "logprob", [-2.0] * 40)
    put_scores(conn, cand, "logprob", [-1.9] * 30 + [0.0] * 10)
    rows = compared(conn, base, cand)
    assert rows["logprob"]["n_imputed"] == 10
    assert rows["logprob"]["candidate_mean"] == pytest.approx((30 * -1.9 + 10 * -2.0) / 40)
    assert rows["availability"]["candidate_mean"] == pytest.approx(0.75)
    assert rows["availability"]["verdict"] == "worse"


def test_availability_tells_rate_limits_from_quality(conn: psycopg.Connection) -> None:
    outputs = [["a", "a"]] * 188 + [["a", {"error": "HTTP 429"}]] * 12
    base, cand = make_runs(conn, [{"expected": "a", "outputs": o} for o in outputs])
    for run_id in (base, cand):
        conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,))
    rows = compared(conn, base, cand, missing="ignore")
    assert (rows["availability"]["worse"], rows["availability"]["verdict"]) == (12, "worse")
    assert rows["exact_match"]["worse"] == 12  # an error fails a pass/fail metric


def test_margins_make_a_non_inferiority_gate(run_cli: RunCli, conn: psycopg.Connection) -> None:
    # 2,000 cases, 20 lost and 10 won: a drop of 0.5 points, well inside a 2-point margin
    before = [True] * 20 + [False] * 10 + [True] * 1970
    after = [False] * 20 + [True] * 10 + [True] * 1970
    base, cand = pass_fail_runs(conn, before, after)
    row = compared(conn, base, cand, margins=psycopg.types.json.Jsonb(0.02))["ok"]
    assert row["margin"] == 0.02 and row["ci_low"] > -0.02
    assert row["verdict"] == "not worse than margin" and row["gate_passed"]
    tight = compared(conn, base, cand, margins=psycopg.types.json.Jsonb({"ok": 0.001}))["ok"]
    assert tight["verdict"] == "inconclusive" and tight["gate_passed"] is False
    assert (
        run_cli(
            "compare", str(base), str(cand), "--margin", "0.02", "--fail-on-regression"
        ).exit_code
        == 0
    )
    gate = run_cli("compare", str(base), str(cand), "--margin", "ok=0.001", "--fail-on-regression")
    assert gate.exit_code == 1 and "gate failed on ok" in gate.stderr
    bad = run_cli("compare", str(base), str(cand), "--margin", "ok=lots")
    assert bad.exit_code == 2 and "--margin ok=lots" in bad.stderr


def test_many_unchanged_metrics_are_adjusted_together(conn: psycopg.Connection) -> None:
    rng = np.random.default_rng(11)
    base, cand = make_runs(conn, [{}] * 80)
    for m in range(7):
        put_scores(conn, base, f"m{m}", rng.normal(0.5, 0.1, 80).tolist())
        put_scores(conn, cand, f"m{m}", rng.normal(0.5, 0.1, 80).tolist())
    rows = [r for r in compared(conn, base, cand).values() if r["p_value"] is not None]
    p = [r["p_value"] for r in rows]
    assert [r["p_adjusted"] for r in rows] == pytest.approx(list(multipletests(p, 0.05, "holm")[1]))
    for r in rows:  # each interval is drawn at its Holm level, so it agrees with the test
        assert (r["p_adjusted"] < 0.05) == (not r["ci_low"] <= 0 <= r["ci_high"])


def test_a_regression_in_one_tag_of_ten_is_found(run_cli: RunCli, conn: psycopg.Connection) -> None:
    cases = [{"expected": "a", "outputs": ["a", "b" if i % 10 == 3 else "a"]} for i in range(300)]
    base, cand = make_runs(conn, cases)
    conn.execute(
        """UPDATE evaltool.prompt p
           SET tags = ARRAY['t' || (r.i %% 10)], metadata = jsonb_build_object('doc', r.i / 3)
           FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM evaltool.prompt
                 WHERE dataset_id = (SELECT dataset_id FROM evaltool.run WHERE id = %s)) r
           WHERE r.id = p.id""",
        (base,),
    )
    conn.commit()
    for run_id in (base, cand):
        conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,))
    conn.commit()
    rows = compared(conn, base, cand, slice_by="tag", metrics=["exact_match"])
    assert rows["exact_match[t3]"]["verdict"] == "worse"
    assert [k for k, r in rows.items() if r["verdict"] == "worse"] == [
        "exact_match",
        "exact_match[t3]",
    ]
    assert len(rows) == 2 * 11  # exact_match and availability, all cases and ten tags
    out = run_cli("compare", str(base), str(cand), "--by", "tag", "--json")
    data = json.loads(out.stdout)
    assert {r["label"] for r in data["metrics"] if r["verdict"] == "worse"} == {
        "exact_match",
        "exact_match[t3]",
    }
    by_meta = compared(conn, base, cand, slice_by="metadata.doc", metrics=["exact_match"])
    assert len([k for k in by_meta if k.startswith("exact_match[")]) == 100


def test_clusters_widen_the_interval(conn: psycopg.Connection) -> None:
    """Ten documents of 20 questions each, every document a shift of its own: the
    cluster-robust interval is that of the ten document means, not of 200 cases."""
    rng = np.random.default_rng(3)
    shift = np.repeat(rng.normal(0, 0.2, 10), 20)
    before = rng.normal(0.5, 0.05, 200)
    after = before + shift + rng.normal(0, 0.05, 200)
    base, cand = make_runs(conn, [{}] * 200)
    conn.execute(
        """UPDATE evaltool.prompt p SET metadata = jsonb_build_object('doc', (r.i - 1) / 20)
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM evaltool.prompt
                 WHERE dataset_id = (SELECT dataset_id FROM evaltool.run WHERE id = %s)) r
           WHERE r.id = p.id""",
        (base,),
    )
    put_scores(conn, base, "q", before.tolist())
    put_scores(conn, cand, "q", after.tolist())
    row = compared(conn, base, cand, cluster_by="metadata.doc", correction="none")["q"]
    d = (after - before).reshape(10, 20)
    totals = d.sum(axis=1)
    est = d.mean()
    se = math.sqrt(10 / 9 * ((totals - 20 * est) ** 2).sum()) / 200
    assert row["method"] == "cluster_t" and row["delta"] == pytest.approx(est)
    p_t = 2 * stats.t.sf(abs(est) / se, 9)
    midp = sql1(conn, "SELECT evaltool.sign_flip_midp(%s::float8[])", totals.tolist())
    assert row["p_value"] == pytest.approx(max(p_t, midp), rel=1e-6)
    naive = compared(conn, base, cand, correction="none")["q"]
    assert row["ci_high"] - row["ci_low"] > 2 * (naive["ci_high"] - naive["ci_low"])


def test_edge_cases_of_the_paired_tests(conn: psycopg.Connection) -> None:
    rng = np.random.default_rng(7)
    before = 1000 + rng.normal(0, 50, 30)  # large values, small steady differences
    after = before + 0.5 + rng.normal(0, 0.01, 30)
    base, cand = make_runs(conn, [{}] * 30)
    put_scores(conn, base, "latency", before.tolist())
    put_scores(conn, cand, "latency", after.tolist())
    # a verdict on some cases only: the values are compared, not the verdicts
    put_scores(conn, base, "mixed", [1.0] * 30, [True] * 29 + [None])
    put_scores(conn, cand, "mixed", [0.5] * 30, [False] * 30)
    put_scores(conn, base, "one", [0.2] + [None] * 29)
    put_scores(conn, cand, "one", [0.1] + [None] * 29)
    put_scores(conn, base, "gone", [1.0] * 30)
    put_scores(conn, cand, "new", [1.0] * 30)
    put_scores(conn, base, "same", [0.7] * 30)
    put_scores(conn, cand, "same", [0.7] * 30)
    put_scores(conn, base, "all_lost", [1.0] * 30, [True] * 30)
    put_scores(conn, cand, "all_lost", [0.0] * 30, [False] * 30)
    rows = compared(conn, base, cand)

    assert rows["latency"]["verdict"] == "better"
    assert rows["mixed"]["method"] == "t"
    assert (rows["mixed"]["baseline_mean"], rows["mixed"]["worse"]) == (1.0, 30)
    assert rows["mixed"]["verdict"] == "worse"
    assert rows["one"]["n_paired"] == 1 and rows["one"]["ci_low"] is None
    assert rows["one"]["verdict"] == "inconclusive"
    assert rows["one"]["delta"] == pytest.approx(-0.1)
    # the candidate never scored it: imputed values alone are no comparison
    assert (rows["gone"]["n_paired"], rows["gone"]["n_imputed"]) == (30, 30)
    assert rows["gone"]["verdict"] == "no paired data" and rows["gone"]["gate_passed"] is None
    assert (rows["new"]["n_paired"], rows["new"]["n_candidate_only"]) == (0, 30)
    assert rows["new"]["verdict"] == "no paired data" and rows["new"]["gate_passed"] is None
    assert (rows["same"]["delta"], rows["same"]["ci_low"], rows["same"]["ci_high"]) == (0, 0, 0)
    assert rows["same"]["verdict"] == "inconclusive"
    assert rows["all_lost"]["delta"] == -1 and rows["all_lost"]["ci_low"] == -1
    assert rows["all_lost"]["verdict"] == "worse"


def test_a_million_pairs_from_their_counts(conn: psycopg.Connection) -> None:
    p, (low, high) = (
        sql1(conn, "SELECT evaltool.paired_p('tango', 150000, 148000, NULL, NULL, NULL, NULL)"),
        conn.execute("SELECT * FROM evaltool.tango_interval(150000, 148000, 1000000)").fetchone(),
    )
    assert p == pytest.approx(2 * stats.norm.sf(2000 / math.sqrt(298000)))
    assert low > 0 and high < 0.01


def test_no_real_change_rarely_raises_an_alarm(conn: psycopg.Connection) -> None:
    """400 comparisons of two runs drawn from the same model: the share flagged at alpha
    0.05 stays near 0.05 for both kinds of metric, and never far above it."""
    sims, n = 400, 30
    base0, _ = make_runs(conn, [{}] * n)
    conn.execute("SELECT setseed(0.25)")
    conn.execute(
        """INSERT INTO evaltool.run (model_id, dataset_id, status)
        SELECT model_id, dataset_id, 'completed'
        FROM evaltool.run, generate_series(1, %(runs)s) WHERE id = %(base)s""",
        {"runs": 2 * sims, "base": base0},
    )
    conn.execute(
        """INSERT INTO evaltool.response (run_id, prompt_id, status, output_text)
        SELECT r.id, p.id, 'ok', 'x'
        FROM evaltool.run r JOIN evaltool.prompt p ON p.dataset_id = r.dataset_id
        WHERE r.id > %(base)s + 1""",
        {"base": base0},
    )
    conn.execute(
        """-- each test case has its own difficulty; both runs draw from the same model
        INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
        SELECT x.run_id, x.id, m.metric,
               CASE m.metric WHEN 'quality' THEN q.level + 0.1 * sqrt(-2 * ln(1 - random()))
                                                 * cos(2 * pi() * random())
                        END,
               CASE m.metric WHEN 'correct' THEN random() < q.level END, 'sim'
        FROM evaltool.response x
        JOIN (SELECT id, 0.2 + 0.6 * random() AS level FROM evaltool.prompt) q ON q.id = x.prompt_id
        CROSS JOIN (VALUES ('quality'), ('correct')) m(metric)
        WHERE x.run_id > %(base)s + 1
        ORDER BY x.id, m.metric""",
        {"runs": 2 * sims, "base": base0},
    )
    rows = conn.execute(
        """
        SELECT c.metric, avg((c.verdict IN ('better', 'worse'))::integer)
        FROM generate_series(0, %(sims)s - 1) i
        CROSS JOIN LATERAL evaltool.compare_runs(%(first)s + 2 * i, %(first)s + 2 * i + 1,
                                                 correction => 'none') c
        GROUP BY c.metric""",
        {"sims": sims, "first": base0 + 2},
    ).fetchall()
    rate = {metric: float(r) for metric, r in rows}
    se = math.sqrt(0.05 * 0.95 / sims)
    assert abs(rate["quality"] - 0.05) < 3 * se, rate
    assert 0.01 < rate["correct"] < 0.05 + 3 * se, rate
    assert rate["availability"] == 0


def test_regressions_lists_cases_that_got_worse(conn: psycopg.Connection) -> None:
    cases = [
        {"id": "same", "input": "q1", "expected": "a", "outputs": ["a", "a"]},
        {"id": "broke", "input": "q2", "expected": "b", "outputs": ["b", "<script>x</script>"]},
        {"id": "fixed", "input": "q3", "expected": "c", "outputs": ["z", "c"]},
        {"id": "error", "input": "q4", "expected": "d", "outputs": ["d", {"error": "HTTP 500"}]},
    ]
    base, cand = make_runs(conn, cases)
    for run_id in (base, cand):
        conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,))
    rows = conn.execute(
        """SELECT external_id, input, expected, baseline_output, candidate_output
                           FROM evaltool.regressions(%s, %s)""",
        (base, cand),
    ).fetchall()
    assert rows == [
        ("broke", "q2", "b", "b", "<script>x</script>"),
        ("error", "q4", "d", "d", "error: HTTP 500"),
    ]


def test_compare_command_gates_on_regressions(run_cli: RunCli, conn: psycopg.Connection) -> None:
    cases = [
        {"id": f"c{i}", "expected": "ok", "outputs": ["ok", "ok" if i < 4 else "| **no** <b>"]}
        for i in range(16)
    ]
    base, cand = make_runs(conn, cases)
    for run_id in (base, cand):
        assert (
            run_cli(
                "score", str(run_id), "--metric", "exact_match", "--metric", "edit_similarity"
            ).exit_code
            == 0
        )
    table = run_cli("compare", str(base), str(cand))
    assert table.exit_code == 0, table.output
    assert "exact_match" in table.output and "worse" in table.output
    assert "12 regressed test case(s)" in table.output and "and 2 more" in table.output

    gate = run_cli(
        "compare", str(base), str(cand), "--metric", "exact_match", "--fail-on-regression"
    )
    assert gate.exit_code == 1
    assert "gate failed on exact_match" in gate.stderr

    data = json.loads(run_cli("compare", str(base), str(cand), "--json").stdout)
    old = run_cli("compare", str(base), str(cand), "--format", "json")
    assert json.loads(old.stdout) == data and "--format json is deprecated" in old.stderr
    verdicts = {m["metric"]: (m["verdict"], m["worse"], m["n_paired"]) for m in data["metrics"]}
    assert verdicts == {
        "exact_match": ("worse", 12, 16),
        "edit_similarity": ("worse", 12, 16),
        "availability": ("inconclusive", 0, 16),
    }
    exact = next(m for m in data["metrics"] if m["metric"] == "exact_match")
    # 12 of 12 lost: McNemar's score test, which is larger here than the mid-p 0.5**12
    assert exact["p_value"] == pytest.approx(2 * stats.norm.sf(12 / math.sqrt(12)))
    assert data["failed"] == ["edit_similarity", "exact_match"]

    md = run_cli("compare", str(base), str(cand), "--format", "md").stdout
    assert md.splitlines()[4].startswith("| metric |")  # the verdict table comes first
    assert "&lt;b&gt;" in md and "\\*\\*no\\*\\*" in md and "\\|" in md and "<b>" not in md

    same = run_cli("compare", str(base), str(base), "--fail-on-regression")
    assert same.exit_code == 0 and "gate failed" not in same.stderr


def test_compare_refuses_unknown_runs_and_metrics(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    base, cand = make_runs(conn, [{"expected": "a", "outputs": ["a", "a"]}])
    assert run_cli("compare", str(base), "999").stderr.strip() == (
        "Error: no run 999: see evaltool runs list"
    )
    result = run_cli("compare", str(base), str(cand), "--metric", "bleu")
    assert result.exit_code == 2
    assert "metric bleu is not scored in these runs (scored: none)" in result.stderr


def test_regressions_include_what_the_candidate_did_not_deliver(conn: psycopg.Connection) -> None:
    cases = [
        {"id": "kept", "expected": "a", "outputs": ["a", "a"]},
        {"id": "failed", "expected": "b", "outputs": ["b", {"error": "HTTP 500"}]},
        {"id": "dropped", "expected": "c", "outputs": ["c", None]},
        {"id": "never", "expected": "d", "outputs": ["x", None]},
    ]
    base, cand = make_runs(conn, cases)
    for run_id in (base, cand):
        conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,))
        conn.execute("SELECT evaltool.score_run(%s, 'edit_similarity')", (run_id,))
    rows = conn.execute(
        """SELECT metric, external_id, candidate_output, candidate_value
           FROM evaltool.regressions(%s, %s)""",
        (base, cand),
    ).fetchall()
    assert rows == [
        ("edit_similarity", "failed", "error: HTTP 500", None),
        ("edit_similarity", "dropped", "no response", None),
        ("edit_similarity", "never", "no response", None),
        ("exact_match", "dropped", "no response", None),  # missing first
        ("exact_match", "failed", "error: HTTP 500", 0.0),
    ]


def test_slices_and_clusters_are_named_as_the_options_say(run_cli: RunCli) -> None:
    for args, message in (
        (["--by", "domain"], "Error: --by domain: slice by tag or metadata.KEY"),
        (["--by", "metadata."], "Error: --by metadata.: slice by tag or metadata.KEY"),
        (["--cluster", "tag"], "Error: --cluster tag: cluster by metadata.KEY"),
    ):
        result = run_cli("compare", "1", "2", *args)
        assert result.exit_code == 2 and result.stderr.startswith(message), result.stderr


def test_slicing_by_a_key_of_thousands_of_values_is_refused(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    base, cand = make_runs(conn, [{"expected": "a", "outputs": ["a", "a"]}] * 1001)
    conn.execute(
        """UPDATE evaltool.prompt SET metadata = jsonb_build_object('doc', id)
           WHERE dataset_id = (SELECT dataset_id FROM evaltool.run WHERE id = %s)""",
        (base,),
    )
    conn.commit()
    result = run_cli("compare", str(base), str(cand), "--by", "metadata.doc")
    assert result.exit_code == 2
    assert f"metadata.doc has 1001 values in run {base}" in result.stderr
    assert "use --cluster" in result.stderr
    assert run_cli("compare", str(base), str(cand), "--cluster", "metadata.doc").exit_code == 0


def repeated_runs(
    conn: psycopg.Connection, before: list[list[bool]], after: list[list[bool]]
) -> tuple[int, int]:
    """Two runs over the same test cases whose samples passed as given: before[i] and
    after[i] are the samples of test case i (their lengths are the runs' repeats)."""
    base, cand = make_runs(conn, [{}] * len(before))
    for run, samples in ((base, before), (cand, after)):
        k = len(samples[0])
        conn.execute("UPDATE evaltool.run SET repeats = %s WHERE id = %s", (k, run))
        conn.execute(
            """INSERT INTO evaltool.response (run_id, prompt_id, sample, status, output_text)
               SELECT run_id, prompt_id, s, 'ok', 'x' FROM evaltool.response
               CROSS JOIN generate_series(2, %s) s WHERE run_id = %s""",
            (k, run),
        )
        conn.execute(
            "UPDATE evaltool.response SET output_text = 'sample ' || sample WHERE run_id = %s",
            (run,),
        )
        conn.execute(
            """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
               SELECT %(run)s, r.id, 'ok', u.p::integer, u.p, 'test'
               FROM (SELECT x.id, x.sample,
                            dense_rank() OVER (ORDER BY x.prompt_id) AS i
                     FROM evaltool.response x WHERE x.run_id = %(run)s) r
               JOIN unnest(%(case)s::integer[], %(sample)s::integer[], %(passed)s::boolean[])
                    u(i, k, p) ON u.i = r.i AND u.k = r.sample""",
            {
                "run": run,
                "case": [i + 1 for i, c in enumerate(samples) for _ in c],
                "sample": [k + 1 for c in samples for k in range(len(c))],
                "passed": [p for c in samples for p in c],
            },
        )
    conn.commit()
    return base, cand


def test_repeats_compare_each_case_by_its_pass_rate(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    rng = np.random.default_rng(17)
    # 40 test cases of different difficulty, 3 samples per side; the candidate is worse.
    level = rng.uniform(0.2, 0.95, 40)
    before = [[bool(x) for x in rng.random(3) < p] for p in level]
    after = [[bool(x) for x in rng.random(3) < p - 0.25] for p in level]
    base, cand = repeated_runs(conn, before, after)
    row = compared(conn, base, cand)["ok"]
    rates_b = np.array([np.mean(c) for c in before])
    rates_c = np.array([np.mean(c) for c in after])
    d = np.round(rates_c - rates_b, 9)
    # the unit is the test case: 40 pairs of pass rates, a paired t interval over them
    assert row["method"] == "t" and row["n_paired"] == 40
    assert row["baseline_mean"] == pytest.approx(rates_b.mean())
    assert row["delta"] == pytest.approx(d.mean())
    low, high = stats.ttest_1samp(d, 0).confidence_interval(row["ci_level"])
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["p_value"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    # what one sample per side would have added to the variance of each difference
    within = (
        sum(np.var(np.array(s, dtype=float), ddof=1) * (1 - 1 / 3) for s in before + after) / 40
    )
    assert row["repeat_gain"] == pytest.approx(1 + within / np.var(d, ddof=1))
    assert row["repeat_gain"] > 1.2
    assert row["verdict"] == "worse"
    # availability is per test case too: all calls succeeded
    assert compared(conn, base, cand)["availability"]["n_paired"] == 40
    # the pull-request comment says what the repeats bought
    comment = run_cli("compare", str(base), str(cand), "--format", "md")
    gain = f"{row['repeat_gain']:.1f}"
    assert "\n\nWith repeats (baseline 3, candidate 3 samples per test case)" in comment.output
    assert f"as precise as {gain} to {gain} times the test cases" in comment.output
    # a K = 1 comparison has no gain to report
    one_b, one_c = pass_fail_runs(conn, [True, False] * 10, [True, True] * 10)
    assert compared(conn, one_b, one_c)["ok"]["repeat_gain"] is None


def test_repeats_regressions_are_cases_whose_rate_dropped(conn: psycopg.Connection) -> None:
    before = [[True, True, True], [True, False, True], [False, False, False]]
    after = [[True, False, False], [True, False, True], [False, False, False]]
    base, cand = repeated_runs(conn, before, after)
    rows = call(conn, "regressions", base, cand)
    assert [(r["external_id"], r["baseline_value"], r["candidate_value"]) for r in rows] == [
        ("case-0", 1.0, pytest.approx(1 / 3))
    ]
    # what changed: the baseline's best answer, the candidate's first failing one
    assert (rows[0]["baseline_output"], rows[0]["candidate_output"]) == ("sample 1", "sample 2")


def test_no_real_change_with_repeats_rarely_raises_an_alarm(conn: psycopg.Connection) -> None:
    # temperature-like noise: each case has its own pass probability, both runs sample it
    rng = np.random.default_rng(5)
    alarms = 0
    for _ in range(40):
        level = rng.uniform(0.1, 0.9, 30)
        before = [[bool(x) for x in rng.random(3) < p] for p in level]
        after = [[bool(x) for x in rng.random(3) < p] for p in level]
        base, cand = repeated_runs(conn, before, after)
        alarms += compared(conn, base, cand, alpha=0.1)["ok"]["verdict"] != "inconclusive"
    assert alarms <= 9  # 4 expected at alpha 0.1; the bench measures the rate precisely


def score_as(conn: psycopg.Connection, run: int, metric: str, version: str, passed: list[bool]):
    """A scoring of `metric` by scorer version `version` with these outcomes, in case order."""
    scoring = conn.execute(
        "SELECT evaltool.begin_scoring(%s, %s, 'test', %s)", (run, metric, version)
    ).fetchone()[0]
    conn.execute(
        """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer,
                                       scorer_version, scoring_id)
           SELECT %(run)s, r.id, %(metric)s, u.p::integer, u.p, 'test', %(version)s,
                  %(scoring)s
           FROM (SELECT x.id, row_number() OVER (ORDER BY x.prompt_id) AS i
                 FROM evaltool.response x WHERE x.run_id = %(run)s) r
           JOIN unnest(%(passed)s::boolean[]) WITH ORDINALITY u(p, i) ON u.i = r.i""",
        {"metric": metric, "version": version, "scoring": scoring, "run": run, "passed": passed},
    )
    conn.commit()


def test_a_recorded_gate_is_judged_again_under_a_new_judge(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    from evaltool import compare as comparing

    base, cand = make_runs(conn, [{}] * 30)
    # judge version 1 is lenient: everything passes in both runs
    score_as(conn, base, "judge", "1", [True] * 30)
    score_as(conn, cand, "judge", "1", [True] * 30)
    out = run_cli("compare", str(base), str(cand), "--record", "--json")
    recorded = json.loads(out.output)
    kept = conn.execute(
        "SELECT baseline_run_id, candidate_run_id, gate_passed, cardinality(scorings), "
        "jsonb_array_length(results) FROM evaltool.comparison WHERE id = %s",
        [recorded["comparison_id"]],
    ).fetchone()
    assert kept == (base, cand, True, 2, 2)
    # version 2 is strict, and finds the candidate wrong on 20 of 30
    score_as(conn, base, "judge", "2", [True] * 30)
    score_as(conn, cand, "judge", "2", [False] * 20 + [True] * 10)
    history = "SELECT count(*) FROM evaltool.score_history"
    assert conn.execute(history).fetchone() == (60,)  # version 1's scores are kept
    before = conn.execute("SELECT count(*), sum(value) FROM evaltool.score").fetchone()

    again = comparing.recheck(conn, cand, "judge", "2")
    assert [(a["verdict"], a["verdict_at_version"], a["changed"]) for a in again] == [
        ("inconclusive", "worse", True)
    ]
    assert again[0]["rescored_runs"] == [base, cand]
    # and back under version 1, nothing changes; nothing was written either way
    assert [a["changed"] for a in comparing.recheck(conn, cand, "judge", "1")] == [False]
    assert conn.execute("SELECT count(*), sum(value) FROM evaltool.score").fetchone() == before
    assert conn.execute(history).fetchone() == (60,)
    # evaltool judges drift says it too
    args = ["judges", "drift", "judge", "--run", str(cand), "--from", "1", "--to", "2"]
    shown = run_cli(*args)
    assert shown.exit_code == 0, shown.output
    assert "recorded comparisons judged again under 2: 1, 1 verdict would change" in shown.output
    drift = json.loads(run_cli(*args, "--json").output)
    assert drift["to_only_passed"] == 0 and drift["from_only_passed"] == 20
    assert [c["verdict_at_version"] for c in drift["comparisons"]] == ["worse"]
