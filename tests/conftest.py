"""Shared fixtures. The database fixtures live in the fix_db plugin (see pyproject.toml)."""

import os
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from evaltool.cli import cli

# The user's own settings must never leak into a test (nor point it at their database);
# EVALTOOL_TEST_* say how the test session itself runs.
for _name in [n for n in os.environ if n.startswith("EVALTOOL_")]:
    if _name.startswith("EVALTOOL_TEST_"):
        continue
    del os.environ[_name]


@pytest.fixture
def run_cli(db_url: str) -> Callable[..., Result]:
    """Invoke `evaltool ARGS...` in-process against this test's database."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli,
            list(args),
            env={"EVALTOOL_DATABASE_URL": db_url, **(env or {})},
            input=input,
            catch_exceptions=False,
        )

    return invoke
