"""Re-pricing: a call's cost is its tokens at the price in force when it was made, whenever
that price is entered or corrected; `report cost --at-prices` prices past calls at another
day's prices."""

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from click.testing import Result

RunCli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def costs(conn: psycopg.Connection) -> dict[str, Any]:
    return dict(
        conn.execute(
            """SELECT p.external_id, x.cost_usd FROM evaltool.response x
               JOIN evaltool.prompt p ON p.id = x.prompt_id"""
        ).fetchall()
    )


def ledger(conn: psycopg.Connection) -> Any:
    return conn.execute(
        "SELECT sum(cost_usd) FROM evaltool.cost_daily WHERE day < '2025-01-01'"
    ).fetchone()[0]  # type: ignore[index]


def test_prices_entered_or_corrected_later_reprice_their_calls(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    cases = tmp_path / "qa.jsonl"
    cases.write_text("".join(json.dumps({"id": i, "input": i}) + "\n" for i in "abcd"))
    ok(run_cli("load", "prompts", str(cases), "-d", "qa"))
    ok(run_cli("models", "add", "m", "--adapter", "python", "--model-id", "x:y"))
    calls = tmp_path / "calls.jsonl"
    lines = [
        {"id": "a", "output": "1", "input_tokens": 1000000, "created_at": "2024-03-01T10:00:00Z"},
        {"id": "b", "output": "2", "output_tokens": 1000000, "created_at": "2024-06-01T10:00:00Z"},
        # a cost the file gives is the provider's word, and stays
        {"id": "c", "output": "3", "input_tokens": 1000000, "cost_usd": 0.5,
         "created_at": "2024-06-01T10:00:00Z"},
        {"id": "d", "status": "error", "error": "timeout", "created_at": "2024-06-01T10:00:00Z"},
    ]  # fmt: skip
    calls.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ok(run_cli("load", "responses", str(calls), "--model", "m", "-d", "qa"))
    assert costs(conn) == {"a": None, "b": None, "c": Decimal("0.5"), "d": None}

    # a first price, back to before the calls: they are priced
    ok(
        run_cli(
            "models", "price", "m", "--input-per-mtok", "2", "--output-per-mtok", "8",
            "--since", "2024-01-01",
        )
    )  # fmt: skip
    assert costs(conn) == {"a": Decimal("2"), "b": Decimal("8"), "c": Decimal("0.5"), "d": None}
    assert ledger(conn) == Decimal("10.5")
    summary = conn.execute("SELECT cost_usd FROM evaltool.run_summary").fetchone()
    assert summary == (Decimal("10.5"),)

    # a new price from May on re-prices the calls since then, not the ones before
    ok(
        run_cli(
            "models", "price", "m", "--input-per-mtok", "1", "--output-per-mtok", "4",
            "--since", "2024-05-01",
        )
    )  # fmt: skip
    assert costs(conn) == {"a": Decimal("2"), "b": Decimal("4"), "c": Decimal("0.5"), "d": None}
    assert ledger(conn) == Decimal("6.5")

    # a DBA's correction in psql, and a removal, re-price at commit
    with conn.transaction():
        conn.execute(
            "UPDATE evaltool.model_pricing SET input_usd_per_mtok = 3 WHERE valid_to IS NOT NULL"
        )
    assert costs(conn)["a"] == Decimal("3")
    with conn.transaction():
        conn.execute("DELETE FROM evaltool.model_pricing WHERE valid_to IS NULL")
    assert costs(conn) == {"a": Decimal("3"), "b": None, "c": Decimal("0.5"), "d": None}
    assert ledger(conn) == Decimal("3.5")


def test_cost_at_another_days_prices(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    cases = tmp_path / "qa.jsonl"
    cases.write_text('{"id": "a", "input": "a"}\n{"id": "b", "input": "b"}\n')
    ok(run_cli("load", "prompts", str(cases), "-d", "qa"))
    for name in ("cheap", "unpriced"):
        ok(run_cli("models", "add", name, "--adapter", "python", "--model-id", "x:y"))
        calls = tmp_path / f"{name}.jsonl"
        calls.write_text(
            json.dumps({"id": "a", "output": "1", "input_tokens": 2000000,
                        "output_tokens": 500000, "created_at": "2024-06-01T10:00:00Z"}) + "\n"
        )  # fmt: skip
        ok(run_cli("load", "responses", str(calls), "--model", name, "-d", "qa"))
    for since, price in (("2024-01-01", "1"), ("2024-07-01", "3")):
        ok(
            run_cli(
                "models", "price", "cheap", "--input-per-mtok", price, "--output-per-mtok",
                price, "--since", since,
            )
        )  # fmt: skip
    report = ok(
        run_cli(
            "report", "cost", "--since", "2024-06-01", "--until", "2024-06-01",
            "--at-prices", "2024-07-01",
        )
    ).stdout  # fmt: skip
    # 2.5 M tokens at $1 then, at $3 on July 1st
    assert "**$2.50** for 2 calls" in report
    assert (
        "At the prices of 2024-07-01: **$7.50** (1 calls of models without a price then)." in report
    )
    assert "| cheap | 1 | 0 | 2,000,000 | 500,000 | $2.50 | $7.50 |" in report
    html = tmp_path / "cost.html"
    ok(
        run_cli(
            "report", "cost", "--since", "2024-06-01", "--until", "2024-06-01",
            "--at-prices", "2024-07-01", "-o", str(html),
        )
    )  # fmt: skip
    assert "at the prices of 2024-07-01" in html.read_text()
