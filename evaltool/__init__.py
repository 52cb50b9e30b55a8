"""evaltool: a SQL-first evaluation toolkit for ML and LLM teams, built on PostgreSQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evaltool")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
