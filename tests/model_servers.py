"""A real HTTP server on 127.0.0.1 speaking the OpenAI (also as Azure OpenAI's deployments,
Gemini's and Ollama's OpenAI-compatible paths), Anthropic and Bedrock Converse wire formats
(over TLS when given a context), streaming as server-sent events when the request asks, and
a logging forward proxy.

The test chooses each answer through the question (the last user turn): its first word
picks a behaviour, so one dataset exercises everything in one run.

    429once    429 with Retry-After: 1 on the first request, then an answer
    429date    the same, Retry-After given as an HTTP date 1 to 2 s ahead
    503twice   503 twice, then an answer
    500always  500, always
    drop       the connection is closed without an answer, once
    slow       answers after 3 s
    malformed  200 with a body that is not JSON
    noshape    200 with JSON that is not a completion
    badreq     400 (not worth retrying)
    grade      a judge's verdict as JSON: score 9 and pass when the lines "reference: X"
               and "answer: Y" of the question agree, else score 2 and fail
    prefer     a pairwise verdict: the one of lines "A: X" and "B: Y" equal to the line
               "reference: Z" wins, else a tie; reference "always A" answers [[A]] whatever
               the order (a judge with position bias), an A of "mute" gives no verdict
    anything else: an answer, "ANSWER: <question>"

A request with "stream": true gets the answer as server-sent events, a word at a time
STREAM_PAUSE_S apart (the usage last when stream_options.include_usage asks), unless:

    cut        the connection is closed in the middle of the stream, always
    cutonce    the same, on the first request only
    stop       the stream ends cleanly in the middle, without its last events
"""

import http.client
import json
import select
import socket
import ssl
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

STREAM_PAUSE_S = 0.02  # between the events of a streamed answer


class ModelServer:
    """Serves /v1/chat/completions (OpenAI; any path ending in /chat/completions),
    /openai/deployments/NAME/chat/completions?api-version=V (Azure OpenAI: the key in the
    api-key header), /v1/messages (Anthropic) and /model/ID/converse (Bedrock) in a thread."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        api_key: str | None = None,
        hold_after: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.delay = delay
        self.api_key = api_key  # when set, requests without it get 401
        # when set, requests after the first `hold_after` wait for release(): a worker can
        # be stopped with calls in flight however slow the machine is
        self.hold_after = hold_after
        self._released = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server._handle(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        if tls:  # the handshake happens in the request's thread, on its first read
            self.httpd.socket = tls.wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.url = self.url.replace("http:", "https:", 1)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ModelServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()

    def release(self) -> None:
        """Answer the held requests, and hold no more."""
        self._released.set()

    def questions(self) -> list[str]:
        """The question of every request received, in order."""
        return [r["question"] for r in self.requests]

    def _handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        anthropic = h.path.endswith("/messages")
        bedrock = h.path.startswith("/model/")
        azure = h.path.startswith("/openai/deployments/")
        last = body["messages"][-1]["content"]
        question = str(last[0]["text"] if bedrock else last)
        with self._lock:
            attempt = self._seen[question] = self._seen.get(question, 0) + 1
            self.requests.append(
                {
                    "path": h.path,
                    "headers": {k.lower(): v for k, v in h.headers.items()},
                    "body": body,
                    "question": question,
                    "at": time.monotonic(),
                }
            )
            held = self.hold_after is not None and len(self.requests) > self.hold_after
        if held:
            self._released.wait(120)
        if self.delay:
            time.sleep(self.delay)
        if anthropic or azure:
            auth = h.headers.get("x-api-key" if anthropic else "api-key")
            expected = self.api_key
        else:
            auth, expected = h.headers.get("Authorization"), f"Bearer {self.api_key}"
        word = question.split(" ", 1)[0]
        if bedrock:
            return _bedrock(h, word, attempt, question)
        if self.api_key and auth != expected:
            return _send(h, 401, {"error": {"message": "invalid api key"}})
        if word == "429once" and attempt == 1:
            return _send(h, 429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"})
        if word == "429date" and attempt == 1:
            return _send(h, 429, {}, {"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        if word == "503twice" and attempt <= 2:
            return _send(h, 503, {"error": {"message": "overloaded"}})
        if word == "500always":
            return _send(h, 500, {"error": {"message": "internal error"}})
        if word == "drop" and attempt == 1:
            h.close_connection = True
            h.connection.shutdown(2)
            return None
        if word == "slow":
            time.sleep(3)
        if word == "malformed":
            return _send(h, 200, b"<html>upstream hiccup</html>")
        if word == "noshape":
            return _send(h, 200, {"foo": 1})
        if word == "badreq":
            return _send(h, 400, {"error": {"message": "context length exceeded"}})
        first = question.split(None, 1)[:1]
        if first == ["grade"]:
            text = _grade(question)
        elif first == ["prefer"]:
            text = _prefer(question)
        else:
            text = f"ANSWER: {question}"
        model = body.get("model") or h.path.split("/")[3]  # Azure: the deployment
        if body.get("stream"):
            cut = word == "cut" or (word == "cutonce" and attempt == 1)
            events = (_anthropic_events if anthropic else _openai_events)(
                body, model, question, text, azure
            )
            return _stream(h, events, cut=cut, stop=word == "stop")
        if anthropic:
            return _send(
                h,
                200,
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": len(question), "output_tokens": len(text)},
                },
            )
        return _send(
            h,
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": len(question), "completion_tokens": len(text)},
            },
        )


def _openai_events(
    body: dict[str, Any], model: str, question: str, text: str, azure: bool
) -> list[tuple[str | None, Any]]:
    """The chunks of a streamed chat completion, as (event name, data)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return None, {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                      "choices": [choice]}  # fmt: skip

    events: list[tuple[str | None, Any]] = []
    if azure:  # Azure's first chunk: the prompt's content filter results, no choices
        events.append((None, {"id": "", "choices": [], "prompt_filter_results": []}))
    events.append(chunk({"role": "assistant", "content": ""}))
    events.extend(chunk({"content": piece}) for piece in _pieces(text))
    events.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": len(question), "completion_tokens": len(text)}
        events.append((None, {"id": "chatcmpl-1", "model": model, "choices": [], "usage": usage}))
    events.append((None, "[DONE]"))
    return events


def _anthropic_events(
    body: dict[str, Any], model: str, question: str, text: str, azure: bool
) -> list[tuple[str | None, Any]]:
    """The events of a streamed Anthropic message, as (event name, data)."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None,
               "usage": {"input_tokens": len(question), "output_tokens": 1}}  # fmt: skip
    block = {"type": "text", "text": ""}
    return [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        ("ping", {"type": "ping"}),
        *(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
            for piece in _pieces(text)
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(text)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def _pieces(text: str) -> list[str]:
    """text a word at a time, as a model streams it."""
    words = text.split(" ")
    return [w if i == 0 else f" {w}" for i, w in enumerate(words)]


def _stream(
    h: BaseHTTPRequestHandler, events: list[tuple[str | None, Any]], *, cut: bool, stop: bool
) -> None:
    """Send events as a chunked text/event-stream, STREAM_PAUSE_S apart; `cut` closes the
    connection halfway, `stop` ends the body cleanly halfway."""
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Transfer-Encoding", "chunked")
    h.send_header("Cache-Control", "no-cache")
    h.end_headers()
    for n, (name, data) in enumerate(events):
        if (cut or stop) and n == len(events) // 2:
            break
        time.sleep(STREAM_PAUSE_S)
        line = data if isinstance(data, str) else json.dumps(data)
        text = (f"event: {name}\n" if name else "") + f"data: {line}\n\n"
        payload = text.encode()
        h.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
    if cut:
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)
        return
    h.wfile.write(b"0\r\n\r\n")


def _grade(question: str) -> str:
    lines = dict(line.split(": ", 1) for line in question.splitlines() if ": " in line)
    agree = lines.get("reference") == lines.get("answer")
    verdict = {"score": 9 if agree else 2, "pass": agree, "reason": "agree" if agree else "differ"}
    return f"Here is my verdict: {json.dumps(verdict)}"


def _prefer(question: str) -> str:
    lines = dict(line.split(": ", 1) for line in question.splitlines() if ": " in line)
    if lines.get("reference") == "always A":
        return "Both are fine, but [[A]]"
    if lines.get("A") == "mute" or lines.get("B") == "mute":
        return "I would rather not say."
    a, b = lines.get("A") == lines.get("reference"), lines.get("B") == lines.get("reference")
    winner = "A" if a and not b else "B" if b and not a else "tie"
    return json.dumps({"winner": winner, "reason": f"{winner} matches the reference"})


class ForwardProxy:
    """An HTTP forward proxy in a thread: tunnels CONNECT host:port (https) and forwards
    absolute-URI requests (plain http), and logs each as (method, target, headers)."""

    def __init__(self, hosts: dict[str, tuple[str, int]] | None = None) -> None:
        """`hosts` sends the tunnels to a name elsewhere ({"api.openai.com:443": (host,
        port)}), as a company's TLS-inspecting proxy does."""
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.hosts = hosts or {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_CONNECT(self) -> None:
                proxy._log(self)
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection(proxy.hosts.get(self.path, (host, int(port))))
                self.send_response(200, "Connection established")
                self.end_headers()
                _tunnel(self.connection, upstream)
                self.close_connection = True

            def do_POST(self) -> None:
                proxy._log(self)
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if not k.lower().startswith("proxy-") and k.lower() != "connection"
                }
                upstream = http.client.HTTPConnection(target.hostname or "", target.port)
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream.request("POST", path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "date",
                        "server",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ForwardProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def targets(self) -> list[str]:
        """`METHOD target` of every request it was asked, in order."""
        return [f"{method} {target}" for method, target, _ in self.requests]

    def _log(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append((h.command, h.path, {k.lower(): v for k, v in h.headers.items()}))


def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    with upstream:
        while True:
            readable, _, _ = select.select([client, upstream], [], [], 30)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 delays the 6th concurrent connect by ~1 s
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is part of the tests


def _bedrock(h: BaseHTTPRequestHandler, word: str, attempt: int, question: str) -> None:
    if "Credential=AKIDTEST/" not in h.headers.get("Authorization", ""):
        return _send(h, 403, {"message": "unsigned"}, {"x-amzn-ErrorType": "AccessDeniedException"})
    if word == "429once" and attempt == 1:
        return _send(h, 429, {"message": "slow down"}, {"x-amzn-ErrorType": "ThrottlingException"})
    if word == "badreq":
        return _send(
            h, 400, {"message": "input too long"}, {"x-amzn-ErrorType": "ValidationException"}
        )
    text = f"ANSWER: {question}"
    return _send(
        h,
        200,
        {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": len(question), "outputTokens": len(text), "totalTokens": 0},
            "metrics": {"latencyMs": 1},
        },
    )


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any] | bytes,
    headers: dict[str, str] | None = None,
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(data)
