"""Repeats: per-test-case statistics, run summaries with the test case as the unit, flaky
test cases within a run and across runs, `evaltool runs flaky` and the run report."""

import html
import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy
import psycopg
import pytest
from click.testing import Result
from psycopg.types.json import Jsonb
from scipy import stats

from tests.scores import make_runs

RunCli = Callable[..., Result]
TIMES = "\N{MULTIPLICATION SIGN}"  # samples that gave an answer
ATTACK = "<script>alert(1)</script> **bold** | pipe @octocat"

# Run "k4" asks each test case 4 times: its verdicts on metric ok, per test case.
K4 = {
    "a": [True, True, True, True],
    "b": [True, False, False, False],  # pass share 1/4: flaky
    "c": [False, False, False, False],
    "d": [True, True, False, False],  # 2/4: the flakiest, and a tie as a run's verdict
}
# Run "k1", of the same model, dataset and configuration, asks each once.
K1 = {"a": [True], "b": [False], "c": [True], "d": [True]}
# Values of metric score (no verdict) in run k4.
SCORE = {
    "a": [0.2, 0.4, 0.6, 0.8],
    "b": [1.0, 1.0, 1.0, 1.0],
    "c": [0.0, 0.0, 0.0, 0.3],
    "d": [0.5, 0.5, 0.5, 0.5],
}


def add_run(
    conn: psycopg.Connection,
    model_id: int,
    dataset_id: int,
    verdicts: dict[str, Sequence[bool]],
    values: dict[str, Sequence[float]] | None = None,
    params: dict[str, Any] | None = None,
) -> int:
    """A completed run answering each test case once per verdict, as samples 1..K, with
    scores of metric ok (value 1 or 0 and the verdict) and of metric score (`values`)."""
    repeats = max(len(v) for v in verdicts.values())
    run_id = conn.execute(
        """INSERT INTO evaltool.run (model_id, dataset_id, status, repeats, params,
                                     model_snapshot, started_at, finished_at)
           SELECT %s, %s, 'completed', %s, %s, evaltool.model_snapshot(%s, now()), now(), now()
           RETURNING id""",
        (model_id, dataset_id, repeats, Jsonb(params or {}), model_id),
    ).fetchone()[0]
    for external_id, passed in verdicts.items():
        for sample, verdict in enumerate(passed, start=1):
            answer = "right" if verdict else f"wrong {sample} {ATTACK}"
            response_id = conn.execute(
                """INSERT INTO evaltool.response (run_id, prompt_id, sample, status, output,
                                                  output_text)
                   SELECT %s, p.id, %s, 'ok', to_jsonb(%s::text), %s
                   FROM evaltool.prompt p WHERE p.dataset_id = %s AND p.external_id = %s
                   RETURNING id""",
                (run_id, sample, answer, answer, dataset_id, external_id),
            ).fetchone()[0]
            conn.execute(
                """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
                   VALUES (%s, %s, 'ok', %s, %s, 'test')""",
                (run_id, response_id, float(verdict), verdict),
            )
            if values:
                conn.execute(
                    """INSERT INTO evaltool.score (run_id, response_id, metric, value, scorer)
                       VALUES (%s, %s, 'score', %s, 'test')""",
                    (run_id, response_id, values[external_id][sample - 1]),
                )
    return run_id


@pytest.fixture
def setup(conn: psycopg.Connection) -> dict[str, int]:
    """Model m-flaky over a dataset of test cases a to d: run k1 (K = 1), then run k4 (K = 4)."""
    model_id = conn.execute(
        """WITH p AS (INSERT INTO evaltool.provider (name) VALUES ('test') RETURNING id)
           INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
           SELECT id, 'm-flaky', 'x:y', 'python' FROM p RETURNING id"""
    ).fetchone()[0]
    conn.execute(
        """INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok, output_usd_per_mtok,
                                               valid_from)
           VALUES (%s, 1, 2, now() - interval '1 day')""",
        (model_id,),
    )
    dataset_id = conn.execute(
        "INSERT INTO evaltool.dataset (project_id, name) VALUES (1, 'qa') RETURNING id"
    ).fetchone()[0]
    conn.execute(
        """INSERT INTO evaltool.prompt (dataset_id, external_id, input)
           SELECT %s, x, to_jsonb(x) FROM unnest('{a,b,c,d}'::text[]) x""",
        (dataset_id,),
    )
    k1 = add_run(conn, model_id, dataset_id, K1)
    k4 = add_run(conn, model_id, dataset_id, K4, SCORE)
    return {"model_id": model_id, "dataset_id": dataset_id, "k1": k1, "k4": k4}


def rows(conn: psycopg.Connection, query: str, *params: object) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()


def test_case_metric_summarises_each_test_cases_samples(
    conn: psycopg.Connection, setup: dict[str, int]
) -> None:
    found = rows(
        conn,
        """SELECT p.external_id, c.metric, c.samples, c.n_judged, c.n_passed, c.pass_rate,
                  c.mean, c.min, c.max
           FROM evaltool.case_metric c JOIN evaltool.prompt p ON p.id = c.prompt_id
           WHERE c.run_id = %s ORDER BY 1, 2""",
        setup["k4"],
    )
    by = {(r.pop("external_id"), r.pop("metric")): r for r in found}
    assert len(by) == 8
    assert by["b", "ok"] == {
        "samples": 4,
        "n_judged": 4,
        "n_passed": 1,
        "pass_rate": 0.25,
        "mean": 0.25,
        "min": 0.0,
        "max": 1.0,
    }
    assert by["d", "ok"]["pass_rate"] == 0.5
    assert by["a", "score"] == {
        "samples": 4,
        "n_judged": 0,
        "n_passed": 0,
        "pass_rate": None,
        "mean": pytest.approx(0.5),
        "min": 0.2,
        "max": 0.8,
    }
    one = rows(
        conn, "SELECT samples, pass_rate FROM evaltool.case_metric WHERE run_id = %s", setup["k1"]
    )
    assert len(one) == 4 and all(r["samples"] == 1 for r in one)


def t_interval(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean - half, mean + half


def test_summary_of_a_repeated_run_takes_the_test_case_as_the_unit(
    conn: psycopg.Connection, setup: dict[str, int]
) -> None:
    summary = {
        r["metric"]: r
        for r in rows(
            conn, "SELECT * FROM evaltool.run_metric_summary WHERE run_id = %s", setup["k4"]
        )
    }
    ok = summary["ok"]
    rates = [sum(v) / len(v) for v in K4.values()]  # 1, 1/4, 0, 1/2
    low, high = t_interval(rates)
    assert (ok["n"], ok["n_passed"], ok["n_cases"]) == (16, 7, 4)
    assert ok["pass_rate"] == pytest.approx(statistics.fmean(rates))  # 0.4375, not 7/16
    assert ok["pass_rate_low"] == pytest.approx(max(0.0, low), abs=1e-9)
    assert ok["pass_rate_high"] == pytest.approx(min(1.0, high), abs=1e-9)
    assert low < 0 and ok["pass_rate_low"] == 0  # the t interval is clipped to 0..1
    # Mean and its t interval, stddev and percentiles: over the test cases' means.
    assert (ok["mean_low"], ok["mean_high"]) == (pytest.approx(low), pytest.approx(high))
    assert ok["stddev"] == pytest.approx(statistics.stdev(rates))
    assert ok["p50"] == pytest.approx(numpy.percentile(rates, 50))
    assert ok["p95"] == pytest.approx(numpy.percentile(rates, 95))
    assert (ok["min"], ok["max"]) == (0.0, 1.0)  # of the samples' values

    score = summary["score"]
    means = [statistics.fmean(v) for v in SCORE.values()]
    assert (score["n"], score["n_cases"], score["pass_rate"]) == (16, 4, None)
    assert score["pass_rate_low"] is None and score["pass_rate_high"] is None
    assert score["mean"] == pytest.approx(statistics.fmean(means))
    assert (score["mean_low"], score["mean_high"]) == tuple(map(pytest.approx, t_interval(means)))
    assert score["p95"] == pytest.approx(numpy.percentile(means, 95))
    assert (score["min"], score["max"]) == (0.0, 1.0)

    # One test case: no spread to build a t interval from, whatever its samples.
    alone = add_run(conn, setup["model_id"], setup["dataset_id"], {"a": [True, False]})
    (row,) = rows(
        conn,
        """SELECT pass_rate, pass_rate_low, pass_rate_high, mean_low, n_cases
           FROM evaltool.run_metric_summary WHERE run_id = %s""",
        alone,
    )
    assert row == {
        "pass_rate": 0.5,
        "pass_rate_low": None,
        "pass_rate_high": None,
        "mean_low": None,
        "n_cases": 1,
    }


def test_summary_of_a_run_without_repeats_keeps_the_wilson_interval(
    conn: psycopg.Connection, setup: dict[str, int]
) -> None:
    (ok,) = rows(conn, "SELECT * FROM evaltool.run_metric_summary WHERE run_id = %s", setup["k1"])
    z = stats.norm.ppf(0.975)
    p, n = 3 / 4, 4
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (ok["n"], ok["n_passed"], ok["n_cases"], ok["pass_rate"]) == (4, 3, 4, 0.75)
    assert ok["pass_rate_low"] == pytest.approx((centre - spread) / (1 + z * z / n))
    assert ok["pass_rate_high"] == pytest.approx((centre + spread) / (1 + z * z / n))
    low, high = t_interval([1.0, 0.0, 1.0, 1.0])
    assert (ok["mean"], ok["mean_low"], ok["mean_high"]) == (
        0.75,
        pytest.approx(low),
        pytest.approx(high),
    )


def test_run_metric_stats_stores_n_cases(conn: psycopg.Connection, setup: dict[str, int]) -> None:
    stored = conn.execute(
        """SELECT run_id, n, n_cases, pass_rate FROM evaltool.run_metric_stats
           WHERE metric = 'ok' ORDER BY run_id"""
    ).fetchall()
    assert stored == [(setup["k1"], 4, 4, 0.75), (setup["k4"], 16, 4, 0.4375)]


def test_flaky_case_lists_test_cases_whose_samples_disagree(
    conn: psycopg.Connection, setup: dict[str, int]
) -> None:
    found = rows(
        conn,
        """SELECT external_id, metric, samples, n_passed, n_failed, pass_share
           FROM evaltool.flaky_case WHERE run_id = ANY(%s) ORDER BY external_id""",
        [setup["k1"], setup["k4"]],
    )
    assert found == [
        {
            "external_id": "b",
            "metric": "ok",
            "samples": 4,
            "n_passed": 1,
            "n_failed": 3,
            "pass_share": 0.25,
        },
        {
            "external_id": "d",
            "metric": "ok",
            "samples": 4,
            "n_passed": 2,
            "n_failed": 2,
            "pass_share": 0.5,
        },
    ]


HISTORY = """SELECT external_id, metric, runs, runs_passed, runs_failed, first_run_id, last_run_id
             FROM evaltool.flaky_case_history WHERE model_id = %s ORDER BY external_id"""


def test_flaky_case_history_flags_a_test_case_that_flips_under_one_configuration(
    conn: psycopg.Connection, setup: dict[str, int]
) -> None:
    k1, k4 = setup["k1"], setup["k4"]
    # c passed in k1 and failed in k4 (0 of 4); d passed in k1 and tied in k4 (neither).
    flipped = {
        "external_id": "c",
        "metric": "ok",
        "runs": 2,
        "runs_passed": 1,
        "runs_failed": 1,
        "first_run_id": k1,
        "last_run_id": k4,
    }
    assert rows(conn, HISTORY, setup["model_id"]) == [flipped]
    # A new price, or a touched model row, is the same configuration.
    conn.execute(
        """UPDATE evaltool.run SET model_snapshot = model_snapshot
                  || '{"pricing": {"input_usd_per_mtok": 9}, "updated_at": "2020-01-01"}'
           WHERE id = %s""",
        (k1,),
    )
    assert rows(conn, HISTORY, setup["model_id"]) == [flipped]
    # Other parameters are another configuration: one run each, nothing flips.
    conn.execute("""UPDATE evaltool.run SET params = '{"temperature": 1}' WHERE id = %s""", (k1,))
    assert rows(conn, HISTORY, setup["model_id"]) == []
    conn.execute(
        """UPDATE evaltool.run SET params = '{}', status = 'failed' WHERE id = %s""", (k1,)
    )
    assert rows(conn, HISTORY, setup["model_id"]) == []  # completed runs only


def flaky(run_cli: RunCli, *args: str) -> Result:
    result = run_cli("runs", "flaky", *args)
    assert result.exit_code == 0, result.output
    return result


def test_cli_lists_the_flakiest_first(run_cli: RunCli, setup: dict[str, int]) -> None:
    k4 = str(setup["k4"])
    table = flaky(run_cli, k4).stdout.splitlines()
    assert table[0].split() == [
        "test",
        "case",
        "metric",
        "samples",
        "passed",
        "failed",
        "pass",
        "share",
    ]
    assert [line.split() for line in table[1:]] == [
        ["d", "ok", "4", "2", "2", "50%"],
        ["b", "ok", "4", "1", "3", "25%"],
    ]
    # RUN as a model name: its latest completed run, k4.
    shown = json.loads(flaky(run_cli, "m-flaky", "--json").stdout)
    assert [(c["external_id"], c["n_passed"], c["pass_share"]) for c in shown] == [
        ("d", 2, 0.5),
        ("b", 1, 0.25),
    ]
    assert set(shown[0]) == {
        "prompt_id",
        "external_id",
        "metric",
        "samples",
        "n_passed",
        "n_failed",
        "pass_share",
    }
    first = flaky(run_cli, k4, "--limit", "1")
    assert len(first.stdout.splitlines()) == 2 and first.stderr == "... and 1 more (--limit)\n"
    none = flaky(run_cli, k4, "--metric", "score")
    assert none.stdout == (
        f"no flaky test cases in run {k4}: the 4 samples of each test case agree\n"
    )


def test_cli_across_runs(run_cli: RunCli, setup: dict[str, int]) -> None:
    k1, k4 = setup["k1"], setup["k4"]
    table = flaky(run_cli, str(k4), "--across-runs").stdout.splitlines()
    assert table[1].split() == ["c", "ok", "2", "1", "1", str(k1), str(k4)]
    assert len(table) == 2
    shown = json.loads(flaky(run_cli, str(k1), "--across-runs", "--json").stdout)
    assert [(c["external_id"], c["runs_passed"], c["runs_failed"]) for c in shown] == [("c", 1, 1)]


def test_cli_says_a_run_without_repeats_needs_them(
    run_cli: RunCli, conn: psycopg.Connection, setup: dict[str, int]
) -> None:
    (lone,) = make_runs(conn, [{}] * 3, runs=1)
    result = flaky(run_cli, str(lone))
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith(f"run {lone} asked each test case once: ")
    assert "--repeats K" in result.stdout and "--across-runs" not in result.stdout
    as_json = flaky(run_cli, str(lone), "--json")
    assert (json.loads(as_json.stdout), "--repeats K" in as_json.stderr) == ([], True)
    # k1 has no samples to disagree, but a history: the line points to it.
    hint = flaky(run_cli, str(setup["k1"])).stdout
    assert len(hint.splitlines()) == 1
    assert "1 test case(s) passed in some runs" in hint
    assert f"evaltool runs flaky {setup['k1']} --across-runs" in hint

    missing = run_cli("runs", "flaky", "999999")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "Error: no run 999999: see evaltool runs list\n",
    )


def test_run_report_lists_flaky_test_cases_escaped(
    run_cli: RunCli, setup: dict[str, int], tmp_path: Path
) -> None:
    page = tmp_path / "run.html"
    assert run_cli("report", "run", str(setup["k4"]), "-o", str(page)).exit_code == 0
    source = page.read_text()
    assert "<h2>Flaky test cases</h2>" in source
    assert "<script>alert" not in source and "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    section = source.split("<h2>Flaky test cases</h2>")[1].split("<h2>")[0]
    text = html.unescape(re.sub(r"<[^>]+>", " ", section))
    assert re.findall(r"<tr><td>(\w+)</td><td>ok</td>", section) == ["d", "b"]
    assert f"✓ {TIMES}2  right" in text and f"✗ {TIMES}1  wrong 3 {ATTACK}" in text
    assert '<th class="n">test cases</th>' in source
    assert re.search(r"<td>ok</td><td class=\"n\">16</td><td class=\"n\">4</td>", source)

    md = run_cli("report", "run", str(setup["k4"])).stdout
    assert "<details><summary>2 flaky test cases (samples that disagree)</summary>" in md
    assert "| ok | 16 | 4 | 43.8% (" in md
    assert (
        f"d</code> | ok | 4 | 2 | 50.0% | ✓ {TIMES}2 <code>right</code><br>"
        f"✗ {TIMES}1 <code>wrong 3 &lt;"
    ) in md
    assert "<script>" not in md and "\\@octocat" in md and " @octocat" not in md

    once = run_cli("report", "run", str(setup["k1"])).stdout
    assert "flaky test cases" not in once and "| ok | 4 | 75.0% (" in once
