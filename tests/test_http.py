"""evaltool's HTTP (evaltool.adapters.transport, aiohttp) through the chat adapters, against
real servers on 127.0.0.1: a logging forward proxy, a TLS server whose certificate comes from
a private CA made here with openssl, and a raw asyncio server for redirects, compressed and
broken answers. Nothing leaves the machine."""

import asyncio
import base64
import contextlib
import gzip
import json
import re
import shutil
import socket
import ssl
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from yarl import URL

from evaltool import adapters
from evaltool.adapters import CallError, Result
from evaltool.adapters.chat import retry_after
from evaltool.adapters.transport import Client, EventParser
from evaltool.errors import EvaltoolError
from tests.model_servers import ForwardProxy, ModelServer

ENVIRONMENT = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
]
PATH = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def no_proxy_or_ca_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A private CA, a certificate it signed for 127.0.0.1, and another CA."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign"]  # fmt: skip
    for name in ("ca", "other-ca"):
        openssl("req", "-x509", *key, "-keyout", f"{name}.key", "-out", f"{name}.pem",
                "-days", "2", "-subj", f"/CN=evaltool test {name}", *ca_ext)  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
            "-out", "server.pem")  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return SimpleNamespace(
        ca=str(folder / "ca.pem"), other_ca=str(folder / "other-ca.pem"), context=context
    )


@pytest.fixture
def tls_server(pki: SimpleNamespace) -> Iterator[ModelServer]:
    with ModelServer(tls=pki.context) as server:
        yield server


def model(base_url: str, **config: Any) -> adapters.Adapter:
    """The adapter of an OpenAI-compatible model at base_url."""
    config = {"base_url": base_url, **config}
    return adapters.create(
        {"name": "m", "adapter": "openai", "model_id": "m", "config": config}, {}, 4
    )


def call(base_url: str, **config: Any) -> Result:
    """One call of the model at base_url on "hello", its pool closed after."""

    async def main() -> Result:
        adapter = model(base_url, **config)
        try:
            return await adapter.call("hello")
        finally:
            await adapter.aclose()

    return asyncio.run(main())


def failure(base_url: str, **config: Any) -> CallError:
    with pytest.raises(CallError) as caught:
        call(base_url, **config)
    return caught.value


# -- proxies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_of_the_environment_forwards_the_call(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    with ModelServer() as server, ForwardProxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        assert call(f"{server.url}/v1").output == "ANSWER: hello"
    assert proxy.targets() == [f"POST {server.url}{PATH}"]
    assert server.questions() == ["hello"]


def test_https_proxy_of_the_environment_tunnels_the_call(
    monkeypatch: pytest.MonkeyPatch, tls_server: ModelServer, pki: SimpleNamespace
) -> None:
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # not for https
        assert call(f"{tls_server.url}/v1", ca_bundle=pki.ca).output == "ANSWER: hello"
    assert proxy.targets() == [f"CONNECT {URL(tls_server.url).authority}"]


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost, 127.0.0.1", "*"])
def test_no_proxy_covering_the_host_goes_direct(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    with ModelServer() as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        assert call(f"{server.url}/v1").output == "ANSWER: hello"
    assert proxy.requests == []
    assert server.questions() == ["hello"]


def test_the_models_proxy_wins_and_carries_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")  # the model's proxy is for every call of the model
    monkeypatch.setenv("PROXY_PASSWORD", "pr0xy-pass")
    with ModelServer() as server, ForwardProxy() as proxy:
        auth = proxy.url.replace("//", "//alice:${PROXY_PASSWORD}@")
        assert call(f"{server.url}/v1", proxy=auth).output == "ANSWER: hello"
    assert proxy.targets() == [f"POST {server.url}{PATH}"]
    basic = base64.b64encode(b"alice:pr0xy-pass").decode()
    assert proxy.requests[0][2]["proxy-authorization"] == f"Basic {basic}"
    assert "proxy-authorization" not in server.requests[0]["headers"]


def test_a_proxy_not_running_is_named_without_its_password() -> None:
    with ModelServer() as server:
        error = failure(f"{server.url}/v1", proxy="http://alice:pr0xy-pass@127.0.0.1:9")
    assert str(error) == (
        "cannot connect to the proxy http://127.0.0.1:9 (the model's proxy): Connection "
        "refused; is the proxy running? (NO_PROXY=127.0.0.1 goes without it)"
    )
    assert error.retryable and not error.fatal


def test_the_proxys_password_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "alice:pr0xy-pass@127.0.0.1:9")  # no scheme: http
    assert Client("http://127.0.0.1:9/v1", {}).secrets == {"pr0xy-pass"}


def test_a_proxy_that_is_no_http_url_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(EvaltoolError, match=r"^\$HTTP_PROXY 'socks5://127\.0\.0\.1:1080' is not"):
        Client("http://127.0.0.1:9/v1", {})


# -- TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "ca_bundle"])
def test_a_private_ca_is_trusted_once_named(
    monkeypatch: pytest.MonkeyPatch, tls_server: ModelServer, pki: SimpleNamespace, where: str
) -> None:
    config = {}
    if where == "ca_bundle":
        config["ca_bundle"] = pki.ca
    else:
        monkeypatch.setenv(where, pki.ca)
    assert call(f"{tls_server.url}/v1", **config).output == "ANSWER: hello"


def test_an_unknown_ca_says_how_to_name_one(tls_server: ModelServer) -> None:
    error = failure(f"{tls_server.url}/v1")
    assert str(error) == (
        f"certificate verify failed for {tls_server.url} (unable to get local issuer "
        "certificate): set SSL_CERT_FILE or REQUESTS_CA_BUNDLE to your CA bundle (or the "
        "model's ca_bundle)"
    )
    assert error.fatal


def test_the_wrong_bundle_is_named(
    monkeypatch: pytest.MonkeyPatch, tls_server: ModelServer, pki: SimpleNamespace
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca)  # the model's ca_bundle goes first
    error = failure(f"{tls_server.url}/v1", ca_bundle=pki.other_ca)
    assert str(error) == (
        f"certificate verify failed for {tls_server.url} (unable to get local issuer "
        f"certificate; CA bundle {pki.other_ca} from the model's ca_bundle): set SSL_CERT_FILE "
        "or REQUESTS_CA_BUNDLE to your CA bundle (or the model's ca_bundle)"
    )


def test_a_bundle_that_cannot_be_read_is_refused_before_any_call(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(EvaltoolError) as caught:
        call("https://127.0.0.1:9/v1", ca_bundle=str(missing))
    assert str(caught.value) == (
        f"the CA bundle {missing} (from the model's ca_bundle) cannot be read: "
        "No such file or directory"
    )


def test_tls_to_a_plain_http_server() -> None:
    with ModelServer() as server:
        error = failure(server.url.replace("http:", "https:") + "/v1")
    assert "TLS handshake with https://127.0.0.1:" in str(error)
    assert str(error).endswith("for plain HTTP use http:// in --base-url")
    assert error.fatal


# -- a raw server: redirects, encodings, broken answers -----------------------------------------

Answer = Callable[[int, str], bytes]  # (n-th request, the server's origin) -> the whole answer


class Server:
    """A raw HTTP/1.1 server whose n-th request (over all connections) gets answer(n, origin);
    `requests` records each one's path, headers (lower case), body and connection number."""

    def __init__(self, answer: Answer, *, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.requests: list[dict[str, Any]] = []
        self.handlers: list[asyncio.Task[None]] = []
        self.url = ""

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        me = len(self.handlers)
        try:
            while True:
                lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
                headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
                body = await reader.readexactly(int(headers["content-length"]))
                self.requests.append(
                    {"path": lines[0].split()[1], "headers": headers, "body": body, "on": me}
                )
                writer.write(self.answer(len(self.requests), self.url))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def completion(text: str = "hi") -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()


def http_answer(status: str, body: bytes = b"", **headers: str) -> bytes:
    head = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


def served(answer: Answer, calls: int = 1, **server: Any) -> tuple[list[Any], Server]:
    """Each of `calls` calls' result or CallError, and the server (with what it saw)."""

    async def main() -> tuple[list[Any], Server]:
        async with Server(answer, **server) as raw:
            adapter = model(f"{raw.url}/v1")
            got: list[Any] = []
            for _ in range(calls):
                try:
                    got.append(await adapter.call("hello"))
                except CallError as exc:
                    got.append(exc)
                await asyncio.sleep(0.05)  # a server's close reaches the idle connection
            await adapter.aclose()
        return got, raw

    return asyncio.run(main())


@pytest.mark.parametrize(
    "status, location",
    [("307 Temporary Redirect", "/v2/chat/completions"),
     ("308 Permanent Redirect", "{origin}/v2/chat/completions")],
)  # fmt: skip
def test_307_and_308_are_followed_with_the_same_body(status: str, location: str) -> None:
    def answer(n: int, origin: str) -> bytes:
        if n == 1:
            return http_answer(status, Location=location.format(origin=origin))
        return http_answer("200 OK", completion("moved"), Content_Type="application/json")

    (result,), server = served(answer)
    requests = server.requests
    assert result.output == "moved"
    assert [r["path"] for r in requests] == [PATH, "/v2/chat/completions"]
    assert requests[0]["body"] == requests[1]["body"]
    assert json.loads(requests[1]["body"])["messages"] == [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "303 See Other"])
def test_a_moved_post_is_not_sent_on_but_says_where_to(status: str) -> None:
    def answer(n: int, origin: str) -> bytes:
        moved = URL(origin).with_user("bob").with_password("s3cret-pw") / "v2/chat/completions"
        return http_answer(status, Location=str(moved))

    (error,), server = served(answer)
    code, origin = status[:3], server.url
    assert str(error) == (
        f"HTTP {code}: {origin}{PATH} moved to {origin}/v2/chat/completions; a POST is not "
        f"sent on after {code} (it would become a GET): use --base-url {origin}/v2"
    )
    assert error.fatal and len(server.requests) == 1


def test_a_redirect_to_another_host_is_not_followed() -> None:
    def answer(n: int, origin: str) -> bytes:
        return http_answer("307 Temporary Redirect", Location=f"http://localhost:9{PATH}")

    (error,), server = served(answer)
    assert str(error) == (
        f"HTTP 307: {server.url}{PATH} redirects to http://localhost:9/v1/chat/completions, on "
        "another host or without TLS, where the model's credentials are not sent: use "
        "--base-url http://localhost:9/v1 if that server is the right one"
    )
    assert error.fatal and len(server.requests) == 1


def test_a_redirect_loop_stops() -> None:
    (error,), server = served(lambda n, origin: http_answer("307 x", Location=PATH))
    assert str(error) == (
        f"more than 5 redirects from {server.url}{PATH}: check the model's --base-url"
    )
    assert len(server.requests) == 6


@pytest.mark.parametrize("encoding, encode", [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_answers_are_decoded(encoding: str, encode: Callable[[bytes], bytes]) -> None:
    def answer(n: int, origin: str) -> bytes:
        return http_answer("200 OK", encode(completion("unzipped")), Content_Encoding=encoding)

    (result,), server = served(answer)
    assert result.output == "unzipped"
    assert encoding in server.requests[0]["headers"]["accept-encoding"]


def test_an_answer_that_does_not_decode_is_a_clear_error() -> None:
    def answer(n: int, origin: str) -> bytes:
        return http_answer("200 OK", b"\x1f\x8b\x08garbage\x00\xff", Content_Encoding="gzip")

    (error,), server = served(answer)
    assert str(error) == (
        f"HTTP 200 from {server.url} says Content-Encoding: gzip, but its body does not "
        "decode: the server, or a proxy on the way, is broken"
    )
    assert not error.retryable and not error.fatal


def test_binary_is_never_shown() -> None:
    body = b"\x00\x01\x1b[31mred\xff"
    (error,), _ = served(lambda n, origin: http_answer("500 Oops", body))
    assert str(error) == "HTTP 500: (11 bytes that are not text)"


def test_one_pool_keeps_its_connections_and_replaces_closed_ones() -> None:
    ok = http_answer("200 OK", completion())
    _, kept = served(lambda n, origin: ok, calls=3)
    assert [r["on"] for r in kept.requests] == [1, 1, 1]
    results, closed = served(lambda n, origin: ok, calls=3, close_after=True)
    assert [r.output for r in results] == ["hi", "hi", "hi"]
    assert [r["on"] for r in closed.requests] == [1, 2, 3]


@pytest.mark.parametrize(
    "answer, message",
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", r"^http://127\.0\.0\.1:\d+ did not answer in HTTP: "),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
         r"^http://127\.0\.0\.1:\d+ closed the connection before the answer was complete$"),
    ],
)  # fmt: skip
def test_broken_answers_are_retryable(answer: bytes, message: str) -> None:
    (error,), _ = served(lambda n, origin: answer, close_after=True)
    assert isinstance(error, CallError)
    assert error.retryable
    with pytest.raises(CallError, match=message):
        raise error


# -- nobody there -------------------------------------------------------------------------------


def test_nothing_listening() -> None:
    error = failure("http://127.0.0.1:9/v1")
    assert str(error) == (
        "cannot connect to http://127.0.0.1:9: Connection refused; is the server running "
        "there? (the model's --base-url)"
    )
    assert error.retryable and not error.fatal


@pytest.mark.parametrize("code, retryable", [(socket.EAI_NONAME, False), (socket.EAI_AGAIN, True)])
def test_a_host_that_does_not_resolve(code: int, retryable: bool) -> None:
    # The resolver's error as aiohttp raises it: a real lookup would need the network.
    client = Client("http://nohost.invalid/v1", {})
    exc = aiohttp.ClientConnectorDNSError(None, socket.gaierror(code, "Name or service not known"))  # type: ignore[arg-type]
    error = client._failure(exc, URL("http://nohost.invalid/v1/chat/completions"), None)
    assert str(error) == (
        "cannot resolve host nohost.invalid (Name or service not known): check the host of "
        "the model's --base-url, and the network"
    )
    assert (error.retryable, error.fatal) == (retryable, not retryable)


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


# -- streams ------------------------------------------------------------------------------------


def events_of(chunks: list[bytes]) -> list[tuple[str, str]]:
    parser = EventParser()
    got = [e for chunk in chunks for e in parser.feed(chunk, 0.0)] + parser.end(1.0)
    return [(e.name, e.data) for e in got]


def test_server_sent_events_are_read_across_chunks() -> None:
    chunks = [
        b"\xef\xbb\xbfdata: a\r",  # a BOM; CRLF split between two chunks
        b"\n\r\n: a comment\nevent: delta\ndata: b\ndata:c\nid: 7\n\n",
        b'data: {"x": "\xc3',  # a character split between two chunks
        b'\xa9"}\r\rdata: last\n',  # CR alone ends lines too; the body ends without a blank line
    ]
    assert events_of(chunks) == [
        ("message", "a"),
        ("delta", "b\nc"),
        ("message", '{"x": "é"}'),
        ("message", "last"),
    ]
    assert events_of([b"data: whole\n\ndata: cut in the mid"]) == [("message", "whole")]
    assert events_of([b"event: ping\n\n", b"data: x\r"]) == [("message", "x")]


def sse(*events: str, chunked: bool = True) -> bytes:
    """A 200 text/event-stream answer of these events ("event: ...\\ndata: ..." each)."""
    body = [f"{event}\n\n".encode() for event in events]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    if not chunked:
        return head + b"Connection: close\r\n\r\n" + b"".join(body)
    data = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in body)
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + data + b"0\r\n\r\n"


def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return "data: " + json.dumps({"id": "c1", "model": "m", "choices": [choice], **more})


def streamed(
    answer: Answer, adapter: str = "openai", **server: Any
) -> tuple[Result | CallError, Server]:
    """One call of a streaming model at the raw server, and the server."""

    async def main() -> tuple[Result | CallError, Server]:
        async with Server(answer, **server) as raw:
            base = f"{raw.url}/v1" if adapter == "openai" else raw.url
            snapshot = {"name": "m", "adapter": adapter, "model_id": "m",
                        "config": {"base_url": base, "stream": True}}  # fmt: skip
            model = adapters.create(snapshot, {}, 4)
            got: Result | CallError
            try:
                got = await model.call("hello")
            except CallError as exc:
                got = exc
            await model.aclose()
        return got, raw

    return asyncio.run(main())


def test_a_stream_ending_in_a_finish_reason_needs_no_done() -> None:
    events = [chunk({"role": "assistant"}), chunk({"content": "Hel"}),
              chunk({"content": "lo"}), chunk({}, "length")]  # fmt: skip
    result, server = streamed(lambda n, origin: sse(*events, chunked=False), close_after=True)
    assert isinstance(result, Result)
    assert (result.output, result.metadata["finish_reason"]) == ("Hello", "length")
    assert result.tokens_estimated and result.first_token_ms is not None
    assert json.loads(server.requests[0]["body"])["stream"] is True


def test_tool_calls_are_put_together_from_their_pieces() -> None:
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "add", "arguments": ""}}  # fmt: skip
    events = [
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, "tool_calls"),
        'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}',
        "data: [DONE]",
    ]
    result, _ = streamed(lambda n, origin: sse(*events))
    assert isinstance(result, Result)
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 1}'}}],
    }  # fmt: skip
    assert (result.input_tokens, result.output_tokens, result.tokens_estimated) == (3, 4, False)


def test_an_anthropic_stream_with_tool_use_and_thinking() -> None:
    def event(name: str, **data: Any) -> str:
        return f"event: {name}\ndata: " + json.dumps({"type": name, **data})

    events = [
        event("message_start", message={"id": "msg_1", "model": "m", "content": [],
                                        "usage": {"input_tokens": 5, "output_tokens": 1}}),
        event("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        event("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "hm"}),
        event("content_block_stop", index=0),
        event("content_block_start", index=1,
              content_block={"type": "tool_use", "id": "t1", "name": "add", "input": {}}),
        event("content_block_delta", index=1,
              delta={"type": "input_json_delta", "partial_json": '{"a"'}),
        event("content_block_delta", index=1,
              delta={"type": "input_json_delta", "partial_json": ": 1}"}),
        event("content_block_stop", index=1),
        event("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 9}),
        event("message_stop"),
    ]  # fmt: skip
    result, _ = streamed(lambda n, origin: sse(*events), adapter="anthropic")
    assert isinstance(result, Result)
    assert result.output == [
        {"type": "thinking", "thinking": "hm"},
        {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}},
    ]
    assert (result.input_tokens, result.output_tokens) == (5, 9)
    assert result.metadata["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    "adapter, event, message, retryable",
    [
        ("anthropic", 'event: error\ndata: {"type": "error", "error": {"type": '
         '"overloaded_error", "message": "Overloaded"}}', "the stream failed: Overloaded", True),
        ("anthropic", 'event: error\ndata: {"type": "error", "error": {"type": '
         '"invalid_request_error", "message": "bad"}}', "the stream failed: bad", False),
        ("openai", 'data: {"error": {"message": "model crashed", "type": "server_error"}}',
         "the stream failed: model crashed", True),
        ("openai", "data: <html>", "malformed event in the stream: <html>", True),
    ],
)  # fmt: skip
def test_a_failure_in_the_stream_says_what_failed(
    adapter: str, event: str, message: str, retryable: bool
) -> None:
    start = (
        'event: message_start\ndata: {"type": "message_start", "message": {"usage": {}}}'
        if adapter == "anthropic"
        else chunk({"role": "assistant"})
    )
    error, _ = streamed(lambda n, origin: sse(start, event), adapter=adapter)
    assert isinstance(error, CallError)
    assert (str(error), error.retryable, error.fatal) == (message, retryable, False)


def test_a_stream_error_that_echoes_the_key_does_not_show_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")
    event = 'data: {"error": {"message": "key sk-live-0123456789abcdef is over quota"}}'
    error, server = streamed(lambda n, origin: sse(event))
    assert isinstance(error, CallError)
    assert str(error) == "the stream failed: key *** is over quota"
    assert server.requests[0]["headers"]["authorization"] == "bearer sk-live-0123456789abcdef"


def test_a_stream_asked_for_but_answered_in_one_piece() -> None:
    ok = http_answer("200 OK", completion("whole"), Content_Type="application/json")
    result, _ = streamed(lambda n, origin: ok)
    assert isinstance(result, Result)
    assert (result.output, result.first_token_ms) == ("whole", None)


def test_a_streams_http_error_is_an_http_error() -> None:
    body = json.dumps({"error": {"message": "slow down"}}).encode()
    answer = http_answer("429 Too Many Requests", body, Retry_After="3")
    error, _ = streamed(lambda n, origin: answer)
    assert isinstance(error, CallError)
    assert (str(error), error.retryable, error.retry_after) == ("HTTP 429: slow down", True, 3.0)


def test_a_stream_follows_a_307() -> None:
    def answer(n: int, origin: str) -> bytes:
        if n == 1:
            return http_answer("307 Temporary Redirect", Location="/v2/chat/completions")
        return sse(chunk({"content": "moved"}, "stop"), "data: [DONE]")

    result, server = streamed(answer)
    assert isinstance(result, Result) and result.output == "moved"
    assert [r["path"] for r in server.requests] == [PATH, "/v2/chat/completions"]
    assert server.requests[1]["headers"]["accept"] == "text/event-stream"


def test_a_stream_goes_through_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer() as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        result = call(f"{server.url}/v1", stream=True)
    assert (result.output, result.tokens_estimated) == ("ANSWER: hello", False)
    assert result.first_token_ms is not None
    assert proxy.targets() == [f"POST {server.url}{PATH}"]


def test_a_stream_that_stops_sending_fails_after_its_idle_time() -> None:
    async def main() -> CallError:
        quiet: list[asyncio.Task[None]] = []
        done = asyncio.Event()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(sse(chunk({"content": "Hel"}), chunked=False))
            await writer.drain()
            await done.wait()  # then nothing until the client gave up
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

        def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            quiet.append(asyncio.create_task(answer(reader, writer)))

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = Client(url, {})
        try:
            with pytest.raises(CallError) as caught:
                await client.stream("/v1/chat/completions", b"{}", idle_s=0.3)
        finally:
            await client.aclose()
            done.set()
            await asyncio.gather(*quiet)
            server.close()
            await server.wait_closed()
        return caught.value

    error = asyncio.run(main())
    assert re.fullmatch(
        r"http://127\.0\.0\.1:\d+ sent nothing for 0\.3 s in the middle of its answer", str(error)
    )
    assert error.retryable and not error.fatal


def test_events_come_with_when_they_arrived() -> None:
    with ModelServer() as server:

        async def main() -> Any:
            client = Client(server.url, {"Content-Type": "application/json"})
            try:
                body = json.dumps({"model": "m", "stream": True, "messages": [
                    {"role": "user", "content": "one two three"}]}).encode()  # fmt: skip
                return await client.stream("/v1/chat/completions", body, idle_s=5)
            finally:
                await client.aclose()

        answer = asyncio.run(main())
    assert answer.status == 200 and answer.body == b""
    times = [event.at for event in answer.events]
    assert times == sorted(times) and times[-1] - times[0] >= 0.1  # STREAM_PAUSE_S apart
    assert answer.events[-1].data == "[DONE]"
