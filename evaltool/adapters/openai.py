"""OpenAI-compatible chat completions: OpenAI itself, vLLM, llama.cpp server, Ollama, LM Studio,
Google Gemini's OpenAI-compatible endpoint; Azure OpenAI (evaltool.adapters.azure) shares the
wire format.

The key comes from $OPENAI_API_KEY (or the variable the model's config names in
api_key_env); a local server needs none. A model whose config says `stream` asks for the
answer as server-sent events (with `stream_options.include_usage`, so that the last chunk
carries the token counts) and records the time to its first token.
"""

import os
import time
from typing import Any

from evaltool import secrets as secret_values
from evaltool.adapters import Result, chat, estimate_tokens, transport
from evaltool.errors import EvaltoolError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class ChatCompletions:
    """POST {url}/chat/completions with the model id (when the URL does not name the model),
    the messages and the parameters; streamed when the config says `stream`."""

    def __init__(
        self,
        snapshot: dict[str, Any],
        params: dict[str, Any],
        *,
        url: str,
        headers: dict[str, str],
        key_env: str,
        model: str | None,
    ) -> None:
        config = snapshot.get("config") or {}
        self.model = model
        self.params = params
        self.stream = bool(config.get("stream"))
        self.client = chat.client(url, headers, config)
        self.secrets = secret_values.collect(
            secret_values.of_headers(headers),
            secret_values.of_env(key_env),
            secret_values.of_params(params),
            self.client.secrets,
        )

    async def call(self, input: Any) -> Result:
        """One chat completion."""
        msgs = chat.messages(input)
        body = {**self.params, "messages": msgs}
        if self.model is not None:
            body["model"] = self.model
        if not self.stream:
            answer = await chat.post_json(self.client, "/chat/completions", body, self.secrets)
            return self._result(answer, msgs)
        started = time.perf_counter()
        options = {"include_usage": True, **(self.params.get("stream_options") or {})}
        body = {**body, "stream": True, "stream_options": options}
        got = await chat.post_stream(self.client, "/chat/completions", body, self.secrets)
        if isinstance(got, dict):  # the server answered in one piece
            return self._result(got, msgs)
        answer, first = completion(got, self.secrets)
        result = self._result(answer, msgs)
        result.first_token_ms = (first - started) * 1000
        return result

    def _result(self, answer: dict[str, Any], msgs: list[dict[str, Any]]) -> Result:
        try:
            choice = answer["choices"][0]
            message = choice["message"]
            text = message.get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise chat.malformed(answer, self.secrets) from None
        if text is not None and not isinstance(text, str):
            raise chat.malformed(answer, self.secrets)
        usage = answer.get("usage") or {}
        metadata = {
            k: v
            for k, v in (
                ("id", answer.get("id")),
                ("model", answer.get("model")),
                ("finish_reason", choice.get("finish_reason")),
                ("usage", usage or None),
                ("system_fingerprint", answer.get("system_fingerprint")),
            )
            if v is not None
        }
        output: Any = text if not message.get("tool_calls") else message
        prompt_tokens, completion_tokens = (
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )
        if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
            return Result(output, text, prompt_tokens, completion_tokens, False, metadata)
        return Result(
            output,
            text,
            estimate_tokens("".join(str(m.get("content", "")) for m in msgs)),
            estimate_tokens(text or ""),
            True,
            metadata,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()


class OpenAIAdapter(ChatCompletions):
    """POST {base_url}/chat/completions; the key as a Bearer token."""

    def __init__(self, snapshot: dict[str, Any], params: dict[str, Any]) -> None:
        config = snapshot.get("config") or {}
        base_url = config.get("base_url") or DEFAULT_BASE_URL
        key_env = config.get("api_key_env") or "OPENAI_API_KEY"
        headers = chat.headers(config)
        key = os.environ.get(key_env)
        if key:
            headers.setdefault("Authorization", f"Bearer {key}")
        elif base_url == DEFAULT_BASE_URL:
            raise EvaltoolError(f"${key_env} is not set: the OpenAI API needs a key")
        super().__init__(
            snapshot,
            params,
            url=base_url,
            headers=headers,
            key_env=key_env,
            model=snapshot["model_id"],
        )


def completion(
    events: list[transport.Event], secrets: frozenset[str]
) -> tuple[dict[str, Any], float]:
    """The chat completion that a stream of chunks adds up to (the first choice: its text,
    tool calls, finish reason, and the usage of the last chunk that has one), and when its
    first piece arrived: of text, reasoning or a tool call, or its end for an empty answer.

    A stream is complete at `data: [DONE]`, or at its end after a finish reason (some
    servers send no [DONE]); one cut short before is a CallError (retryable)."""
    answer: dict[str, Any] = {}
    text: list[str] = []
    tools: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage: dict[str, Any] | None = None
    first: float | None = None
    done = False
    for event in events:
        if event.data.strip() == "[DONE]":
            done = True
            break
        chunk = chat.event_json(event, secrets)
        for key in ("id", "model", "system_fingerprint"):
            if chunk.get(key) is not None:
                answer[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise chat.malformed(chunk, secrets)
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise chat.malformed(chunk, secrets)
            piece = delta.get("content")
            if isinstance(piece, str):
                text.append(piece)
            for call in delta.get("tool_calls") or []:
                _add_tool_call(tools, call, chunk, secrets)
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if first is None and (piece or delta.get("tool_calls") or reasoning or finish):
                first = event.at
    if not done and finish is None:
        raise chat.cut_short("its finish reason or [DONE]")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if tools:  # as a completion in one piece has them: no text is null
        message["content"] = message["content"] or None
        message["tool_calls"] = [tools[i] for i in sorted(tools)]
    answer["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    if usage is not None:
        answer["usage"] = usage
    return answer, first if first is not None else events[-1].at


def _add_tool_call(
    tools: dict[int, dict[str, Any]], call: Any, chunk: dict[str, Any], secrets: frozenset[str]
) -> None:
    """Add a tool call's delta: the first names it, the rest add to its arguments."""
    if not isinstance(call, dict) or not isinstance(call.get("index", 0), int):
        raise chat.malformed(chunk, secrets)
    tool = tools.setdefault(call.get("index", 0), {"id": None, "type": "function", "function": {}})
    for key in ("id", "type"):
        if call.get(key):
            tool[key] = call[key]
    function = call.get("function") or {}
    if not isinstance(function, dict):
        raise chat.malformed(chunk, secrets)
    for key in ("name", "arguments"):
        if isinstance(function.get(key), str):
            tool["function"][key] = tool["function"].get(key, "") + function[key]
