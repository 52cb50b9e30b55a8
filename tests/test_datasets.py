"""`evaltool datasets list | show | export | delete`."""

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

RunCli = Callable[..., Result]


@pytest.fixture
def loaded(run_cli: RunCli, tmp_path: Path) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(d)
            for d in [
                {"input": "a", "expected": "1", "tags": ["math", "easy"]},
                {"input": "b", "tags": ["math"], "origin": "synthetic"},
                {"input": "c"},
            ]
        )
        + "\n"
    )
    assert run_cli("load", "prompts", str(source), "-d", "qa").exit_code == 0
    second = run_cli("load", "prompts", str(source), "-d", "qa:2", "--project", "search", "--json")
    assert json.loads(second.stdout)["created"] == [
        "project search",
        "dataset qa:2 (project search)",
    ]


def test_list_and_show(run_cli: RunCli, loaded: None) -> None:
    listed = json.loads(run_cli("datasets", "list", "--json").stdout)
    assert [(d["project"], d["name"], d["version"], d["test_cases"]) for d in listed] == [
        ("search", "qa", "2", 3),
        ("default", "qa", "1", 3),
    ]
    table = run_cli("datasets", "list", "--project", "search").stdout.splitlines()
    assert table[0].split() == ["project", "name", "version", "test", "cases", "created", "by"]
    assert table[1].split()[:4] == ["search", "qa", "2", "3"]
    # a typo'd project is named, not listed as empty (and not created)
    typo = run_cli("datasets", "list", "--project", "serach")
    assert (typo.exit_code, typo.stderr) == (
        2,
        "Error: no project serach: the projects are default, search\n",
    )

    shown = json.loads(run_cli("datasets", "show", "qa", "--json").stdout)
    assert (
        shown["test_cases"],
        shown["with_expected"],
        shown["origins"],
        shown["top_tags"],
        shown["runs"],
    ) == (3, 1, {"human": 2, "synthetic": 1}, {"math": 2, "easy": 1}, 0)
    text = run_cli("datasets", "show", "qa:2", "--project", "search").stdout
    assert "test cases  3 (1 with expected output)" in text
    assert "tags        math 2, easy 1" in text  # most frequent first


def test_soft_delete_hides_and_hard_delete_removes(
    run_cli: RunCli, conn: psycopg.Connection, loaded: None
) -> None:
    assert run_cli("datasets", "delete", "qa").stdout == "soft-deleted dataset qa:1\n"
    assert [d["project"] for d in json.loads(run_cli("datasets", "list", "--json").stdout)] == [
        "search"
    ]
    assert len(json.loads(run_cli("datasets", "list", "--all", "--json").stdout)) == 2
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (6,)

    refused = run_cli("datasets", "delete", "qa", "--hard")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Error: --hard deletes test cases for good: pass --yes to confirm\n",
    )
    done = run_cli("datasets", "delete", "qa", "--hard", "--yes")
    assert done.stdout == "deleted dataset qa:1\n"
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (3,)


def test_loading_into_a_deleted_dataset_is_refused(
    run_cli: RunCli, tmp_path: Path, loaded: None
) -> None:
    run_cli("datasets", "delete", "qa")
    source = tmp_path / "more.jsonl"
    source.write_text('{"input": "d"}\n')
    result = run_cli("load", "prompts", str(source), "-d", "qa:1")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: dataset qa:1 was deleted; load into another version")


def test_hard_delete_is_refused_while_runs_use_the_dataset(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, loaded: None
) -> None:
    run_cli("models", "add", "m", "--adapter", "python", "--model-id", "examples.qa_models:v1")
    answers = tmp_path / "out.jsonl"
    answers.write_text('{"input": "a", "output": "1"}\n')
    assert run_cli("load", "responses", str(answers), "--model", "m", "-d", "qa").exit_code == 0
    result = run_cli("datasets", "delete", "qa", "--hard", "--yes")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: dataset qa:1 has 1 run(s) whose results need its test cases: "
        "delete the runs first, or delete the dataset without --hard\n"
    )
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (6,)


def test_unknown_dataset(run_cli: RunCli) -> None:
    for command in (["show", "nope"], ["export", "nope"], ["delete", "nope"]):
        result = run_cli("datasets", *command)
        assert (result.exit_code, result.stderr) == (
            2,
            "Error: no dataset nope: see evaltool datasets list\n",
        )
