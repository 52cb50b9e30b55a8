"""The SQL statistics of sql/70_fn_stats.sql and sql/71_fn_paired_tests.sql against scipy,
statsmodels and brute force."""

import itertools
import math

import numpy as np
import psycopg
import pytest
from scipy import optimize, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower


def sql1(conn: psycopg.Connection, query: str, *args: object) -> object:
    return conn.execute(query, args).fetchone()[0]


@pytest.mark.parametrize("df", [1, 2, 3.5, 9, 29, 100, 1000])
def test_t_distribution_matches_scipy(conn: psycopg.Connection, df: float) -> None:
    for p in (0.6, 0.975, 0.995):
        got = sql1(conn, "SELECT evaltool.t_quantile(%s::float8, %s::float8)", p, df)
        assert got == pytest.approx(stats.t.ppf(p, df), abs=1e-9)
    for t in (-7.5, -1.3, 0.0, 0.4, 2.2):
        got = sql1(conn, "SELECT evaltool.t_cdf(%s::float8, %s::float8)", t, df)
        assert got == pytest.approx(stats.t.cdf(t, df), abs=1e-12)


def test_t_quantile_of_no_degrees_of_freedom_is_null(conn: psycopg.Connection) -> None:
    assert sql1(conn, "SELECT evaltool.t_quantile(0.975, 0)") is None
    assert sql1(conn, "SELECT evaltool.t_quantile(0.975, -1)") is None


def test_normal_distribution_matches_scipy(conn: psycopg.Connection) -> None:
    for x in (-40.0, -8.3, -3.2, -2.9, -1.96, 0.0, 0.5, 3.1, 9.0):
        got = sql1(conn, "SELECT evaltool.norm_cdf(%s::float8)", x)
        assert got == pytest.approx(stats.norm.cdf(x), rel=1e-12, abs=1e-300)
    for p in (0.001, 0.5, 0.975):
        got = sql1(conn, "SELECT evaltool.norm_quantile(%s::float8)", p)
        assert got == pytest.approx(stats.norm.ppf(p), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "x"), [(0.5, 0.5, 0.3), (3, 9, 0.2), (40, 2, 0.97), (1e5, 1e5, 0.5)]
)
def test_incomplete_beta_matches_scipy(
    conn: psycopg.Connection, a: float, b: float, x: float
) -> None:
    got = sql1(conn, "SELECT evaltool.beta_inc(%s, %s, %s)", a, b, x)
    assert got == pytest.approx(special.betainc(a, b, x), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 9), (10, 2), (50, 70), (12345, 11000)])
def test_mcnemar_matches_binomial_test(conn: psycopg.Connection, b: int, c: int) -> None:
    want = stats.binomtest(min(b, c), b + c, 0.5).pvalue if b + c else 1.0
    got = sql1(conn, "SELECT evaltool.mcnemar_exact_p(%s, %s)", b, c)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_wilson_interval_ends_exactly_at_0_and_1(conn: psycopg.Connection) -> None:
    assert conn.execute("SELECT * FROM evaltool.wilson_interval(0, 7)").fetchone()[0] == 0
    assert conn.execute("SELECT * FROM evaltool.wilson_interval(7, 7)").fetchone()[1] == 1
    low, high = conn.execute("SELECT * FROM evaltool.wilson_interval(3, 7)").fetchone()
    want = stats.binomtest(3, 7).proportion_ci(method="wilson")
    assert (low, high) == (pytest.approx(want.low), pytest.approx(want.high))


def tango(won: int, lost: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Tango's interval, written out from the paper and solved with scipy's root finder."""

    def z(d0: float) -> float:
        a = 2 * n
        b = -won - lost + (2 * n - won + lost) * d0
        c = -lost * d0 * (1 - d0)
        q = (math.sqrt(max(b * b - 4 * a * c, 0)) - b) / (2 * a)
        v = n * (2 * q + d0 * (1 - d0))
        return (won - lost - n * d0) / math.sqrt(v) if v > 0 else 0.0

    crit = stats.norm.ppf(1 - alpha / 2)
    est = (won - lost) / n
    low = -1.0 if est <= -1 else optimize.brentq(lambda d: z(d) - crit, -1 + 1e-12, est)
    high = 1.0 if est >= 1 else optimize.brentq(lambda d: z(d) + crit, est, 1 - 1e-12)
    return low, high


@pytest.mark.parametrize(
    ("won", "lost", "n"),
    [
        (0, 0, 30),
        (7, 1, 21),
        (1, 7, 21),
        (3, 11, 40),
        (0, 5, 60),
        (20, 0, 20),
        (1, 0, 1),
        (480, 520, 1_000_000),
        (150_000, 140_000, 1_000_000),
    ],
)
def test_tango_interval_matches_the_paper(
    conn: psycopg.Connection, won: int, lost: int, n: int
) -> None:
    low, high = conn.execute(
        "SELECT * FROM evaltool.tango_interval(%s, %s, %s, 0.05)", (won, lost, n)
    ).fetchone()
    want_low, want_high = tango(won, lost, n)
    assert (low, high) == (pytest.approx(want_low, abs=1e-9), pytest.approx(want_high, abs=1e-9))
    # the interval holds 0 exactly when McNemar's score test does not reject
    p = sql1(conn, "SELECT evaltool.paired_p('tango', %s, %s, NULL, NULL, NULL, NULL)", won, lost)
    assert (p < 0.05) == (not low <= 0 <= high)


def test_identical_runs_get_an_interval_not_a_point(conn: psycopg.Connection) -> None:
    low, high = conn.execute("SELECT * FROM evaltool.tango_interval(0, 0, 30)").fetchone()
    z2 = stats.norm.ppf(0.975) ** 2
    assert (low, high) == (pytest.approx(-z2 / (30 + z2)), pytest.approx(z2 / (30 + z2)))


def brute_midp(values: list[float]) -> float:
    x = [round(v, 9) for v in values if round(v, 9) != 0]
    t = abs(sum(x))
    sums = [
        abs(sum(s * v for s, v in zip(signs, x, strict=True)))
        for signs in itertools.product((1, -1), repeat=len(x))
    ]
    above = sum(s > t + 1e-9 for s in sums)
    equal = sum(abs(s - t) <= 1e-9 for s in sums)
    return min(1.0, (above + 0.5 * equal) / len(sums)) if x else 1.0


@pytest.mark.parametrize("seed", range(6))
def test_sign_flip_midp_matches_enumeration(conn: psycopg.Connection, seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 15))
    values = rng.choice([-0.3, -0.2, -0.1, 0.1, 0.2, 0.5, 1.7], size).tolist()
    if seed % 2:
        values = (rng.normal(-0.1, 0.4, size)).tolist()
    got = sql1(conn, "SELECT evaltool.sign_flip_midp(%s::float8[])", values)
    assert got == pytest.approx(brute_midp(values), abs=1e-12)


def test_sign_flip_compares_decimals_at_their_precision(conn: psycopg.Connection) -> None:
    tenths = [0.6 - 0.4, 0.3 - 0.1, -(0.7 - 0.5), 0.2, 0.4, -0.1]
    whole = [2, 2, -2, 2, 4, -1]
    got = [sql1(conn, "SELECT evaltool.sign_flip_midp(%s::float8[])", v) for v in (tenths, whole)]
    assert got[0] == got[1] == pytest.approx(brute_midp([float(w) for w in whole]))


def test_four_lost_points_are_not_a_regression(conn: psycopg.Connection) -> None:
    """D3: the asymptotic tests call four pairs that each lost a point significant."""
    lost = [-1.0] * 4
    p = sql1(conn, "SELECT evaltool.paired_p('t', 0, 4, -1, 0, 3, %s::float8[])", lost)
    assert p == pytest.approx(0.0625)  # mid-p; the exact p is 0.125
    p = sql1(conn, "SELECT evaltool.paired_p('tango', 0, 4, NULL, NULL, NULL, %s::float8[])", lost)
    assert p == pytest.approx(0.0625)


@pytest.mark.parametrize("correction", ["holm", "bh", "none"])
def test_multiplicity_matches_statsmodels(conn: psycopg.Connection, correction: str) -> None:
    p = [0.01, 0.04, 0.03, None, 0.5, 0.0001, 0.02, 0.04]
    got = conn.execute(
        "SELECT ord, p_adjusted, level_alpha FROM evaltool.multiplicity(%s::float8[], 0.05, %s)",
        (p, correction),
    ).fetchall()
    given = [x for x in p if x is not None]
    method = {"holm": "holm", "bh": "fdr_bh", "none": None}[correction]
    want = multipletests(given, 0.05, method)[1] if method else given
    adjusted = [row[1] for row in got if row[1] is not None]
    assert [row[0] for row in got] == list(range(1, 9)) and got[3][1] is None
    assert adjusted == pytest.approx(list(want))
    for (_, p_adj, level), raw in zip(got, p, strict=True):
        if raw is not None:  # the row's level rejects exactly what the adjusted p rejects
            assert (raw < level) == (p_adj < 0.05), (raw, level, p_adj)


def test_verdicts_of_intervals(conn: psycopg.Connection) -> None:
    cases = [
        ((0.01, 0.05, 0), "better"),
        ((-0.05, -0.01, 0), "worse"),
        ((-0.05, 0.01, 0), "inconclusive"),
        ((-0.015, 0.01, 0.02), "not worse than margin"),
        ((-0.015, -0.001, 0.02), "not worse than margin"),
        ((-0.03, 0.01, 0.02), "inconclusive"),
        ((-0.06, -0.03, 0.02), "worse"),
        ((None, None, 0.02), "inconclusive"),
    ]
    for (low, high, margin), want in cases:
        assert sql1(conn, "SELECT evaltool.verdict(%s, %s, %s)", low, high, margin) == want


@pytest.mark.parametrize(("effect", "sd", "n"), [(0.02, 0.3, 500), (0.05, 0.2, 60), (1.0, 2.5, 20)])
def test_power_and_sample_size_match_statsmodels(
    conn: psycopg.Connection, effect: float, sd: float, n: int
) -> None:
    power = NormalIndPower()
    got = sql1(conn, "SELECT evaltool.normal_power(%s, %s, 0.05)", effect, sd / math.sqrt(n))
    assert got == pytest.approx(power.power(effect / sd, n, 0.05, ratio=0), rel=1e-9)
    needed = sql1(conn, "SELECT evaltool.sample_size(%s, %s, 0.05, 0.8)", sd, effect)
    assert needed == math.ceil(power.solve_power(effect / sd, None, 0.05, 0.8, ratio=0))
    mde = sql1(conn, "SELECT evaltool.min_detectable_effect(%s, 0.05, 0.8)", sd / math.sqrt(n))
    want = power.solve_power(None, n, 0.05, 0.8, ratio=0) * sd
    assert mde == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize(("won", "lost"), [(0, 0), (4, 0), (3, 5), (1, 11), (12, 12), (0, 24)])
def test_binomial_midp_is_the_sign_flip_midp_of_plus_minus_one(
    conn: psycopg.Connection, won: int, lost: int
) -> None:
    got = sql1(conn, "SELECT evaltool.binomial_midp(%s, %s)", won, lost)
    want = sql1(conn, "SELECT evaltool.sign_flip_midp(%s::float8[])", [1.0] * won + [-1.0] * lost)
    assert got == pytest.approx(want, abs=1e-12)


def test_power_functions_of_no_spread_are_null(conn: psycopg.Connection) -> None:
    row = conn.execute(
        """SELECT evaltool.sample_size(0, 0.02), evaltool.normal_power(0.02, 0),
                  evaltool.min_detectable_effect(0)"""
    ).fetchone()
    assert row == (None, None, None)
