"""`evaltool load prompts`: what lands in the database, and what a bad line does."""

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result

RunCli = Callable[..., Result]

FIELDS = "p.external_id, p.input, p.expected, p.tags, p.metadata, p.origin, p.is_verified"


def rows(conn: psycopg.Connection, dataset: str = "qa", version: str = "1") -> list[tuple]:
    return conn.execute(
        f"""SELECT {FIELDS} FROM evaltool.prompt p JOIN evaltool.dataset d ON d.id = p.dataset_id
            WHERE d.name = %s AND d.version = %s ORDER BY p.id""",
        [dataset, version],
    ).fetchall()


def write(path: Path, *lines: Any) -> Path:
    """Write JSON lines (dicts are dumped, strings written as they are)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def summary(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_loads_every_field(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    source = write(
        tmp_path / "golden.jsonl",
        {"id": "q1", "input": "2+2?", "expected": "4", "tags": ["math"], "origin": "synthetic"},
        {
            "input": {"messages": [{"role": "user", "content": "hi"}]},
            "metadata": {"k": 1},
            "difficulty": "easy",
            "is_verified": False,
        },
        {"id": 7, "input": [1, 2, 3], "expected": None},
    )
    result = summary(run_cli("load", "prompts", str(source), "--dataset", "qa", "--json"))
    assert {k: result[k] for k in ("read", "inserted", "duplicates", "rejected")} == {
        "read": 3,
        "inserted": 3,
        "duplicates": 0,
        "rejected": 0,
    }
    assert result["created"] == ["dataset qa:1"]
    assert rows(conn) == [
        ("q1", "2+2?", "4", ["math"], {}, "synthetic", False),
        (
            None,
            {"messages": [{"role": "user", "content": "hi"}]},
            None,
            [],
            {"k": 1, "difficulty": "easy"},
            "human",
            False,
        ),
        ("7", [1, 2, 3], None, [], {}, "human", True),
    ]


def test_loading_twice_adds_nothing(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "a.jsonl",
        {"input": {"a": 1, "b": 2}},
        {"input": "x"},
        '{ "input" : {"b":2,"a":1} }',
    )  # the first again: other key order, spacing
    first = summary(run_cli("load", "prompts", str(source), "-d", "qa", "--json"))
    assert (first["inserted"], first["duplicates"]) == (2, 1)
    second = summary(run_cli("load", "prompts", str(source), "-d", "qa", "--json"))
    assert (second["read"], second["inserted"], second["duplicates"]) == (3, 0, 3)
    assert second["created"] == []
    assert len(rows(conn)) == 2
    text = run_cli("load", "prompts", str(source), "-d", "qa").stdout
    assert text.startswith("prompts: 3 read, 0 inserted, 3 duplicates, 0 rejected -> dataset qa:1")


BAD_LINES = [
    (b'{"input": "x", \n', "invalid JSON: Expecting property name enclosed in double quotes"),
    (b"[1, 2]\n", "not a JSON object"),
    (b'{"expected": "4"}\n', 'missing "input"'),
    (b'{"input": null}\n', 'missing "input"'),
    (b'{"input": "x", "tags": "math"}\n', '"tags" must be an array of strings'),
    (b'{"input": "x", "tags": ["a", 1]}\n', '"tags" must be an array of strings'),
    (b'{"input": "x", "metadata": [1]}\n', '"metadata" must be an object'),
    (
        b'{"input": "x", "origin": "robot"}\n',
        '"origin" must be one of human, synthetic, imported, production',
    ),
    (b'{"input": "x", "id": ""}\n', '"id" must not be empty'),
    (b'{"input": "x", "is_verified": "yes"}\n', '"is_verified" must be true or false'),
    (b'{"input": "a\x00b"}\n', "invalid JSON: NUL character"),
    (b'{"input": "a\\u0000b"}\n', "invalid JSON: \\u0000 (NUL) is not allowed"),
    (b'{"input": "\xff\xfe"}\n', "invalid UTF-8 (0xff)"),
    (b'{"input": NaN}\n', "invalid JSON: NaN is not a JSON number"),
    (b'{"input": Infinity}\n', "invalid JSON: Infinity is not a JSON number"),
    (b'{"input": 1e1000000}\n', "invalid JSON: number out of range"),
    (b'{"input": ' + b"[" * 200_000 + b"]" * 200_000 + b"}\n", "JSON nested too deeply"),
    (b"\\.\n", "invalid JSON: \\."),
    (b'{"input": "a"}\rX\n', "carriage return inside a line"),
]


@pytest.mark.parametrize("line, reason", BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_a_bad_line_stops_the_load_and_changes_nothing(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, line: bytes, reason: str
) -> None:
    run_cli("load", "prompts", str(write(tmp_path / "ok.jsonl", {"input": "kept"})), "-d", "old")
    before = conn.execute("SELECT count(*), max(id) FROM evaltool.prompt").fetchone()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"input": "first"}\r\n\n' + line + b'{"input": "after"}\n')
    result = run_cli("load", "prompts", str(tmp_path / "ok.jsonl"), str(bad), "-d", "qa")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {bad}:3: {reason}\n"
    assert conn.execute("SELECT count(*), max(id) FROM evaltool.prompt").fetchone() == before
    assert conn.execute("SELECT count(*) FROM evaltool.dataset WHERE name = 'qa'").fetchone() == (
        0,
    )


def test_text_round_trips_byte_exact(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    tricky = [
        "tab\there",
        "new\nline",
        "carriage\rreturn\r\n",
        "back\\slash",
        "\\.",
        "\\N",
        "\\",
        "quote \" and 'single'",
        "漢字かな",
        "emoji 🎉👩‍👩‍👧",
        "e\u0301 combining",
        "\u202eright-to-left",
        "line\u2028separator",
        "\x01\x1f control",
        "\t\n\\.\n",
    ]
    source = write(
        tmp_path / "tricky.jsonl", *({"input": text, "expected": text} for text in tricky)
    )
    assert summary(run_cli("load", "prompts", str(source), "-d", "qa", "--json"))[
        "inserted"
    ] == len(tricky)
    assert [(r[1], r[2]) for r in rows(conn)] == [(text, text) for text in tricky]

    exported = tmp_path / "export.jsonl"
    assert run_cli("datasets", "export", "qa", "-o", str(exported)).exit_code == 0
    assert summary(run_cli("load", "prompts", str(exported), "-d", "copy", "--json"))[
        "inserted"
    ] == len(tricky)
    assert rows(conn, "copy") == rows(conn)


def test_export_reloads_into_an_identical_dataset(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "all.jsonl",
        {"id": "a", "input": {"q": [1, None, {"x": None}]}, "expected": {"n": None}},
        {"input": "b", "expected": None, "tags": ["t1", "t2"], "metadata": {"m": [None]}},
        {"input": "c", "origin": "production", "is_verified": True},
        {"input": "d", "origin": "human", "is_verified": False},
        {"input": 12.50, "expected": 1e-7},
    )
    run_cli("load", "prompts", str(source), "-d", "qa")
    exported = run_cli("datasets", "export", "qa").stdout
    (tmp_path / "out.jsonl").write_text(exported)
    run_cli("load", "prompts", str(tmp_path / "out.jsonl"), "-d", "qa:2")
    assert rows(conn, "qa", "2") == rows(conn, "qa", "1")
    assert len(exported.splitlines()) == 5


def test_files_written_whole_or_not_at_all(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", {"input": "a"}, {"expected": "no input"})
    deep = tmp_path / "new" / "folder" / "qa.jsonl"
    blocked = tmp_path / "in.jsonl" / "qa.jsonl"  # a folder that is a file
    skip = ["--skip-invalid", "--rejects"]

    failed = run_cli("load", "prompts", str(source), "-d", "qa", *skip, str(blocked))
    assert failed.exit_code == 2
    assert f"cannot write {blocked}: " in failed.stderr
    assert rows(conn) == []  # the load is undone with its rejects file
    loaded = run_cli("load", "prompts", str(source), "-d", "qa", *skip, str(deep))
    assert loaded.exit_code == 0 and len(deep.read_text().splitlines()) == 1

    refused = run_cli("datasets", "export", "qa", "-o", str(blocked))
    assert refused.exit_code == 2 and f"cannot write {blocked}" in refused.stderr
    assert run_cli("datasets", "export", "qa", "-o", str(deep)).exit_code == 0
    assert json.loads(deep.read_text()) == {"input": "a"}
    assert [p.name for p in deep.parent.iterdir()] == ["qa.jsonl"]  # no temporary file left


def test_inputs_from_directories_globs_gzip_and_stdin(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    folder = tmp_path / "batches"
    folder.mkdir()
    write(folder / "b.jsonl", {"input": "b"})
    with gzip.open(folder / "a.jsonl.gz", "wt") as out:
        out.write(json.dumps({"input": "a"}) + "\n")
    write(folder / "ignored.txt", {"input": "no"})
    write(tmp_path / "c1.jsonl", {"input": "c1"})
    write(tmp_path / "c2.jsonl", {"input": "c2"})
    result = run_cli(
        "load",
        "prompts",
        str(folder),
        str(tmp_path / "c*.jsonl"),
        "-",
        "-d",
        "qa",
        "--json",
        input='{"input": "stdin"}\n',
    )
    assert summary(result)["files"] == 5
    assert [r[1] for r in rows(conn)] == ["a", "b", "c1", "c2", "stdin"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jsonl"], "missing.jsonl: no such file"),
        (["nothing*.jsonl"], "nothing*.jsonl: no file matches"),
    ],
)
def test_missing_inputs_are_named(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("load", "prompts", *args, "-d", "qa")
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_skip_invalid_loads_the_rest_and_writes_rejects(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    first = tmp_path / "1.jsonl"
    first.write_bytes(
        b'{"input": "ok1"}\n{"input": 1e1000000}\n{"input": NaN}\n\n{"input": "ok2"}\n'
    )
    second = tmp_path / "2.jsonl"
    second.write_bytes(b'{"expected": 1}\n{"input": "ok3"}\n[]\n{"input": "a\x00"}\n')
    rejects = tmp_path / "rejects.jsonl"
    result = summary(
        run_cli(
            "load",
            "prompts",
            str(first),
            str(second),
            "-d",
            "qa",
            "--skip-invalid",
            "--rejects",
            str(rejects),
            "--json",
        )
    )
    assert {k: result[k] for k in ("read", "inserted", "rejected", "rejects_file")} == {
        "read": 8,
        "inserted": 3,
        "rejected": 5,
        "rejects_file": str(rejects),
    }
    assert [r[1] for r in rows(conn)] == ["ok1", "ok2", "ok3"]
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["file"], r["line"], r["reason"]) for r in lines] == [
        (str(first), 2, "invalid JSON: number out of range"),
        (str(first), 3, "invalid JSON: NaN is not a JSON number"),
        (str(second), 1, 'missing "input"'),
        (str(second), 3, "not a JSON object"),
        (str(second), 4, "invalid JSON: NUL character"),
    ]
    assert lines[0]["text"] == '{"input": 1e1000000}'


def test_conflicting_ids_are_named(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    clash = write(
        tmp_path / "clash.jsonl",
        {"id": "q1", "input": "a"},
        {"id": "q2", "input": "b"},
        {"id": "q1", "input": "c"},
    )
    result = run_cli("load", "prompts", str(clash), "-d", "qa")
    assert result.exit_code == 2
    assert result.stderr == (
        f'Error: {clash}:3: id "q1" is already used by a different input (line {clash}:1)\n'
    )
    run_cli(
        "load",
        "prompts",
        str(write(tmp_path / "base.jsonl", {"id": "q1", "input": "a"})),
        "-d",
        "qa",
    )
    again = run_cli(
        "load",
        "prompts",
        str(write(tmp_path / "new.jsonl", {"id": "q1", "input": "z"})),
        "-d",
        "qa",
    )
    assert again.stderr == (
        f'Error: {tmp_path / "new.jsonl"}:1: id "q1" is already used by a '
        "different input (dataset qa:1)\n"
    )
    assert [r[1] for r in rows(conn)] == ["a"]


# -- other formats ----------------------------------------------------------------------------


def test_openai_evals_samples(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    source = write(tmp_path / "evals.jsonl", {"input": messages, "ideal": ["4", "four"]})
    assert summary(run_cli("load", "prompts", str(source), "-d", "qa", "--json"))["inserted"] == 1
    assert rows(conn) == [(None, messages, ["4", "four"], [], {}, "human", True)]


def test_chat_fine_tuning_lines(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    question = [{"role": "user", "content": "Bye"}]
    source = write(
        tmp_path / "chat.jsonl", {"messages": turns}, {"messages": question, "weight": 1}
    )
    assert summary(run_cli("load", "prompts", str(source), "-d", "qa", "--json"))["inserted"] == 2
    assert rows(conn) == [
        (None, turns[:1], "Hello!", [], {}, "human", True),  # a final answer becomes expected
        (None, question, None, [], {"weight": 1}, "human", True),
    ]
    # a final tool call is the expected answer, not nothing
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    tool = [{"role": "user", "content": "Rain?"},
            {"role": "assistant", "content": None, "tool_calls": [call]}]  # fmt: skip
    calls = write(tmp_path / "tool.jsonl", {"messages": tool})
    assert summary(run_cli("load", "prompts", str(calls), "-d", "qt", "--json"))["inserted"] == 1
    assert rows(conn, "qt")[0][1:3] == (tool[:1], {"tool_calls": [call]})
    bad = write(tmp_path / "bad.jsonl", {"messages": []})
    result = run_cli("load", "prompts", str(bad), "-d", "qb", "--format", "chat")
    assert result.stderr == (
        f'Error: {bad}:1: "messages" must be a non-empty array of {{"role", "content"}} objects\n'
    )


def test_inspect_samples(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    source = write(
        tmp_path / "inspect.jsonl",
        {
            "id": "s1",
            "input": "Pick one",
            "choices": ["A", "B"],
            "target": "B",
            "metadata": {"subject": "x"},
            "files": {"a.txt": "data"},
        },
    )
    assert summary(run_cli("load", "prompts", str(source), "-d", "qa", "--json"))["inserted"] == 1
    assert rows(conn) == [
        (
            "s1",
            {"input": "Pick one", "choices": ["A", "B"]},
            "B",
            [],
            {"subject": "x", "files": {"a.txt": "data"}},
            "human",
            True,
        )
    ]


def test_csv_with_mapped_columns(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> None:
    source = tmp_path / "cases.csv"
    source.write_text(
        'question,answer,tags,topic\n"What, exactly?","multi\nline",a; b,geo\nSecond,,,\n',
        encoding="utf-8",
    )
    result = run_cli(
        "load",
        "prompts",
        str(source),
        "-d",
        "qa",
        "--map",
        "question=input",
        "--map",
        "answer=expected",
        "--json",
    )
    assert summary(result)["inserted"] == 2
    assert rows(conn) == [
        (None, "What, exactly?", "multi\nline", ["a", "b"], {"topic": "geo"}, "human", True),
        (None, "Second", None, [], {}, "human", True),
    ]
    # a cell past Python's default limit of 128 KiB: a long document as the input
    long = tmp_path / "long.csv"
    long.write_text("input,expected\n" + "x" * 300_000 + ",1\n", encoding="utf-8")
    assert summary(run_cli("load", "prompts", str(long), "-d", "ql", "--json"))["inserted"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("input,expected\nok,1\n,2\n")
    failed = run_cli("load", "prompts", str(bad), "-d", "qb")
    assert failed.stderr == f'Error: {bad}:3: missing "input"\n'


def test_bad_map_option_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a\n1\n")
    result = run_cli("load", "prompts", str(source), "-d", "qa", "--map", "nonsense")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --map 'nonsense': expected SOURCE=FIELD, e.g. question=input "
        "or answers.text.0=expected\n"
    )


def test_no_progress_output_when_not_a_terminal(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("load", "prompts", str(write(tmp_path / "a.jsonl", {"input": 1})), "-d", "qa")
    assert result.exit_code == 0 and result.stderr == ""


def test_a_byte_order_mark_is_no_part_of_the_data(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Windows tools start UTF-8 files with a byte-order mark: plain, gzip, CSV or standard
    input, it is skipped, and the lines keep their numbers."""
    bom = b"\xef\xbb\xbf"
    plain = tmp_path / "bom.jsonl"
    plain.write_bytes(bom + b'{"input": "q1", "expected": "a"}\n{"input": "q2"}\n')
    packed = tmp_path / "bom.jsonl.gz"
    packed.write_bytes(gzip.compress(bom + b'{"input": "q3"}\n'))
    table = tmp_path / "bom.csv"
    table.write_bytes(bom + b"input,expected\nq4,b\n")
    result = run_cli("load", "prompts", str(plain), str(packed), "-d", "qa", "--json")
    assert summary(result)["inserted"] == 3
    assert summary(run_cli("load", "prompts", str(table), "-d", "qa", "--json"))["inserted"] == 1
    assert [(r[1], r[2]) for r in rows(conn)] == [
        ("q1", "a"),
        ("q2", None),
        ("q3", None),
        ("q4", "b"),
    ]
    piped = run_cli("load", "prompts", "-", "-d", "qb", "--json", input='\ufeff{"input": "q5"}\n')
    assert summary(piped)["inserted"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(bom + b'{"input": "q1"}\n\n{"input": \n')
    failed = run_cli("load", "prompts", str(bad), "-d", "qc")
    assert failed.exit_code == 2
    assert failed.stderr.startswith(f"Error: {bad}:3: invalid JSON")


def test_a_file_name_with_control_characters_keeps_the_error_on_one_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A file found in a directory is named as it is: a newline or an escape sequence in
    its name is written as an escape, so the message stays one line and cannot drive the
    terminal."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad\nna\x1bme\u2028.jsonl").write_bytes(b'{"input": \n')
    result = run_cli("load", "prompts", str(folder), "-d", "qa")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert result.stderr.startswith(f"Error: {folder}/bad\\nna\\x1bme\\u2028.jsonl:1: invalid JSON")


@pytest.mark.parametrize(
    "late",
    [b'{"input": "c\x00"}\n', b'{"input": \n', b'{"input": "\xff"}\n', b"\\.\n"],
    ids=["NUL", "invalid JSON", "invalid UTF-8", "end-of-data marker"],
)
def test_the_first_bad_line_in_file_order_is_named_whatever_its_kind(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, late: bytes
) -> None:
    """A line that cannot even be staged (NUL, invalid JSON or UTF-8) used to be named
    before an earlier line with the wrong fields, which only the checks in SQL see."""
    first = tmp_path / "first.jsonl"
    first.write_bytes(b'{"input": "a"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"input": "b"}\n{"expected": "x"}\n{"input": "c"}\n' + late)
    result = run_cli("load", "prompts", str(first), str(bad), "-d", "qa")
    assert (result.exit_code, result.stderr) == (2, f'Error: {bad}:2: missing "input"\n')
    # and the line that cannot be staged is still named when it comes first
    early = tmp_path / "early.jsonl"
    early.write_bytes(late + b'{"expected": "x"}\n')
    named = run_cli("load", "prompts", str(early), "-d", "qb")
    assert named.exit_code == 2 and named.stderr.startswith(f"Error: {early}:1: ")
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (0,)


@pytest.mark.parametrize("line, reason", BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_a_bad_line_has_the_same_reason_with_skip_invalid(
    run_cli: RunCli, tmp_path: Path, line: bytes, reason: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"input": "first"}\n' + line)
    rejects = tmp_path / "rejects.jsonl"
    result = run_cli(
        "load", "prompts", str(bad), "-d", "qa", "--skip-invalid", "--rejects", str(rejects)
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(r)["reason"] for r in rejects.read_text().splitlines()] == [reason]
