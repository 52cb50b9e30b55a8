"""What the chat APIs share: turning test-case input into messages, answers (in one piece or
streamed as server-sent events) and HTTP failures into CallErrors whose text never shows the
adapter's secrets (redacted before it is cut short, so no prefix of a key survives the cut
either). HTTP itself is evaltool.adapters.transport."""

import json
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time
from typing import Any

from evaltool import secrets as secret_values
from evaltool.adapters import CallError, expand_env, transport

# 408 timeout, 409 conflict (OpenAI's "try again"), 429 rate limit, 5xx, 529 overloaded
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# Every call fails alike: stop the run rather than store a wall of identical errors.
FATAL_STATUS = {
    401: "API key rejected",
    403: "access denied",
    404: "no such model or URL",
    407: "the proxy wants credentials: put them in its URL, http://USER:PASSWORD@host:port",
}
# Error types in a stream that a retry cannot get past (Anthropic's names; OpenAI's streams
# fail before they start, with an HTTP status)
_STREAM_FINAL_ERRORS = frozenset(
    {"invalid_request_error", "authentication_error", "permission_error", "not_found_error"}
)
# Seconds a streamed answer may pause before the call fails (the run's --timeout bounds the
# whole call): Anthropic pings, OpenAI sends as it generates.
STREAM_IDLE_S = 60.0
# Control characters other than tab and line ends: binary, or escape codes for a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def messages(input: Any) -> list[dict[str, Any]]:
    """Chat messages for an input: a string is one user turn, a list of messages (or an object
    with "messages") is sent as is, {"prompt": text} is one user turn, and any other JSON is
    sent as its text."""
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    if isinstance(input, list) and all(isinstance(m, dict) and "role" in m for m in input):
        return input
    if isinstance(input, dict):
        if isinstance(input.get("messages"), list):
            return input["messages"]
        if isinstance(input.get("prompt"), str):
            return [{"role": "user", "content": input["prompt"]}]
    return [{"role": "user", "content": json.dumps(input, ensure_ascii=False)}]


def headers(config: dict[str, Any]) -> dict[str, str]:
    """The model's extra headers, with ${VAR} taken from the environment."""
    return {
        name: expand_env(str(value), f"header {name}")
        for name, value in (config.get("headers") or {}).items()
    }


def client(base_url: str, headers: dict[str, str], config: dict[str, Any]) -> transport.Client:
    """The HTTP client of a model: its base URL and headers, and the config's `proxy` (with
    ${VAR} taken from the environment, so a proxy password stays out of the database) and
    `ca_bundle` (see evaltool.adapters.transport). Raises EvaltoolError for what the user
    has to fix first: a base URL or proxy that is not http(s), a CA bundle that cannot be
    read."""
    proxy = config.get("proxy")
    return transport.Client(
        base_url,
        {"Content-Type": "application/json", **headers},  # fixed, not merged into each call
        proxy=expand_env(str(proxy), "the model's proxy") if proxy else None,
        ca_bundle=config.get("ca_bundle") or None,
    )


async def post_json(
    client: transport.Client, path: str, body: dict[str, Any], secrets: frozenset[str]
) -> dict[str, Any]:
    """POST a JSON body; the answer's JSON object, or a CallError that says what went wrong
    without showing `secrets`."""
    try:
        response = await client.post(path, json.dumps(body).encode())
    except CallError as exc:
        exc.redact(secrets)
        raise
    return _answer(response, secrets)


async def post_stream(
    client: transport.Client, path: str, body: dict[str, Any], secrets: frozenset[str]
) -> list[transport.Event] | dict[str, Any]:
    """POST a JSON body that asks for a stream; its server-sent events, or the answer's JSON
    object when the server answered in one piece. Failures as for post_json; a server that
    sends nothing for STREAM_IDLE_S seconds mid-answer, or cuts it short, fails the call
    (retryable)."""
    try:
        response = await client.stream(path, json.dumps(body).encode(), idle_s=STREAM_IDLE_S)
    except CallError as exc:
        exc.redact(secrets)
        raise
    if response.events is None:
        return _answer(response, secrets)
    return list(response.events)


def event_json(event: transport.Event, secrets: frozenset[str]) -> dict[str, Any]:
    """The JSON object a server-sent event carries; an error event, or an event that is no
    JSON object, is a CallError (retryable: the next try may stream to the end)."""
    try:
        data = json.loads(event.data)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        snippet = _snippet(event.data.encode(), secrets)
        raise CallError(f"malformed event in the stream: {snippet}", retryable=True)
    error = data.get("error")
    if event.name == "error" or data.get("type") == "error" or error:
        detail = _error_detail(json.dumps(data).encode(), secrets)
        kind = error.get("type") if isinstance(error, dict) else None
        raise CallError(f"the stream failed: {detail}", retryable=kind not in _STREAM_FINAL_ERRORS)
    return data


def cut_short(what: str) -> CallError:
    """A stream that ended cleanly before its end: tried again."""
    return CallError(f"the stream ended before {what}: the answer is incomplete", retryable=True)


def _answer(response: transport.Response, secrets: frozenset[str]) -> dict[str, Any]:
    """The JSON object of a 200 answer, or the CallError its status or body calls for."""
    if response.status != 200:
        detail = _error_detail(response.body, secrets)
        message = f"HTTP {response.status}" + (f": {detail}" if detail else "")
        if response.status in FATAL_STATUS:
            raise CallError(f"{FATAL_STATUS[response.status]} ({message})", fatal=True)
        raise CallError(
            message,
            retryable=response.status in RETRYABLE_STATUS,
            retry_after=retry_after(response.headers),
        )
    try:
        answer = json.loads(response.body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise CallError(f"malformed response: {_snippet(response.body, secrets)}", retryable=True)
    return answer


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or retry-after-ms."""
    if "retry-after-ms" in headers:
        try:
            return max(float(headers["retry-after-ms"]) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time(), 0.0)
    except (TypeError, ValueError):
        return None


def malformed(answer: dict[str, Any], secrets: frozenset[str]) -> CallError:
    """A 200 answer without the fields the API promises."""
    snippet = _snippet(json.dumps(answer).encode(), secrets)
    return CallError(f"malformed response: {snippet}", retryable=True)


def _error_detail(body: bytes, secrets: frozenset[str]) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        return _snippet(body, secrets)
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return secret_values.redact(str(error["message"]), secrets)[:300]
    if isinstance(error, str):
        return secret_values.redact(error, secrets)[:300]
    return _snippet(body, secrets)


def _snippet(body: bytes, secrets: frozenset[str]) -> str:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = "\0"
    if _CONTROL.search(text):
        return f"({len(body):,} bytes that are not text)"  # never binary on a terminal
    text = text.strip().replace("\n", " ")
    text = secret_values.redact(text, secrets)
    return text[:200] + ("…" if len(text) > 200 else "") if text else "(empty body)"
