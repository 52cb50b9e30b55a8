"""evaltool: a SQL-first evaluation toolkit for ML and LLM teams, built on PostgreSQL.

The Python API (evaltool.api) is here at the top: `evaltool.connect()` and the one-liner
`evaltool.evaluate(task=my_function, dataset="qa", metrics=["exact_match"])`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evaltool")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["Evaltool", "EvaltoolError", "Run", "__version__", "connect", "evaluate"]

_API = {"Evaltool", "Run", "connect", "evaluate"}


def __getattr__(name: str) -> object:
    # Imported on first use, so that the command line does not load what only scripts need.
    if name in _API:
        from evaltool import api

        return getattr(api, name)
    if name == "EvaltoolError":
        from evaltool.errors import EvaltoolError

        return EvaltoolError
    raise AttributeError(f"module 'evaltool' has no attribute {name!r}")
