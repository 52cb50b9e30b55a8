"""Pairwise preferences: the table and its trigger, `load preferences`, the judge command
against a real model server on 127.0.0.1, win rates and Bradley-Terry ratings in SQL
checked against scipy."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import Result
from scipy import optimize, stats

from evaltool import pairwise
from evaltool.pairwise import parse_preference
from tests.model_servers import ModelServer
from tests.scores import make_arena

RunCli = Callable[..., Result]

ELO = 400 / math.log(10)

# wins of x, wins of y, ties, for pairs of models (x, y); m4 never lost, m3 never won
# against m0: the prior must keep both finite.
TALLY = {
    ("m0", "m1"): (12, 5, 3),
    ("m0", "m2"): (15, 2, 1),
    ("m1", "m2"): (9, 8, 4),
    ("m2", "m3"): (6, 3, 0),
    ("m0", "m3"): (7, 0, 0),
    ("m4", "m1"): (5, 0, 0),
}
MODELS = ["m0", "m1", "m2", "m3", "m4"]


def _judged_arena(conn: psycopg.Connection, tally: dict, judge: str = "ann") -> dict[str, int]:
    """An arena of MODELS over 30 cases, and one judgment per case for each tally entry."""
    cases = [{"id": f"c{i}", "input": f"q{i}", "outputs": MODELS} for i in range(30)]
    runs = make_arena(conn, MODELS, cases)
    rows = []
    for (x, y), (xw, yw, ties) in tally.items():
        outcomes = ["a"] * xw + ["b"] * yw + ["tie"] * ties
        rows += [(runs[x], runs[y], f"c{i}", w) for i, w in enumerate(outcomes)]
    conn.execute(
        """INSERT INTO evaltool.preference (response_a_id, response_b_id, winner, judge_kind, judge)
           SELECT ra.id, rb.id, u.w, 'human', %s
           FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS u(a, b, c, w)
           JOIN evaltool.prompt p ON p.external_id = u.c
           JOIN evaltool.response ra ON ra.run_id = u.a AND ra.prompt_id = p.id
           JOIN evaltool.response rb ON rb.run_id = u.b AND rb.prompt_id = p.id""",
        (judge, *map(list, zip(*rows, strict=True))),
    )
    conn.commit()
    return runs


def _reference_fit(tally: dict, prior_sd: float, models: list[str] = MODELS) -> tuple[dict, dict]:
    """Strengths and their standard errors (about the mean of `models`), fitted by scipy."""
    index = {m: i for i, m in enumerate(models)}
    k = len(models)
    wins = np.zeros((k, k))
    for (x, y), (xw, yw, ties) in tally.items():
        wins[index[x], index[y]] += xw + ties / 2
        wins[index[y], index[x]] += yw + ties / 2
    games = wins + wins.T

    def minus_log_posterior(b: np.ndarray) -> float:
        d = b[:, None] - b[None, :]
        return float(np.sum(wins * np.logaddexp(0, -d)) + np.sum(b**2) / (2 * prior_sd**2))

    def gradient(b: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(b[None, :] - b[:, None]))  # P(i beats j)
        return -(np.sum(wins - games * p, axis=1)) + b / prior_sd**2

    fit = optimize.minimize(
        minus_log_posterior, np.zeros(k), jac=gradient, method="BFGS", options={"gtol": 1e-12}
    )
    b = fit.x
    hessian = np.eye(k) / prior_sd**2
    for i in range(k):
        for j in range(i + 1, k):
            p = 1 / (1 + math.exp(b[j] - b[i]))
            e = np.zeros(k)
            e[i], e[j] = 1, -1
            hessian += games[i, j] * p * (1 - p) * np.outer(e, e)
    centre = np.eye(k) - np.ones((k, k)) / k
    cov = centre @ np.linalg.inv(hessian) @ centre
    return (
        {m: b[index[m]] for m in models},
        {m: math.sqrt(cov[index[m], index[m]]) for m in models},
    )


# Rounded ratings of TALLY, pinned: fitting by component must leave them as they were.
CONNECTED_RATINGS = {
    4.0: {"m4": 1482, "m0": 1094, "m1": 904, "m2": 842, "m3": 679},
    1.0: {"m4": 1183, "m0": 1141, "m1": 953, "m2": 914, "m3": 810},
}


@pytest.mark.parametrize("prior_sd", [4.0, 1.0])
def test_bradley_terry_matches_scipy(conn: psycopg.Connection, prior_sd: float) -> None:
    _judged_arena(conn, TALLY)
    got = {
        r[1]: r
        for r in conn.execute(
            "SELECT * FROM evaltool.bradley_terry(prior_sd => %s::float8)", (prior_sd,)
        )
    }
    strength, se = _reference_fit(TALLY, prior_sd)
    assert set(got) == set(MODELS)
    for m in MODELS:
        _, _, rating, low, high, b, b_se, judgments, wins, losses, ties, component, bound = got[m]
        assert b == pytest.approx(strength[m], abs=1e-6)
        assert b_se == pytest.approx(se[m], abs=1e-6)
        assert rating == pytest.approx(1000 + ELO * strength[m], abs=1e-4)
        z = stats.norm.ppf(0.975)
        assert (low, high) == pytest.approx(
            (rating - z * ELO * se[m], rating + z * ELO * se[m]), abs=1e-4
        )
        assert judgments == wins + losses + ties
        assert component == 1  # one connected graph
        assert bound == (m == "m4")  # m4 never lost; m3 lost to m0 but beat m2
    assert sum(r[0] == 1 for r in got.values()) == 1
    assert got["m0"][8:11] == (12 + 15 + 7, 5 + 2, 3 + 1)  # wins, losses, ties
    view = [r[1] for r in conn.execute("SELECT * FROM evaltool.model_rating")]
    assert view == sorted(MODELS, key=lambda m: -strength[m])
    assert sum(strength.values()) == pytest.approx(0, abs=1e-9)
    assert {m: round(got[m][2]) for m in MODELS} == CONNECTED_RATINGS[prior_sd]


# Two groups never judged against each other: m2 > m3 > m4 (three models) and m0 > m1.
APART = {
    ("m0", "m1"): (3, 1, 0),
    ("m2", "m3"): (4, 2, 1),
    ("m3", "m4"): (3, 2, 2),
    ("m2", "m4"): (2, 1, 0),
}


def test_bradley_terry_fits_each_component_of_the_graph_on_its_own(
    conn: psycopg.Connection,
) -> None:
    _judged_arena(conn, APART)
    rows = conn.execute(
        """SELECT component, rank, model, rating, strength, strength_se, prior_bound
           FROM evaltool.bradley_terry()"""
    ).fetchall()
    # the larger group first; ranks start again in each group
    assert [r[:3] for r in rows] == [
        (1, 1, "m2"), (1, 2, "m3"), (1, 3, "m4"), (2, 1, "m0"), (2, 2, "m1"),
    ]  # fmt: skip
    for component, models in [(1, ["m2", "m3", "m4"]), (2, ["m0", "m1"])]:
        group = [r for r in rows if r[0] == component]
        tally = {pair: t for pair, t in APART.items() if pair[0] in models}
        strength, se = _reference_fit(tally, 4.0, models)
        for _, _, m, rating, b, b_se, bound in group:
            assert b == pytest.approx(strength[m], abs=1e-6)
            assert b_se == pytest.approx(se[m], abs=1e-6)
            assert rating == pytest.approx(1000 + ELO * strength[m], abs=1e-4)
            assert bound is False
        assert sum(r[4] for r in group) == pytest.approx(0, abs=1e-9)  # centred in its group
    assert conn.execute(
        "SELECT array_agg(DISTINCT component) FROM evaltool.model_rating"
    ).fetchone() == ([1, 2],)


def test_components_of_one_size_are_numbered_by_their_first_model_name(
    conn: psycopg.Connection,
) -> None:
    _judged_arena(conn, {("m3", "m2"): (2, 1, 0), ("m4", "m1"): (1, 1, 1)})
    rows = conn.execute("SELECT component, rank, model FROM evaltool.model_rating").fetchall()
    assert rows == [(1, 1, "m1"), (1, 1, "m4"), (2, 1, "m3"), (2, 2, "m2")]


# m0 never lost and m4 never won; m2 never lost either, but tied twice with m1 and twice
# with m3: a tie counts as half a loss, which bounds its strength.
ONE_SIDED = {
    ("m0", "m1"): (4, 0, 0),
    ("m1", "m2"): (0, 0, 2),
    ("m2", "m3"): (3, 0, 2),
    ("m3", "m4"): (2, 0, 0),
}


def test_a_model_that_never_lost_or_never_won_is_bound_by_the_prior(
    conn: psycopg.Connection,
) -> None:
    _judged_arena(conn, ONE_SIDED)
    bound = dict(conn.execute("SELECT model, prior_bound FROM evaltool.model_rating"))
    assert bound == {"m0": True, "m1": False, "m2": False, "m3": False, "m4": True}
    strength, _ = _reference_fit(ONE_SIDED, 4.0)
    got = dict(conn.execute("SELECT model, strength FROM evaltool.model_rating"))
    assert got == pytest.approx(strength, abs=1e-6)


def test_win_rates_match_scipy(conn: psycopg.Connection) -> None:
    _judged_arena(conn, TALLY)
    rows = conn.execute("SELECT * FROM evaltool.preference_win_rate").fetchall()
    assert len(rows) == len(TALLY)
    for x, y, n, xw, yw, ties, rate, low, high, score, p, better in rows:
        expected = TALLY.get((x, y)) or TALLY[(y, x)][1::-1] + TALLY[(y, x)][2:]
        assert (xw, yw, ties) == expected and n == xw + yw + ties
        test = stats.binomtest(xw, xw + yw, 0.5)
        ci = test.proportion_ci(0.95, method="wilson")
        assert rate == pytest.approx(xw / (xw + yw), abs=1e-12)
        assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert p == pytest.approx(test.pvalue, abs=1e-9)
        assert score == pytest.approx((xw + ties / 2) / n, abs=1e-12)
        assert better == (None if p >= 0.05 else x if xw > yw else y)
    assert ("m0", "m2") in [(r[0], r[1]) for r in rows if r[11] == "m0"]


def test_filters_and_same_model_pairs(conn: psycopg.Connection) -> None:
    runs = _judged_arena(conn, {("m0", "m1"): (3, 1, 0)})
    # a second run of m0 over the same cases, judged against the first: not a model pair
    params = {"r": runs["m0"], "s": runs["m1"]}
    (again,) = conn.execute(
        """INSERT INTO evaltool.run (model_id, dataset_id, status)
           SELECT model_id, dataset_id, 'completed' FROM evaltool.run WHERE id = %(r)s
           RETURNING id""",
        params,
    ).fetchone()
    conn.execute(
        """INSERT INTO evaltool.response (run_id, prompt_id, status, output_text)
           SELECT %(again)s, prompt_id, 'ok', 'y' FROM evaltool.response WHERE run_id = %(r)s""",
        {**params, "again": again},
    )
    for other, winner in [(again, "a"), (runs["m1"], "b")]:
        conn.execute(
            """INSERT INTO evaltool.preference
                   (response_a_id, response_b_id, winner, judge_kind, judge)
               SELECT a.id, b.id, %(winner)s, 'model', 'bot'
               FROM evaltool.response a JOIN evaltool.response b ON b.prompt_id = a.prompt_id
               WHERE a.run_id = %(r)s AND b.run_id = %(other)s""",
            {**params, "other": other, "winner": winner},
        )
    everything = conn.execute("SELECT model_x, model_y, x_wins, y_wins FROM evaltool.win_rates()")
    assert everything.fetchall() == [("m0", "m1", 3, 30 + 1)]
    human = conn.execute("SELECT x_wins, y_wins FROM evaltool.win_rates('human')").fetchall()
    assert human == [(3, 1)]
    assert conn.execute(
        "SELECT count(*) FROM evaltool.bradley_terry('model', 'ann')"
    ).fetchone() == (0,)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="human or model"):
        conn.execute("SELECT * FROM evaltool.bradley_terry('robot')")


def test_the_table_refuses_pairs_that_do_not_match(conn: psycopg.Connection) -> None:
    runs = make_arena(
        conn, ["a", "b"], [{"id": "x", "input": 1, "outputs": ["1", "2"]},
                           {"id": "y", "input": 2, "outputs": ["3", "4"]}],
    )  # fmt: skip
    ids = dict(
        conn.execute(
            """SELECT r.run_id || p.external_id, r.id FROM evaltool.response r
               JOIN evaltool.prompt p ON p.id = r.prompt_id"""
        ).fetchall()
    )
    a, b = runs["a"], runs["b"]
    insert = """INSERT INTO evaltool.preference
                    (response_a_id, response_b_id, winner, judge_kind, judge)
                VALUES (%s, %s, %s, 'human', 'ann') RETURNING prompt_id"""
    with pytest.raises(psycopg.errors.CheckViolation, match="answer different test cases"):
        conn.execute(insert, (ids[f"{a}x"], ids[f"{b}y"], "a"))
    conn.rollback()
    (prompt_id,) = conn.execute(insert, (ids[f"{a}x"], ids[f"{b}x"], "a")).fetchone()
    assert (
        prompt_id
        == conn.execute("SELECT id FROM evaltool.prompt WHERE external_id = 'x'").fetchone()[0]
    )
    with pytest.raises(psycopg.errors.UniqueViolation):  # the same pair, shown the other way
        conn.execute(insert, (ids[f"{b}x"], ids[f"{a}x"], "b"))
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(insert, (ids[f"{a}x"], ids[f"{a}x"], "a"))


def _arena_for_loading(conn: psycopg.Connection, models: tuple = ("old", "new")) -> dict[str, int]:
    return make_arena(
        conn, models,
        [{"id": "q1", "input": "Capital of France?", "expected": "Paris",
          "outputs": ["Lyon", "Paris"]},
         {"id": "q2", "input": {"chat": ["hi"]}, "outputs": ["hello", "hey"]},
         {"id": "q3", "input": "2+2?", "outputs": [{"error": "timeout"}, "4"]}],
    )  # fmt: skip


def test_load_preferences_by_test_case_and_by_response(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    runs = _arena_for_loading(conn)
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"id": "q1", "winner": "B", "reason": "correct", "tool": "argilla"},
                {"input": {"chat": ["hi"]}, "winner": "tie (bothbad)", "judge": "bob"},
                {"id": "q3", "winner": "model_b"},
                {"id": "q1", "winner": "a"},  # the same pair and judge: a duplicate
            ]
        )
        + "\n"
    )
    args = ["load", "preferences", str(labels), "--run-a", str(runs["old"]),
            "--run-b", str(runs["new"]), "--judge", "alice", "--json"]  # fmt: skip
    first = run_cli(*args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) | {"seconds": 0} == {
        "kind": "preferences", "target": f"runs {runs['old']} and {runs['new']}", "files": 1,
        "read": 4, "inserted": 3, "duplicates": 1, "rejected": 0, "seconds": 0,
        "rejects_file": None, "created": [],
    }  # fmt: skip
    rows = conn.execute(
        """SELECT p.external_id, o.model_a, o.model_b, o.winner, o.judge, o.judge_kind,
                  o.reason, x.details
           FROM evaltool.preference_outcome o JOIN evaltool.prompt p ON p.id = o.prompt_id
           JOIN evaltool.preference x ON x.id = o.preference_id ORDER BY 1"""
    ).fetchall()
    assert rows == [
        ("q1", "old", "new", "b", "alice", "human", "correct", {"tool": "argilla"}),
        ("q2", "old", "new", "tie", "bob", "human", None, {}),
        ("q3", "old", "new", "b", "alice", "human", None, {}),
    ]
    again = run_cli(*args)
    assert json.loads(again.output)["inserted"] == 0

    # by response ids, as an annotation tool exports them, with its own judge
    a, b = conn.execute(
        """SELECT a.id, b.id FROM evaltool.response a JOIN evaltool.response b
           ON b.prompt_id = a.prompt_id AND b.run_id = %s WHERE a.run_id = %s
           ORDER BY a.prompt_id LIMIT 1""",
        (runs["old"], runs["new"]),
    ).fetchone()
    direct = tmp_path / "direct.jsonl"
    direct.write_text(json.dumps({"response_a": b, "response_b": a, "winner": "a",
                                  "judge": "gpt-judge", "judge_kind": "model"}) + "\n")  # fmt: skip
    result = run_cli("load", "preferences", str(direct))
    assert result.exit_code == 0, result.output
    assert "1 inserted" in result.output
    assert conn.execute(
        """SELECT winner_model_id = model_b_id FROM evaltool.preference_outcome
           WHERE judge = 'gpt-judge'"""
    ).fetchone() == (False,)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"id": "q1", "winner": "c"}, '"winner" must be "a", "b" or "tie"'),
        ({"id": "q1", "winner": None}, 'no "winner" yet: set it to "a", "b" or "tie"'),
        ({"id": "nope", "winner": "a"}, "no such test case in the runs' dataset"),
        ({"winner": "a"}, 'name the responses with "response_a" and "response_b"'),
        ({"response_a": 1, "winner": "a"}, 'give both "response_a" and "response_b"'),
        ({"response_a": 999999, "response_b": 999998, "winner": "a"}, "no response 999999"),
        ({"id": "q1", "winner": "a", "judge_kind": "robot"}, '"judge_kind" must be human or model'),
        ({"id": "q1", "winner": "a", "details": [1]}, '"details" must be an object'),
    ],
)
def test_a_bad_judgment_line_stops_the_load(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, line: dict, reason: str
) -> None:
    runs = _arena_for_loading(conn)
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"id": "q2", "winner": "a"}) + "\n" + json.dumps(line) + "\n")
    args = ["--run-a", str(runs["old"]), "--run-b", str(runs["new"])]
    result = run_cli("load", "preferences", str(path), *args)
    assert result.exit_code == 2
    assert f"{path}:2: {reason}" in result.stderr
    assert conn.execute("SELECT count(*) FROM evaltool.preference").fetchone() == (0,)


def test_export_for_annotators_and_load_their_labels_back(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    cases = [{"id": f"c{i}", "input": f"q{i}", "expected": f"new{i}",
              "outputs": [f"old{i}", f"new{i}"]} for i in range(20)]  # fmt: skip
    cases.append({"id": "c20", "input": "q20", "outputs": [{"error": "timeout"}, "new20"]})
    runs = make_arena(conn, ("old", "new"), cases)
    run_of = dict(conn.execute("SELECT id, run_id FROM evaltool.response").fetchall())
    path = tmp_path / "to-label.jsonl"
    result = run_cli("preferences", "export", "old", "new", "-o", str(path))
    assert result.exit_code == 0, result.output
    assert f"wrote 20 pairs of runs {runs['old']} and {runs['new']} to {path}" in result.stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"c{i}" for i in range(20)]  # no error pair
    assert set(lines[0]) == {"response_a", "response_b", "id", "input", "expected",
                             "output_a", "output_b", "winner", "reason"}  # fmt: skip
    new_is_a = [run_of[line["response_a"]] == runs["new"] for line in lines]
    assert 3 <= sum(new_is_a) <= 17  # both orders occur
    for line, swapped in zip(lines, new_is_a, strict=True):
        i = line["id"][1:]
        assert (line["output_a"], line["output_b"]) == (
            (f"new{i}", f"old{i}") if swapped else (f"old{i}", f"new{i}")
        )
        assert {run_of[line["response_a"]], run_of[line["response_b"]]} == set(runs.values())
    assert run_cli("preferences", "export", "old", "new").output == path.read_text()
    other_seed = run_cli("preferences", "export", "old", "new", "--seed", "7").output
    assert other_seed != path.read_text()

    # the annotator labels 15 pairs: the answer that matches the expected one wins
    for line in lines[:15]:
        line["winner"] = "a" if line["output_a"] == line["expected"] else "b"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rejects = tmp_path / "rejects.jsonl"
    loaded = run_cli("load", "preferences", str(path), "--judge", "alice", "--skip-invalid",
                     "--rejects", str(rejects), "--json")  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    summary = json.loads(loaded.output)
    assert (summary["inserted"], summary["rejected"]) == (15, 5)
    assert len(rejects.read_text().splitlines()) == 5
    winners = conn.execute(
        """SELECT m.name, count(*), bool_and(x.details = '{}')
           FROM evaltool.preference_outcome o JOIN evaltool.model m ON m.id = o.winner_model_id
           JOIN evaltool.preference x ON x.id = o.preference_id
           WHERE o.judge = 'alice' GROUP BY m.name"""
    ).fetchall()
    assert winners == [("new", 15, True)]

    rest = run_cli("preferences", "export", "old", "new", "--judge", "alice")
    assert [json.loads(line)["id"] for line in rest.output.splitlines()] == [
        f"c{i}" for i in range(15, 20)
    ]
    same = run_cli("preferences", "export", "old", "old")
    assert same.exit_code == 2 and "name two runs" in same.stderr
    missing = run_cli("preferences", "export", "old", "9999")
    assert missing.stderr.strip() == "Error: no run 9999: see evaltool runs list"


def test_load_preferences_refuses_runs_of_different_datasets(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    one = _arena_for_loading(conn)
    two = _arena_for_loading(conn, ("older", "newer"))
    path = tmp_path / "labels.jsonl"
    path.write_text('{"id": "q1", "winner": "a"}\n')
    result = run_cli("load", "preferences", str(path), "--run-a", str(one["old"]),
                     "--run-b", str(two["newer"]))  # fmt: skip
    assert result.exit_code == 2
    assert f"runs {one['old']} and {two['newer']} answer different datasets" in result.stderr
    missing = run_cli("load", "preferences", str(path), "--run-a", str(one["old"]),
                      "--run-b", "9999")  # fmt: skip
    assert missing.exit_code == 2 and "no run 9999: see evaltool runs list" in missing.stderr
    half = run_cli("load", "preferences", str(path), "--run-a", str(one["old"]))
    assert half.exit_code == 2 and "give both --run-a and --run-b" in half.stderr


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"winner": "B", "reason": "more precise"}', ("b", "more precise")),
        ('Thinking... {"winner": "tie"}', ("tie", None)),
        ("After comparing: [[A]]", ("a", None)),
        ("[[C]]", ("tie", None)),
        ("Winner: B", ("b", None)),
        ("Both answers are similar.", None),
    ],
)
def test_pairwise_replies_are_read(reply: str, verdict: tuple | None) -> None:
    assert parse_preference(reply) == verdict


RUBRIC = "prefer\nreference: {{ expected }}\nA: {{ output_a }}\nB: {{ output_b }}\n"


def test_judge_command_through_a_real_server(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = make_arena(
        conn, ["base", "cand"],
        [{"id": "1", "input": "France?", "expected": "Paris", "outputs": ["Paris", "Lyon"]},
         {"id": "2", "input": "Peru?", "expected": "Lima", "outputs": ["Quito", "Lima"]},
         {"id": "3", "input": "2+2?", "expected": "4", "outputs": ["4", "4"]},
         {"id": "4", "input": "Any?", "expected": "always A", "outputs": ["x", "y"]},
         {"id": "5", "input": "Err?", "expected": "e", "outputs": [{"error": "500"}, "e"]},
         {"id": "6", "input": "Say?", "expected": "s", "outputs": ["mute", "s"]}],
    )  # fmt: skip
    rubric = tmp_path / "pairwise.j2"
    rubric.write_text(RUBRIC)
    monkeypatch.setattr(pairwise, "BATCH", 2)
    with ModelServer(api_key="sk-judge") as server:
        added = run_cli("models", "add", "judge", "--adapter", "openai", "--base-url",
                        f"{server.url}/v1", "--model-id", "judge-1")  # fmt: skip
        assert added.exit_code == 0, added.output
        args = ["preferences", "judge", str(runs["base"]), "cand", "--judge", "judge",
                "--rubric", str(rubric), "--json"]  # fmt: skip
        result = run_cli(*args, env={"OPENAI_API_KEY": "sk-judge"})
        assert result.exit_code == 0, result.output
        sent = server.questions()
        again = run_cli(*args, env={"OPENAI_API_KEY": "sk-judge"})
        resent = server.questions()[len(sent) :]
    summary = json.loads(result.output)
    assert summary | {"tally": None} == {
        "run_a": runs["base"], "run_b": runs["cand"], "judge": "judge", "shared": 6,
        "with_error": 1, "already_judged": 0, "judged": 4, "no_verdict": 1,
        "inconsistent": 1, "tally": None,
    }  # fmt: skip
    assert len(sent) == 10  # five pairs in both orders; the error response is not sent
    assert "prefer\nreference: Paris\nA: Lyon\nB: Paris\n" in sent  # shown as B, A too
    rows = conn.execute(
        """SELECT p.external_id, x.winner, x.judge_kind, x.judge, x.reason,
                  x.details -> 'consistent', jsonb_array_length(x.details -> 'orders')
           FROM evaltool.preference x JOIN evaltool.prompt p ON p.id = x.prompt_id ORDER BY 1"""
    ).fetchall()
    assert rows == [
        ("1", "a", "model", "judge", "A matches the reference", True, 2),
        ("2", "b", "model", "judge", "B matches the reference", True, 2),
        ("3", "tie", "model", "judge", "tie matches the reference", True, 2),
        ("4", "tie", "model", "judge", None, False, 2),  # [[A]] in both orders: position bias
    ]
    tally = summary["tally"]
    assert (tally["a_wins"], tally["b_wins"], tally["ties"]) == (1, 1, 2)
    assert tally["p_value"] == pytest.approx(1.0)
    # the second call sends only the pair that got no verdict, and adds nothing
    assert sorted(resent) == sorted(q for q in sent if "A: mute" in q or "B: mute" in q)
    assert json.loads(again.output)["already_judged"] == 4
    assert json.loads(again.output)["judged"] == 0
    same = run_cli("preferences", "judge", "cand", "cand", "--judge", "judge")
    assert same.exit_code == 2 and f"both run {runs['cand']}" in same.stderr
    other = make_arena(conn, ["elsewhere"], [{"id": "1", "input": "x", "outputs": ["y"]}])
    apart = run_cli("preferences", "judge", "base", "elsewhere", "--judge", "judge")
    assert apart.exit_code == 2
    assert f"runs {runs['base']} and {other['elsewhere']} answered no test case" in apart.stderr
    nobody = run_cli("preferences", "judge", "base", "cand", "--judge", "nobody")
    assert nobody.exit_code == 2 and "no model named 'nobody'" in nobody.stderr


def test_an_interrupted_judge_keeps_what_it_judged(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [{"id": str(i), "input": i, "expected": "r", "outputs": ["r", "w"]} for i in range(5)]
    cases[3]["outputs"] = ["crash", "w"]
    runs = make_arena(conn, ["base", "cand"], cases)
    rubric = tmp_path / "pairwise.j2"
    # a prompt starting with "badreq" gets a 400 from the server: not worth retrying
    crash = "{% if 'crash' in [output_a, output_b] %}badreq now{% else %}prefer{% endif %}\n"
    rubric.write_text(crash + RUBRIC.split("\n", 1)[1])
    monkeypatch.setattr(pairwise, "BATCH", 2)
    with ModelServer() as server:
        run_cli("models", "add", "judge", "--adapter", "openai", "--base-url",
                f"{server.url}/v1", "--model-id", "judge-1")  # fmt: skip
        args = ["preferences", "judge", str(runs["base"]), str(runs["cand"]), "--judge", "judge"]
        failed = run_cli(*args, "--rubric", str(rubric), env={"OPENAI_API_KEY": "k"})
        assert failed.exit_code == 2
        assert "the judge's call failed" in failed.stderr
        assert "2 verdicts are saved: the same command resumes" in failed.stderr
        assert conn.execute("SELECT count(*) FROM evaltool.preference").fetchone() == (2,)
        rubric.write_text(RUBRIC)
        resumed = run_cli(*args, "--rubric", str(rubric), "--one-order",
                          env={"OPENAI_API_KEY": "k"})  # fmt: skip
        assert resumed.exit_code == 0, resumed.output
    assert "3 pairs judged now" in resumed.output and "2 judged before" in resumed.output
    # case 3's A ("crash") and B both differ from the reference: a tie
    assert "A wins 4, B wins 0, ties 1; A's win rate 100.0% (51.0%..100.0%)" in resumed.output
    winners = conn.execute("SELECT winner, count(*) FROM evaltool.preference GROUP BY 1 ORDER BY 1")
    assert winners.fetchall() == [("a", 4), ("tie", 1)]


def test_ratings_and_winrates_commands(run_cli: RunCli, conn: psycopg.Connection) -> None:
    _judged_arena(conn, TALLY)
    table = run_cli("preferences", "ratings")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["rank", "model", "rating", "95%", "CI", "judgments", "wins",
                                "losses", "ties", "prior"]  # fmt: skip
    view = conn.execute("SELECT model, round(rating) FROM evaltool.model_rating").fetchall()
    assert [line.split()[1:3] for line in lines[1:]] == [[m, f"{r:,.0f}"] for m, r in view]
    assert lines[1].split()[0:2] == ["1", "m4"] and lines[1].endswith("  never lost")
    assert not any(line.endswith("never lost") for line in lines[2:])
    assert table.stderr == (
        "note: the prior alone sets the ratings of m4 (never lost): the judgments put no"
        " bound on them\n"
    )
    as_json = run_cli("preferences", "ratings", "--json")
    assert as_json.exit_code == 0 and as_json.stderr == table.stderr
    rows = json.loads(as_json.stdout)
    assert [r["model"] for r in rows] == [m for m, _ in view]
    assert [(r["component"], r["prior_bound"]) for r in rows] == [(1, True)] + [(1, False)] * 4
    rates = run_cli("preferences", "winrates", "--judge-kind", "human")
    assert rates.exit_code == 0
    assert "m0       m2" in rates.output and "88.2% (65.7%..96.7%)" in rates.output
    nobody = run_cli("preferences", "ratings", "--judge", "nobody")
    assert nobody.output == "no judgments between two different models yet\n"


def test_ratings_command_warns_of_separate_groups(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    # m0 beat m1, m2 beat m3, and nothing across: two groups, and a rating bound by the
    # prior at each end of each
    _judged_arena(conn, {("m0", "m1"): (3, 0, 0), ("m2", "m3"): (2, 0, 0)})
    table = run_cli("preferences", "ratings")
    assert table.exit_code == 0, table.output
    assert table.stderr.splitlines() == [
        "warning: the comparison graph has 2 separate groups: ratings are comparable only"
        " within a group",
        "note: the prior alone sets the ratings of m0 (never lost), m1 (never won),"
        " m2 (never lost), m3 (never won): the judgments put no bound on them",
    ]
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["group", "rank", "model"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["1", "1", "m0"], ["1", "2", "m1"], ["2", "1", "m2"], ["2", "2", "m3"],
    ]  # fmt: skip
    as_json = run_cli("preferences", "ratings", "--json")
    assert as_json.exit_code == 0 and "2 separate groups" in as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [(r["model"], r["component"], r["rank"]) for r in rows] == [
        ("m0", 1, 1), ("m1", 1, 2), ("m2", 2, 1), ("m3", 2, 2),
    ]  # fmt: skip
