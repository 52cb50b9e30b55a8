"""Models that run here: a Python callable, or a shell command.

`python`: the model id is `module:function` (imported with the current directory on the
path) or `path/to/file.py:function`. The function takes the test case's input JSON (and
`params=` if it accepts it) and returns output JSON, or a `Result` to report real token
counts. Sync functions run in a thread pool of the run's concurrency; async ones are awaited.

`command`: the model id is a shell command. It reads the input JSON on stdin and prints the
output: JSON when it parses as JSON, otherwise the text. $EVALTOOL_PARAMS holds the
parameters as JSON. A non-zero exit is an error response with the last line of stderr.
"""

import asyncio
import inspect
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evaltool import pyload
from evaltool import secrets as secret_values
from evaltool.adapters import CallError, Result, estimate_tokens


class PythonAdapter:
    """Calls a Python function in this process."""

    def __init__(self, snapshot: dict[str, Any], params: dict[str, Any], concurrency: int) -> None:
        target = snapshot["model_id"]
        self.function = load_function(target)
        self.params = params
        self.is_async = inspect.iscoroutinefunction(self.function)
        try:
            self.takes_params = "params" in inspect.signature(self.function).parameters
        except (TypeError, ValueError):
            self.takes_params = False
        self.pool = None if self.is_async else ThreadPoolExecutor(max_workers=concurrency)
        # the keys of the environment, which the function may use and show in its errors
        self.secrets = secret_values.collect(
            secret_values.of_env(), secret_values.of_params(params)
        )

    async def call(self, input: Any) -> Result:
        """Run the function on the input."""
        kwargs = {"params": self.params} if self.takes_params else {}
        try:
            if self.pool is None:
                value = await self.function(input, **kwargs)
            else:
                value = await asyncio.get_running_loop().run_in_executor(
                    self.pool, lambda: self.function(input, **kwargs)
                )
        except Exception as exc:  # the model's own failure is this test case's error
            raise CallError(f"{type(exc).__name__}: {exc}") from exc
        if isinstance(value, Result):
            return value
        return _result(input, value)

    async def aclose(self) -> None:
        """Stop the thread pool."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


class CommandAdapter:
    """Runs a shell command per test case."""

    def __init__(self, snapshot: dict[str, Any], params: dict[str, Any]) -> None:
        self.command = snapshot["model_id"]
        self.env = {**os.environ, "EVALTOOL_PARAMS": json.dumps(params)}
        # the keys of the environment, which the command inherits and may show on stderr
        self.secrets = secret_values.collect(
            secret_values.of_env(), secret_values.of_params(params)
        )

    async def call(self, input: Any) -> Result:
        """Run the command with the input JSON on stdin."""
        proc = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        try:
            out, err = await proc.communicate(json.dumps(input).encode())
        except BaseException:  # timed out or cancelled: do not leave the process behind
            if proc.returncode is None:
                proc.kill()
                await asyncio.shield(proc.wait())
            raise
        if proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            raise CallError(f"exit {proc.returncode}" + (f": {lines[-1]}" if lines else ""))
        text = out.decode("utf-8", "replace").removesuffix("\n")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        return _result(input, value)

    async def aclose(self) -> None:
        """Nothing to release: each call's process is gone when it returns."""


# Callables handed over by the Python API (evaltool.api), by model id: a function defined in
# a notebook or a closure need not be importable by name in this process.
_REGISTERED: dict[str, Callable[..., Any]] = {}


def register(function: Callable[..., Any], name: str | None = None) -> str:
    """Make a callable a python model of this process; returns its model id, MODULE:NAME
    (NAME: the model's name, else the function's). Registering another callable under the
    same name replaces it, as redefining a function in a notebook does."""
    module = getattr(function, "__module__", None) or "__main__"
    label = name or getattr(function, "__qualname__", "") or "function"
    ident = re.sub(r"\W", "_", label).strip("_") or "function"
    target = f"{module}:{'f_' + ident if ident[0].isdigit() else ident}"
    _REGISTERED[target] = function
    return target


def load_function(target: str) -> Any:
    """The callable named by `module:function` or `file.py:function` (or registered)."""
    if target in _REGISTERED:
        return _REGISTERED[target]
    return pyload.load_function(target, "python model")


def _result(input: Any, value: Any) -> Result:
    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise CallError(f"output is not JSON: {exc}") from exc
    prompt = input if isinstance(input, str) else json.dumps(input, ensure_ascii=False)
    return Result(value, text, estimate_tokens(prompt), estimate_tokens(text), True)
