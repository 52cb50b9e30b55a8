"""compare_runs and regressions against scipy, the false-positive rate, `evaltool compare`."""

import json
import math
from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from click.testing import Result
from scipy import stats

from tests.scores import make_runs, put_scores

RunCli = Callable[..., Result]


def sql1(conn: psycopg.Connection, query: str, *args: object) -> float:
    return conn.execute(query, args).fetchone()[0]


@pytest.mark.parametrize("df", [1, 2, 3.5, 9, 29, 100, 1000])
def test_t_distribution_matches_scipy(conn: psycopg.Connection, df: float) -> None:
    for p in (0.6, 0.975, 0.995):
        got = sql1(conn, "SELECT evaltool.t_quantile(%s::float8, %s::float8)", p, df)
        assert got == pytest.approx(stats.t.ppf(p, df), abs=1e-9)
    for t in (-7.5, -1.3, 0.0, 0.4, 2.2):
        got = sql1(conn, "SELECT evaltool.t_cdf(%s::float8, %s::float8)", t, df)
        assert got == pytest.approx(stats.t.cdf(t, df), abs=1e-12)


def test_normal_distribution_matches_scipy(conn: psycopg.Connection) -> None:
    for x in (-40.0, -8.3, -3.2, -2.9, -1.96, 0.0, 0.5, 3.1, 9.0):
        got = sql1(conn, "SELECT evaltool.norm_cdf(%s::float8)", x)
        assert got == pytest.approx(stats.norm.cdf(x), rel=1e-12, abs=1e-300)
    for p in (0.001, 0.5, 0.975):
        got = sql1(conn, "SELECT evaltool.norm_quantile(%s::float8)", p)
        assert got == pytest.approx(stats.norm.ppf(p), abs=1e-12)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 9), (10, 2), (50, 70), (12345, 11000)])
def test_mcnemar_matches_binomial_test(conn: psycopg.Connection, b: int, c: int) -> None:
    want = stats.binomtest(min(b, c), b + c, 0.5).pvalue if b + c else 1.0
    got = sql1(conn, "SELECT evaltool.mcnemar_exact_p(%s, %s)", b, c)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def compared(conn: psycopg.Connection, base: int, cand: int, alpha: float = 0.05) -> dict:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute("SELECT * FROM evaltool.compare_runs(%s, %s, %s)", (base, cand, alpha))
        return {r["metric"]: r for r in rows}


def test_pass_fail_metric_gets_exact_mcnemar_and_wald_interval(conn: psycopg.Connection) -> None:
    # 40 test cases: 3 passed before and failed after, 11 the reverse, 20 passed in both.
    before = [True] * 3 + [False] * 11 + [True] * 20 + [False] * 6
    after = [False] * 3 + [True] * 11 + [True] * 20 + [False] * 6
    base, cand = make_runs(conn, [{}] * 40)
    put_scores(conn, base, "ok", [float(x) for x in before], before)
    put_scores(conn, cand, "ok", [float(x) for x in after], after)
    row = compared(conn, base, cand, alpha=0.1)["ok"]
    n, worse, better = 40, 3, 11
    delta = (better - worse) / n
    half = stats.norm.ppf(0.95) * math.sqrt(worse + better - (better - worse) ** 2 / n) / n
    assert row["test"] == "mcnemar_exact"
    assert (row["n_paired"], row["worse"], row["better"]) == (40, 3, 11)
    assert row["baseline_mean"] == pytest.approx(23 / 40)
    assert row["delta"] == pytest.approx(delta)
    assert row["ci_low"] == pytest.approx(delta - half, abs=1e-9)
    assert row["ci_high"] == pytest.approx(delta + half, abs=1e-9)
    assert row["p_value"] == pytest.approx(stats.binomtest(3, 14, 0.5).pvalue, abs=1e-9)
    assert row["verdict"] == "improved"  # p = 0.057 < 0.1


@pytest.mark.parametrize(
    ("n", "method", "ties"),
    [
        (30, "exact", False),
        (50, "exact", False),
        (51, "asymptotic", False),
        (24, "asymptotic", True),
    ],
)
def test_continuous_metric_gets_wilcoxon_and_t_interval(
    conn: psycopg.Connection, n: int, method: str, ties: bool
) -> None:
    rng = np.random.default_rng(n)
    before = rng.normal(0.6, 0.1, n)
    after = before + rng.normal(-0.03, 0.05, n)
    if ties:  # rounded scores: tied |differences| and some zero differences
        before, after = np.round(before, 1), np.round(after, 1)
    base, cand = make_runs(conn, [{}] * n)
    put_scores(conn, base, "sim", before.tolist())
    put_scores(conn, cand, "sim", after.tolist())
    row = compared(conn, base, cand)["sim"]

    d = after - before
    nonzero = d[d != 0]
    want = stats.wilcoxon(nonzero, method=method, correction=False)
    assert row["test"] == "wilcoxon_signed_rank"
    assert row["statistic"] == pytest.approx(want.statistic, abs=1e-9)
    assert row["p_value"] == pytest.approx(want.pvalue, abs=1e-6)
    low, high = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
    assert (row["ci_low"], row["ci_high"]) == (
        pytest.approx(low, abs=1e-9),
        pytest.approx(high, abs=1e-9),
    )
    assert row["delta"] == pytest.approx(d.mean())
    assert (row["worse"], row["better"]) == (int((d < 0).sum()), int((d > 0).sum()))
    assert row["verdict"] == ("regressed" if want.pvalue < 0.05 else "no significant change")


def test_only_cases_in_both_runs_are_paired(conn: psycopg.Connection) -> None:
    cases = [{"outputs": ["x", "x"]}] * 5 + [{"outputs": ["x", None]}] * 2
    base, cand = make_runs(conn, cases)
    put_scores(conn, base, "ok", [1.0] * 7, [True] * 7)
    put_scores(conn, cand, "ok", [0.0] * 5, [False] * 5)
    row = compared(conn, base, cand)["ok"]
    assert (row["n_paired"], row["n_unpaired"], row["worse"]) == (5, 2, 5)
    assert row["p_value"] == pytest.approx(2 * 0.5**5)


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
    rows = compared(conn, base, cand)

    d = after - before
    low, high = stats.t.interval(0.95, 29, loc=d.mean(), scale=stats.sem(d))
    assert (rows["latency"]["ci_low"], rows["latency"]["ci_high"]) == (
        pytest.approx(low, abs=1e-9),
        pytest.approx(high, abs=1e-9),
    )
    assert rows["latency"]["verdict"] == "improved"
    assert rows["mixed"]["test"] == "wilcoxon_signed_rank"
    assert (rows["mixed"]["baseline_mean"], rows["mixed"]["worse"]) == (1.0, 30)
    assert rows["mixed"]["verdict"] == "regressed"
    assert rows["one"]["n_paired"] == 1 and rows["one"]["ci_low"] is None
    assert rows["one"]["delta"] == pytest.approx(-0.1)
    assert (rows["gone"]["n_paired"], rows["gone"]["n_unpaired"]) == (0, 30)
    assert rows["gone"]["verdict"] == "no paired data"


def test_no_real_change_rarely_raises_an_alarm(conn: psycopg.Connection) -> None:
    """400 comparisons of two runs drawn from the same model: the share flagged at alpha
    0.05 stays near 0.05 for the continuous test and at or below it for exact McNemar."""
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
        INSERT INTO evaltool.score (response_id, metric, value, passed, scorer)
        SELECT x.id, m.metric,
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
        SELECT c.metric, avg((c.verdict <> 'no significant change')::integer)
        FROM generate_series(0, %(sims)s - 1) i
        CROSS JOIN LATERAL evaltool.compare_runs(%(first)s + 2 * i, %(first)s + 2 * i + 1) c
        GROUP BY c.metric""",
        {"sims": sims, "first": base0 + 2},
    ).fetchall()
    rate = {metric: float(r) for metric, r in rows}
    se = math.sqrt(0.05 * 0.95 / sims)
    assert abs(rate["quality"] - 0.05) < 3 * se, rate
    assert 0.005 < rate["correct"] < 0.05 + 3 * se, rate


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
    assert "exact_match" in table.output and "regressed" in table.output
    assert "12 regressed test case(s)" in table.output and "and 7 more" in table.output

    gate = run_cli(
        "compare", str(base), str(cand), "--metric", "exact_match", "--fail-on-regression"
    )
    assert gate.exit_code == 1
    assert "regression in exact_match" in gate.stderr

    data = json.loads(run_cli("compare", str(base), str(cand), "--format", "json").stdout)
    verdicts = {m["metric"]: (m["verdict"], m["worse"], m["n_paired"]) for m in data["metrics"]}
    assert verdicts == {
        "exact_match": ("regressed", 12, 16),
        "edit_similarity": ("regressed", 12, 16),
    }
    exact = next(m for m in data["metrics"] if m["metric"] == "exact_match")
    assert exact["p_value"] == pytest.approx(2 * 0.5**12)

    md = run_cli("compare", str(base), str(cand), "--format", "md").stdout
    assert md.splitlines()[4].startswith("| metric |")  # the verdict table comes first
    assert "&lt;b&gt;" in md and "\\*\\*no\\*\\*" in md and "\\|" in md and "<b>" not in md

    same = run_cli("compare", str(base), str(base), "--fail-on-regression")
    assert same.exit_code == 0 and "regressed" not in same.output


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
