"""evaltool run in-process: adapters against real servers on 127.0.0.1, retries, errors,
costs, resume of error responses, and the rows each leaves in the database."""

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from evaltool import runner
from tests.model_servers import ModelServer

RunCli = Callable[..., Result]


def load_cases(run_cli: RunCli, tmp_path: Path, name: str, inputs: list[object]) -> None:
    source = tmp_path / f"{name}.jsonl"
    source.write_text(
        "".join(json.dumps({"id": f"c{i}", "input": x}) + "\n" for i, x in enumerate(inputs))
    )
    result = run_cli("load", "prompts", str(source), "-d", name, "--quiet")
    assert result.exit_code == 0, result.output


def responses(conn: psycopg.Connection, run_id: int) -> dict[str, tuple]:
    """external id -> (status, output, error, attempts, input_tokens, output_tokens, estimated)"""
    rows = conn.execute(
        "SELECT p.external_id, r.status, r.output, r.error, r.attempts, r.input_tokens,"
        " r.output_tokens, r.tokens_estimated FROM evaltool.response r"
        " JOIN evaltool.prompt p ON p.id = r.prompt_id WHERE r.run_id = %s",
        [run_id],
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def run_json(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_python_model_end_to_end(run_cli: RunCli, conn: psycopg.Connection) -> None:
    assert run_cli("load", "prompts", "examples/qa.jsonl", "-d", "qa", "--quiet").exit_code == 0
    added = run_cli(
        "models", "add", "v1", "--adapter", "python", "--model-id", "examples.qa_models:v1"
    )
    assert added.exit_code == 0, added.output
    # a price that ended before the run, and the one in force during it
    conn.execute(
        "INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok, output_usd_per_mtok,"
        " valid_from, valid_to) SELECT id, 100, 100, now() - interval '2 days',"
        " now() - interval '1 day' FROM evaltool.model WHERE name = 'v1'"
    )
    conn.commit()
    assert run_cli("models", "price", "v1", "--input-per-mtok", "2", "--output-per-mtok", "4")
    summary = run_json(run_cli("run", "v1", "qa", "--tag", "nightly", "--json", "--name", "n1"))
    assert (summary["status"], summary["test_cases"], summary["ok"], summary["errors"]) == (
        "completed",
        12,
        12,
        0,
    )
    run_id = summary["run_id"]
    got = responses(conn, run_id)
    assert got["arith-1"][:2] == ("ok", "42")
    assert got["arith-3"][1] == "1000"  # v1's known mistake
    assert got["json-1"][1] == {"ok": True}
    assert got["table-1"][1] == "setosa"
    assert all(r[6] for r in got.values()), "a Python model's tokens are estimates"
    # cost of each response: its tokens at the price in force at the call (2 and 4 $/Mtok)
    wrong = conn.execute(
        "SELECT count(*) FROM evaltool.response WHERE run_id = %s"
        " AND cost_usd <> round((input_tokens * 2 + output_tokens * 4) / 1e6, 8)",
        [run_id],
    ).fetchone()
    assert wrong == (0,)
    run = conn.execute(
        "SELECT status, name, tags, git_revision, model_snapshot ->> 'model_id',"
        " model_snapshot -> 'pricing' ->> 'input_usd_per_mtok', started_at <= finished_at,"
        " (SELECT count(*) FROM evaltool.run_task t WHERE t.run_id = r.id)"
        " FROM evaltool.run r WHERE id = %s",
        [run_id],
    ).fetchone()
    assert run is not None
    assert run[:3] == ("completed", "n1", ["nightly"])
    assert run[3] and len(run[3].removesuffix("-dirty")) == 40  # tests run in a git checkout
    assert run[4:] == ("examples.qa_models:v1", "2.000000", True, 0)
    assert summary["cost_usd"] == pytest.approx(
        float(conn.execute("SELECT sum(cost_usd) FROM evaltool.response").fetchone()[0])
    )


def test_openai_adapter_sends_model_params_headers_and_key(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, "qa", ["What is 2+2?", [{"role": "user", "content": "Hi"}]])
    with ModelServer(api_key="sk-test") as server:
        added = run_cli(
            "models", "add", "local", "--adapter", "openai", "--base-url", f"{server.url}/v1",
            "--model-id", "llama-3", "--param", "temperature=0", "--param", "max_tokens=5",
            "--header", "X-Team: ${TEAM}",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        env = {"OPENAI_API_KEY": "sk-test", "TEAM": "evals"}
        summary = run_json(run_cli("run", "local", "qa", "--json", env=env))
    assert summary["ok"] == 2
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer sk-test"
    assert sent["headers"]["x-team"] == "evals"
    assert sent["body"]["model"] == "llama-3"
    assert (sent["body"]["temperature"], sent["body"]["max_tokens"]) == (0, 5)
    got = responses(conn, summary["run_id"])
    assert got["c0"] == ("ok", "ANSWER: What is 2+2?", None, 1, 12, 20, False)
    metadata = conn.execute("SELECT metadata FROM evaltool.response LIMIT 1").fetchone()[0]
    assert metadata["finish_reason"] == "stop" and metadata["usage"]["prompt_tokens"] > 0
    # the key never reaches the database
    stored = conn.execute(
        "SELECT count(*) FROM evaltool.model m, evaltool.run r"
        " WHERE m.config::text LIKE '%%sk-test%%' OR r.model_snapshot::text LIKE '%%sk-test%%'"
    ).fetchone()
    assert stored == (0,)


def test_retries_timeouts_and_bad_answers_become_rows(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = ["429once a", "429date b", "503twice c", "drop d", "500always e", "slow f",
                 "malformed g", "noshape h", "badreq i", "plain j"]  # fmt: skip
    load_cases(run_cli, tmp_path, "qa", questions)
    waits: list[tuple[float | None, float]] = []  # (the server's Retry-After, the wait)
    real_backoff = runner.backoff

    def backoff(attempt: int, retry_after: float | None) -> float:
        waits.append((retry_after, real_backoff(attempt, retry_after)))
        return waits[-1][1]

    monkeypatch.setattr(runner, "backoff", backoff)
    with ModelServer() as server:
        run_cli("models", "add", "m", "--adapter", "openai", "--base-url", f"{server.url}/v1")
        summary = run_json(
            run_cli("run", "m", "qa", "--json", "--timeout", "1", "--max-retries", "2",
                    "--concurrency", "10")
        )  # fmt: skip
    assert (summary["ok"], summary["errors"], summary["status"]) == (5, 5, "completed")
    got = responses(conn, summary["run_id"])
    for ok, attempts in [("c0", 2), ("c1", 2), ("c2", 3), ("c3", 2), ("c9", 1)]:
        assert got[ok][0] == "ok" and got[ok][3] == attempts, (ok, got[ok])
    assert got["c4"][0::2][:2] == ("error", "HTTP 500: internal error")
    assert got["c4"][3] == 3  # one call and two retries
    assert got["c5"][2] == "timed out after 1 s" and got["c5"][3] == 3
    assert got["c6"][2].startswith("malformed response: <html>upstream hiccup")
    assert got["c7"][2].startswith("malformed response:")
    assert got["c8"][2:4] == ("HTTP 400: context length exceeded", 1)  # not retried
    # Retry-After was honoured, as seconds (1) and as an HTTP date (1 to 2 s ahead, less
    # the time its answer took to arrive): the worker waited at least that long
    hinted = [(hint, wait) for hint, wait in waits if hint is not None]
    assert len(hinted) == 2 and 1.0 in [hint for hint, _ in hinted], waits
    assert all(0.0 <= hint <= 2.0 and wait >= hint for hint, wait in hinted), waits


def test_anthropic_adapter(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    load_cases(run_cli, tmp_path, "qa", [chat, "429once x"])
    with ModelServer(api_key="ak-test") as server:
        run_cli(
            "models", "add", "claude", "--adapter", "anthropic", "--base-url", server.url,
            "--model-id", "claude-x", "--param", "temperature=0.5",
        )  # fmt: skip
        summary = run_json(
            run_cli("run", "claude", "qa", "--json", env={"ANTHROPIC_API_KEY": "ak-test"})
        )
    assert summary["ok"] == 2
    sent = next(r for r in server.requests if r["question"] == "Hi there")
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "ak-test"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["system"] == "Be brief."
    assert sent["body"]["messages"] == [{"role": "user", "content": "Hi there"}]
    assert (sent["body"]["max_tokens"], sent["body"]["temperature"]) == (1024, 0.5)
    got = responses(conn, summary["run_id"])
    assert got["c0"] == ("ok", "ANSWER: Hi there", None, 1, 8, 16, False)
    assert got["c1"][0] == "ok" and got["c1"][3] == 2


def test_rejected_key_stops_the_run_and_resume_finishes_it(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, "qa", [f"q{i}" for i in range(5)])
    with ModelServer(api_key="right") as server:
        run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
        failed = run_cli("run", "m", "qa", env={"OPENAI_API_KEY": "wrong"})
        assert failed.exit_code == 2
        assert "run 1 stopped: API key rejected (HTTP 401: invalid api key)" in failed.stderr
        assert "evaltool run --resume 1" in failed.stderr
        assert "Traceback" not in failed.output
        state = conn.execute(
            "SELECT status, metadata ->> 'error', (SELECT count(*) FROM evaltool.response),"
            " (SELECT count(*) FROM evaltool.run_task WHERE leased_by IS NULL)"
            " FROM evaltool.run"
        ).fetchone()
        assert state == ("failed", "API key rejected (HTTP 401: invalid api key)", 0, 5)
        resumed = run_json(
            run_cli("run", "--resume", "1", "--json", env={"OPENAI_API_KEY": "right"})
        )
    assert (resumed["status"], resumed["ok"], resumed["pending"]) == ("completed", 5, 0)


def test_resume_retry_errors_replaces_only_error_responses(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, "qa", ["badreq a", "plain b"])
    with ModelServer() as server:
        run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
        first = run_json(run_cli("run", "m", "qa", "--json"))
        assert (first["ok"], first["errors"]) == (1, 1)
        ok_before = conn.execute(
            "SELECT id, updated_at FROM evaltool.response WHERE status = 'ok'"
        ).fetchone()
        finished = conn.execute("SELECT finished_at FROM evaltool.run").fetchone()
        nothing = run_json(run_cli("run", "--resume", "1", "--json"))
        assert (nothing["ok"], nothing["errors"]) == (1, 1)  # errors stay without the flag
        assert nothing["worker"]["ok"] == 0
        assert conn.execute("SELECT finished_at FROM evaltool.run").fetchone() == finished
        conn.execute("UPDATE evaltool.prompt SET input = '\"plain a\"' WHERE external_id = 'c0'")
        conn.commit()
        again = run_json(run_cli("run", "--resume", "1", "--retry-errors", "--json"))
    assert (again["ok"], again["errors"], again["test_cases"]) == (2, 0, 2)
    fixed = conn.execute(
        "SELECT r.status, r.attempts, r.error FROM evaltool.response r"
        " JOIN evaltool.prompt p ON p.id = r.prompt_id WHERE p.external_id = 'c0'"
    ).fetchone()
    assert fixed == ("ok", 2, None)  # one failed attempt, then one good one
    assert (
        conn.execute(
            "SELECT r.id, r.updated_at FROM evaltool.response r JOIN evaltool.prompt p"
            " ON p.id = r.prompt_id WHERE p.external_id = 'c1'"
        ).fetchone()
        == ok_before
    )
    assert server.questions().count("plain b") == 1


def test_command_adapter(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    load_cases(run_cli, tmp_path, "qa", ["hello", {"n": 2}])
    script = "import json,sys; x=json.load(sys.stdin); print(json.dumps({'echo': x}))"
    run_cli("models", "add", "echo", "--adapter", "command", "--model-id", f'python3 -c "{script}"')
    run_cli(
        "models", "add", "boom", "--adapter", "command", "--model-id", "echo bad input >&2; exit 3"
    )
    echoed = run_json(run_cli("run", "echo", "qa", "--json"))
    got = responses(conn, echoed["run_id"])
    assert got["c0"][:2] == ("ok", {"echo": "hello"})
    assert got["c1"][:2] == ("ok", {"echo": {"n": 2}})
    failed = run_json(run_cli("run", "boom", "qa", "--json"))
    assert {r[:3] for r in responses(conn, failed["run_id"]).values()} == {
        ("error", None, "exit 3: bad input")
    }


def test_python_model_failures(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(
        "def model(x):\n"
        "    if x == 'raise':\n        raise ValueError('cannot answer')\n"
        "    if x == 'nan':\n        return {'score': float('nan')}\n"
        "    return 'a\\x00b'\n"
    )
    load_cases(run_cli, tmp_path, "qa", ["raise", "nan", "nul"])
    run_cli(
        "models", "add", "flaky", "--adapter", "python", "--model-id", f"{tmp_path}/flaky.py:model"
    )
    summary = run_json(run_cli("run", "flaky", "qa", "--json"))
    got = responses(conn, summary["run_id"])
    assert got["c0"][:3] == ("error", None, "ValueError: cannot answer")
    assert got["c1"][0] == "error" and "not storable JSON" in got["c1"][2]
    assert got["c2"][:2] == ("ok", "a\ufffdb")
    # a model that cannot be imported: one line, exit 2, and no run left behind
    run_cli("models", "add", "ghost", "--adapter", "python", "--model-id", "no_such_mod:f")
    missing = run_cli("run", "ghost", "qa")
    assert missing.exit_code == 2
    assert "python model 'no_such_mod:f' does not import: ModuleNotFoundError" in missing.stderr
    assert conn.execute("SELECT count(*) FROM evaltool.run").fetchone() == (1,)


def test_limit_and_seeded_sample(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    load_cases(run_cli, tmp_path, "qa", [f"q{i}" for i in range(30)])
    run_cli("models", "add", "v1", "--adapter", "python", "--model-id", "examples.qa_models:v1")

    def cases(*args: str) -> list[str]:
        run_id = run_json(run_cli("run", "v1", "qa", "--json", *args))["run_id"]
        return sorted(responses(conn, run_id))

    assert cases("--limit", "3") == ["c0", "c1", "c2"]
    first, again, other = (
        cases("--sample", "5", "--seed", "a"),
        cases("--sample", "5", "--seed", "a"),
        cases("--sample", "5", "--seed", "b"),
    )
    assert len(first) == 5 and first == again and first != other
    seed = conn.execute("SELECT metadata -> 'sample' FROM evaltool.run ORDER BY id DESC LIMIT 1")
    assert seed.fetchone()[0] == {"n": 5, "seed": "b"}


def test_rpm_spaces_the_requests(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    load_cases(run_cli, tmp_path, "qa", [f"q{i}" for i in range(6)])
    with ModelServer() as server:
        run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
        run_id = run_json(
            run_cli("run", "m", "qa", "--json", "--rpm", "120", "--concurrency", "6")
        )["run_id"]
    assert len(server.requests) == 6  # one call each
    # 2 a second with a burst of 2: by the start times the worker stored, the 6th call
    # started 2 s after the 1st (a bucket never holds more than 2; a slow machine only
    # spaces the calls more)
    (first, last, calls) = conn.execute(
        "SELECT min(started_at), max(started_at), count(*) FROM evaltool.response"
        " WHERE run_id = %s",
        [run_id],
    ).fetchone()
    assert calls == 6 and last - first >= timedelta(seconds=1.9)


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give MODEL DATASET, or --resume RUN, or --worker RUN"),
        (["--resume", "1", "--worker", "1"], "give MODEL DATASET, or --resume RUN"),
        (["m", "qa", "--retry-errors"], "--retry-errors goes with --resume RUN"),
        (["nope", "qa"], "no model named 'nope': see evaltool models list"),
        (["m", "nope"], "no dataset nope"),
        (["--resume", "99"], "no run 99"),
        (["m", "qa", "--limit", "2", "--sample", "2"], "--limit and --sample are alternatives"),
    ],
)
def test_usage_errors(run_cli: RunCli, tmp_path: Path, args: list[str], message: str) -> None:
    load_cases(run_cli, tmp_path, "qa", ["x"])
    run_cli("models", "add", "m", "--adapter", "openai", "--base-url", "http://127.0.0.1:9")
    result = run_cli("run", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_openai_without_key_is_refused_before_any_run(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, "qa", ["x"])
    run_cli("models", "add", "gpt", "--adapter", "openai")
    result = run_cli("run", "gpt", "qa")
    assert result.exit_code == 2
    assert "$OPENAI_API_KEY is not set" in result.stderr
    assert conn.execute("SELECT count(*) FROM evaltool.run").fetchone() == (0,)


def test_python_model_id_must_name_a_function(run_cli: RunCli) -> None:
    result = run_cli("models", "add", "m", "--adapter", "python", "--model-id", "mymodule")
    assert result.exit_code == 2
    assert "--model-id must be module:function or path/to/file.py:function" in result.stderr
    assert run_cli("models", "list", "--json").stdout.strip() == "[]"


def test_credentials_in_headers_must_come_from_the_environment(run_cli: RunCli) -> None:
    result = run_cli(
        "models", "add", "m", "--adapter", "openai", "--header", "Authorization: Bearer sk-1"
    )
    assert result.exit_code == 2
    assert "header Authorization holds a credential: write it as ${VAR}" in result.stderr


def test_costs_are_null_without_a_price(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, "qa", ["x"])
    run_cli("models", "add", "v1", "--adapter", "python", "--model-id", "examples.qa_models:v1")
    summary = run_json(run_cli("run", "v1", "qa", "--json"))
    assert summary["cost_usd"] is None and summary["input_tokens"] > 0
    assert isinstance(
        conn.execute("SELECT sum(input_tokens) FROM evaltool.response").fetchone()[0], int | Decimal
    )


def test_models_add_exist_ok(run_cli: RunCli) -> None:
    args = ["models", "add", "v1", "--adapter", "python", "--model-id", "examples.qa_models:v1"]
    assert run_cli(*args).stdout == "registered model v1 (python)\n"
    again = run_cli(*args, "--exist-ok")
    assert (again.exit_code, again.stdout) == (0, "kept existing model v1 (python)\n")
    assert run_cli(*args).exit_code == 2  # without the flag a clash is an error
    other = run_cli(*args[:-1], "examples.qa_models:v2", "--exist-ok")
    assert other.exit_code == 2
    assert "exists with another adapter or model id" in other.stderr


def test_bedrock_adapter_through_boto3(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    load_cases(run_cli, tmp_path, "qa", [chat, "429once x", "badreq y"])
    aws = {
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    with ModelServer() as server:
        added = run_cli(
            "models", "add", "nova", "--adapter", "bedrock", "--model-id", "amazon.nova-lite-v1:0",
            "--base-url", server.url, "--region", "eu-west-1", "--param", "max_tokens=64",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        summary = run_json(run_cli("run", "nova", "qa", "--json", env=aws))
    assert (summary["ok"], summary["errors"]) == (2, 1)
    sent = next(r for r in server.requests if r["question"] == "Hi")
    assert sent["path"] == "/model/amazon.nova-lite-v1%3A0/converse"
    assert sent["body"]["system"] == [{"text": "Be brief."}]
    assert sent["body"]["inferenceConfig"] == {"maxTokens": 64}
    assert "/eu-west-1/bedrock/aws4_request" in sent["headers"]["authorization"]
    got = responses(conn, summary["run_id"])
    assert got["c0"] == ("ok", "ANSWER: Hi", None, 1, 2, 10, False)
    assert got["c1"][0] == "ok" and got["c1"][3] == 2  # throttled once, retried by evaltool
    assert got["c2"][:4] == ("error", None, "ValidationException: input too long", 1)


def test_run_snapshots_take_the_price_and_params_in_force(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    run_cli(
        "models",
        "add",
        "m",
        "--adapter",
        "python",
        "--model-id",
        "mod:f",
        "--param",
        "temperature=0",
    )
    run_cli("models", "price", "m", "--input-per-mtok", "1", "--output-per-mtok", "2")
    # a parameter change scheduled for tomorrow is not in force yet
    conn.execute(
        "UPDATE evaltool.model_params SET valid_to = now() + interval '1 day';"
        " INSERT INTO evaltool.model_params (model_id, params, valid_from)"
        " SELECT id, '{\"temperature\": 1}', now() + interval '1 day' FROM evaltool.model"
    )
    row = conn.execute(
        "SELECT evaltool.model_params_at(id, now()),"
        " evaltool.model_snapshot(id, now()) -> 'pricing' ->> 'output_usd_per_mtok',"
        " evaltool.model_snapshot(id, now()) ->> 'name',"
        " evaltool.model_params_at(id, now() + interval '2 days') FROM evaltool.model"
    ).fetchone()
    assert row == ({"temperature": 0}, "2.000000", "m", {"temperature": 1})


def test_repeats_ask_each_case_k_times_and_retry_per_sample(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, "qa", ["badreq a", "plain b", "plain c"])
    with ModelServer() as server:
        run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
        run_cli("models", "price", "m", "--input-per-mtok", "1", "--output-per-mtok", "2")
        first = run_json(run_cli("run", "m", "qa", "--repeats", "4", "--json"))
        # three test cases, four samples each: twelve calls, the bad request's four fail
        assert (first["test_cases"], first["repeats"], first["ok"], first["errors"]) == (
            3,
            4,
            8,
            4,
        )
        samples = conn.execute(
            "SELECT p.external_id, array_agg(r.sample ORDER BY r.sample)"
            " FROM evaltool.response r JOIN evaltool.prompt p ON p.id = r.prompt_id"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert samples == [(c, [1, 2, 3, 4]) for c in ("c0", "c1", "c2")]
        assert sorted(server.questions()) == sorted(["badreq a", "plain b", "plain c"] * 4)
        assert conn.execute(
            "SELECT count(*) FROM evaltool.response WHERE status = 'ok' AND cost_usd > 0"
        ).fetchone() == (8,)
        ok_before = conn.execute(
            "SELECT array_agg(updated_at ORDER BY id) FROM evaltool.response WHERE status = 'ok'"
        ).fetchone()
        conn.execute("UPDATE evaltool.prompt SET input = '\"plain a\"' WHERE external_id = 'c0'")
        conn.commit()
        again = run_json(run_cli("run", "--resume", "1", "--retry-errors", "--json"))
    assert (again["test_cases"], again["ok"], again["errors"], again["pending"]) == (3, 12, 0, 0)
    # the four failed samples were asked again, once each; the ok ones were left alone
    assert server.questions().count("plain a") == 4
    assert (
        conn.execute(
            "SELECT array_agg(updated_at ORDER BY id) FROM evaltool.response"
            " WHERE status = 'ok' AND prompt_id <> (SELECT id FROM evaltool.prompt"
            " WHERE external_id = 'c0')"
        ).fetchone()
        == ok_before
    )
    assert run_cli("run", "--resume", "1", "--repeats", "2").exit_code == 2
