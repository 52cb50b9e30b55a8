"""plan_sample_size against statsmodels, and `evaltool plan`."""

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import pytest
from click.testing import Result
from scipy import stats
from statsmodels.stats.power import NormalIndPower

from tests.scores import call, make_runs, put_scores

RunCli = Callable[..., Result]


def planned(conn: psycopg.Connection, baseline: int, detect: float, **options: object) -> dict:
    """plan_sample_size's rows by metric."""
    return {r["metric"]: r for r in call(conn, "plan_sample_size", baseline, detect, **options)}


def needed(sd: float, detect: float, alpha: float, power: float) -> int:
    """statsmodels' sample size for a paired test, rounded up."""
    n = NormalIndPower().solve_power(effect_size=detect / sd, alpha=alpha, power=power, ratio=0)
    return math.ceil(n)


def detectable(sd: float, n: int, alpha: float, power: float) -> float:
    """The minimum detectable effect with n cases, on the metric's scale: (z(1 - alpha/2)
    + z(power)) sd / sqrt(n), which statsmodels' solve_power matches to the far tail."""
    mde = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * sd / math.sqrt(n)
    tails = NormalIndPower().solve_power(nobs1=n, alpha=alpha, power=power, ratio=0) * sd
    assert mde == pytest.approx(tails, rel=1e-4)
    return mde


def independent_sd(p: float, detect: float) -> float:
    """The spread of paired differences between a baseline passing p and an independent
    candidate passing p - detect: the square root of their discordance."""
    q = max(p - detect, 0.0)
    return math.sqrt(p * (1 - q) + (1 - p) * q)


def pass_fail_80(conn: psycopg.Connection, runs: int = 2) -> list[int]:
    """Runs over 50 cases whose first run passes 40 (p = 0.8)."""
    ids = make_runs(conn, [{}] * 50, runs=runs)
    passed = [True] * 40 + [False] * 10
    put_scores(conn, ids[0], "ok", [float(x) for x in passed], passed)
    return ids


@pytest.mark.parametrize(
    ("detect", "alpha", "power"), [(0.02, 0.05, 0.8), (0.05, 0.05, 0.9), (0.1, 0.1, 0.8)]
)
def test_pass_fail_metric_assumes_independent_answers(
    conn: psycopg.Connection, detect: float, alpha: float, power: float
) -> None:
    (base, _) = pass_fail_80(conn)
    row = planned(conn, base, detect, alpha=alpha, power=power)["ok"]
    sd = independent_sd(0.8, detect)
    assert (row["kind"], row["n_cases"], row["basis"]) == ("pass_fail", 50, "independent")
    assert row["baseline_mean"] == pytest.approx(0.8)
    assert row["sd_diff"] == pytest.approx(sd)
    assert row["n_needed"] == needed(sd, detect, alpha, power)
    assert row["mde_now"] == pytest.approx(detectable(sd, 50, alpha, power), rel=1e-9)


def test_pass_fail_at_80_percent_needs_6515_cases_for_2_points(conn: psycopg.Connection) -> None:
    (base, _) = pass_fail_80(conn)
    # discordance 0.8 * 0.22 + 0.2 * 0.78 = 0.332, (1.96 + 0.8416)^2 * 0.332 / 0.02^2 = 6514.6
    assert planned(conn, base, 0.02)["ok"]["n_needed"] == 6515


def test_continuous_metric_uses_sqrt2_times_the_sd_of_values(conn: psycopg.Connection) -> None:
    values = np.random.default_rng(7).normal(0.6, 0.15, 40)
    cases: list[dict[str, Any]] = [{}] * 39 + [{"outputs": [{"error": "timeout"}, "x"]}]
    (base, _) = make_runs(conn, cases)
    put_scores(conn, base, "sim", values.tolist())
    row = planned(conn, base, 0.03)["sim"]
    # the error response has no value, as in compare_runs
    kept = values[:39]
    sd = math.sqrt(2) * kept.std(ddof=1)
    assert (row["kind"], row["n_cases"], row["basis"]) == ("continuous", 39, "independent")
    assert row["baseline_mean"] == pytest.approx(kept.mean())
    assert row["sd_diff"] == pytest.approx(sd)
    assert row["n_needed"] == needed(sd, 0.03, 0.05, 0.8)
    assert row["mde_now"] == pytest.approx(detectable(sd, 39, 0.05, 0.8), rel=1e-9)


def test_like_run_gives_the_observed_paired_spread(conn: psycopg.Connection) -> None:
    base, rerun = pass_fail_80(conn)
    # the rerun: 3 cases passed before and fail now, 3 the reverse: 6 of 50 discordant
    again = [True] * 37 + [False] * 3 + [True] * 3 + [False] * 7
    put_scores(conn, rerun, "ok", [float(x) for x in again], again)
    rng = np.random.default_rng(11)
    before = rng.normal(0.6, 0.15, 50)
    after = before + rng.normal(0, 0.04, 50)
    put_scores(conn, base, "sim", before.tolist())
    put_scores(conn, rerun, "sim", after[:45].tolist() + [None] * 5)  # 5 not scored
    rows = planned(conn, base, 0.02, like_run=rerun)

    ok = rows["ok"]
    assert ok["basis"] == f"paired with run {rerun}"
    # the rerun's discordance, and the pairs a 2-point drop adds
    assert ok["sd_diff"] == pytest.approx(math.sqrt(6 / 50 + 0.02))
    assert ok["n_needed"] == needed(math.sqrt(6 / 50 + 0.02), 0.02, 0.05, 0.8)
    assert ok["n_cases"] == 50 and ok["baseline_mean"] == pytest.approx(0.8)

    sim = rows["sim"]
    sd = np.round(after[:45] - before[:45], 9).std(ddof=1)  # at 9 decimals, as compare_runs
    assert sim["sd_diff"] == pytest.approx(sd)
    assert sim["n_needed"] == needed(sd, 0.02, 0.05, 0.8)
    assert sim["mde_now"] == pytest.approx(detectable(sd, 50, 0.05, 0.8), rel=1e-9)
    # far fewer than the independent bound: a rerun agrees with the baseline on most cases
    assert sim["n_needed"] < planned(conn, base, 0.02)["sim"]["n_needed"] / 10


def test_like_run_without_the_metric_keeps_the_bound(conn: psycopg.Connection) -> None:
    base, rerun = pass_fail_80(conn)
    row = planned(conn, base, 0.02, like_run=rerun)["ok"]
    assert row["basis"] == f"independent (run {rerun} has 0 paired cases)"
    assert row["sd_diff"] == pytest.approx(independent_sd(0.8, 0.02))
    assert row["n_needed"] == 6515


def test_no_spread_has_no_sample_size(conn: psycopg.Connection) -> None:
    base, rerun = make_runs(conn, [{}] * 20)
    put_scores(conn, base, "ok", [1.0] * 20, [True] * 20)
    put_scores(conn, base, "same", [0.1] * 20)
    put_scores(conn, base, "one", [0.5] + [None] * 19)
    put_scores(conn, rerun, "same", [0.3] * 20)
    rows = planned(conn, base, 0.02)
    # a baseline that passes every case still has an answer: the drop is the discordance
    assert rows.pop("ok")["n_needed"] == needed(math.sqrt(0.02), 0.02, 0.05, 0.8)
    assert rows["same"]["basis"] == "independent, every value the same"
    assert rows["one"]["basis"] == "independent, fewer than 2 cases"
    for row in rows.values():
        assert row["n_needed"] is None and row["mde_now"] is None
    same = planned(conn, base, 0.02, like_run=rerun)["same"]
    assert same["basis"] == f"paired with run {rerun}, no case differs"
    assert same["sd_diff"] == 0 and same["n_needed"] is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"detect": 0}, "detect must be a positive difference"),
        ({"detect": -0.02}, "detect must be a positive difference"),
        ({"detect": None}, "detect must be a positive difference"),
        ({"alpha": 0}, "alpha must be between 0 and 1"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"power": 1}, "power must be between 0 and 1"),
        ({"power": None}, "power must be between 0 and 1"),
        ({"baseline": 999999}, "no run 999999"),
        ({"like_run": 999999}, "no run 999999"),
        ({"like_run": "self"}, "like_run must be another run"),
        ({"like_run": "elsewhere"}, "over another dataset"),
    ],
)
def test_bad_arguments_are_refused(
    conn: psycopg.Connection, options: dict[str, Any], message: str
) -> None:
    (base, _) = pass_fail_80(conn)
    (elsewhere,) = make_runs(conn, [{}] * 3, runs=1)
    like = {"self": base, "elsewhere": elsewhere}.get(
        options.get("like_run"), options.get("like_run")
    )
    args = {"baseline": base, "detect": 0.02, "alpha": 0.05, "power": 0.8, **options}
    args["like_run"] = like
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        conn.execute(
            "SELECT * FROM evaltool.plan_sample_size(%(baseline)s, %(detect)s, %(alpha)s, "
            "%(power)s, %(like_run)s)",
            args,
        )


def test_cli_table_says_the_numbers_and_the_assumption(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    (base, _) = pass_fail_80(conn)
    result = run_cli("plan", "--baseline", str(base), "--detect", "0.02")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"baseline run {base} (")
    assert lines[1] == "to detect a drop of 0.02 80% of the time, two-sided test at alpha 0.05"
    header = lines[3].split()
    assert header[:3] == ["metric", "kind", "cases"]
    assert lines[4].split() == ["ok", "pass/fail", "50", "0.800", "0.576", "6,515", "0.228"]
    assert lines[5].startswith("(independent: the candidate's answers assumed no more alike")
    assert "--like RUN" in lines[5]


def test_cli_like_and_metric(run_cli: RunCli, conn: psycopg.Connection) -> None:
    base, rerun = pass_fail_80(conn)
    again = [True] * 37 + [False] * 3 + [True] * 3 + [False] * 7
    put_scores(conn, rerun, "ok", [float(x) for x in again], again)
    put_scores(conn, base, "sim", [0.5, 0.7] * 25)
    result = run_cli(
        "plan", "--baseline", str(base), "--detect", "0.02", "--like", str(rerun), "--metric", "ok"
    )
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.output.splitlines()[4:] if line[:1] != "("]
    assert rows == ["ok"]
    assert f"(paired with run {rerun} (" in result.output
    assert f"{needed(math.sqrt(6 / 50 + 0.02), 0.02, 0.05, 0.8):,}" in result.output


def test_cli_json(run_cli: RunCli, conn: psycopg.Connection) -> None:
    (base, _) = pass_fail_80(conn)
    result = run_cli(
        "plan", "--baseline", str(base), "--detect", "0.05", "--power", "0.9", "--json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["baseline"]["run_id"] == base and doc["like"] is None
    assert (doc["detect"], doc["alpha"], doc["power"]) == (0.05, 0.05, 0.9)
    (row,) = doc["metrics"]
    assert row["metric"] == "ok" and row["kind"] == "pass_fail"
    assert row["n_needed"] == needed(independent_sd(0.8, 0.05), 0.05, 0.05, 0.9)
    assert row["basis"] == "independent"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "nope"], "Error: metric nope is not scored in run {base} (scored: ok)\n"),
        (["--like", "{other}"], "Error: run {other} is over another dataset than baseline"),
        (["--like", "999999"], "Error: no run 999999: see evaltool runs list\n"),
        (["--detect", "0"], "Invalid value for '--detect'"),
        (["--power", "1"], "Invalid value for '--power'"),
    ],
)
def test_cli_errors_exit_2_with_one_line(
    run_cli: RunCli, conn: psycopg.Connection, args: list[str], message: str
) -> None:
    (base, _) = pass_fail_80(conn)
    (other,) = make_runs(conn, [{}] * 3, runs=1)
    args = [a.format(other=other) for a in args]
    result = run_cli("plan", "--baseline", str(base), "--detect", "0.02", *args)
    assert result.exit_code == 2
    assert message.format(base=base, other=other) in result.stderr
    assert result.stdout == ""


def test_cli_unknown_baseline(run_cli: RunCli, conn: psycopg.Connection) -> None:
    result = run_cli("plan", "--baseline", "999999", "--detect", "0.02")
    assert result.exit_code == 2
    assert result.stderr == "Error: no run 999999: see evaltool runs list\n"
