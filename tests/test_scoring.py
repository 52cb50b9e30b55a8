"""Built-in SQL scorers, evaltool.score_run and `evaltool score`."""

import json
import random
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from click.testing import Result

from tests.scores import make_runs

RunCli = Callable[..., Result]
ERR = {"error": "HTTP 500"}


def score_one(conn: psycopg.Connection, scorer: str, arg: str | None, case: dict) -> tuple | None:
    (run_id,) = make_runs(conn, [case], runs=1)
    conn.execute("SELECT evaltool.score_run(%s, %s, %s)", (run_id, scorer, arg))
    return conn.execute(
        """SELECT s.value, s.passed FROM evaltool.score s
                           JOIN evaltool.response r ON r.id = s.response_id
                           WHERE r.run_id = %s""",
        (run_id,),
    ).fetchone()


@pytest.mark.parametrize(
    ("scorer", "arg", "output", "expected", "result"),
    [
        ("exact_match", None, "Paris", "Paris", (1.0, True)),
        ("exact_match", None, " paris", "Paris", (0.0, False)),
        ("exact_match", "case,whitespace", "  PARIS \n", "Paris", (1.0, True)),
        ("exact_match", "punctuation", "Paris.", "Paris", (1.0, True)),
        ("exact_match", "all", "Thank  you!", "thank you", (1.0, True)),
        ("exact_match", None, "Kyoto", ["Tokyo", "Kyoto"], (1.0, True)),
        ("exact_match", None, {"ok": True}, {"ok": True}, (1.0, True)),
        ("exact_match", None, ERR, "Paris", (0.0, False)),
        ("exact_match", None, "anything", None, None),
        ("contains", None, "The capital is Paris.", "Paris", (1.0, True)),
        ("contains", "case", "the capital is paris", "Paris", (1.0, True)),
        ("contains", None, "Lyon", "Paris", (0.0, False)),
        ("regex", r"^\d{3}-\d{4}$", "555-1234", None, (1.0, True)),
        ("regex", None, "colour", "colou?r", (1.0, True)),
        ("json_valid", None, '{"a": [1, 2]}', None, (1.0, True)),
        ("json_valid", None, "{'a': 1}", None, (0.0, False)),
        ("json_valid", None, ERR, None, (0.0, False)),
        ("json_field_equals", "answer.city", '{"answer": {"city": "Oslo"}}', "Oslo", (1.0, True)),
        ("json_field_equals", "$.items.1", {"items": [1, 2]}, {"items": [9, 2]}, (1.0, True)),
        ("json_field_equals", "answer", "not json", "x", (0.0, False)),
        ("numeric_close", None, "So the answer is 1,024.", "1024", (1.0, True)),
        ("numeric_close", "0.001", "3.14159", 3.14, (0.0, False)),
        ("numeric_close", "0.01", "3.14159", 3.14, (1.0, True)),
        ("numeric_close", "1%", "101", 100, (1.0, True)),
        ("numeric_close", None, "no number", "7", (0.0, False)),
        ("edit_similarity", None, "kitten", "sitting", (1 - 3 / 7, None)),
        ("edit_similarity", "0.5", "kitten", "sitting", (1 - 3 / 7, True)),
        ("edit_similarity", "0.9", ERR, "sitting", (None, False)),  # an error has no value
        ("trigram_similarity", None, ERR, "thank you", None),  # no score without a threshold
        ("trigram_similarity", "0.3", "thank you", "thank you!", (1.0, True)),
        ("latency_under", "200", "x", None, (1.0, True)),
        ("cost_under", "0.001", "x", None, None),  # no known cost: not judged
    ],
)
def test_scorer_verdicts(
    conn: psycopg.Connection,
    scorer: str,
    arg: str | None,
    output: Any,
    expected: Any,
    result: tuple | None,
) -> None:
    case: dict[str, Any] = {"outputs": [output], "latency_ms": 150.0}
    if expected is not None:
        case["expected"] = expected
    got = score_one(conn, scorer, arg, case)
    if result is None:
        assert got is None
    else:
        assert got is not None
        assert got[0] == (None if result[0] is None else pytest.approx(result[0]))
        assert got[1] == result[1]


def test_cost_and_latency_thresholds(conn: psycopg.Connection) -> None:
    cheap = {"outputs": ["x"], "cost_usd": 0.0005, "latency_ms": 250.0}
    assert score_one(conn, "cost_under", "0.001", cheap) == (1.0, True)
    assert score_one(conn, "latency_under", "200", cheap) == (0.0, False)


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_edit_distance_past_fuzzystrmatch_limit(conn: psycopg.Connection) -> None:
    rng = random.Random(7)
    for la, lb in [(10, 12), (300, 280), (254, 256)]:
        a = "".join(rng.choice("abcé水 ") for _ in range(la))
        b = "".join(rng.choice("abcé水 ") for _ in range(lb))
        got = conn.execute("SELECT evaltool.edit_distance(%s, %s)", (a, b)).fetchone()[0]
        assert got == levenshtein(a, b)


def test_rescoring_replaces_scores_and_records_version(conn: psycopg.Connection) -> None:
    (run_id,) = make_runs(conn, [{"expected": "a", "outputs": ["a"]}], runs=1)
    assert conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,)).fetchone() == (
        1,
    )
    conn.execute("UPDATE evaltool.score SET value = 0, passed = false, scorer_version = 'old'")
    assert conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,)).fetchone() == (
        1,
    )
    rows = conn.execute("SELECT metric, value, passed, scorer, scorer_version FROM evaltool.score")
    assert rows.fetchall() == [("exact_match", 1.0, True, "sql:exact_match", "1")]


def test_rescoring_a_partly_scored_run_fills_and_replaces(conn: psycopg.Connection) -> None:
    cases = [{"expected": "a", "outputs": ["a"]}, {"expected": "b", "outputs": ["c"]}]
    (run_id,) = make_runs(conn, cases, runs=1)
    conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,))
    conn.execute("""DELETE FROM evaltool.score WHERE id = (SELECT min(id) FROM evaltool.score);
                    UPDATE evaltool.score SET value = 7""")
    # the plain INSERT meets a scored response and falls back to the upsert: both written
    again = conn.execute("SELECT evaltool.score_run(%s, 'exact_match')", (run_id,)).fetchone()
    assert again == (2,)
    rows = conn.execute("SELECT value, passed FROM evaltool.score ORDER BY response_id")
    assert rows.fetchall() == [(1.0, True), (0.0, False)]


def test_score_command(run_cli: RunCli, conn: psycopg.Connection) -> None:
    cases = [
        {"id": "a", "expected": "Paris", "outputs": ["Paris"]},
        {"id": "b", "expected": "Oslo", "outputs": ["oslo"]},
        {"id": "c", "expected": "Rome", "outputs": [ERR]},
        {"id": "d", "outputs": ["no expected answer"]},
    ]
    (run_id,) = make_runs(conn, cases, runs=1)
    result = run_cli(
        "score",
        str(run_id),
        "--metric",
        "exact_match",
        "--metric",
        "exact_match:case",
        "--metric",
        "json_valid",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = {r["metric"]: r for r in json.loads(result.stdout)}
    assert {m: (r["written"], r["n_passed"]) for m, r in summary.items()} == {
        "exact_match": (3, 1),
        "exact_match:case": (3, 2),
        "json_valid": (4, 0),
    }
    assert summary["exact_match:case"]["pass_rate"] == pytest.approx(2 / 3)
    table = run_cli("score", str(run_id), "--metric", "exact_match:case")
    assert "exact_match:case" in table.output and "0.667 (" in table.output


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("nope", "no scorer named 'nope'"),
        ("exact_match:loud", "does not take the argument 'loud'"),
        ("latency_under", "needs an argument: latency_under:MS"),
        ("regex:(", "invalid regular expression '('"),
        ("json_valid:x", "does not take the argument 'x'"),
    ],
)
def test_score_refuses_bad_metrics_and_writes_nothing(
    run_cli: RunCli, conn: psycopg.Connection, metric: str, message: str
) -> None:
    (run_id,) = make_runs(conn, [{"expected": "a", "outputs": ["a"]}], runs=1)
    result = run_cli("score", str(run_id), "--metric", "exact_match", "--metric", metric)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert conn.execute("SELECT count(*) FROM evaltool.score").fetchone() == (0,)


def test_score_of_missing_run(run_cli: RunCli) -> None:
    result = run_cli("score", "999", "--metric", "exact_match")
    assert (result.exit_code, result.stderr.strip()) == (2, "Error: no run 999")


def test_trigram_scorer_says_what_is_missing(run_cli: RunCli, conn: psycopg.Connection) -> None:
    (run_id,) = make_runs(conn, [{"expected": "a", "outputs": ["a"]}], runs=1)
    conn.execute("DROP EXTENSION pg_trgm")
    conn.commit()
    result = run_cli("score", str(run_id), "--metric", "trigram_similarity")
    assert result.exit_code == 2
    assert "needs the PostgreSQL extension pg_trgm" in result.stderr
