"""`evaltool training export | list | show | delete | restore`."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result

from evaltool import training

RunCli = Callable[..., Result]

MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Capital of France?"},
]
EXAMPLES: list[dict[str, Any]] = [
    {"prompt": "plain", "completion": "text", "priority": 500, "data_source": "synthetic"},
    {"prompt": "Grüße, 東京 🚀", "completion": 'naïve "quoted"\nnewline \\ tab\t'},
    {"prompt": {"q": 1, "a": [1.0, 2.5]}, "completion": {"answer": None}, "priority": 900},
    {"prompt": MESSAGES, "completion": "Paris", "data_source": "production", "priority": 1},
    {"prompt": ["not", "messages"], "completion": 42, "metadata": {"k": "v"}, "model": "gen-3"},
    {"prompt": "tie", "completion": "first", "priority": 500, "data_source": "synthetic"},
    {"prompt": "gone", "completion": "deleted", "priority": 1000, "data_source": "synthetic"},
]


def write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    return path


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def loaded(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path) -> Path:
    """EXAMPLES in project default, "gone" soft-deleted; returns the batch file."""
    batch = write(tmp_path / "batch.jsonl", EXAMPLES)
    ok(run_cli("load", "training", str(batch)))
    conn.execute(
        "UPDATE evaltool.training_example SET deleted_at = now() WHERE prompt = '\"gone\"'"
    )
    return batch


def examples(conn: psycopg.Connection, project: str) -> set[tuple[str, ...]]:
    """A project's active examples, as comparable text."""
    rows = conn.execute(
        """SELECT t.prompt::text, t.completion::text, t.priority::text, t.data_source,
                  t.metadata::text
           FROM evaltool.training_example t JOIN evaltool.project p ON p.id = t.project_id
           WHERE p.name = %s AND t.deleted_at IS NULL""",
        [project],
    ).fetchall()
    return set(rows)


def projects(conn: psycopg.Connection) -> list[str]:
    return [name for (name,) in conn.execute("SELECT name FROM evaltool.project ORDER BY name")]


# -- export ---------------------------------------------------------------------------------


def test_export_loads_back_to_the_same_examples(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, loaded: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = ok(run_cli("training", "export", "-o", str(out)))
    assert result.stderr == f"wrote 6 training examples of project default to {out}\n"
    exported = lines(out.read_text())
    # highest priority first, then in loading order; the soft-deleted example left out
    assert [(d["prompt"], d["priority"]) for d in exported] == [
        ({"q": 1, "a": [1.0, 2.5]}, 900),
        ("plain", 500),
        ("tie", 500),
        ("Grüße, 東京 🚀", 100),
        (["not", "messages"], 100),
        (MESSAGES, 1),
    ]
    # keys in this order; metadata only when not empty; values as stored
    first = out.read_text().splitlines()[0]
    assert first == (
        '{"prompt": {"a": [1.0, 2.5], "q": 1}, "completion": {"answer": null}, '
        '"priority": 900, "data_source": "file"}'
    )
    assert exported[4]["metadata"] == {"k": "v", "model": "gen-3"}

    ok(run_cli("load", "training", str(out), "--project", "copy"))
    assert examples(conn, "copy") == examples(conn, "default")
    assert len(examples(conn, "copy")) == 6


def test_export_to_standard_output_by_default(run_cli: RunCli, loaded: Path) -> None:
    result = ok(run_cli("training", "export"))
    assert len(lines(result.stdout)) == 6
    assert result.stderr == "wrote 6 training examples of project default\n"
    dash = ok(run_cli("training", "export", "-o", "-", "-q"))
    assert (dash.stdout, dash.stderr) == (result.stdout, "")


def test_export_filters_by_source_and_priority(run_cli: RunCli, loaded: Path) -> None:
    def prompts(*args: str) -> list[Any]:
        return [d["prompt"] for d in lines(ok(run_cli("training", "export", *args)).stdout)]

    assert prompts("--source", "synthetic") == ["plain", "tie"]
    assert prompts("--source", "synthetic", "--source", "production") == ["plain", "tie", MESSAGES]
    assert prompts("--min-priority", "500") == [{"q": 1, "a": [1.0, 2.5]}, "plain", "tie"]
    assert prompts("--min-priority", "500", "--source", "file") == [{"q": 1, "a": [1.0, 2.5]}]


def test_chat_format(run_cli: RunCli, loaded: Path) -> None:
    chat = lines(ok(run_cli("training", "export", "--format", "chat")).stdout)
    assert all(list(d) == ["messages"] for d in chat)
    by_first = {d["messages"][-2]["content"]: d["messages"] for d in chat}
    assert by_first["plain"] == [
        {"role": "user", "content": "plain"},
        {"role": "assistant", "content": "text"},
    ]
    # a list of messages is kept, and the completion appended
    assert by_first["Capital of France?"] == [*MESSAGES, {"role": "assistant", "content": "Paris"}]
    # content is always a string: other JSON values as their JSON text
    assert by_first['{"a": [1.0, 2.5], "q": 1}'] == [
        {"role": "user", "content": '{"a": [1.0, 2.5], "q": 1}'},
        {"role": "assistant", "content": '{"answer": null}'},
    ]
    assert by_first['["not", "messages"]'][-1] == {"role": "assistant", "content": "42"}
    assert all(isinstance(m["content"], str) for d in chat for m in d["messages"])


def test_split_is_deterministic_and_stable_as_the_set_grows(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    docs = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(1200)]
    ok(run_cli("load", "training", str(write(tmp_path / "a.jsonl", docs[:1000]))))
    split = "train=0.9,val=0.1"
    first = ok(run_cli("training", "export", "--split", split, "-o", str(tmp_path / "one")))
    train = lines((tmp_path / "one" / "train.jsonl").read_text())
    val = lines((tmp_path / "one" / "val.jsonl").read_text())
    assert first.stderr == (
        f"wrote 1,000 training examples of project default: train {len(train):,}, "
        f"val {len(val):,} to {tmp_path / 'one'}\n"
    )
    assert len(train) + len(val) == 1000
    assert 850 <= len(train) <= 950

    # the same split as the formula of training.split_of, from the example's hash
    hashes = dict(
        conn.execute("SELECT prompt #>> '{}', example_hash FROM evaltool.training_example")
    )
    splits = training.parse_splits(split)
    for name, part in (("train", train), ("val", val)):
        assert {training.split_of(0, hashes[d["prompt"]], splits) for d in part} == {name}

    ok(run_cli("load", "training", str(write(tmp_path / "b.jsonl", docs[1000:]))))
    ok(run_cli("training", "export", "--split", split, "-o", str(tmp_path / "two"), "-q"))
    for name, part in (("train", train), ("val", val)):
        again = lines((tmp_path / "two" / f"{name}.jsonl").read_text())
        assert {d["prompt"] for d in part} <= {d["prompt"] for d in again}

    # another seed, another split; the same seed, the same files
    seeded = [tmp_path / "s1", tmp_path / "s2"]
    for folder in seeded:
        ok(run_cli("training", "export", "--split", split, "--seed", "7", "-o", str(folder), "-q"))
    assert (seeded[0] / "val.jsonl").read_text() == (seeded[1] / "val.jsonl").read_text()
    assert (seeded[0] / "val.jsonl").read_text() != (tmp_path / "two" / "val.jsonl").read_text()


def test_split_json_summary_and_three_parts(run_cli: RunCli, loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "parts"
    result = ok(
        run_cli(
            "training",
            "export",
            "--split",
            "train=0.5, val=0.25,test=1/4",
            "--format",
            "chat",
            "-o",
            str(out),
            "--json",
        )
    )
    summary = json.loads(result.stdout)
    assert (summary["examples"], summary["format"], summary["seed"]) == (6, "chat", 0)
    assert list(summary["splits"]) == ["train", "val", "test"]
    for name, part in summary["splits"].items():
        assert part["path"] == str(out / f"{name}.jsonl")
        # every file is written, even an empty one
        assert len(Path(part["path"]).read_text().splitlines()) == part["examples"]
    assert sum(p["examples"] for p in summary["splits"].values()) == 6


def test_bucket_formula() -> None:
    # the first 8 bytes of sha256(seed as 8 big-endian bytes || example_hash), unsigned
    digest = hashlib.sha256(b"\x00" * 7 + b"\x07" + b"\x01" * 32).digest()
    assert training.bucket(7, b"\x01" * 32) == int.from_bytes(digest[:8], "big")
    assert training.bucket(0, bytes(32)) == 3185397464471143308
    splits = training.parse_splits("a=0.5,b=0.5")
    assert training.lower_bounds(splits) == [0, 2**63]
    assert training.split_of(0, bytes(32), splits) == "a"


@pytest.mark.parametrize(
    "args, error",
    [
        (["--split", "train"], "--split 'train': write NAME=FRACTION,..., e.g. train=0.9,val=0.1"),
        (["--split", "train=0.9,val=0.2"], "--split: the fractions sum to 1.1, not 1"),
        (["--split", "train=0.9,val=0.0999"], "--split: the fractions sum to 0.9999, not 1"),
        (["--split", "train=1,val=0"], "--split: val=0: the fraction must be above 0, at most 1"),
        (
            ["--split", "train=x,val=0.1"],
            "--split: train=x: the fraction must be a number such as 0.1",
        ),
        (
            ["--split", "train=0.9,../val=0.1"],
            "--split: '../val' is not a split name: letters, digits, - and _ "
            "(it names the file NAME.jsonl)",
        ),
        (["--split", "a=0.5,a=0.5"], "--split: a is named twice"),
        (["--split", "train=0.9,val=0.1"], "--split writes a file per split: give -o DIR"),
        (["--seed", "3"], "--seed is the seed of --split: give --split too"),
        (["--json"], "--json prints the summary on standard output: write to -o FILE"),
        (
            ["--source", "nope"],
            "no training examples of project default match these filters: "
            "see evaltool training show",
        ),
        (["--project", "defualt"], "no project defualt: the projects are default"),
    ],
)
def test_bad_export_options(
    run_cli: RunCli, conn: psycopg.Connection, loaded: Path, args: list[str], error: str
) -> None:
    result = run_cli("training", "export", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {error}\n")
    assert projects(conn) == ["default"]  # a typo'd project is not created


def test_output_must_fit_the_split(run_cli: RunCli, loaded: Path, tmp_path: Path) -> None:
    file = tmp_path / "file.jsonl"
    file.write_text("")
    result = run_cli("training", "export", "--split", "a=0.5,b=0.5", "-o", str(file))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: --split writes a file per split: -o {file} must be a directory\n",
    )
    result = run_cli("training", "export", "-o", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: -o {tmp_path} is a directory: name a file, or give --split\n",
    )


def test_nothing_to_export_writes_nothing(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    conn.execute("INSERT INTO evaltool.project (name) VALUES ('empty')")
    out = tmp_path / "out.jsonl"
    result = run_cli("training", "export", "--project", "empty", "-o", str(out))
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: no training examples of project empty to export: see evaltool training show\n",
    )
    assert not out.exists()


# -- list, show, delete, restore ------------------------------------------------------------


def test_list_and_show(run_cli: RunCli, conn: psycopg.Connection, loaded: Path) -> None:
    listed = json.loads(ok(run_cli("training", "list", "--json")).stdout)
    keys = ("project", "data_source", "active", "deleted", "min_priority", "max_priority")
    assert [tuple(r[k] for k in keys) for r in listed] == [
        ("default", "file", 3, 0, 100, 900),
        ("default", "production", 1, 0, 1, 1),
        ("default", "synthetic", 2, 1, 500, 500),
    ]
    assert all(r["last_loaded"] for r in listed)
    table = ok(run_cli("training", "list")).stdout.splitlines()
    assert table[0].split() == [
        "project",
        "source",
        "active",
        "deleted",
        "priority",
        "last",
        "loaded",
    ]
    assert table[1].split()[:5] == ["default", "file", "3", "0", "100-900"]
    assert table[2].split()[:5] == ["default", "production", "1", "0", "1"]

    typo = run_cli("training", "list", "--project", "defualt")
    assert (typo.exit_code, typo.stderr) == (
        2,
        "Error: no project defualt: the projects are default\n",
    )
    assert projects(conn) == ["default"]

    shown = json.loads(ok(run_cli("training", "show", "--json")).stdout)
    assert (shown["project"], shown["active"], shown["deleted"], shown["batches"]) == (
        "default",
        6,
        1,
        1,
    )
    assert shown["sources"] == {"file": 3, "synthetic": 2, "production": 1}
    assert shown["priorities"] == {"900-1000": 1, "500-599": 2, "100-199": 2, "1-99": 1}
    text = ok(run_cli("training", "show")).stdout
    assert "examples    6 active, 1 soft-deleted\n" in text
    assert "sources     file 3, synthetic 2, production 1\n" in text
    assert "priorities  900-1000 1, 500-599 2, 100-199 2, 1-99 1\n" in text


def test_list_before_any_load(run_cli: RunCli) -> None:
    result = ok(run_cli("training", "list"))
    assert (result.stdout, result.stderr) == (
        "",
        "no training examples yet: evaltool load training FILE\n",
    )
    # the project default exists from the start
    result = ok(run_cli("training", "show"))
    assert result.stdout == (
        "project     default\nexamples    0 active, 0 soft-deleted\nbatches     0\n"
    )


def test_delete_and_restore(
    run_cli: RunCli, conn: psycopg.Connection, loaded: Path, tmp_path: Path
) -> None:
    def active() -> int:
        row = conn.execute(
            "SELECT count(*) FROM evaltool.training_example WHERE deleted_at IS NULL"
        ).fetchone()
        return row[0] if row else -1

    dry = ok(run_cli("training", "delete", "--max-priority", "100", "--dry-run"))
    assert dry.stdout == "would soft-delete 3 training examples of project default\n"
    refused = run_cli("training", "delete", "--max-priority", "100")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Error: this soft-deletes 3 training examples of project default: pass --yes to confirm\n",
    )
    assert active() == 6
    done = ok(run_cli("training", "delete", "--max-priority", "100", "--yes"))
    assert done.stdout == (
        "soft-deleted 3 training examples of project default "
        "(evaltool training restore brings them back)\n"
    )
    assert active() == 3
    assert len(lines(ok(run_cli("training", "export")).stdout)) == 3

    other = write(tmp_path / "other.jsonl", [{"prompt": "x", "completion": "y"}])
    ok(run_cli("load", "training", str(other)))
    by_batch = ok(run_cli("training", "delete", "--batch", str(other), "--source", "file", "--yes"))
    assert by_batch.stdout.startswith("soft-deleted 1 training examples")
    assert active() == 3

    none = run_cli("training", "delete", "--source", "nope", "--yes")
    assert (none.exit_code, none.stderr) == (
        2,
        "Error: no active training examples of project default match: see evaltool training list\n",
    )

    dry = ok(run_cli("training", "restore", "--source", "synthetic", "--dry-run"))
    assert dry.stdout == "would restore 1 training examples of project default\n"
    assert ok(run_cli("training", "restore", "--batch", str(loaded))).stdout == (
        "restored 4 training examples of project default\n"
    )
    assert active() == 7
    again = run_cli("training", "restore", "--batch", str(loaded))
    assert (again.exit_code, again.stderr) == (
        2,
        "Error: no soft-deleted training examples of project default match: "
        "see evaltool training list\n",
    )
    typo = run_cli("training", "delete", "--project", "defualt", "--yes")
    assert (typo.exit_code, typo.stderr) == (
        2,
        "Error: no project defualt: the projects are default\n",
    )
    assert projects(conn) == ["default"]
