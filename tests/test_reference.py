"""Scoring against a reference run: `evaltool score RUN --reference RUN2`, and
evaltool.score_run's reference."""

import json
from collections.abc import Callable

import psycopg
import pytest
from click.testing import Result

from evaltool import scoring
from evaltool.errors import EvaltoolError
from tests.scores import make_arena, make_runs
from tests.test_scoring import levenshtein

RunCli = Callable[..., Result]
ERR = {"error": "HTTP 500"}

# No test case has an expected answer: only a reference can score them. Outputs: the
# reference's, the candidate's. ref-failed: the reference has no answer, so no score;
# cand-failed: the candidate's error fails exact_match.
CASES = [
    {"id": "same", "input": "same?", "outputs": ["Paris", "Paris"]},
    {"id": "close", "input": "close?", "outputs": ["kitten", "sitting"]},
    {"id": "case", "input": "case?", "outputs": ["Oslo", "oslo"]},
    {"id": "ref-failed", "input": "ref-failed?", "outputs": [ERR, "Rome"]},
    {"id": "cand-failed", "input": "cand-failed?", "outputs": ["Bern", ERR]},
]


def scores(conn: psycopg.Connection, run_id: int) -> dict[tuple[str, str], tuple]:
    """{(metric, test case id): (value, passed)} of a run's current scores."""
    rows = conn.execute(
        """SELECT s.metric, p.external_id, s.value, s.passed
           FROM evaltool.score s
           JOIN evaltool.response r ON r.id = s.response_id
           JOIN evaltool.prompt p ON p.id = r.prompt_id
           WHERE r.run_id = %s""",
        (run_id,),
    )
    return {(m, case): (v, p) for m, case, v, p in rows}


def test_score_against_a_reference_model(run_cli: RunCli, conn: psycopg.Connection) -> None:
    runs = make_arena(conn, ["ref", "cand"], CASES)
    result = run_cli(
        "score",
        str(runs["cand"]),
        "--metric",
        "edit_similarity",
        "--metric",
        "exact_match",
        "--metric",
        "agrees=exact_match:case",
        "--reference",
        "ref",  # a model name: its latest completed run
        "--json",
    )
    assert result.exit_code == 0, result.output
    written = {r["metric"]: r["written"] for r in json.loads(result.stdout)}
    assert written == {"edit_similarity@ref": 3, "exact_match@ref": 4, "agrees": 4}

    got = scores(conn, runs["cand"])
    pairs = {c["id"]: c["outputs"] for c in CASES if c["id"] in ("same", "close", "case")}
    for case, (ref, cand) in pairs.items():
        similarity = 1 - levenshtein(cand, ref) / max(len(cand), len(ref))
        assert got["edit_similarity@ref", case] == (pytest.approx(similarity), None)
        assert got["exact_match@ref", case] == ((1.0, True) if cand == ref else (0.0, False))
    assert got["agrees", "case"] == (1.0, True)
    # the candidate's error fails exact_match and has no similarity; no reference, no score
    assert got["exact_match@ref", "cand-failed"] == (0.0, False)
    assert {case for _, case in got} == {"same", "close", "case", "cand-failed"}

    recorded = conn.execute(
        "SELECT metric, scorer, reference_run_id, scores FROM evaltool.scoring ORDER BY id"
    ).fetchall()
    assert recorded == [
        ("edit_similarity@ref", "sql:edit_similarity", runs["ref"], 3),
        ("exact_match@ref", "sql:exact_match", runs["ref"], 4),
        ("agrees", "sql:exact_match", runs["ref"], 4),
    ]


def test_a_reference_over_another_dataset_is_refused(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    (run_id,) = make_runs(conn, [{"outputs": ["a"]}], runs=1)
    (other,) = make_runs(conn, [{"outputs": ["a"]}], runs=1)
    result = run_cli("score", str(run_id), "--metric", "exact_match", "--reference", str(other))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: reference run {other} is over dataset d1:1, run {run_id} over dataset d0:1:"
        " a reference run must answer the same test cases"
    ]
    assert conn.execute("SELECT count(*) FROM evaltool.scoring").fetchone() == (0,)


@pytest.mark.parametrize("metric", ["latency_under:2000", "regex:^a"])
def test_a_scorer_without_expected_answer_is_refused(
    run_cli: RunCli, conn: psycopg.Connection, metric: str
) -> None:
    ref, cand = make_runs(conn, [{"outputs": ["a", "a"]}])
    result = run_cli(
        "score", str(cand), "--metric", "exact_match", "--metric", metric, "--reference", str(ref)
    )
    assert result.exit_code == 2
    scorer = metric.split(":")[0]
    assert result.stderr.splitlines() == [
        f"Error: scorer {scorer} does not compare the output with an expected answer: it cannot"
        " score against a reference run (scorers that can: contains, edit_similarity,"
        " exact_match, json_field_equals, numeric_close, trigram_similarity)"
    ]
    assert conn.execute("SELECT count(*) FROM evaltool.score").fetchone() == (0,)


def test_python_scorers_are_refused_and_a_missing_reference_named(
    conn: psycopg.Connection,
) -> None:
    ref, cand = make_runs(conn, [{"outputs": ["a", "a"]}])
    specs = [scoring.parse_metric("exact_match"), scoring.parse_metric("python:json:dumps")]
    with pytest.raises(EvaltoolError, match=r"^--metric python:json:dumps: only the built-in"):
        scoring.score_run(conn, cand, specs, reference=ref)
    with pytest.raises(EvaltoolError, match=r"^no reference run 999\b"):
        scoring.score_run(conn, cand, specs[:1], reference=999)


def test_sample_k_is_compared_with_the_reference_sample_k(conn: psycopg.Connection) -> None:
    # the reference answers twice, the candidate three times: its sample 3 meets sample 1
    ref, cand = make_runs(conn, [{"outputs": ["alpha", "beta"]}])
    conn.execute(
        "UPDATE evaltool.run SET repeats = CASE id WHEN %(ref)s THEN 2 ELSE 3 END",
        {"ref": ref},
    )
    conn.execute(
        """INSERT INTO evaltool.response (run_id, prompt_id, sample, status, output, output_text)
           SELECT r.run_id, r.prompt_id, x.sample, 'ok', to_jsonb(x.text), x.text
           FROM evaltool.response r
           JOIN (VALUES (%(ref)s, 2, 'beta'), (%(cand)s, 2, 'beta'), (%(cand)s, 3, 'alpha'))
                AS x(run_id, sample, text) ON x.run_id = r.run_id""",
        {"ref": ref, "cand": cand},
    )
    # in SQL, the metric is named after the reference run's model as well
    written = conn.execute(
        "SELECT evaltool.score_run(%s, 'exact_match', reference => %s)", (cand, ref)
    ).fetchone()
    assert written == (3,)
    rows = conn.execute(
        """SELECT r.sample, s.metric, s.passed FROM evaltool.score s
           JOIN evaltool.response r ON r.id = s.response_id ORDER BY r.sample"""
    ).fetchall()
    assert rows == [
        (1, "exact_match@m0", False),
        (2, "exact_match@m0", True),
        (3, "exact_match@m0", True),
    ]


def test_structured_outputs_are_compared_as_json(conn: psycopg.Connection) -> None:
    ref, cand = make_runs(
        conn,
        [
            {"id": "object", "outputs": [{"a": 1, "b": [2, 3]}, {"b": [2, 3], "a": 1}]},
            {"id": "list", "outputs": [["x", "y"], ["x", "y"]]},
        ],
    )
    for scorer, arg in [("exact_match", None), ("json_field_equals", "b.1")]:
        conn.execute("SELECT evaltool.score_run(%s, %s, %s, NULL, %s)", (cand, scorer, arg, ref))
    got = scores(conn, cand)
    assert got == {
        ("exact_match@m0", "object"): (1.0, True),
        ("exact_match@m0", "list"): (1.0, True),  # one answer, not a list of answers
        ("json_field_equals:b.1@m0", "object"): (1.0, True),
        ("json_field_equals:b.1@m0", "list"): (0.0, False),
    }
