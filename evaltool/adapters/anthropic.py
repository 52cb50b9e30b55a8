"""Anthropic Messages API. The key comes from $ANTHROPIC_API_KEY (or config api_key_env).

A model whose config says `stream` gets its message as server-sent events (message_start,
content_block_start/delta/stop, message_delta, message_stop), put together into the message
a call in one piece returns, and records the time to its first token.
"""

import json
import os
import time
from typing import Any

from evaltool import secrets as secret_values
from evaltool.adapters import Result, chat, estimate_tokens, transport
from evaltool.errors import EvaltoolError

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
# The API requires max_tokens; used when the model's parameters do not set it.
DEFAULT_MAX_TOKENS = 1024


class AnthropicAdapter:
    """POST {base_url}/v1/messages; system turns of the input go to the "system" field."""

    def __init__(self, snapshot: dict[str, Any], params: dict[str, Any]) -> None:
        config = snapshot.get("config") or {}
        base_url = config.get("base_url") or DEFAULT_BASE_URL
        key_env = config.get("api_key_env") or "ANTHROPIC_API_KEY"
        headers = {"anthropic-version": API_VERSION, **chat.headers(config)}
        key = os.environ.get(key_env)
        if key:
            headers.setdefault("x-api-key", key)
        elif base_url == DEFAULT_BASE_URL:
            raise EvaltoolError(f"${key_env} is not set: the Anthropic API needs a key")
        self.model = snapshot["model_id"]
        self.params = {"max_tokens": DEFAULT_MAX_TOKENS, **params}
        self.stream = bool(config.get("stream"))
        self.client = chat.client(base_url, headers, config)
        self.secrets = secret_values.collect(
            secret_values.of_headers(headers),
            secret_values.of_env(key_env),
            secret_values.of_params(params),
            self.client.secrets,
        )

    async def call(self, input: Any) -> Result:
        """One message."""
        msgs = chat.messages(input)
        system = [m["content"] for m in msgs if m.get("role") == "system"]
        body = {
            **self.params,
            "model": self.model,
            "messages": [m for m in msgs if m.get("role") != "system"],
        }
        if system and "system" not in body:
            body["system"] = "\n\n".join(str(s) for s in system)
        if not self.stream:
            answer = await chat.post_json(self.client, "/v1/messages", body, self.secrets)
            return self._result(answer, msgs)
        started = time.perf_counter()
        body["stream"] = True
        got = await chat.post_stream(self.client, "/v1/messages", body, self.secrets)
        if isinstance(got, dict):  # the server answered in one piece
            return self._result(got, msgs)
        answer, first = message(got, self.secrets)
        result = self._result(answer, msgs)
        result.first_token_ms = (first - started) * 1000
        return result

    def _result(self, answer: dict[str, Any], msgs: list[dict[str, Any]]) -> Result:
        blocks = answer.get("content")
        usage = answer.get("usage")
        if not isinstance(blocks, list) or not isinstance(usage, dict):
            raise chat.malformed(answer, self.secrets)
        text = "".join(
            b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
        )
        only_text = all(isinstance(b, dict) and b.get("type") == "text" for b in blocks)
        metadata = {
            k: answer[k]
            for k in ("id", "model", "stop_reason", "usage")
            if answer.get(k) is not None
        }
        output = text if only_text else blocks
        input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
        if isinstance(input_tokens, int) and isinstance(output_tokens, int):
            return Result(output, text, input_tokens, output_tokens, False, metadata)
        return Result(
            output,
            text,
            estimate_tokens("".join(str(m.get("content", "")) for m in msgs)),
            estimate_tokens(text),
            True,
            metadata,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()


def message(events: list[transport.Event], secrets: frozenset[str]) -> tuple[dict[str, Any], float]:
    """The message that a stream of events adds up to, and when its first piece arrived (the
    first content_block_delta: text, thinking or tool input; its end for an empty message).
    A stream without message_stop is cut short: a CallError (retryable)."""
    answer: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}  # the JSON text of a tool_use block's input, so far
    first: float | None = None
    for event in events:
        if event.name == "ping":
            continue
        data = chat.event_json(event, secrets)
        kind = data.get("type", event.name)
        if kind == "message_start" and isinstance(data.get("message"), dict):
            answer = dict(data["message"])
            answer["usage"] = dict(answer.get("usage") or {})
        elif answer is None:  # a stream must begin with the message
            raise chat.malformed(data, secrets)
        elif kind == "content_block_start" and isinstance(data.get("content_block"), dict):
            blocks[data.get("index", len(blocks))] = dict(data["content_block"])
        elif kind == "content_block_delta" and isinstance(data.get("delta"), dict):
            first = event.at if first is None else first
            block = blocks.setdefault(data.get("index", 0), {"type": "text", "text": ""})
            delta = data["delta"]
            if delta.get("type") == "input_json_delta":
                index = data.get("index", 0)
                partial[index] = partial.get(index, "") + str(delta.get("partial_json", ""))
            for key in ("text", "thinking", "signature"):
                if isinstance(delta.get(key), str):
                    block[key] = block.get(key, "") + delta[key]
        elif kind == "content_block_stop" and data.get("index", 0) in partial:
            index = data.get("index", 0)
            try:
                blocks[index]["input"] = json.loads(partial.pop(index) or "{}")
            except (ValueError, KeyError):
                raise chat.malformed(data, secrets) from None
        elif kind == "message_delta":
            first = event.at if first is None else first
            delta, usage = data.get("delta") or {}, data.get("usage") or {}
            if not isinstance(delta, dict) or not isinstance(usage, dict):
                raise chat.malformed(data, secrets)
            answer.update(delta)
            answer["usage"].update(usage)
        elif kind == "message_stop":
            answer["content"] = [blocks[i] for i in sorted(blocks)]
            return answer, first if first is not None else event.at
    raise chat.cut_short("message_stop")
