"""Fix it, then resume: `evaltool models update` changes how a model is reached (with its
history), `run --resume` finishes a run with the settings as they are then and says so,
and a run's summary groups identical errors."""

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
from click.testing import Result

from tests.model_servers import ModelServer

RunCli = Callable[..., Result]


def test_update_changes_settings_and_parameters_with_history(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    added = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", "http://a:1/v1")
    assert added.exit_code == 0
    updated = run_cli(
        "models", "update", "m", "--base-url", "http://b:2/v1", "--proxy", "http://proxy:3128",
        "--ca-bundle", "/etc/corp-ca.pem", "--param", "temperature=0.5",
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    assert updated.stdout == (
        "updated model m: base_url http://b:2/v1, proxy http://proxy:3128, "
        "ca_bundle /etc/corp-ca.pem\n"
    )
    config, params = conn.execute(
        """SELECT m.config, (SELECT array_agg(p.params ORDER BY p.valid_from)
                             FROM evaltool.model_params p WHERE p.model_id = m.id)
           FROM evaltool.model m WHERE m.name = 'm'"""
    ).fetchone()  # type: ignore[misc]
    assert config == {
        "base_url": "http://b:2/v1",
        "proxy": "http://proxy:3128",
        "ca_bundle": "/etc/corp-ca.pem",
    }
    assert params == [{"temperature": 0.5}]
    unset = run_cli("models", "update", "m", "--unset", "proxy", "--unset", "ca_bundle", "--json")
    assert json.loads(unset.stdout)["config"] == {"base_url": "http://b:2/v1"}
    # every change is in the audit log, with the settings before and after
    changes = conn.execute(
        """SELECT count(*) FROM evaltool.audit_log
           WHERE table_name = 'model' AND action = 'UPDATE'"""
    ).fetchone()
    assert changes == (2,)


def test_update_refuses_what_it_cannot_do(run_cli: RunCli) -> None:
    assert run_cli("models", "add", "m", "--adapter", "openai").exit_code == 0
    for args, message in (
        (["nosuch", "--base-url", "http://x"], "no model named 'nosuch'"),
        (["m"], "nothing to change"),
        (["m", "--proxy", "http://user:pw@proxy:1"], "--proxy must not hold credentials"),
        (["m", "--proxy", "http://p:1", "--unset", "proxy"], "--unset proxy and a new value"),
        (["m", "--header", "Authorization: Bearer sk-123"], "holds a credential"),
    ):
        result = run_cli("models", "update", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)


def test_resume_uses_the_settings_fixed_since(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = tmp_path / "qa.jsonl"
    cases = [f"q{i}" for i in range(6)] + ["badreq 1", "badreq 2", "badreq 3"]
    source.write_text("".join(json.dumps({"input": c}) + "\n" for c in cases))
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    wrong = "http://127.0.0.1:9/v1"  # nothing listens there
    assert run_cli("models", "add", "m", "--adapter", "openai", "--base-url", wrong).exit_code == 0
    assert run_cli("run", "m", "qa", "--prepare").exit_code == 0
    with ModelServer() as server:
        assert run_cli("models", "update", "m", "--base-url", server.url).exit_code == 0
        resumed = run_cli("run", "--resume", "1")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stderr.startswith(
        "run 1 resumes with the model's settings updated since the run began: "
        f"base url {server.url}\n"
    )
    assert len(server.requests) == 9
    # identical errors once, with their count
    assert "  3 errors: HTTP 400: context length exceeded\n" in resumed.stdout
    snapshot = conn.execute("SELECT model_snapshot -> 'config' FROM evaltool.run").fetchone()
    assert snapshot == ({"base_url": server.url},)


def test_a_failure_every_call_hits_stops_the_run(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Nothing listens at the base URL: three refused calls in a row stop the run as
    failed, exit 2, with the fix; not a completed run of 50 errors with exit 0."""
    source = tmp_path / "qa.jsonl"
    source.write_text("".join(json.dumps({"input": f"q{i}"}) + "\n" for i in range(50)))
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    wrong = "http://127.0.0.1:9/v1"
    assert run_cli("models", "add", "m", "--adapter", "openai", "--base-url", wrong).exit_code == 0
    result = run_cli("run", "m", "qa", "--concurrency", "4")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        "Error: run 1 stopped: cannot connect to http://127.0.0.1:9: "
    ), result.stderr
    assert "is the server running there? (the model's --base-url) (3 calls in a row). " in (
        result.stderr
    )
    assert result.stderr.rstrip().endswith("Fix it, then: evaltool run --resume 1")
    status, errors, queued = conn.execute(
        """SELECT r.status, (SELECT count(*) FROM evaltool.response),
                  (SELECT count(*) FROM evaltool.run_task) FROM evaltool.run r"""
    ).fetchone()  # type: ignore[misc]
    assert (status, errors, queued) == ("failed", 0, 50)
