"""Python scorers: python:module:function, the evaltool.scorers entry-point group, batches,
all-or-nothing writes, and llm_judge against a real model server on 127.0.0.1."""

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from evaltool import pyscorers
from evaltool.judge import parse_verdict
from tests.model_servers import ModelServer
from tests.scores import make_runs

RunCli = Callable[..., Result]

SCORERS = '''
BATCHES = []

def length_ratio(cases, arg):
    """Output length over expected length, capped at 1; passed above ARG."""
    BATCHES.append(len(cases))
    limit = float(arg) if arg else None
    out = []
    for c in cases:
        if c.expected is None:
            out.append(None)
            continue
        ratio = min(len(c.output_text) / len(c.expected), 1.0)
        out.append({"value": ratio, "passed": None if limit is None else ratio >= limit,
                    "details": {"chars": len(c.output_text)}})
    return out
length_ratio.version = "3"

async def shouts(cases, arg):
    return [c.output_text.isupper() for c in cases]

def broken(cases, arg):
    return [1.0]

def explodes(cases, arg):
    raise ValueError("no model file")

PREPARED = []

def judged(cases, arg):
    raise AssertionError("prepare() gives the function that scores")

def prepare_judged(arg):
    PREPARED.append(arg)
    return lambda cases, arg: [len(c.output_text) for c in cases]

judged.prepare = prepare_judged
'''


@pytest.fixture
def scorer_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of scorers importable as `myscorers`, and an installed distribution that
    registers one of them in the entry-point group as `length_ratio`."""
    (tmp_path / "myscorers.py").write_text(textwrap.dedent(SCORERS))
    dist = tmp_path / "myscorers-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myscorers\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[evaltool.scorers]\nlength_ratio = myscorers:length_ratio\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "myscorers"
    sys.modules.pop("myscorers", None)


def scores(conn: psycopg.Connection, run_id: int, metric: str) -> list[tuple]:
    return conn.execute(
        """SELECT p.external_id, s.value, s.passed, s.scorer, s.scorer_version, s.details
           FROM evaltool.score s JOIN evaltool.response x ON x.id = s.response_id
           JOIN evaltool.prompt p ON p.id = x.prompt_id
           WHERE x.run_id = %s AND s.metric = %s ORDER BY p.id""",
        (run_id, metric),
    ).fetchall()


def test_a_module_function_scores_in_batches(
    run_cli: RunCli, conn: psycopg.Connection, scorer_module: str
) -> None:
    n = 1200
    cases = [{"id": f"c{i}", "expected": "abcd", "outputs": ["ab"]} for i in range(n)]
    cases[0]["outputs"] = [{"error": "timeout"}]
    cases[1] = {"id": "c1", "outputs": ["no expected"]}
    (run_id,) = make_runs(conn, cases, runs=1)
    metric = f"python:{scorer_module}:length_ratio:0.4"
    result = run_cli("score", str(run_id), "--metric", metric)
    assert result.exit_code == 0, result.output
    got = scores(conn, run_id, metric)
    assert len(got) == n - 1  # c1 has no expected answer: no score
    assert got[0][:3] == ("c0", None, False)  # an error fails, has no value, is unseen
    assert got[1] == ("c2", 0.5, True, f"python:{scorer_module}:length_ratio", "3", {"chars": 2})
    module = sys.modules[scorer_module]
    assert module.BATCHES == [499, 500, 200]  # batches of 500 responses, less the error
    # Scoring again replaces the scores.
    assert run_cli("score", str(run_id), "--metric", metric).exit_code == 0
    assert len(scores(conn, run_id, metric)) == n - 1


def test_entry_point_scorers_and_async_ones(
    run_cli: RunCli, conn: psycopg.Connection, scorer_module: str
) -> None:
    assert "llm_judge" in pyscorers.registered()  # evaltool's own, from pyproject.toml
    (run_id,) = make_runs(
        conn, [{"id": "a", "expected": "HI", "outputs": ["HI"]},
               {"id": "b", "expected": "HI", "outputs": ["hi"]}], runs=1,
    )  # fmt: skip
    result = run_cli(
        "score", str(run_id), "--metric", "length_ratio",
        "--metric", f"python:{scorer_module}:shouts", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r[:3] for r in scores(conn, run_id, "length_ratio")] == [
        ("a", 1.0, None),
        ("b", 1.0, None),
    ]
    shouted = scores(conn, run_id, f"python:{scorer_module}:shouts")
    assert [(r[0], r[1], r[2]) for r in shouted] == [("a", 1.0, True), ("b", 0.0, False)]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("python:{m}:broken", "must return one result per case: 2 cases, got 1"),
        ("python:{m}:explodes", "scorer python:{m}:explodes failed: ValueError: no model file"),
        ("python:{m}:missing", "python scorer '{m}:missing': {m} has no function missing"),
        (
            "python:nosuchmodule:f",
            "python scorer 'nosuchmodule:f' does not import: ModuleNotFoundError",
        ),
        ("python:./nofile.py:f", "python scorer './nofile.py:f': no file ./nofile.py"),
        ("python:onlymodule", "--metric python:MODULE:FUNCTION[:ARG]"),
    ],
)
def test_scorer_mistakes_write_nothing(
    run_cli: RunCli, conn: psycopg.Connection, scorer_module: str, metric: str, message: str
) -> None:
    (run_id,) = make_runs(
        conn, [{"id": "a", "expected": "x", "outputs": ["x"]},
               {"id": "b", "expected": "x", "outputs": ["y"]}], runs=1,
    )  # fmt: skip
    metric = metric.format(m=scorer_module)
    result = run_cli("score", str(run_id), "--metric", "exact_match", "--metric", metric)
    assert result.exit_code == 2, result.output
    assert message.format(m=scorer_module) in result.stderr
    assert "Traceback" not in result.output
    assert conn.execute("SELECT count(*) FROM evaltool.score").fetchone() == (0,)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"score": 8, "pass": true, "reason": "ok"}', (0.8, True, "ok")),
        ('Sure. ```json\n{"score": 3, "reason": "wrong city"}\n```', (0.3, False, "wrong city")),
        ("Score: 4/5\nVerdict: PASS", (0.8, True, None)),
        ("SCORE = 2 / 4", (0.5, False, None)),
        ("verdict: incorrect", (0.0, False, None)),
        ('{"pass": true}', (1.0, True, None)),
        ("I cannot grade this.", None),
    ],
)
def test_judge_replies_are_read(reply: str, verdict: tuple | None) -> None:
    got = parse_verdict(reply)
    assert (got if got is None else (got["value"], got["passed"], got["reason"])) == verdict


def test_llm_judge_grades_through_a_registered_model(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    (run_id,) = make_runs(
        conn, [{"id": "a", "input": "Capital of France?", "expected": "Paris",
                "outputs": ["Paris"]},
               {"id": "b", "input": "Capital of Peru?", "expected": "Lima", "outputs": ["Quito"]},
               {"id": "c", "input": "2+2?", "expected": "4", "outputs": [{"error": "500"}]}],
        runs=1,
    )  # fmt: skip
    rubric = tmp_path / "rubric.j2"
    rubric.write_text(
        "grade\nquestion: {{ input }}\nreference: {{ expected }}\nanswer: {{ output }}\n"
    )
    with ModelServer(api_key="sk-judge") as server:
        added = run_cli(
            "models", "add", "judge", "--adapter", "openai", "--base-url", f"{server.url}/v1",
            "--model-id", "judge-1",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        metric = f"llm_judge:judge:{rubric}"
        result = run_cli(
            "score", str(run_id), "--metric", metric, env={"OPENAI_API_KEY": "sk-judge"}
        )
        assert result.exit_code == 0, result.output
        assert len(server.requests) == 2  # the error response is not sent to the judge
        sent = sorted(server.questions())
        nokey = run_cli("score", str(run_id), "--metric", metric)  # the server refuses
        assert nokey.exit_code == 2 and "the judge's call failed" in nokey.stderr
    assert sent[0] == "grade\nquestion: Capital of France?\nreference: Paris\nanswer: Paris\n"
    got = scores(conn, run_id, metric)
    assert [(r[0], r[1], r[2], r[3]) for r in got] == [
        ("a", 0.9, True, "llm_judge"),
        ("b", 0.2, False, "llm_judge"),
        ("c", None, False, "llm_judge"),  # an error response: failed, no value
    ]
    assert got[1][5]["reason"] == "differ" and got[1][5]["judge"] == "judge"

    nomodel = run_cli("score", str(run_id), "--metric", "llm_judge:nobody")
    assert nomodel.exit_code == 2
    assert "llm_judge: no model named 'nobody'" in nomodel.stderr


def test_a_scorer_prepares_once_for_all_batches(
    run_cli: RunCli, conn: psycopg.Connection, scorer_module: str
) -> None:
    """What a scorer resolves in prepare() (llm_judge: its model and rubric) is resolved
    once per scoring, not once per batch."""
    (run_id,) = make_runs(conn, [{"outputs": ["abc"]}] * 1200, runs=1)
    result = run_cli("score", str(run_id), "--metric", f"python:{scorer_module}:judged:x")
    assert result.exit_code == 0, result.output
    assert sys.modules[scorer_module].PREPARED == ["x"]
    assert {r[1] for r in scores(conn, run_id, f"python:{scorer_module}:judged:x")} == {3.0}
    from evaltool import judge

    assert judge.llm_judge.prepare is judge.prepare  # type: ignore[attr-defined]


def test_a_scorer_in_a_file_or_a_module_of_the_current_folder(
    run_cli: RunCli,
    conn: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """python:./file.py:function and python:module:function from the current folder, as
    for models; a case reads as case.output_text and case["output_text"]."""
    (run_id,) = make_runs(
        conn, [{"id": "a", "expected": "x", "outputs": ["x"]},
               {"id": "b", "expected": "x", "outputs": ["yy"]}], runs=1,
    )  # fmt: skip
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "local_scorers.py").write_text(
        "def long(cases, arg):\n"
        "    return [len(c['output_text']) > 1 for c in cases]\n"
        "def same(cases, arg):\n"
        "    return [c.output_text == c['expected'] for c in cases]\n"
    )
    (folder / "broken.py").write_text("def f(cases, arg)\n    return []\n")
    monkeypatch.chdir(folder)
    sys.modules.pop("local_scorers", None)
    result = run_cli(
        "score", str(run_id), "--metric", "python:./local_scorers.py:long",
        "--metric", "python:local_scorers:same",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r[:3] for r in scores(conn, run_id, "python:./local_scorers.py:long")] == [
        ("a", 0.0, False),
        ("b", 1.0, True),
    ]
    assert [r[:3] for r in scores(conn, run_id, "python:local_scorers:same")] == [
        ("a", 1.0, True),
        ("b", 0.0, False),
    ]
    broken = run_cli("score", str(run_id), "--metric", "python:./broken.py:f")
    assert broken.exit_code == 2
    assert broken.stderr.startswith(
        "Error: python scorer './broken.py:f' does not import: SyntaxError: "
    )
    assert broken.stderr.count("\n") == 1 and "Traceback" not in broken.output
    sys.modules.pop("local_scorers", None)


def test_no_transaction_stays_open_while_a_scorer_works(
    run_cli: RunCli, conn: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    """A judge takes minutes: a session idle in a transaction that long holds back
    vacuum. The scores are still written all at once, or not at all."""
    (run_id,) = make_runs(
        conn, [{"id": str(i), "expected": "x", "outputs": ["x"]} for i in range(3)], runs=1
    )
    seen = tmp_path / "seen.txt"
    (tmp_path / "slow.py").write_text(
        "import psycopg, time\n"
        "def check(cases, arg):\n"
        f"    with psycopg.connect({db_url!r}, autocommit=True) as c:\n"
        '        n = c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "\n'
        "                      \"current_database() AND state LIKE 'idle in transaction%'\")"
        ".fetchone()[0]\n"
        f"    with open({str(seen)!r}, 'a') as out:\n"
        "        out.write(f'{n}\\n')\n"
        "    return [True for c in cases]\n"
    )
    result = run_cli("score", str(run_id), "--metric", f"python:{tmp_path / 'slow.py'}:check")
    assert result.exit_code == 0, result.output
    assert seen.read_text() == "0\n"
