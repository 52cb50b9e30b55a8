"""More providers and streaming, end to end against a real server on 127.0.0.1: Azure
OpenAI's deployments, Gemini's and Ollama's OpenAI-compatible paths, and streamed answers
(OpenAI, Azure, Anthropic) with the time to their first token in the stored response."""

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from evaltool.adapters import azure
from tests.model_servers import ModelServer

RunCli = Callable[..., Result]
GEMINI = "https://generativelanguage.googleapis.com/v1beta/openai"


@pytest.fixture
def qa(run_cli: RunCli, tmp_path: Path) -> str:
    """A dataset of three questions."""
    source = tmp_path / "qa.jsonl"
    cases = ["hello there", "what is 2+2?", [{"role": "user", "content": "hi"}]]
    source.write_text(
        "".join(json.dumps({"id": f"c{i}", "input": x}) + "\n" for i, x in enumerate(cases))
    )
    loaded = run_cli("load", "prompts", str(source), "-d", "qa", "--quiet")
    assert loaded.exit_code == 0, loaded.output
    return "qa"


def add(run_cli: RunCli, name: str, *args: str) -> None:
    added = run_cli("models", "add", name, *args)
    assert added.exit_code == 0, added.output


def run(run_cli: RunCli, model: str, dataset: str, *args: str, env: dict[str, str]) -> dict:
    result = run_cli("run", model, dataset, "--json", *args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(conn: psycopg.Connection, run_id: int) -> dict[str, tuple]:
    """external id -> (status, output_text, input_tokens, output_tokens, estimated,
    first_token_ms, latency_ms, attempts, error)"""
    rows = conn.execute(
        "SELECT p.external_id, r.status, r.output_text, r.input_tokens, r.output_tokens,"
        " r.tokens_estimated, r.first_token_ms, r.latency_ms, r.attempts, r.error"
        " FROM evaltool.response r JOIN evaltool.prompt p ON p.id = r.prompt_id"
        " WHERE r.run_id = %s",
        [run_id],
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def config(conn: psycopg.Connection, name: str) -> dict:
    row = conn.execute("SELECT config FROM evaltool.model WHERE name = %s", [name]).fetchone()
    assert row is not None
    return dict(row[0])


# -- Azure OpenAI -------------------------------------------------------------------------------


def test_azure_calls_the_deployment_with_its_api_version_and_key(
    run_cli: RunCli, conn: psycopg.Connection, qa: str
) -> None:
    with ModelServer(api_key="az-secret") as server:
        add(run_cli, "gpt4o-az", "--adapter", "azure", "--base-url", server.url,
            "--model-id", "my-gpt-4o", "--api-version", "2025-01-01-preview",
            "--param", "temperature=0")  # fmt: skip
        env = {"AZURE_OPENAI_API_KEY": "az-secret", "OPENAI_API_KEY": "sk-not-for-azure"}
        summary = run(run_cli, "gpt4o-az", qa, env=env)
    assert (summary["ok"], summary["errors"]) == (3, 0)
    sent = server.requests[0]
    assert sent["path"] == (
        "/openai/deployments/my-gpt-4o/chat/completions?api-version=2025-01-01-preview"
    )
    assert sent["headers"]["api-key"] == "az-secret"
    assert "authorization" not in sent["headers"]
    assert "model" not in sent["body"]  # the deployment is the model
    assert sent["body"]["temperature"] == 0
    got = stored(conn, summary["run_id"])
    assert got["c0"][:6] == ("ok", "ANSWER: hello there", 11, 19, False, None)
    assert config(conn, "gpt4o-az") == {"base_url": server.url, "api_version": "2025-01-01-preview"}
    provider = conn.execute(
        "SELECT pv.name FROM evaltool.model m JOIN evaltool.provider pv ON pv.id = m.provider_id"
        " WHERE m.name = 'gpt4o-az'"
    ).fetchone()
    assert provider == ("azure",)


def test_azure_takes_a_deployment_url_as_the_portal_shows_it(
    run_cli: RunCli, conn: psycopg.Connection, qa: str
) -> None:
    with ModelServer() as server:
        url = f"{server.url}/openai/deployments/dep-2/chat/completions?api-version=2024-06-01"
        add(run_cli, "az", "--adapter", "azure", "--base-url", url)
        summary = run(run_cli, "az", qa, "--limit", "1", env={"AZURE_OPENAI_API_KEY": "k"})
    assert summary["ok"] == 1
    assert server.requests[0]["path"] == (
        "/openai/deployments/dep-2/chat/completions?api-version=2024-06-01"
    )


def test_azure_with_an_entra_id_token_needs_no_key(
    run_cli: RunCli, conn: psycopg.Connection, qa: str
) -> None:
    with ModelServer() as server:
        add(run_cli, "az", "--adapter", "azure", "--base-url", server.url, "--model-id", "d",
            "--header", "Authorization: Bearer ${AZ_TOKEN}")  # fmt: skip
        summary = run(run_cli, "az", qa, "--limit", "1", env={"AZ_TOKEN": "entra-token"})
    assert summary["ok"] == 1
    headers = server.requests[0]["headers"]
    assert headers["authorization"] == "Bearer entra-token" and "api-key" not in headers
    assert server.requests[0]["path"].endswith("?api-version=2024-10-21")  # the default


def test_azure_without_a_key_says_which_variable(run_cli: RunCli, qa: str) -> None:
    add(run_cli, "az", "--adapter", "azure", "--base-url", "http://127.0.0.1:9", "--model-id", "d")
    result = run_cli("run", "az", qa)
    assert result.exit_code != 0
    assert "$AZURE_OPENAI_API_KEY is not set: Azure OpenAI needs a key" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--adapter", "azure", "--model-id", "d"],
         "Error: an azure model needs --base-url, its resource's endpoint"),
        (["--adapter", "openai", "--api-version", "2024-10-21"],
         "Error: --api-version is for azure models, not openai"),
        (["--adapter", "azure", "--base-url", "https://r.openai.azure.com", "--api-version",
          "2024-10-21&x=1"], "Error: --api-version '2024-10-21&x=1': expected e.g. 2024-10-21"),
        (["--adapter", "python", "--model-id", "m:f", "--stream"],
         "Error: --stream is for openai, azure and anthropic models, not python"),
    ],
)  # fmt: skip
def test_settings_the_adapter_has_no_use_for_are_refused(
    run_cli: RunCli, args: list[str], message: str
) -> None:
    result = run_cli("models", "add", "m", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_the_help_names_the_default_api_version(run_cli: RunCli) -> None:
    shown = run_cli("models", "add", "--help")
    assert f"(azure; default {azure.DEFAULT_API_VERSION})" in " ".join(shown.output.split())


def test_update_sets_the_api_version_and_streaming(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    add(run_cli, "az", "--adapter", "azure", "--base-url", "https://r.openai.azure.com")
    updated = run_cli("models", "update", "az", "--api-version", "2025-01-01-preview", "--stream")
    assert updated.exit_code == 0, updated.output
    assert updated.stdout == (
        "updated model az: base_url https://r.openai.azure.com, api_version "
        "2025-01-01-preview, stream True\n"
    )
    assert run_cli("models", "update", "az", "--no-stream", "--unset", "api_version").exit_code == 0
    assert config(conn, "az") == {"base_url": "https://r.openai.azure.com"}
    add(run_cli, "py", "--adapter", "python", "--model-id", "m:f")
    refused = run_cli("models", "update", "py", "--stream")
    assert refused.exit_code == 2
    assert "--stream is for openai, azure and anthropic models, not python" in refused.stderr


# -- Gemini and Ollama through the openai adapter -----------------------------------------------


def test_gemini_registers_as_documented_and_gets_its_own_key(
    run_cli: RunCli, conn: psycopg.Connection, qa: str
) -> None:
    add(run_cli, "gemini", "--adapter", "openai", "--base-url", GEMINI,
        "--api-key-env", "GEMINI_API_KEY", "--model-id", "gemini-2.5-flash")  # fmt: skip
    assert config(conn, "gemini") == {"base_url": GEMINI, "api_key_env": "GEMINI_API_KEY"}
    with ModelServer(api_key="gm-key") as server:  # the same paths, on 127.0.0.1
        moved = run_cli("models", "update", "gemini", "--base-url", f"{server.url}/v1beta/openai/")
        assert moved.exit_code == 0, moved.output
        env = {"GEMINI_API_KEY": "gm-key", "OPENAI_API_KEY": "sk-not-for-google"}
        summary = run(run_cli, "gemini", qa, "--limit", "1", env=env)
    assert summary["ok"] == 1
    sent = server.requests[0]
    assert sent["path"] == "/v1beta/openai/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer gm-key"
    assert sent["body"]["model"] == "gemini-2.5-flash"


@pytest.mark.parametrize("key_env", [None, "OLLAMA_API_KEY"])
def test_ollama_needs_no_key(
    run_cli: RunCli, conn: psycopg.Connection, qa: str, key_env: str | None
) -> None:
    with ModelServer() as server:
        args = ["--api-key-env", key_env] if key_env else []
        add(run_cli, "llama", "--adapter", "openai", "--base-url", f"{server.url}/v1",
            "--model-id", "llama3.2", *args)  # fmt: skip
        # an unset --api-key-env keeps $OPENAI_API_KEY from going to the local server
        env = {"OPENAI_API_KEY": "sk-mine"} if key_env else {}
        summary = run(run_cli, "llama", qa, "--limit", "2", env=env)
    assert summary["ok"] == 2
    assert [r["path"] for r in server.requests] == ["/v1/chat/completions"] * 2
    assert all("authorization" not in r["headers"] for r in server.requests)
    assert server.requests[0]["body"]["model"] == "llama3.2"


# -- streaming ----------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["openai", "azure", "anthropic"])
def test_a_streamed_run_stores_text_tokens_and_time_to_first_token(
    run_cli: RunCli, conn: psycopg.Connection, qa: str, adapter: str
) -> None:
    with ModelServer() as server:
        base = f"{server.url}/v1" if adapter == "openai" else server.url
        add(run_cli, "m", "--adapter", adapter, "--base-url", base, "--stream")
        add(run_cli, "plain", "--adapter", adapter, "--base-url", base)
        env = {"AZURE_OPENAI_API_KEY": "k"}
        streamed = run(run_cli, "m", qa, env=env)
        whole = run(run_cli, "plain", qa, env=env)
    assert (streamed["ok"], whole["ok"]) == (3, 3)
    body = server.requests[0]["body"]
    assert body["stream"] is True
    if adapter != "anthropic":
        assert body["stream_options"] == {"include_usage": True}
    assert server.requests[0]["headers"]["accept"] == "text/event-stream"
    got, plain = stored(conn, streamed["run_id"]), stored(conn, whole["run_id"])
    assert got["c0"][:5] == ("ok", "ANSWER: hello there", 11, 19, False)
    assert got["c0"][:5] == plain["c0"][:5]  # the same answer, streamed or not
    for status, _, _, _, _, first_token_ms, latency_ms, attempts, _ in got.values():
        assert (status, attempts) == ("ok", 1)
        assert 0 < first_token_ms < latency_ms
    assert all(row[5] is None for row in plain.values())
    # the words come STREAM_PAUSE_S apart: the first arrives well before the last
    assert got["c0"][6] - got["c0"][5] > 50


def test_a_stream_cut_in_the_middle_is_retried_then_stored_as_an_error(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = tmp_path / "cuts.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": word, "input": f"{word} here"}) + "\n"
            for word in ("cut", "cutonce", "stop")
        )
    )
    assert run_cli("load", "prompts", str(source), "-d", "cuts", "--quiet").exit_code == 0
    with ModelServer() as server:
        add(run_cli, "m", "--adapter", "openai", "--base-url", f"{server.url}/v1", "--stream")
        summary = run(run_cli, "m", "cuts", "--max-retries", "1", env={})
    assert (summary["ok"], summary["errors"]) == (1, 2)
    got = stored(conn, summary["run_id"])
    origin = server.url
    assert got["cut"][0] == "error" and got["cut"][7] == 2
    assert got["cut"][8] == f"{origin} closed the connection before the answer was complete"
    assert got["cut"][5] is None
    assert got["stop"][7] == 2
    assert got["stop"][8] == (
        "the stream ended before its finish reason or [DONE]: the answer is incomplete"
    )
    assert got["cutonce"][:2] == ("ok", "ANSWER: cutonce here")
    assert got["cutonce"][7] == 2 and 0 < got["cutonce"][5] <= got["cutonce"][6]


def test_an_anthropic_stream_without_its_end_is_an_error(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = tmp_path / "stop.jsonl"
    source.write_text(json.dumps({"id": "s", "input": "stop now"}) + "\n")
    assert run_cli("load", "prompts", str(source), "-d", "stop", "--quiet").exit_code == 0
    with ModelServer() as server:
        add(run_cli, "c", "--adapter", "anthropic", "--base-url", server.url, "--stream")
        summary = run(run_cli, "c", "stop", "--max-retries", "0", env={})
    got = stored(conn, summary["run_id"])
    assert got["s"][0] == "error"
    assert got["s"][8] == "the stream ended before message_stop: the answer is incomplete"


def test_a_python_models_time_to_first_token_is_kept_within_its_latency(
    run_cli: RunCli, conn: psycopg.Connection, qa: str, tmp_path: Path
) -> None:
    (tmp_path / "ttft.py").write_text(
        "from evaltool.adapters import Result\n"
        "def model(input):\n"
        "    t = {'hello there': 1e9, 'what is 2+2?': -1}.get(str(input), 0.0)\n"
        "    return Result('x', 'x', 1, 1, first_token_ms=t)\n"
    )
    add(run_cli, "py", "--adapter", "python", "--model-id", f"{tmp_path}/ttft.py:model")
    summary = run(run_cli, "py", qa, env={})
    got = stored(conn, summary["run_id"])
    assert got["c0"][5] == got["c0"][6]  # at most the latency
    assert got["c1"][5] is None  # no negative times
    assert got["c2"][5] == 0.0
