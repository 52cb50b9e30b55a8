"""Spending limits enforced where work is claimed: a run's --max-cost and a project's
monthly budget stop every worker within a batch of the limit, the run reads
budget_exceeded (exit 1), and it resumes once the limit is raised."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests.model_servers import ModelServer

pytestmark = pytest.mark.slow
RunCli = Callable[..., Result]
CALL = Decimal("0.01")  # what one call costs: 4 input tokens at $2,500 per million


def setup(run_cli: RunCli, tmp_path: Path, server: ModelServer, cases: int) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text("".join(json.dumps({"input": f"q{i:03d}"}) + "\n" for i in range(cases)))
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    added = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
    assert added.exit_code == 0
    priced = run_cli(
        "models", "price", "m", "--input-per-mtok", "2500", "--output-per-mtok", "0"
    )  # fmt: skip
    assert priced.exit_code == 0, priced.output


def spent(conn: psycopg.Connection) -> tuple[str, int, Decimal]:
    row = conn.execute(
        """SELECT r.status, count(x.id), coalesce(sum(x.cost_usd), 0)
           FROM evaltool.run r LEFT JOIN evaltool.response x ON x.run_id = r.id
           WHERE r.id = 1 GROUP BY r.status"""
    ).fetchone()
    conn.commit()
    assert row is not None
    return row[0], row[1], row[2]


def test_max_cost_stops_the_run_and_resume_goes_on(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(delay=0.005) as server:
        setup(run_cli, tmp_path, server, 100)
        result = run_cli("run", "m", "qa", "--max-cost", "0.3", "--concurrency", "2")
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("Error: run 1 stopped: run 1 has cost $0.")
        assert ", its --max-cost is $0.3. Raise the limit" in result.stderr
        assert "evaltool run --resume 1" in result.stderr
        status, calls, cost = spent(conn)
        # claims shrink to what is left; the calls under way when it is spent are written
        assert status == "budget_exceeded"
        assert Decimal("0.30") <= cost <= Decimal("0.30") + 3 * CALL
        assert cost == calls * CALL
        assert conn.execute("SELECT count(*) FROM evaltool.run_task").fetchone() == (100 - calls,)
        listed = run_cli("runs", "search", "status:budget_exceeded", "--json")
        assert [r["run_id"] for r in json.loads(listed.stdout)] == [1]

        # resumed without a higher limit: stops at once, nothing spent
        again = run_cli("run", "--resume", "1")
        assert again.exit_code == 1 and spent(conn)[1] == calls
        done = run_cli("run", "--resume", "1", "--max-cost", "5")
        assert done.exit_code == 0, done.output
    assert spent(conn) == ("completed", 100, 100 * CALL)
    assert len(server.questions()) == 100  # no call made twice


def _worker(db_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "evaltool", "run", "--worker", "1", "--concurrency", "4"],
        env={**env, "EVALTOOL_DATABASE_URL": db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_project_budget_stops_four_workers(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(delay=0.01) as server:
        setup(run_cli, tmp_path, server, 300)
        budget = run_cli("projects", "budget", "default", "--monthly", "0.5")
        assert budget.output == "project default: monthly budget $0.5; $0.00 spent this month\n"
        assert run_cli("run", "m", "qa", "--prepare").exit_code == 0
        workers = [_worker(db_url) for _ in range(4)]
        outputs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [1, 1, 1, 1], [e for _, e in outputs]
        assert all(
            "project default has spent $" in err and "its monthly budget is $0.5." in err
            for _, err in outputs
        ), outputs
        status, calls, cost = spent(conn)
        # every worker stops within its calls under way (concurrency 4) of the budget
        assert status == "budget_exceeded"
        assert Decimal("0.5") <= cost <= Decimal("0.5") + 4 * 4 * CALL
        assert len(server.questions()) == calls  # every call made is written

        listed = json.loads(run_cli("projects", "list", "--json").stdout)
        assert [(p["project"], p["monthly_budget_usd"]) for p in listed] == [("default", 0.5)]
        assert run_cli("projects", "budget", "default", "--monthly", "100").exit_code == 0
        done = run_cli("run", "--resume", "1")
        assert done.exit_code == 0, done.output
    assert spent(conn) == ("completed", 300, 300 * CALL)


def test_budget_options_are_checked(run_cli: RunCli) -> None:
    typo = run_cli("projects", "budget", "defualt", "--monthly", "5")
    assert (typo.exit_code, typo.stderr) == (
        2,
        "Error: no project defualt: the projects are default\n",
    )
    neither = run_cli("projects", "budget", "default")
    assert neither.exit_code == 2 and "give --monthly USD, or --none" in neither.stderr
    zero = run_cli("run", "m", "qa", "--max-cost", "0")
    assert zero.exit_code == 2 and "--max-cost" in zero.stderr
    worker = run_cli("run", "--worker", "1", "--max-cost", "1")
    assert worker.exit_code == 2 and "--max-cost belongs to a run" in worker.stderr
