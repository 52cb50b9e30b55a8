"""AWS Bedrock Converse, through boto3 (`pip install 'evaltool[bedrock]'`).

Credentials and region come from the AWS credential chain (environment, profile, instance
role); the model config may set "region" and, for tests or VPC endpoints, "base_url".
boto3 is synchronous, so calls run in a thread pool of the run's concurrency, and its own
retries are off: evaltool retries with its backoff like for every adapter.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evaltool import secrets as secret_values
from evaltool.adapters import CallError, Result, chat
from evaltool.errors import EvaltoolError

_RETRYABLE = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelTimeoutException",
}
_FATAL = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "ResourceNotFoundException",
    "ExpiredTokenException",
}
# Converse's inferenceConfig fields, by the names the other adapters use.
_INFERENCE = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP"}


class BedrockAdapter:
    """bedrock-runtime converse(modelId, messages, system, inferenceConfig)."""

    def __init__(self, snapshot: dict[str, Any], params: dict[str, Any], concurrency: int) -> None:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError as exc:
            raise EvaltoolError(
                "the bedrock adapter needs boto3: pip install 'evaltool[bedrock]'"
            ) from exc
        config = snapshot.get("config") or {}
        self.errors = botocore.exceptions
        self.client = boto3.client(
            "bedrock-runtime",
            region_name=config.get("region"),
            endpoint_url=config.get("base_url"),
            config=botocore.config.Config(
                retries={"total_max_attempts": 1}, max_pool_connections=concurrency
            ),
        )
        self.model = snapshot["model_id"]
        self.inference = {_INFERENCE[k]: v for k, v in params.items() if k in _INFERENCE}
        self.extra = {k: v for k, v in params.items() if k not in _INFERENCE}
        self.pool = ThreadPoolExecutor(max_workers=concurrency)
        # the AWS keys of the environment (a profile's are never in a message of ours)
        self.secrets = secret_values.collect(
            secret_values.of_env(), secret_values.of_params(params)
        )

    async def call(self, input: Any) -> Result:
        """One Converse call."""
        msgs = chat.messages(input)
        request: dict[str, Any] = {
            "modelId": self.model,
            "messages": [
                {"role": m["role"], "content": [{"text": str(m.get("content", ""))}]}
                for m in msgs
                if m.get("role") != "system"
            ],
        }
        system = [{"text": str(m.get("content", ""))} for m in msgs if m.get("role") == "system"]
        if system:
            request["system"] = system
        if self.inference:
            request["inferenceConfig"] = self.inference
        if self.extra:
            request["additionalModelRequestFields"] = self.extra
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self.pool, lambda: self.client.converse(**request))
        except self.errors.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
            raise CallError(message, retryable=code in _RETRYABLE, fatal=code in _FATAL) from exc
        except self.errors.NoCredentialsError as exc:
            raise CallError(f"no AWS credentials: {exc}", fatal=True) from exc
        except self.errors.BotoCoreError as exc:  # connection errors, read timeouts
            raise CallError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        try:
            blocks = answer["output"]["message"]["content"]
            text = "".join(b.get("text", "") for b in blocks)
            usage = answer["usage"]
        except (KeyError, TypeError, AttributeError):
            raise CallError("malformed response from Bedrock", retryable=True) from None
        metadata = {
            "stop_reason": answer.get("stopReason"),
            "usage": usage,
            "request_id": answer.get("ResponseMetadata", {}).get("RequestId"),
        }
        return Result(
            text, text, usage.get("inputTokens"), usage.get("outputTokens"), False, metadata
        )

    async def aclose(self) -> None:
        """Stop the thread pool."""
        self.pool.shutdown(wait=False, cancel_futures=True)
