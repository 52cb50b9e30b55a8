"""`evaltool runs export`: every response with its test case and scores, JSONL or CSV."""

import csv
import gzip
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from evaltool import runexport
from evaltool.errors import EvaltoolError
from tests.scores import make_runs, put_scores

RunCli = Callable[..., Result]
FIELDS = [
    "run_id",
    "model",
    "dataset",
    "dataset_version",
    "response_id",
    "prompt_id",
    "external_id",
    "sample",
    "input",
    "expected",
    "tags",
    "metadata",
    "status",
    "output",
    "output_text",
    "error",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "attempts",
    "created_at",
    "template",
    "template_version",
    "request",
    "cached_from",
]

CASES = [
    {"id": "q1", "input": {"question": "2+2?"}, "expected": "4", "outputs": ["4"]},
    {"id": "q2", "input": "capital of France?", "expected": "Paris", "outputs": ["=HYPERLINK(1)"]},
    {"id": "-q3", "input": -1, "outputs": [{"error": "timeout"}]},
]


@pytest.fixture
def run_id(conn: psycopg.Connection) -> int:
    """A run of 3 test cases: q1 right (scored 1.0 and passed), q2 a formula (0.0, failed),
    -q3 an error (its input a number beyond a float's precision); q1 and q2 have a second
    sample, scored pass/fail only."""
    (run,) = make_runs(conn, CASES, runs=1)
    conn.execute(
        """UPDATE evaltool.prompt SET tags = '{math}', metadata = '{"level": 1}'
           WHERE external_id = 'q1'"""
    )
    conn.execute(  # more digits than a float holds
        "UPDATE evaltool.prompt SET input = '-1.00000000000000000001' WHERE external_id = '-q3'"
    )
    conn.execute(
        """UPDATE evaltool.response SET input_tokens = 3, output_tokens = 1, cost_usd = 0.00012
           WHERE run_id = %s""",
        (run,),
    )
    put_scores(conn, run, "exact_match", [1.0, 0.0, None], [True, False, None])
    conn.execute(
        """WITH two AS (
               INSERT INTO evaltool.response (run_id, prompt_id, sample, status, output,
                                              output_text)
               SELECT run_id, prompt_id, 2, 'ok', output, output_text
               FROM evaltool.response WHERE run_id = %(run)s AND status = 'ok'
               RETURNING run_id, id, output_text)
           INSERT INTO evaltool.score (run_id, response_id, metric, passed, scorer, details)
           SELECT run_id, id, 'judged', output_text = '4', 'judge', '{"why": "looked"}' FROM two""",
        {"run": run},
    )
    conn.commit()
    return run


def exported(run_cli: RunCli, *args: str) -> Result:
    result = run_cli("runs", "export", *args)
    assert result.exit_code == 0, result.output
    return result


def test_jsonl_on_stdout_has_every_response_with_its_scores(run_cli: RunCli, run_id: int) -> None:
    lines = exported(run_cli, str(run_id)).stdout.splitlines()
    records = [json.loads(line, parse_float=Decimal) for line in lines]
    assert [(r["external_id"], r["sample"]) for r in records] == [
        ("q1", 1),
        ("q1", 2),
        ("q2", 1),
        ("q2", 2),
        ("-q3", 1),
    ]
    first = records[0]
    assert list(first) == [*FIELDS, "scores"]
    assert first["run_id"] == run_id and first["dataset_version"] == "1"
    assert (first["input"], first["expected"], first["tags"], first["metadata"]) == (
        {"question": "2+2?"},
        "4",
        ["math"],
        {"level": 1},
    )
    assert (first["status"], first["output"], first["cost_usd"]) == ("ok", "4", Decimal("0.00012"))
    assert first["scores"] == {
        "exact_match": {"value": 1.0, "passed": True, "scorer": "test", "details": {}}
    }
    assert records[3]["scores"] == {
        "judged": {"value": None, "passed": False, "scorer": "judge", "details": {"why": "looked"}}
    }
    error = records[4]
    assert (error["status"], error["error"], error["output"], error["scores"]) == (
        "error",
        "timeout",
        None,
        {},
    )
    assert error["input"] == Decimal("-1.00000000000000000001")


def test_csv_has_score_columns_and_guards_formulas(
    run_cli: RunCli, run_id: int, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    result = exported(run_cli, str(run_id), "-o", str(out))
    assert result.stderr.strip() == f"wrote 5 responses of run {run_id} to {out}"
    header, *rows = list(csv.reader(io.StringIO(out.read_text())))
    assert header == [
        *FIELDS,
        "score.exact_match",
        "passed.exact_match",
        "score.judged",
        "passed.judged",
    ]
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    q1, q1_two, q2 = cells[0], cells[1], cells[2]
    assert (q1["input"], q1["tags"], q1["metadata"]) == (
        '{"question": "2+2?"}',
        '["math"]',
        '{"level": 1}',
    )
    assert (q1["score.exact_match"], q1["passed.exact_match"], q1["score.judged"]) == (
        "1",
        "true",
        "",
    )
    assert (q1_two["sample"], q1_two["score.judged"], q1_two["passed.judged"]) == (
        "2",
        "true",
        "true",
    )
    assert (q2["output_text"], q2["output"]) == ("'=HYPERLINK(1)", '"=HYPERLINK(1)"')
    # A negative number is no formula, and stays JSON; an id that starts with - is text.
    assert (cells[4]["external_id"], cells[4]["input"]) == ("'-q3", "-1.00000000000000000001")


def test_gzip_and_format_option(run_cli: RunCli, run_id: int, tmp_path: Path) -> None:
    packed = tmp_path / "run.jsonl.gz"
    exported(run_cli, str(run_id), "-o", str(packed))
    lines = gzip.decompress(packed.read_bytes()).decode().splitlines()
    assert [json.loads(line)["sample"] for line in lines] == [1, 2, 1, 2, 1]

    as_csv = exported(run_cli, str(run_id), "--format", "csv").stdout
    assert len(list(csv.reader(io.StringIO(as_csv)))) == 6
    assert list(tmp_path.iterdir()) == [packed]  # no temporary file left beside it


def test_run_by_model_name_and_unknown_runs(
    run_cli: RunCli, run_id: int, conn: psycopg.Connection, tmp_path: Path
) -> None:
    (model,) = conn.execute(
        """SELECT m.name FROM evaltool.model m JOIN evaltool.run r ON r.model_id = m.id
           WHERE r.id = %s""",
        (run_id,),
    ).fetchone()
    assert len(exported(run_cli, model).stdout.splitlines()) == 5

    out = tmp_path / "none.csv"
    missing = run_cli("runs", "export", "999", "-o", str(out))
    assert (missing.exit_code, missing.stderr) == (2, "Error: no run 999: see evaltool runs list\n")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    unknown = run_cli("runs", "export", "no-such-model")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("Error: 'no-such-model' is neither a run id nor a model")


def test_format_follows_the_file_name() -> None:
    assert runexport.format_of(None, None) == ("jsonl", False)
    assert runexport.format_of(None, "csv") == ("csv", False)
    assert runexport.format_of(Path("a/Run.CSV.gz"), None) == ("csv", True)
    assert runexport.format_of(Path("run.json"), None) == ("jsonl", False)
    assert runexport.format_of(Path("run.txt.gz"), "jsonl") == ("jsonl", True)
    with pytest.raises(EvaltoolError, match=r"cannot tell the format of run\.txt"):
        runexport.format_of(Path("run.txt"), None)
