"""OpenAI-compatible chat completions: OpenAI itself, vLLM, llama.cpp server, Ollama, LM Studio.

The key comes from $OPENAI_API_KEY (or the variable the model's config names in
api_key_env); a local server needs none.
"""

import os
from typing import Any

from evaltool import secrets as secret_values
from evaltool.adapters import Result, chat, estimate_tokens
from evaltool.errors import EvaltoolError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIAdapter:
    """POST {base_url}/chat/completions with the model id, the messages and the parameters."""

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
        self.model = snapshot["model_id"]
        self.params = params
        self.client = chat.client(base_url, headers, config)
        self.secrets = secret_values.collect(
            secret_values.of_headers(headers),
            secret_values.of_env(key_env),
            secret_values.of_params(params),
            self.client.secrets,
        )

    async def call(self, input: Any) -> Result:
        """One chat completion."""
        msgs = chat.messages(input)
        answer = await chat.post_json(
            self.client,
            "/chat/completions",
            {**self.params, "model": self.model, "messages": msgs},
            self.secrets,
        )
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
