"""--format and --map on every `evaltool load`: JSON Lines, JSON documents and CSV, field
names read by dotted path, and format detection that asks rather than guesses."""

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result

RunCli = Callable[..., Result]


def write(path: Path, *docs: Any) -> Path:
    path.write_text("".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs))
    return path


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cases(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT external_id, input, expected, metadata FROM evaltool.prompt ORDER BY id"
    ).fetchall()


SQUAD = [
    {"id": "q1", "question": "Capital of France?", "answers": {"text": ["Paris", "paris"]}},
    {"id": "q2", "question": "2 + 2?", "answers": {"text": ["4"]}, "title": "math"},
]


def test_dotted_paths_map_fields_of_json_lines_and_json_documents(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    mapping = ["--map", "question=input", "--map", "answers.text.0=expected"]
    lines = write(tmp_path / "squad.jsonl", *SQUAD)
    ok(run_cli("load", "prompts", str(lines), "-d", "lines", *mapping, "--json"))
    by_lines = cases(conn)
    assert by_lines == [
        ("q1", "Capital of France?", "Paris", {"answers": {"text": ["Paris", "paris"]}}),
        ("q2", "2 + 2?", "4", {"answers": {"text": ["4"]}, "title": "math"}),
    ]
    # the same records as one JSON document, an object holding the array (SQuAD's shape)
    document = tmp_path / "squad.json"
    document.write_text(json.dumps({"version": "1.1", "data": SQUAD}, indent=2))
    loaded = ok(run_cli("load", "prompts", str(document), "-d", "doc", *mapping, "--json"))
    assert loaded["inserted"] == 2
    assert cases(conn)[2:] == by_lines


def test_a_bad_record_of_a_json_document_names_its_line(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    document = tmp_path / "cases.json"
    document.write_text('[\n  {"input": "a"},\n  {"input": 1e400},\n  {"input": "c"}\n]\n')
    result = run_cli("load", "prompts", str(document), "-d", "qa")
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {document}:3: invalid JSON: number out of range\n",
    )
    # a record the database refuses, on the line it starts on
    document.write_text('[\n  {"input": "a"},\n\n  {"expected": "no input"}\n]\n')
    result = run_cli("load", "prompts", str(document), "-d", "qa")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {document}:4: ")
    deep = tmp_path / "deep.json"
    deep.write_text('[\n{"input": "a"},\n' + "[" * 5000 + "]" * 5000 + "\n]\n")
    result = run_cli("load", "prompts", str(deep), "-d", "qa")
    assert (result.exit_code, result.stderr) == (2, f"Error: {deep}:3: JSON nested too deeply\n")
    many = tmp_path / "many.json"
    many.write_text('{"train": [], "test": []}')
    result = run_cli("load", "prompts", str(many), "-d", "qa")
    assert result.exit_code == 2
    assert "an object with one array of records; this one has 2: train, test" in result.stderr
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (0,)


def test_a_bad_line_has_the_same_reason_with_a_map(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write(tmp_path / "x.jsonl", {"q": "a"}, '{"q": NaN}', {"q": "c"})
    plain = run_cli("load", "prompts", str(source), "-d", "qa")
    mapped = run_cli("load", "prompts", str(source), "-d", "qa", "--map", "q=input")
    assert plain.exit_code == mapped.exit_code == 2
    assert mapped.stderr.startswith(f"Error: {source}:2: invalid JSON")
    skipped = ok(
        run_cli(
            "load", "prompts", str(source), "-d", "qa", "--map", "q=input", "--skip-invalid",
            "--rejects", str(tmp_path / "rejects.jsonl"), "--json",
        )
    )  # fmt: skip
    assert (skipped["inserted"], skipped["rejected"]) == (2, 1)
    reject = json.loads((tmp_path / "rejects.jsonl").read_text())
    assert (reject["line"], reject["text"]) == (2, '{"q": NaN}')
    assert mapped.stderr == f"Error: {source}:2: {reject['reason']}\n"


def test_responses_scores_training_and_preferences_take_csv_json_and_map(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    write(tmp_path / "qa.jsonl", {"id": "a", "input": "1+1"}, {"id": "b", "input": "2+2"})
    ok(run_cli("load", "prompts", str(tmp_path / "qa.jsonl"), "-d", "qa", "--json"))
    assert run_cli("models", "add", "m", "--adapter", "python", "--model-id", "x:y").exit_code == 0
    outputs = tmp_path / "out.csv"
    outputs.write_text("case,answer,ms,tokens_in\na,2,12.5,7\nb,4,8,not a number\n")
    mapping = ["--map", "case=id", "--map", "answer=output", "--map", "ms=latency_ms"]
    refused = run_cli(
        "load", "responses", str(outputs), "--model", "m", "-d", "qa", *mapping,
        "--map", "tokens_in=input_tokens",
    )  # fmt: skip
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Error: {outputs}:3: latency_ms, input_tokens, output_tokens, cost_usd and attempts "
        "must be numbers >= 0\n",
    )
    loaded = ok(
        run_cli("load", "responses", str(outputs), "--model", "m", "-d", "qa", *mapping, "--json")
    )
    assert loaded["inserted"] == 2
    assert conn.execute(
        "SELECT output, latency_ms, metadata FROM evaltool.response ORDER BY id"
    ).fetchall() == [("2", 12.5, {"tokens_in": "7"}), ("4", 8.0, {"tokens_in": "not a number"})]
    run_id = conn.execute("SELECT max(id) FROM evaltool.run").fetchone()[0]  # type: ignore[index]

    # scores as a JSON document, names by dotted path
    scores = tmp_path / "scores.json"
    scores.write_text(
        json.dumps(
            [
                {"case": {"id": "a"}, "grade": {"name": "ok", "pass": True, "score": 1}},
                {"case": {"id": "b"}, "grade": {"name": "ok", "pass": False, "score": 0.2}},
            ]
        )
    )
    ok(
        run_cli(
            "load", "scores", str(scores), "--run", str(run_id), "--map", "case.id=id",
            "--map", "grade.name=metric", "--map", "grade.pass=passed",
            "--map", "grade.score=value", "--json",
        )
    )  # fmt: skip
    assert conn.execute(
        "SELECT metric, value, passed FROM evaltool.score ORDER BY value"
    ).fetchall() == [("ok", 0.2, False), ("ok", 1.0, True)]

    # training pairs from CSV: priority read as a number
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("question,answer,priority\nq1,a1,700\nq2,a2,\n")
    ok(
        run_cli(
            "load", "training", str(pairs), "--map", "question=prompt",
            "--map", "answer=completion", "--json",
        )
    )  # fmt: skip
    assert conn.execute(
        "SELECT prompt, completion, priority FROM evaltool.training_example ORDER BY id"
    ).fetchall() == [("q1", "a1", 700), ("q2", "a2", 100)]

    # preferences with --map, between two runs of the test cases
    other = write(tmp_path / "other.jsonl", {"id": "a", "output": "3"}, {"id": "b", "output": "4"})
    ok(run_cli("load", "responses", str(other), "--model", "m", "-d", "qa", "--json"))
    labels = write(tmp_path / "labels.jsonl", {"case": "a", "better": "b", "who": {"name": "al"}})
    ok(
        run_cli(
            "load", "preferences", str(labels), "--run-a", str(run_id),
            "--run-b", str(run_id + 1), "--map", "case=id", "--map", "better=winner",
            "--map", "who.name=judge", "--json",
        )
    )  # fmt: skip
    assert conn.execute("SELECT winner, judge FROM evaltool.preference").fetchall() == [("b", "al")]


def test_responses_keep_the_time_of_the_call_and_its_price(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    write(tmp_path / "qa.jsonl", {"id": "a", "input": "x"}, {"id": "b", "input": "y"})
    ok(run_cli("load", "prompts", str(tmp_path / "qa.jsonl"), "-d", "qa", "--json"))
    assert run_cli("models", "add", "m", "--adapter", "python", "--model-id", "x:y").exit_code == 0
    for since, price in (("2024-01-01", "1"), ("2025-01-01", "2")):
        priced = run_cli(
            "models", "price", "m", "--input-per-mtok", price, "--output-per-mtok", price,
            "--since", since,
        )  # fmt: skip
        assert priced.exit_code == 0, priced.output
    bad = write(
        tmp_path / "out.jsonl",
        {"id": "a", "output": "1", "input_tokens": 1000000, "created_at": "2024-06-01T10:00:00Z"},
        {"id": "b", "output": "2", "input_tokens": 1000000, "created_at": "yesterday"},
    )
    result = run_cli("load", "responses", str(bad), "--model", "m", "-d", "qa")
    assert (result.exit_code, result.stderr) == (
        2,
        f'Error: {bad}:2: "created_at" must be a time in ISO 8601, such as 2024-05-01T12:00:00Z\n',
    )
    good = write(
        tmp_path / "out.jsonl",
        {"id": "a", "output": "1", "input_tokens": 1000000, "created_at": "2024-06-01T10:00:00Z"},
        {"id": "b", "output": "2", "input_tokens": 1000000, "created_at": "2025-06-01 10:00:00"},
    )
    ok(run_cli("load", "responses", str(good), "--model", "m", "-d", "qa", "--json"))
    assert conn.execute(
        "SELECT created_at::text, cost_usd FROM evaltool.response ORDER BY created_at"
    ).fetchall() == [
        ("2024-06-01 10:00:00+00", Decimal("1.00000000")),
        ("2025-06-01 10:00:00+00", Decimal("2.00000000")),
    ]


@pytest.mark.parametrize(
    ("line", "fmt"),
    [
        ({"doc_id": 0, "doc": {"q": "2+2"}, "target": "4", "resps": [["4"]]}, "lm-eval"),
        ({"input": "2+2", "target": "4"}, "inspect"),
        ({"input": [{"role": "user", "content": "hi"}], "ideal": "hello"}, "openai-evals"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "chat"),
    ],
)
def test_formats_are_told_apart(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, line: dict[str, Any], fmt: str
) -> None:
    source = write(tmp_path / "x.jsonl", line)
    auto = ok(run_cli("load", "prompts", str(source), "-d", "auto", "--json"))
    named = ok(run_cli("load", "prompts", str(source), "-d", "named", "--format", fmt, "--json"))
    assert auto["inserted"] == named["inserted"] == 1
    found = cases(conn)
    assert found[0] == found[1]
    assert found[0][1] != line  # reshaped, not loaded as evaltool's own format


def test_lm_eval_samples_load_as_test_cases(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "samples_gsm8k.jsonl",
        {"doc_id": 7, "doc": {"question": "2+2?"}, "target": "4", "resps": [["4"]], "acc": 1},
    )
    ok(run_cli("load", "prompts", str(source), "-d", "gsm8k", "--json"))
    assert cases(conn) == [("7", {"question": "2+2?"}, "4", {})]


def test_a_line_that_fits_two_formats_asks_for_one(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write(tmp_path / "x.jsonl", {"input": "q", "ideal": "a", "target": "a"})
    result = run_cli("load", "prompts", str(source), "-d", "qa")
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {source}:1: the line fits the openai-evals and the inspect formats: "
        "give --format\n",
    )
    chosen = ok(
        run_cli("load", "prompts", str(source), "-d", "qa", "--format", "inspect", "--json")
    )
    assert chosen["inserted"] == 1


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[\n {"input": "a"},\n {"input": "b"}', 3, "invalid JSON: unexpected end of the document"),
        ('[\n {"input": "a"}\n {"input": "b"}\n]', 3, "invalid JSON: Expecting ',' delimiter"),
        ('[\n {"input": "a"}\n]\n]', 4, "invalid JSON: Extra data"),
        ('{"data": [\n {"input": "a"},\n {"input": tru}\n]}', 3, "invalid JSON: Expecting value"),
        ('"just a string"', 1, "invalid JSON: Expecting an array or an object"),
        ("", 1, "invalid JSON: unexpected end of the document"),
    ],
)
def test_broken_json_documents_name_their_line(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, text: str, line: int, reason: str
) -> None:
    source = tmp_path / "cases.json"
    source.write_text(text)
    result = run_cli("load", "prompts", str(source), "-d", "qa")
    assert (result.exit_code, result.stderr) == (2, f"Error: {source}:{line}: {reason}\n")
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (0,)


def test_damaged_files_and_values_python_cannot_take_are_one_line(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Classes found by a hostile corpus: integers past Python's 4,300 digits, lone
    surrogates, damaged or truncated gzip files; each one line with its file, exit 2."""
    import gzip

    big = tmp_path / "big.json"
    big.write_text('[\n{"input": "a"},\n{"input": ' + "9" * 5000 + "}\n]")
    lone = tmp_path / "lone.json"
    lone.write_text('[\n{"input": "a"},\n{"input": "\\ud800"}\n]')
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + b"not gzip at all" * 10)
    truncated = tmp_path / "cut.csv.gz"
    whole = gzip.compress(
        b"input,expected\n" + b"".join(b"a%d,b%d\n" % (i, i * 7) for i in range(5000))
    )
    truncated.write_bytes(whole[: len(whole) // 2])
    for source, expected in (
        (big, f"Error: {big}:3: invalid JSON: number out of range\n"),
        (lone, f"Error: {lone}:3: invalid JSON: lone surrogate \\ud800 is not Unicode\n"),
        (corrupt, f"Error: {corrupt}: not a readable gzip file"),
        (truncated, f"Error: {truncated}: the file ends too early"),
    ):
        result = run_cli("load", "prompts", str(source), "-d", "qa")
        assert result.exit_code == 2, (source, result.output)
        assert result.stderr.startswith(expected), (source, result.stderr)
        assert result.stderr.count("\n") == 1
    csv_cell = tmp_path / "cells.csv"
    csv_cell.write_text('input,metadata\na,{"n": ' + "1" * 5000 + "}\n")
    result = run_cli("load", "prompts", str(csv_cell), "-d", "qa")
    assert (result.exit_code, result.stderr) == (
        2,
        f'Error: {csv_cell}:2: "metadata" must be an object\n',
    )
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (0,)


def test_a_file_name_with_a_newline_loads_and_is_shown_escaped(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    good = tmp_path / "name\nwith newline.jsonl"
    good.write_text('{"input": "a"}\n')
    assert run_cli("load", "prompts", str(good), "-d", "qa", "--quiet").exit_code == 0
    bad = tmp_path / "bad\x1b[31mname.jsonl"
    bad.write_text('{"input": "b"}\n{"input": tru}\n')
    result = run_cli("load", "prompts", str(bad), "-d", "qa")
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"Error: {tmp_path}/bad\\x1b[31mname.jsonl:2: invalid JSON: Expecting value\n"
    )
