"""API keys are never stored: a provider that echoes the key in its errors puts it nowhere
(response errors, run metadata, stdout and stderr, reports, a judge's error), and a base URL,
header or parameter that holds a credential is refused when a model is registered."""

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from evaltool import secrets

RunCli = Callable[..., Result]

# Built at run time, so that no key-shaped literal sits in the source.
KEY = "sk-" + "test-" + "k" * 16
WRONG = "sk-" + "wrong-" + "w" * 16
GOOG = "goog-header-value-4242"
FROM_ENV = (
    "secrets come from the environment only, e.g. the API key from $OPENAI_API_KEY "
    "or the variable that --api-key-env names"
)


class EchoServer:
    """OpenAI (/v1/chat/completions) and Anthropic (/v1/messages) on 127.0.0.1, with a
    provider's worst manners: every failure repeats the key it was sent. The question's
    first word picks the answer:

        badreq   400, {"error": {"message": "bad request for key KEY"}}
        long     400 whose message has the key across the 300th character
        rawbody  400 with a body that is not JSON and shows the Authorization header
        goog     400 repeating the X-Goog-Api-Key header
        noshape  200 with JSON that is not a completion, holding the key
        anything else: an answer
    A key other than `accept` gets 401 {"error": {"message": "invalid key KEY"}}.
    """

    def __init__(self, accept: str) -> None:
        self.accept = accept
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server._answer(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "EchoServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, h: BaseHTTPRequestHandler, body: dict[str, object]) -> None:
        anthropic = h.path.endswith("/messages")
        self.headers.append({k.lower(): v for k, v in h.headers.items()})
        auth = h.headers.get("Authorization", "")
        key = h.headers.get("x-api-key", "") if anthropic else auth.removeprefix("Bearer ")
        messages = body["messages"]
        assert isinstance(messages, list)
        word = str(messages[-1]["content"]).split(" ", 1)[0]
        if key != self.accept:
            return _send(h, 401, {"error": {"message": f"invalid key {key}"}})
        if word == "badreq":
            return _send(h, 400, {"error": {"message": f"bad request for key {key}"}})
        if word == "long":
            return _send(h, 400, {"error": {"message": "x" * 285 + f" {key} was used"}})
        if word == "rawbody":
            return _send(h, 400, f"<html>upstream got Authorization: {auth}</html>".encode())
        if word == "goog":
            goog = h.headers.get("X-Goog-Api-Key")
            return _send(h, 400, {"error": {"message": f"quota exceeded for {goog}"}})
        if word == "noshape":
            return _send(h, 200, {"echo": {"key": key}})
        text = "fine"
        if anthropic:
            answer = {"content": [{"type": "text", "text": text}], "usage": {}}
            return _send(h, 200, answer)
        completion = {"choices": [{"message": {"role": "assistant", "content": text}}]}
        return _send(h, 200, completion)


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a judge that hangs up after the first failure is part of the tests


def _send(h: BaseHTTPRequestHandler, status: int, body: dict[str, object] | bytes) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer(accept=KEY) as server:
        yield server


def load_cases(run_cli: RunCli, tmp_path: Path, inputs: list[str]) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text(
        "".join(json.dumps({"id": f"c{i}", "input": x}) + "\n" for i, x in enumerate(inputs))
    )
    result = run_cli("load", "prompts", str(source), "-d", "qa", "--quiet")
    assert result.exit_code == 0, result.output


def stored_text(conn: psycopg.Connection) -> str:
    """Every response error and every run's metadata, as one text."""
    row = conn.execute(
        "SELECT coalesce((SELECT string_agg(error, ' | ') FROM evaltool.response), '')"
        " || coalesce((SELECT string_agg(metadata::text, ' | ') FROM evaltool.run), '')"
    ).fetchone()
    assert row is not None
    return row[0]


def assert_no_key(text: str, *keys: str) -> None:
    for key in keys:
        assert key[:10] not in text, f"{key[:10]} found in {text!r}"


def test_a_provider_echoing_the_key_leaves_it_nowhere(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, echo: EchoServer
) -> None:
    load_cases(run_cli, tmp_path, ["badreq a", "long b", "rawbody c", "noshape d", "plain e"])
    added = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", f"{echo.url}/v1")
    assert added.exit_code == 0, added.output

    ran = run_cli("run", "m", "qa", "--max-retries", "0", env={"OPENAI_API_KEY": KEY})
    assert ran.exit_code == 0, ran.output
    errors = dict(
        conn.execute(
            "SELECT p.external_id, r.error FROM evaltool.response r"
            " JOIN evaltool.prompt p ON p.id = r.prompt_id WHERE r.status = 'error'"
        ).fetchall()
    )
    assert errors["c0"] == "HTTP 400: bad request for key ***"
    # redacted before the message is cut at 300 characters, so no prefix of the key is left
    assert errors["c1"] == "HTTP 400: " + "x" * 285 + " *** was used"
    assert errors["c2"] == "HTTP 400: <html>upstream got Authorization: ***</html>"
    assert errors["c3"] == 'malformed response: {"echo": {"key": "***"}}'
    assert len(errors) == 4

    rejected = run_cli("run", "m", "qa", env={"OPENAI_API_KEY": WRONG})
    assert rejected.exit_code == 2
    assert "run 2 stopped: API key rejected (HTTP 401: invalid key ***)" in rejected.stderr
    metadata = conn.execute("SELECT metadata ->> 'error' FROM evaltool.run WHERE id = 2")
    assert metadata.fetchone() == ("API key rejected (HTTP 401: invalid key ***)",)

    printed = [ran.stdout, ran.stderr, rejected.stdout, rejected.stderr]
    for run_id in ("1", "2"):
        for name in (f"r{run_id}.html", f"r{run_id}.md"):
            report = run_cli("report", "run", run_id, "-o", str(tmp_path / name))
            assert report.exit_code == 0, report.output
            printed.append((tmp_path / name).read_text())
        shown = run_cli("runs", "show", run_id)
        printed += [shown.stdout, shown.stderr]
    assert "bad request for key ***" in printed[4] + printed[5]  # the errors are reported
    assert_no_key(stored_text(conn) + "\n".join(printed), KEY, WRONG)


def test_anthropic_and_env_referenced_headers_are_redacted_too(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, echo: EchoServer
) -> None:
    load_cases(run_cli, tmp_path, ["goog a", "badreq b", "plain c"])
    added = run_cli(
        "models", "add", "claude", "--adapter", "anthropic", "--base-url", echo.url,
        "--header", "X-Goog-Api-Key: ${GOOG_KEY}",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    env = {"ANTHROPIC_API_KEY": KEY, "GOOG_KEY": GOOG}
    ran = run_cli("run", "claude", "qa", "--json", env=env)
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["ok"] == 1
    assert echo.headers[0]["x-goog-api-key"] == GOOG  # the referenced header is sent
    errors = sorted(
        r[0] for r in conn.execute("SELECT error FROM evaltool.response").fetchall() if r[0]
    )
    assert errors == ["HTTP 400: bad request for key ***", "HTTP 400: quota exceeded for ***"]

    rejected = run_cli("run", "claude", "qa", env={**env, "ANTHROPIC_API_KEY": WRONG})
    assert rejected.exit_code == 2
    assert "API key rejected (HTTP 401: invalid key ***)" in rejected.stderr
    assert_no_key(stored_text(conn) + ran.output + rejected.output, KEY, WRONG, GOOG)
    stored = conn.execute("SELECT config -> 'headers' FROM evaltool.model").fetchone()
    assert stored == ({"X-Goog-Api-Key": "${GOOG_KEY}"},)


def test_a_judge_echoing_its_key_leaves_it_out_of_the_error(
    run_cli: RunCli, tmp_path: Path, echo: EchoServer
) -> None:
    assert run_cli("load", "prompts", "examples/qa.jsonl", "-d", "qa", "--quiet").exit_code == 0
    run_cli("models", "add", "v1", "--adapter", "python", "--model-id", "examples.qa_models:v1")
    assert run_cli("run", "v1", "qa").exit_code == 0
    run_cli("models", "add", "judge", "--adapter", "openai", "--base-url", f"{echo.url}/v1")
    scored = run_cli("score", "1", "--metric", "llm_judge:judge", env={"OPENAI_API_KEY": WRONG})
    assert scored.exit_code == 2
    assert scored.stderr == (
        "Error: llm_judge: the judge's call failed: API key rejected (HTTP 401: invalid key ***)\n"
    )
    assert_no_key(scored.output, WRONG)


def test_a_local_model_showing_a_key_of_the_environment_is_redacted(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_cases(run_cli, tmp_path, ["a"])
    command = 'echo "denied for $OPENAI_API_KEY" >&2; exit 3'
    run_cli("models", "add", "cmd", "--adapter", "command", "--model-id", command)
    ran = run_cli("run", "cmd", "qa", env={"OPENAI_API_KEY": KEY})
    assert ran.exit_code == 0, ran.output
    assert conn.execute("SELECT error FROM evaltool.response").fetchone() == (
        "exit 3: denied for ***",
    )
    assert_no_key(ran.output, KEY)


@pytest.mark.parametrize(
    "query",
    ["api_key", "key", "token", "access_token", "apikey", "api-key", "sig", "signature",
     "password", "secret", "API_KEY", "Signature"],
)  # fmt: skip
def test_credentials_in_the_base_url_query_are_refused(run_cli: RunCli, query: str) -> None:
    url = f"https://api.example.com/v1?api-version=2024-06-01&{query}=abc123"
    result = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", url)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: --base-url must not hold credentials (query parameter {query}): {FROM_ENV}\n"
    )
    assert run_cli("models", "list", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize(
    "header",
    [
        "Authorization: Bearer sk-live-1 ${MORE}",  # a literal mixed with a variable
        "Proxy-Authorization: Basic dXNlcjpwYXNz",
        "Cookie: session=abc123",
        "X-Api-Key: abc123",
        "Api-Key: abc123",
        "X-Goog-Api-Key: abc123",
        "X-Auth-Token: abc123",
        "X-Client-Secret: abc123",
        "x-custom-apikey: ${KEY} abc",
        "X-Api-Key: Key ${KEY}",  # a scheme word goes with Authorization only
    ],
)
def test_credential_headers_must_be_environment_references(run_cli: RunCli, header: str) -> None:
    name = header.partition(":")[0]
    result = run_cli("models", "add", "m", "--adapter", "openai", "--header", header)
    assert result.exit_code == 2
    scheme = "Bearer " if name.endswith("Authorization") else ""
    assert result.stderr == (
        f"Error: --header {name} holds a credential: write it as ${{VAR}}, e.g. "
        f"'{name}: {scheme}${{MY_API_KEY}}', and set VAR in the environment "
        "(secrets come from the environment only)\n"
    )
    assert run_cli("models", "list", "--json").stdout.strip() == "[]"


def test_environment_references_and_plain_headers_are_accepted(run_cli: RunCli) -> None:
    headers = [
        "Authorization: Bearer ${MY_KEY}",
        "X-Goog-Api-Key: ${GOOG_KEY}",
        "Cookie: session=${SESSION}",
        "X-Team: evals",
    ]
    args = [arg for h in headers for arg in ("--header", h)]
    added = run_cli("models", "add", "m", "--adapter", "openai", *args)
    assert added.exit_code == 0, added.output


@pytest.mark.parametrize(
    "param", ["api_key", "key", "token", "secret", "password", "openai_api_key", "client_secret",
              "access_token", "API-KEY"],
)  # fmt: skip
def test_credential_params_are_refused(run_cli: RunCli, param: str) -> None:
    add = ["models", "add", "m", "--adapter", "openai", "--base-url", "http://127.0.0.1:9"]
    refused = run_cli(*add, "--param", f"{param}=sk-abc", "--param", "temperature=0")
    assert refused.exit_code == 2
    assert refused.stderr == f"Error: --param {param} holds a credential: {FROM_ENV}\n"
    assert run_cli("models", "list", "--json").stdout.strip() == "[]"
    ok = run_cli(*add, "--param", "max_tokens=5", "--param", "prompt_cache_key=abc")
    assert ok.exit_code == 0, ok.output
    later = run_cli("models", "params", "m", f"{param}=sk-abc")
    assert later.exit_code == 2
    assert later.stderr == f"Error: parameter {param} holds a credential: {FROM_ENV}\n"
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert listed[0]["params"] == {"max_tokens": 5, "prompt_cache_key": "abc"}


def test_redact() -> None:
    assert secrets.redact("key abcd-efgh and abcd", {"abcd", "abcd-efgh"}) == "key *** and ***"
    assert secrets.redact("abc is short", {"abc"}) == "abc is short"
    # key shapes, whatever their source
    assert secrets.redact("got " + "sk-" + "proj-" + "x" * 20 + ".", set()) == "got ***."
    assert secrets.redact("AKIA" + "Q" * 16 + " failed", set()) == "*** failed"
    assert secrets.redact("Bearer abcdefghijklmnopqrstu", set()) == "Bearer ***"
    # not keys: a short sk-, a word ending in sk-, a short Bearer
    text = "task-0123456789abcdefghij sk-short missing Bearer token"
    assert secrets.redact(text, set()) == text
