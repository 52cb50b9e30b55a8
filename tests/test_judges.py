"""Judging the judges: named metrics that a new scorer or judge rescores, the score history
they keep, judge_drift between two versions on the same responses, judge_agreement of
preferences, and `evaltool judges` — checked against hand-computed kappas, statsmodels'
standard error, scipy's t test and an enumerated sign-flip test."""

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import Result
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from evaltool.errors import EvaltoolError
from evaltool.scoring import MetricSpec, parse_metric
from tests.model_servers import ModelServer
from tests.scores import call, make_arena, make_runs

RunCli = Callable[..., Result]

# Two versions of a judge on ten responses: values, and passed at 0.5 and above.
# Confusion (from x to): both passed 5 (0, 1, 2, 3, 5), from only 1 (4), to only 1 (7),
# both failed 3 (6, 8, 9).
FROM_VALUES = [0.9, 0.8, 0.7, 0.9, 0.6, 0.8, 0.3, 0.2, 0.4, 0.1]
TO_VALUES = [0.9, 0.9, 0.8, 1.0, 0.4, 0.7, 0.3, 0.6, 0.3, 0.2]


def score_version(
    conn: psycopg.Connection,
    run_id: int,
    metric: str,
    version: str,
    values: Sequence[float | None],
    judge: str | None = None,
) -> int:
    """A scoring of `metric` by scorer `test` at `version` (and judge model `judge`): the
    run's responses in test-case order get `values` (None: no score), passed at 0.5."""
    scoring_id = conn.execute(
        "SELECT evaltool.begin_scoring(%s, %s, 'test', %s, NULL, %s)",
        (run_id, metric, version, judge),
    ).fetchone()[0]
    written = conn.execute(
        """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer,
                                       scorer_version, scoring_id)
           SELECT %(run)s, r.id, %(metric)s, u.v, u.v >= 0.5, 'test', %(version)s, %(scoring)s
           FROM (SELECT x.id, row_number() OVER (ORDER BY x.prompt_id) AS i
                 FROM evaltool.response x WHERE x.run_id = %(run)s) r
           JOIN unnest(%(values)s::float8[]) WITH ORDINALITY u(v, i) ON u.i = r.i
           WHERE u.v IS NOT NULL""",
        {"metric": metric, "version": version, "scoring": scoring_id, "run": run_id,
         "values": list(values)},
    ).rowcount  # fmt: skip
    conn.execute("SELECT evaltool.finish_scoring(%s, %s)", (scoring_id, written))
    return scoring_id


def two_versions(conn: psycopg.Connection) -> tuple[int, int, int]:
    """A run of 11 responses scored on `correct` by judge-a (version 1), then judge-b
    (version 2); the 11th response only by judge-a. Returns the run and both scorings."""
    (run_id,) = make_runs(conn, [{"id": f"c{i}"} for i in range(11)], runs=1)
    first = score_version(conn, run_id, "correct", "1", [*FROM_VALUES, 0.5], judge="judge-a")
    second = score_version(conn, run_id, "correct", "2", [*TO_VALUES, None], judge="judge-b")
    return run_id, first, second


def sign_flip_midp(d: Sequence[float]) -> float:
    """The two-sided sign-flip mid-p-value, by enumerating every sign pattern."""
    x = [round(v * 1e6) for v in d if round(v * 1e6) != 0]
    observed = abs(sum(x))
    totals = [abs(sum(s * v for s, v in zip(signs, x, strict=True)))
              for signs in itertools.product([1, -1], repeat=len(x))]  # fmt: skip
    above = sum(t > observed for t in totals)
    equal = sum(t == observed for t in totals)
    return (above + equal / 2) / len(totals)


def hand_kappa(table: list[list[int]]) -> float:
    """Cohen's kappa: (po - pe) / (1 - pe)."""
    n = sum(map(sum, table))
    po = sum(table[i][i] for i in range(len(table))) / n
    rows = [sum(r) / n for r in table]
    cols = [sum(c) / n for c in zip(*table, strict=True)]
    pe = sum(r * c for r, c in zip(rows, cols, strict=True))
    return (po - pe) / (1 - pe)


@pytest.mark.parametrize(
    ("text", "spec", "metric"),
    [
        ("correct=exact_match:case", MetricSpec("exact_match", "case", "correct"), "correct"),
        ("correct=llm_judge:judge-b:r.j2", MetricSpec("llm_judge", "judge-b:r.j2", "correct"),
         "correct"),
        ("q.v2-x=contains", MetricSpec("contains", None, "q.v2-x"), "q.v2-x"),
        ("regex:a=b", MetricSpec("regex", "a=b"), "regex:a=b"),  # `regex:a` is no NAME
        ("exact_match:case", MetricSpec("exact_match", "case"), "exact_match:case"),
        ("1st=contains", MetricSpec("1st=contains", None), "1st=contains"),
    ],
)  # fmt: skip
def test_metric_names(text: str, spec: MetricSpec, metric: str) -> None:
    assert parse_metric(text) == spec
    assert parse_metric(text).metric == metric


def test_a_name_needs_a_scorer() -> None:
    with pytest.raises(EvaltoolError, match=r"expected \[NAME=\]SCORER\[:ARG\]"):
        parse_metric("correct=")


def test_a_named_metric_is_rescored_and_keeps_its_history(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    (run_id,) = make_runs(
        conn, [{"id": "a", "expected": "Paris", "outputs": ["paris"]},
               {"id": "b", "expected": "Lima", "outputs": ["Lima"]},
               {"id": "c", "expected": "Rome", "outputs": ["Roma"]}], runs=1,
    )  # fmt: skip
    first = run_cli("score", str(run_id), "--metric", "correct=exact_match:case", "--json")
    assert first.exit_code == 0, first.output
    assert [(r["metric"], r["written"], r["n_passed"]) for r in json.loads(first.output)] == [
        ("correct", 3, 2)
    ]
    second = run_cli("score", str(run_id), "--metric", "correct=exact_match")
    assert second.exit_code == 0, second.output
    current = conn.execute(
        """SELECT p.external_id, s.passed, s.scorer, g.arg FROM evaltool.score s
           JOIN evaltool.response x ON x.id = s.response_id
           JOIN evaltool.prompt p ON p.id = x.prompt_id
           JOIN evaltool.scoring g ON g.id = s.scoring_id
           WHERE x.run_id = %s ORDER BY p.external_id""",
        [run_id],
    ).fetchall()
    assert current == [("a", False, "sql:exact_match", None), ("b", True, "sql:exact_match", None),
                       ("c", False, "sql:exact_match", None)]  # fmt: skip
    kept = conn.execute(
        """SELECT h.metric, h.passed, g.arg FROM evaltool.score_history h
           JOIN evaltool.scoring g ON g.id = h.scoring_id ORDER BY h.response_id"""
    ).fetchall()
    assert kept == [("correct", True, "case"), ("correct", True, "case"),
                    ("correct", False, "case")]  # fmt: skip

    listed = run_cli("judges", "scorings", str(run_id), "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["metric"], r["scorer"], r["arg"], r["scores"], r["current_scores"],
             r["replaced_scores"], r["is_current"]) for r in rows] == [
        ("correct", "sql:exact_match", None, 3, 3, 0, True),
        ("correct", "sql:exact_match", "case", 3, 0, 3, False),
    ]  # fmt: skip
    assert rows[0]["id"] > rows[1]["id"] and rows[0]["scorer_version"] == "1"
    table = run_cli("judges", "scorings", str(run_id), "--metric", "correct")
    assert table.output.splitlines()[0].split() == [
        "id", "metric", "scorer", "version", "judge", "rubric", "written", "current",
        "replaced", "status", "created", "by",
    ]  # fmt: skip
    assert [line.split()[-4] for line in table.output.splitlines()[1:]] == [
        "current", "superseded",
    ]  # fmt: skip
    assert run_cli("judges", "scorings", str(run_id), "--metric", "other").output == (
        f"run {run_id} has no scorings of other\n"
    )

    twice = run_cli(
        "score", str(run_id), "--metric", "correct=exact_match", "--metric", "correct=contains"
    )
    assert twice.exit_code == 2
    assert twice.stderr == "Error: --metric correct is given twice: one scorer per metric\n"


def test_drift_on_a_hand_computed_example(conn: psycopg.Connection) -> None:
    run_id, first, second = two_versions(conn)
    (row,) = call(conn, "judge_drift", run_id, "correct", "1", "2")
    assert row["n"] == 10  # the 11th response has no score of version 2
    assert (row["from_scorings"], row["to_scorings"]) == ([first], [second])
    confusion = ["both_passed", "from_only_passed", "to_only_passed", "both_failed"]
    assert [row[k] for k in confusion] == [5, 1, 1, 3]
    assert (row["n_changed"], row["n_pass_fail"]) == (2, 10)
    assert row["agreement"] == pytest.approx(0.8)
    # po = 0.8, pe = 0.6 * 0.6 + 0.4 * 0.4 = 0.52: kappa = 0.28 / 0.48
    assert row["kappa"] == pytest.approx(0.28 / 0.48) == pytest.approx(hand_kappa([[5, 1], [1, 3]]))
    reference = cohens_kappa(np.array([[5, 1], [1, 3]]))
    assert row["kappa"] == pytest.approx(reference.kappa)
    z = stats.norm.ppf(0.975)
    assert row["kappa_low"] == pytest.approx(reference.kappa - z * reference.std_kappa)
    assert row["kappa_high"] == pytest.approx(min(1.0, reference.kappa + z * reference.std_kappa))

    d = [round(t - f, 9) for f, t in zip(FROM_VALUES, TO_VALUES, strict=True)]
    assert row["n_values"] == 10
    assert row["mean_from"] == pytest.approx(np.mean(FROM_VALUES))
    assert row["mean_to"] == pytest.approx(np.mean(TO_VALUES))
    assert row["mean_shift"] == pytest.approx(0.04)
    half = stats.t.ppf(0.975, 9) * np.std(d, ddof=1) / math.sqrt(10)
    assert (row["shift_low"], row["shift_high"]) == pytest.approx((0.04 - half, 0.04 + half))
    # below 25 non-zero differences, the larger of the t test's p and the exact sign-flip
    t_p = stats.ttest_1samp(d, 0).pvalue
    assert row["p_value"] == pytest.approx(max(t_p, sign_flip_midp(d)))

    # A version is a scorer version, a judge model or a scoring id: the same scores.
    for names in [("judge-a", "judge-b"), (f"scoring:{first}", f"scoring:{second}"),
                  ("1", "judge-b")]:  # fmt: skip
        assert call(conn, "judge_drift", run_id, "correct", *names) == [row]
    # Backwards, everything turns round.
    (back,) = call(conn, "judge_drift", run_id, "correct", "2", "1")
    assert (back["from_only_passed"], back["to_only_passed"], back["kappa"]) == (
        1, 1, pytest.approx(row["kappa"]),
    )  # fmt: skip
    assert back["mean_shift"] == pytest.approx(-0.04)


def test_the_latest_score_of_a_version_wins(conn: psycopg.Connection) -> None:
    run_id, _, second = two_versions(conn)
    # version 2 again, later: every response passes at 0.5; then version 3
    third = score_version(conn, run_id, "correct", "2", [0.5] * 11, judge="judge-b")
    fourth = score_version(conn, run_id, "correct", "3", [0.5] * 11, judge="judge-c")
    (row,) = call(conn, "judge_drift", run_id, "correct", "1", "2")
    assert (row["n"], row["to_scorings"]) == (11, [third])
    assert (row["both_passed"], row["to_only_passed"]) == (7, 4)
    assert row["kappa"] == pytest.approx(0.0, abs=1e-12)
    # scoring:ID names the earlier one (a plain number is also version 2: the latest wins)
    (row,) = call(conn, "judge_drift", run_id, "correct", "1", str(second))
    assert (str(second), row["to_scorings"]) == ("2", [third])
    (row,) = call(conn, "judge_drift", run_id, "correct", "1", f"scoring:{second}")
    assert (row["n"], row["to_scorings"], row["kappa"]) == (10, [second], pytest.approx(7 / 12))
    # the current scores win over replaced ones
    (row,) = call(conn, "judge_drift", run_id, "correct", "1", "judge-c")
    assert row["to_scorings"] == [fourth]
    # one side passes everything: kappa is 0 and its interval collapses, the shift stands
    assert (row["kappa"], row["kappa_low"], row["kappa_high"]) == pytest.approx((0, 0, 0), abs=1e-6)
    assert row["mean_shift"] == pytest.approx(0.5 - np.mean([*FROM_VALUES, 0.5]))


def test_versions_that_match_nothing_are_named(run_cli: RunCli, conn: psycopg.Connection) -> None:
    run_id, first, second = two_versions(conn)
    result = run_cli("judges", "drift", "correct", "--run", str(run_id), "--from", "judge-a",
                     "--to", "judge-z")  # fmt: skip
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: no scores of correct on run {run_id} match version 'judge-z'; versions:"
        f" scoring:{first} (test version 1, judge judge-a),"
        f" scoring:{second} (test version 2, judge judge-b)\n"
    )
    same = run_cli("judges", "drift", "correct", "--run", str(run_id), "--from", "2",
                   "--to", "judge-b")  # fmt: skip
    assert same.exit_code == 2
    assert same.stderr.startswith(
        f"Error: versions '2' and 'judge-b' pick the same scores (scoring {second}): name each"
        " by scoring:ID; versions: scoring:"
    )
    unscored = run_cli("judges", "drift", "quality", "--run", str(run_id), "--from", "1",
                       "--to", "2")  # fmt: skip
    assert unscored.exit_code == 2
    assert unscored.stderr == (
        f"Error: run {run_id} has no scores of metric 'quality' (scored: correct)\n"
    )
    norun = run_cli("judges", "drift", "correct", "--run", "999999", "--from", "1", "--to", "2")
    assert (norun.exit_code, norun.stderr) == (2, "Error: no run 999999\n")


def test_drift_prints_the_table_and_a_reading(run_cli: RunCli, conn: psycopg.Connection) -> None:
    run_id, first, second = two_versions(conn)
    args = ["judges", "drift", "correct", "--run", str(run_id), "--from", "judge-a", "--to", "2"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    (row,) = call(conn, "judge_drift", run_id, "correct", "judge-a", "2")
    p = f"{row['p_value']:.4f}"
    low, high = row["kappa_low"], row["kappa_high"]
    assert result.output.splitlines() == [
        f"run {run_id}, metric correct: judge-a (scoring {first}) -> 2 (scoring {second}),"
        " 10 responses scored by both",
        f"pass/fail of 10: agreement 80.0%, kappa 0.583 (95% CI {low:.3f}..{high:.3f}); 2 changed",
        "             to passed  to failed",
        "from passed          5          1",
        "from failed          1          3",
        f"value of 10: mean 0.570 -> 0.610, shift +0.040 ({row['shift_low']:+.3f} to"
        f" {row['shift_high']:+.3f}), p {p}",
        "kappa 0.58: moderate agreement (Landis & Koch)",
        "no recorded comparison of this run judged it (evaltool compare --record)",
    ]
    as_json = json.loads(run_cli(*args, "--json").output)
    assert as_json["kappa"] == pytest.approx(7 / 12)
    assert {k: as_json[k] for k in ["run_id", "metric", "from", "to", "n", "from_scorings",
                                    "to_scorings", "both_passed", "n_changed", "reading"]} == {
        "run_id": run_id, "metric": "correct", "from": "judge-a", "to": "2", "n": 10,
        "from_scorings": [first], "to_scorings": [second], "both_passed": 5, "n_changed": 2,
        "reading": "kappa 0.58: moderate agreement (Landis & Koch)",
    }  # fmt: skip


def test_llm_judges_swapped_under_one_metric(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """judge-a compares answers as written, judge-b (another rubric) in lower case: the
    scorings record each judge and rubric, and drift shows the answer judge-b let pass."""
    (run_id,) = make_runs(
        conn, [{"id": "a", "input": "France?", "expected": "Paris", "outputs": ["Paris"]},
               {"id": "b", "input": "Peru?", "expected": "Lima", "outputs": ["lima"]},
               {"id": "c", "input": "Italy?", "expected": "Rome", "outputs": ["Quito"]}],
        runs=1,
    )  # fmt: skip
    strict = tmp_path / "strict.j2"
    strict.write_text("grade\nreference: {{ expected }}\nanswer: {{ output }}\n")
    lenient = tmp_path / "lenient.j2"
    lenient.write_text("grade\nreference: {{ expected | lower }}\nanswer: {{ output | lower }}\n")
    with ModelServer() as server:
        for name in ["judge-a", "judge-b"]:
            added = run_cli("models", "add", name, "--adapter", "openai", "--base-url",
                            f"{server.url}/v1", "--model-id", name)  # fmt: skip
            assert added.exit_code == 0, added.output
        env = {"OPENAI_API_KEY": "sk-test"}
        for metric in [
            f"correct=llm_judge:judge-a:{strict}",
            f"correct=llm_judge:judge-b:{lenient}",
        ]:
            scored = run_cli("score", str(run_id), "--metric", metric, env=env)
            assert scored.exit_code == 0, scored.output
    recorded = conn.execute(
        """SELECT scorer, scorer_version, judge_model, judge_snapshot ->> 'model_id',
                  rubric_sha256, scores
           FROM evaltool.scoring WHERE run_id = %s ORDER BY id""",
        [run_id],
    ).fetchall()
    assert recorded == [
        ("llm_judge", "1", "judge-a", "judge-a", hashlib.sha256(strict.read_bytes()).digest(), 3),
        ("llm_judge", "1", "judge-b", "judge-b", hashlib.sha256(lenient.read_bytes()).digest(), 3),
    ]
    (row,) = call(conn, "judge_drift", run_id, "correct", "judge-a", "judge-b")
    assert (row["n"], row["both_passed"], row["from_only_passed"], row["to_only_passed"],
            row["both_failed"]) == (3, 1, 0, 1, 1)  # fmt: skip
    assert (row["mean_from"], row["mean_to"]) == pytest.approx((1.3 / 3, 2.0 / 3))
    assert row["mean_shift"] == pytest.approx(0.7 / 3)
    # 2x2 of [[1, 0], [1, 1]]: po = 2/3, pe = 1/3 * 2/3 + 2/3 * 1/3 = 4/9, kappa = 0.4
    assert row["kappa"] == pytest.approx(hand_kappa([[1, 0], [1, 1]])) == pytest.approx(0.4)
    listed = run_cli("judges", "scorings", str(run_id))
    assert "judge-a" in listed.output and strict_sha(strict) in listed.output


def strict_sha(path: Path) -> str:
    """The rubric hash as `judges scorings` shows it: 12 hex digits."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# Verdicts on ten pairs (x: the response of the lower id), of a judge model and of alice:
# model \ alice   a  b  tie
#   a             4  1  0
#   b             0  2  1
#   tie           1  0  1
MODEL = ["a", "a", "a", "a", "b", "b", "b", "tie", "tie", "a"]
ALICE = ["a", "a", "a", "b", "b", "b", "tie", "tie", "a", "a"]
BOB = ["a", "b", "a"]  # bob judged the first three pairs


def _preferences(conn: psycopg.Connection) -> None:
    """Two models' runs over 11 cases; the judgments of MODEL (case 10 too, which nobody
    else judged), ALICE and BOB. Odd pairs are shown with the higher id first as A."""
    runs = make_arena(conn, ["x", "y"], [{"id": f"c{i}", "input": f"q{i}", "outputs": ["1", "2"]}
                                         for i in range(11)])  # fmt: skip
    flip = {"a": "b", "b": "a", "tie": "tie"}
    rows = []
    for judge, kind, verdicts in [("gpt-judge", "model", [*MODEL, "a"]), ("alice", "human", ALICE),
                                  ("bob", "human", BOB)]:  # fmt: skip
        for i, w in enumerate(verdicts):
            swap = i % 2 == 1
            first, second = (runs["y"], runs["x"]) if swap else (runs["x"], runs["y"])
            rows.append((first, second, f"c{i}", flip[w] if swap else w, kind, judge))
    conn.execute(
        """INSERT INTO evaltool.preference (response_a_id, response_b_id, winner, judge_kind, judge)
           SELECT ra.id, rb.id, u.w, u.k, u.j
           FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
                AS u(a, b, c, w, k, j)
           JOIN evaltool.prompt p ON p.external_id = u.c
           JOIN evaltool.response ra ON ra.run_id = u.a AND ra.prompt_id = p.id
           JOIN evaltool.response rb ON rb.run_id = u.b AND rb.prompt_id = p.id""",
        [list(c) for c in zip(*rows, strict=True)],
    )


def test_judge_agreement_on_a_hand_computed_example(conn: psycopg.Connection) -> None:
    _preferences(conn)
    (row,) = call(conn, "judge_agreement", "gpt-judge", "alice")
    assert (row["n"], row["pairs"]) == (10, 10)
    assert row["confusion"] == {"a": {"a": 4, "b": 1, "tie": 0}, "b": {"a": 0, "b": 2, "tie": 1},
                                "tie": {"a": 1, "b": 0, "tie": 1}}  # fmt: skip
    table = [[4, 1, 0], [0, 2, 1], [1, 0, 1]]
    # po = 0.7; margins 0.5, 0.3, 0.2 on both sides: pe = 0.38; kappa = 0.32 / 0.62
    assert row["agreement"] == pytest.approx(0.7)
    assert row["chance_agreement"] == pytest.approx(0.38)
    assert row["kappa"] == pytest.approx(0.32 / 0.62) == pytest.approx(hand_kappa(table))
    reference = cohens_kappa(np.array(table))
    z = stats.norm.ppf(0.975)
    assert (row["kappa_low"], row["kappa_high"]) == pytest.approx(
        (reference.kappa - z * reference.std_kappa, reference.kappa + z * reference.std_kappa)
    )

    # every human judgment: alice's ten and bob's three, on ten pairs
    (humans,) = call(conn, "judge_agreement", "gpt-judge", "human")
    assert (humans["n"], humans["pairs"]) == (13, 10)
    assert humans["confusion"]["a"] == {"a": 6, "b": 2, "tie": 0}
    # alice against the other people: bob, on his three pairs
    (people,) = call(conn, "judge_agreement", "alice", "human")
    assert (people["n"], people["agreement"]) == (3, pytest.approx(2 / 3))


def test_judges_agreement_command(run_cli: RunCli, conn: psycopg.Connection) -> None:
    _preferences(conn)
    result = run_cli("judges", "agreement", "gpt-judge", "--with", "alice")
    assert result.exit_code == 0, result.output
    (row,) = call(conn, "judge_agreement", "gpt-judge", "alice")
    assert result.output.splitlines() == [
        "gpt-judge vs alice: 10 judgments compared on 10 pairs judged by both",
        f"agreement 70.0%, kappa 0.516 (95% CI {row['kappa_low']:.3f}..{row['kappa_high']:.3f})",
        "gpt-judge \\ alice  a  b  tie",
        "a                  4  1    0",
        "b                  0  2    1",
        "tie                1  0    1",
        "(a: the response with the lower id won, b: the other)",
        "kappa 0.52: moderate agreement (Landis & Koch)",
    ]
    as_json = json.loads(run_cli("judges", "agreement", "gpt-judge", "--with", "human",
                                 "--json").output)  # fmt: skip
    assert (as_json["judge"], as_json["with"], as_json["n"], as_json["pairs"]) == (
        "gpt-judge", "human", 13, 10,
    )  # fmt: skip
    nobody = run_cli("judges", "agreement", "gpt-judge", "--with", "carol")
    assert (nobody.exit_code, nobody.stderr) == (
        2, "Error: no preferences by judge 'carol'; judges: alice, bob, gpt-judge\n",
    )  # fmt: skip


def test_cohen_kappa_edges(conn: psycopg.Connection) -> None:
    # perfect agreement: kappa 1, an interval of width 0
    (row,) = call(conn, "cohen_kappa", [[3, 0], [0, 2]])
    assert (row["kappa"], row["low"], row["high"]) == (1.0, 1.0, 1.0)
    # one category throughout: no kappa
    (row,) = call(conn, "cohen_kappa", [[4, 0], [0, 0]])
    assert (row["n"], row["agreement"], row["kappa"]) == (4, 1.0, None)
    (row,) = call(conn, "cohen_kappa", [[0, 0], [0, 0]])
    assert (row["n"], row["agreement"]) == (0, None)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="square table"):
        call(conn, "cohen_kappa", [1, 2, 3])


def test_a_scoring_goes_only_with_its_run(run_cli: RunCli, conn: psycopg.Connection) -> None:
    run_id, first, _ = two_versions(conn)
    count = (
        "SELECT (SELECT count(*) FROM evaltool.scoring), (SELECT count(*) FROM evaltool.score),"
        " (SELECT count(*) FROM evaltool.score_history)"
    )
    assert conn.execute(count).fetchone() == (2, 10, 11)  # judge-b left one unscored
    # no score may be left naming a scoring that is gone
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="deleted with its run"):
        conn.execute("DELETE FROM evaltool.scoring WHERE id = %s", [first])
    conn.rollback()
    deleted = run_cli("runs", "delete", str(run_id), "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert conn.execute(count).fetchone() == (0, 0, 0)


def test_a_score_cannot_slip_past_its_history(conn: psycopg.Connection) -> None:
    _, _, second = two_versions(conn)
    one = "SELECT id FROM evaltool.score WHERE scoring_id = %s ORDER BY id LIMIT 1"
    (score_id,) = conn.execute(one, [second]).fetchone()
    history = "SELECT count(*) FROM evaltool.score_history"
    (before,) = conn.execute(history).fetchone()
    # a new id would unpair the old row from the new one: refused
    with pytest.raises(psycopg.errors.GeneratedAlways, match=r"id of evaltool\.score cannot"):
        conn.execute(
            "UPDATE evaltool.score SET id = DEFAULT, value = 0.123 WHERE id = %s", [score_id]
        )
    conn.rollback()
    # a change that only JSON equality would miss is kept too
    for details in ("'{\"x\": 1}'", "'{\"x\": 1.0}'", "details"):
        conn.execute(f"UPDATE evaltool.score SET details = {details} WHERE id = %s", [score_id])
    assert conn.execute(history).fetchone() == (before + 2,)
