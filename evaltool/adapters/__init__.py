"""Model adapters: one call of a model on one test case's input.

Every adapter turns the input JSON of a test case into a call and the answer into a
`Result`: output JSON, its text, token counts (from the API's usage, otherwise estimated
and marked so), metadata and, for a streamed answer, the time to its first token. Failures
raise `CallError`, which says whether retrying can help and whether the whole run should
stop (a rejected API key fails every call alike).

Every adapter `create` returns redacts its failures: the message of each CallError, and of
any other exception, has the adapter's secrets (evaltool.secrets) replaced by *** before it
leaves the adapter, so the key a provider echoes reaches no error row, run metadata, stderr
or report.
"""

import os
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from evaltool import secrets as secret_values
from evaltool.errors import EvaltoolError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(slots=True)
class Result:
    """What one call produced. A Python model may return one to give real token counts."""

    output: Any
    output_text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    # milliseconds from the request to the first piece of a streamed answer; None: not streamed
    first_token_ms: float | None = None


class CallError(Exception):
    """A call that failed: stored as an error response unless `fatal`.

    `retryable` errors (rate limits, 5xx, timeouts, dropped connections) are tried again
    with backoff, after `retry_after` seconds when the server said so. `systemic` ones
    (the name does not resolve, nothing listens, the certificate is not trusted) will be
    hit by every call alike: a few in a row stop the run rather than fill it with errors.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        fatal: bool = False,
        systemic: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.fatal = fatal
        self.systemic = systemic

    def redact(self, secrets: frozenset[str]) -> "CallError":
        """This error, its message with `secrets` (and key-shaped text) replaced by ***."""
        self.args = (secret_values.redact(str(self), secrets),)
        return self


class Adapter(Protocol):
    """How evaltool calls a model. `secrets` are the values its failures must not show."""

    secrets: frozenset[str]

    async def call(self, input: Any) -> Result:
        """Call the model once on one test case's input."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads or processes."""
        ...


def create(snapshot: dict[str, Any], params: dict[str, Any], concurrency: int) -> Adapter:
    """The adapter for a run's model snapshot (a row of evaltool.model) and parameters.

    Raises EvaltoolError when the model cannot be called at all: a missing API key, a
    Python model that does not import, boto3 not installed.
    """
    return Redacting(_create(snapshot, params, concurrency))


def _create(snapshot: dict[str, Any], params: dict[str, Any], concurrency: int) -> Adapter:
    kind = snapshot["adapter"]
    if kind == "openai":
        from evaltool.adapters.openai import OpenAIAdapter

        return OpenAIAdapter(snapshot, params)
    if kind == "azure":
        from evaltool.adapters.azure import AzureAdapter

        return AzureAdapter(snapshot, params)
    if kind == "anthropic":
        from evaltool.adapters.anthropic import AnthropicAdapter

        return AnthropicAdapter(snapshot, params)
    if kind == "bedrock":
        from evaltool.adapters.bedrock import BedrockAdapter

        return BedrockAdapter(snapshot, params, concurrency)
    if kind == "python":
        from evaltool.adapters.local import PythonAdapter

        return PythonAdapter(snapshot, params, concurrency)
    if kind == "command":
        from evaltool.adapters.local import CommandAdapter

        return CommandAdapter(snapshot, params)
    if kind == "imported":
        raise EvaltoolError(
            f"model {snapshot['name']} is known only from imported results: evaltool cannot "
            "call it; register one it can call (evaltool models add --help)"
        )
    raise EvaltoolError(f"unknown adapter {kind!r}")


class Redacting:
    """An adapter whose failures never show its secrets: a CallError leaves with its message
    redacted, any other exception (an adapter bug) as a CallError with the redacted text the
    runner would have stored."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.secrets = adapter.secrets

    async def call(self, input: Any) -> Result:
        """The wrapped adapter's call."""
        try:
            return await self.adapter.call(input)
        except CallError as exc:
            exc.redact(self.secrets)
            raise
        except Exception as exc:
            message = secret_values.redact(f"{type(exc).__name__}: {exc}", self.secrets)
            raise CallError(message) from None

    async def aclose(self) -> None:
        """Release the wrapped adapter's connections, threads or processes."""
        await self.adapter.aclose()


def expand_env(value: str, what: str) -> str:
    """Replace ${VAR} with the environment's value, so header secrets stay out of the database."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise EvaltoolError(f"{what} uses ${{{name}}}, which is not set in the environment")
        return os.environ[name]

    return _ENV_REF.sub(sub, value)


def estimate_tokens(text: str) -> int:
    """About four characters a token: OpenAI's rule of thumb for English text."""
    return (len(text) + 3) // 4
