"""Anthropic Messages API. The key comes from $ANTHROPIC_API_KEY (or config api_key_env)."""

import os
from typing import Any

from evaltool import secrets as secret_values
from evaltool.adapters import Result, chat
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
        answer = await chat.post_json(self.client, "/v1/messages", body, self.secrets)
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
        return Result(
            text if only_text else blocks,
            text,
            usage.get("input_tokens"),
            usage.get("output_tokens"),
            False,
            metadata,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()
