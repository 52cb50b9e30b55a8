"""`evaltool load training | responses | scores`, and the model registry they rely on."""

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result

RunCli = Callable[..., Result]


def write(path: Path, *docs: Any) -> Path:
    path.write_text("".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs))
    return path


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- training -------------------------------------------------------------------------------


def test_training_batches_load_as_they_are(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    batches = tmp_path / "batches"
    batches.mkdir()
    write(
        batches / "batch_001.jsonl",
        {"prompt": "test prompt 1", "enhancement": "enhanced 1"},
        {"prompt": "shared", "enhancement": "same"},
    )
    write(
        batches / "batch_002.jsonl",
        {"prompt": "shared", "enhancement": "same"},
        {
            "prompt": {"q": 1},
            "completion": ["a"],
            "priority": 900,
            "data_source": "prod",
            "model": "gen-3",
        },
    )
    first = ok(run_cli("load", "training", str(batches), "--source", "synthetic", "--json"))
    assert (first["read"], first["inserted"], first["duplicates"]) == (4, 3, 1)
    rows = conn.execute("""SELECT prompt, completion, data_source, priority, batch, batch_line,
                                  metadata FROM evaltool.training_example ORDER BY id""").fetchall()
    assert rows == [
        ("test prompt 1", "enhanced 1", "synthetic", 100, str(batches / "batch_001.jsonl"), 1, {}),
        ("shared", "same", "synthetic", 100, str(batches / "batch_001.jsonl"), 2, {}),
        ({"q": 1}, ["a"], "prod", 900, str(batches / "batch_002.jsonl"), 2, {"model": "gen-3"}),
    ]
    again = ok(run_cli("load", "training", str(batches), "--json"))
    assert (again["inserted"], again["duplicates"]) == (0, 4)


@pytest.mark.parametrize(
    "doc, reason",
    [
        ({"enhancement": "x"}, 'missing "prompt"'),
        ({"prompt": "p"}, 'missing "completion" (or "enhancement")'),
        (
            {"prompt": "p", "completion": "c", "enhancement": "e"},
            'give "completion" or "enhancement", not both',
        ),
        (
            {"prompt": "p", "completion": "c", "priority": 0},
            '"priority" must be a whole number from 1 to 1000',
        ),
        (
            {"prompt": "p", "completion": "c", "priority": 1.5},
            '"priority" must be a whole number from 1 to 1000',
        ),
        (
            {"prompt": "p", "completion": "c", "priority": "high"},
            '"priority" must be a whole number from 1 to 1000',
        ),
    ],
)
def test_training_line_errors(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, doc: dict[str, Any], reason: str
) -> None:
    source = write(tmp_path / "b.jsonl", {"prompt": "fine", "completion": "yes"}, doc)
    result = run_cli("load", "training", str(source))
    assert (result.exit_code, result.stderr) == (2, f"Error: {source}:2: {reason}\n")
    assert conn.execute("SELECT count(*) FROM evaltool.training_example").fetchone() == (0,)


# -- models ---------------------------------------------------------------------------------


def test_model_registry_keeps_price_and_parameter_history(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    assert (
        run_cli(
            "models",
            "add",
            "gpt",
            "--adapter",
            "openai",
            "--model-id",
            "gpt-4o",
            "--param",
            "temperature=0",
            "--param",
            'stop=["\\n"]',
        ).exit_code
        == 0
    )
    assert (
        run_cli(
            "models",
            "price",
            "gpt",
            "--input-per-mtok",
            "2.5",
            "--output-per-mtok",
            "10",
            "--from",
            "2026-01-01",
        ).exit_code
        == 0
    )
    assert (
        run_cli(
            "models", "price", "gpt", "--input-per-mtok", "2", "--output-per-mtok", "8"
        ).exit_code
        == 0
    )
    assert run_cli("models", "params", "gpt", "max_tokens=256").exit_code == 0
    prices = conn.execute("""SELECT input_usd_per_mtok, output_usd_per_mtok, valid_to IS NULL
                             FROM evaltool.model_pricing ORDER BY valid_from""").fetchall()
    assert prices == [(Decimal("2.5"), Decimal("10"), False), (Decimal("2"), Decimal("8"), True)]
    params = conn.execute("SELECT params FROM evaltool.model_params ORDER BY valid_from").fetchall()
    assert params == [
        ({"temperature": 0, "stop": ["\n"]},),
        ({"temperature": 0, "stop": ["\n"], "max_tokens": 256},),
    ]
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert [(m["name"], m["input_usd_per_mtok"], m["params"]["max_tokens"]) for m in listed] == [
        ("gpt", 2.0, 256)
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["models", "add", "m", "--adapter", "openai", "--base-url", "https://me:key@api.x/v1"],
            "Error: --base-url must not hold credentials: adapters read API keys from the "
            "environment (e.g. OPENAI_API_KEY)\n",
        ),
        (
            ["models", "price", "ghost", "--input-per-mtok", "1", "--output-per-mtok", "1"],
            "Error: no model named 'ghost': see evaltool models list\n",
        ),
        (
            ["models", "params", "ghost", "novalue"],
            "Error: 'novalue': expected KEY=VALUE, e.g. temperature=0.2\n",
        ),
    ],
)
def test_model_registry_errors(run_cli: RunCli, args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_older_price_than_the_current_one_is_refused(run_cli: RunCli) -> None:
    run_cli("models", "add", "m", "--adapter", "python", "--model-id", "examples.qa_models:v1")
    run_cli("models", "price", "m", "--input-per-mtok", "1", "--output-per-mtok", "1")
    result = run_cli(
        "models",
        "price",
        "m",
        "--input-per-mtok",
        "1",
        "--output-per-mtok",
        "1",
        "--from",
        "2020-01-01",
    )
    assert result.exit_code == 2
    assert "m already has a price from a later date" in result.stderr


# -- responses and scores ------------------------------------------------------------------


@pytest.fixture
def dataset(run_cli: RunCli, tmp_path: Path) -> Path:
    source = write(
        tmp_path / "qa.jsonl",
        {"id": "q1", "input": "2+2?", "expected": "4"},
        {"id": "q2", "input": {"text": "capital of France?"}, "expected": "Paris"},
        {"id": "q3", "input": "unanswered"},
    )
    assert run_cli("load", "prompts", str(source), "-d", "qa").exit_code == 0
    assert (
        run_cli("models", "add", "m1", "--adapter", "python", "--model-id", "mod:f").exit_code == 0
    )
    assert (
        run_cli(
            "models", "price", "m1", "--input-per-mtok", "3", "--output-per-mtok", "15"
        ).exit_code
        == 0
    )
    return source


def test_responses_into_a_new_run(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, dataset: Path
) -> None:
    source = write(
        tmp_path / "out.jsonl",
        {
            "id": "q1",
            "output": "4",
            "latency_ms": 120.5,
            "input_tokens": 1000,
            "output_tokens": 100,
            "finish_reason": "stop",
        },
        {
            "input": {"text": "capital of France?"},
            "output": {"answer": "Paris"},
            "cost_usd": 0.5,
            "status": "ok",
        },
        {"id": "q1", "output": "four"},  # the same test case again: a duplicate
    )
    result = ok(
        run_cli(
            "load",
            "responses",
            str(source),
            "--model",
            "m1",
            "--dataset",
            "qa",
            "--name",
            "nightly",
            "--json",
        )
    )
    assert (result["inserted"], result["duplicates"]) == (2, 1)
    run_id = int(result["target"].split()[1])
    assert result["created"] == [f"run {run_id}"]
    run = conn.execute("SELECT name, status, model_snapshot->>'name' FROM evaltool.run").fetchone()
    assert run == ("nightly", "completed", "m1")
    rows = conn.execute("""SELECT p.external_id, r.status, r.output, r.output_text, r.latency_ms,
                                  r.cost_usd, r.metadata
                           FROM evaltool.response r JOIN evaltool.prompt p ON p.id = r.prompt_id
                           ORDER BY p.external_id""").fetchall()
    assert rows == [
        # 1000 tokens at $3 and 100 at $15 per million: computed in SQL from the price in force
        ("q1", "ok", "4", "4", 120.5, Decimal("0.00450000"), {"finish_reason": "stop"}),
        ("q2", "ok", {"answer": "Paris"}, '{"answer": "Paris"}', None, Decimal("0.50000000"), {}),
    ]
    more = write(tmp_path / "more.jsonl", {"id": "q3", "error": "HTTP 429", "attempts": 4})
    again = ok(run_cli("load", "responses", str(more), "--run", str(run_id), "--json"))
    assert again["inserted"] == 1
    assert conn.execute(
        "SELECT status, error, attempts FROM evaltool.response WHERE error IS NOT NULL"
    ).fetchone() == ("error", "HTTP 429", 4)


@pytest.mark.parametrize(
    "doc, reason",
    [
        ({"id": "zz", "output": 1}, 'no test case with id "zz" in the run\'s dataset'),
        ({"input": "never seen", "output": 1}, "no test case with this input in the run's dataset"),
        ({"output": 1}, 'name the test case with "id" or "input"'),
        ({"id": "q1", "status": "done"}, '"status" must be ok or error'),
        ({"id": "q1", "status": "error"}, 'an error response needs an "error" message'),
        (
            {"id": "q1", "latency_ms": -1},
            "latency_ms, input_tokens, output_tokens, cost_usd and attempts must be numbers >= 0",
        ),
        (
            {"id": "q1", "input_tokens": 1.5},
            "input_tokens, output_tokens and attempts must be whole numbers",
        ),
        ({"id": "q1", "sample": 0}, '"sample" must be a whole number from 1 to 1000'),
        (
            {"id": "q1", "input": {"text": "capital of France?"}, "output": 1},
            '"id" "q1" and "input" name different test cases',
        ),
        ({"id": "q1", "sample": "2"}, '"sample" must be a whole number from 1 to 1000'),
        # valid JSON numbers that their columns cannot hold
        (
            '{"id": "q1", "latency_ms": 1e400}',
            '"latency_ms" is out of range (from 1e-300 to 1e300, or 0)',
        ),
        (
            {"id": "q1", "output_tokens": 2**63},
            '"output_tokens" is out of range (at most 9223372036854775807)',
        ),
        (
            {"id": "q1", "cost_usd": 1e10},
            '"cost_usd" is out of range (at most 9999999999.99999999)',
        ),
        ({"id": "q1", "attempts": 2**31}, '"attempts" is out of range (at most 2147483647)'),
        (
            '{"id": "q1", "latency_ms": 1e-400}',
            '"latency_ms" is out of range (from 1e-300 to 1e300, or 0)',
        ),
    ],
)
def test_response_line_errors(
    run_cli: RunCli,
    conn: psycopg.Connection,
    tmp_path: Path,
    dataset: Path,
    doc: dict[str, Any] | str,
    reason: str,
) -> None:
    source = write(tmp_path / "bad.jsonl", {"id": "q2", "output": "Paris"}, doc)
    result = run_cli("load", "responses", str(source), "--model", "m1", "--dataset", "qa")
    assert (result.exit_code, result.stderr) == (2, f"Error: {source}:2: {reason}\n")
    assert conn.execute("SELECT count(*) FROM evaltool.run").fetchone() == (0,)


def test_an_id_and_an_input_that_agree_load(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, dataset: Path
) -> None:
    source = write(tmp_path / "both.jsonl", {"id": "q1", "input": "2+2?", "output": "4"})
    result = run_cli("load", "responses", str(source), "--model", "m1", "--dataset", "qa", "--json")
    run_id = ok(result)["target"].split()[1]
    scores = write(
        tmp_path / "scores.jsonl",
        {"id": "q1", "input": "2+2?", "metric": "m", "passed": True},
        {"id": "q1", "input": "unanswered", "metric": "m", "passed": True},
    )
    refused = run_cli("load", "scores", str(scores), "--run", run_id)
    assert refused.stderr == f'Error: {scores}:2: "id" "q1" and "input" name different test cases\n'
    assert conn.execute("SELECT count(*) FROM evaltool.score").fetchone() == (0,)


def test_token_counts_past_two_to_the_31_are_kept(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, dataset: Path
) -> None:
    """Counts summed over batches or sessions pass 2^31: bigint columns (0019) keep them,
    and their cost is computed from them."""
    source = write(tmp_path / "big.jsonl", {"id": "q1", "output": "4", "input_tokens": 3 * 10**9})
    ok(run_cli("load", "responses", str(source), "--model", "m1", "--dataset", "qa", "--json"))
    assert conn.execute("SELECT input_tokens, cost_usd FROM evaltool.response").fetchone() == (
        3 * 10**9,
        Decimal("9000.00000000"),  # at $3 per million
    )


def test_responses_need_a_known_model_and_dataset(
    run_cli: RunCli, tmp_path: Path, dataset: Path
) -> None:
    source = write(tmp_path / "out.jsonl", {"id": "q1", "output": "4"})
    cases = [
        (
            ["--model", "ghost", "--dataset", "qa"],
            "no model named 'ghost': see evaltool models list",
        ),
        (["--model", "m1", "--dataset", "nope"], "no dataset nope: see evaltool datasets list"),
        (["--run", "999"], "no run 999"),
        ([], "give --run RUN, or --model and --dataset for a new run"),
    ]
    for args, message in cases:
        result = run_cli("load", "responses", str(source), *args)
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_scores_by_test_case_or_response_id(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, dataset: Path
) -> None:
    answers = write(
        tmp_path / "out.jsonl", {"id": "q1", "output": "4"}, {"id": "q2", "output": "Lyon"}
    )
    run_id = ok(
        run_cli("load", "responses", str(answers), "--model", "m1", "--dataset", "qa", "--json")
    )["target"].split()[1]
    response_id = conn.execute("SELECT min(id) FROM evaltool.response").fetchone()[0]
    scores = write(
        tmp_path / "scores.jsonl",
        {"id": "q1", "metric": "exact_match", "passed": True, "value": 1},
        {"input": {"text": "capital of France?"}, "metric": "exact_match", "passed": False},
        {
            "response_id": response_id,
            "metric": "judge",
            "value": 0.9,
            "details": {"reason": "correct"},
            "scorer": "gpt-judge",
        },
    )
    result = ok(run_cli("load", "scores", str(scores), "--run", run_id, "--json"))
    assert (result["inserted"], result["rejected"]) == (3, 0)
    assert conn.execute("""SELECT p.external_id, s.metric, s.value, s.passed, s.details, s.scorer
                           FROM evaltool.score s JOIN evaltool.response r ON r.id = s.response_id
                           JOIN evaltool.prompt p ON p.id = r.prompt_id
                           ORDER BY p.external_id, s.metric""").fetchall() == [
        ("q1", "exact_match", 1.0, True, {}, "imported"),
        ("q1", "judge", 0.9, None, {"reason": "correct"}, "gpt-judge"),
        ("q2", "exact_match", None, False, {}, "imported"),
    ]
    again = ok(run_cli("load", "scores", str(scores), "--run", run_id, "--json"))
    assert (again["inserted"], again["duplicates"]) == (0, 3)
    missing = write(
        tmp_path / "missing.jsonl", {"id": "q3", "metric": "exact_match", "passed": True}
    )
    failed = run_cli("load", "scores", str(missing), "--run", run_id)
    assert failed.stderr == f"Error: {missing}:1: the run has no response for this test case\n"
    # a number that double precision cannot hold is named, not a database error
    for number in ("1e400", "-1e400", "1e-400"):
        line = '{"id": "q1", "metric": "x", "value": ' + number + "}"
        huge = write(tmp_path / "huge.jsonl", line)
        refused = run_cli("load", "scores", str(huge), "--run", run_id)
        assert (refused.exit_code, refused.stderr) == (
            2,
            f'Error: {huge}:1: "value" is out of range'
            " (from -1e300 to 1e300; 0, or at least 1e-300 from it)\n",
        )


def test_samples_of_a_repeated_run_load_and_are_scored_by_sample(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, dataset: Path
) -> None:
    answers = write(
        tmp_path / "out.jsonl",
        {"id": "q1", "sample": 1, "output": "4"},
        {"id": "q1", "sample": 2, "output": "5"},
        {"id": "q1", "sample": 3, "output": "4"},
        {"id": "q2", "output": "Paris"},
    )
    loaded = ok(
        run_cli("load", "responses", str(answers), "--model", "m1", "--dataset", "qa", "--json")
    )
    run_id = loaded["target"].split()[1]
    assert loaded["inserted"] == 4
    # the run records the samples it holds
    assert conn.execute("SELECT repeats FROM evaltool.run").fetchone() == (3,)
    scores = write(
        tmp_path / "scores.jsonl",
        {"id": "q1", "sample": 2, "metric": "m", "passed": False},
        {"id": "q1", "sample": 3, "metric": "m", "passed": True},
        {"id": "q1", "metric": "m", "passed": True},
    )
    assert ok(run_cli("load", "scores", str(scores), "--run", run_id, "--json"))["inserted"] == 3
    got = conn.execute(
        "SELECT r.sample, r.output_text, s.passed, s.scoring_id IS NOT NULL"
        " FROM evaltool.score s JOIN evaltool.response r ON r.id = s.response_id ORDER BY 1"
    ).fetchall()
    assert got == [(1, "4", True, True), (2, "5", False, True), (3, "4", True, True)]
    # the three scores of one load, one metric and one scorer are one scoring
    assert conn.execute("SELECT metric, scorer, scores FROM evaltool.scoring").fetchall() == [
        ("m", "imported", 3)
    ]
