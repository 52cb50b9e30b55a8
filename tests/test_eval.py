"""evaltool eval: a suite file's whole evaluation in one command, checked before anything
runs, answered from the response cache the second time."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import yaml
from click.testing import Result

from tests.model_servers import ModelServer

EXAMPLES = Path(__file__).parent.parent / "examples"
RunCli = Callable[..., Result]
KEY = {"OPENAI_API_KEY": "sk-eval-test"}


def write_suite(tmp_path: Path, url: str, **changes: object) -> Path:
    """Two configurations of one HTTP model over two test cases, a template, a gate."""
    (tmp_path / "cases.jsonl").write_text(
        json.dumps({"id": "a", "input": {"q": "2+2"}, "expected": "ANSWER: Q 2+2"}) + "\n"
        + json.dumps({"id": "b", "input": {"q": "3+3"}, "expected": "6"}) + "\n"
    )  # fmt: skip
    doc: dict = {
        "name": "nightly",
        "dataset": {"name": "sums", "files": ["cases.jsonl"]},
        "templates": [{"name": "short", "user": "Q {{ q }}"}],
        "models": [
            {
                "name": m,
                "adapter": "openai",
                "model_id": "m",
                "base_url": f"{url}/v1",
                "params": {"temperature": t},
            }
            for m, t in (("cold", 0), ("warm", 0.7))
        ],
        "metrics": ["exact_match", "edit_similarity"],
        "baseline": "cold",
        "gate": {"metrics": ["exact_match"]},
        "reports": ["out/suite.html", "out/suite.md"],
    }
    doc.update(changes)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def evaluate(run_cli: RunCli, path: Path, *args: str) -> dict:
    result = run_cli("eval", str(path), "--json", *args, env=KEY)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def verdicts(document: dict) -> list[tuple]:
    return [
        (r["metric"], r["n_paired"], r["delta"], r["p_adjusted"], r["verdict"])
        for c in document["comparisons"]
        for r in c["metrics"]
    ]


def test_a_suite_runs_compares_reports_and_is_cached_the_second_time(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        path = write_suite(tmp_path, server.url)
        first = evaluate(run_cli, path)
        assert len(server.requests) == 4  # 2 models x 2 test cases
        assert sorted(server.questions()) == ["Q 2+2", "Q 2+2", "Q 3+3", "Q 3+3"]
        # the parameters the suite gives its models are those the requests carry
        assert [r["body"].get("temperature") for r in server.requests] == [0, 0, 0.7, 0.7]
        second = evaluate(run_cli, path)
        assert len(server.requests) == 4  # every answer from the cache
    assert [r["cached"] for r in second["runs"]] == [2, 2]
    assert [(r["model"], r["template"], r["suite"]) for r in first["runs"]] == [
        ("cold", "short:1", "nightly"),
        ("warm", "short:1", "nightly"),
    ]
    assert verdicts(first) == verdicts(second)
    assert first["baseline"] == first["runs"][0]["run_id"]
    assert [c["candidate"]["run_id"] for c in first["comparisons"]] == [first["runs"][1]["run_id"]]
    html = (tmp_path / "out" / "suite.html").read_text()
    assert "warm" in html and "cold" in html
    assert (tmp_path / "out" / "suite.md").read_text().startswith("#")
    # the suite's leaderboard: its four runs
    listed = run_cli("runs", "list", "--suite", "nightly", "--json")
    assert [r["suite"] for r in json.loads(listed.stdout)] == ["nightly"] * 4
    # loading the files again added nothing
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (2,)


def test_the_gate_fails_like_compare_fail_on_regression(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        one = [{"name": "cold", "adapter": "openai", "model_id": "m",
                "base_url": f"{server.url}/v1"}]  # fmt: skip
        path = write_suite(tmp_path, server.url, models=one, baseline=None)
        (tmp_path / "cases.jsonl").write_text(
            "".join(json.dumps({"input": {"q": str(i)}, "expected": "x"}) + "\n" for i in range(12))
        )
        made = evaluate(run_cli, path, "--quiet")
        assert made["comparisons"] == []  # one run and no baseline: nothing to compare
        # the baseline: that run, as if it had passed every test case
        baseline = made["runs"][0]["run_id"]
        conn.execute(
            "UPDATE evaltool.score SET passed = true, value = 1 WHERE metric = 'exact_match'"
        )
        conn.commit()
        path = write_suite(tmp_path, server.url, models=one, baseline=baseline)
        (tmp_path / "cases.jsonl").write_text(
            "".join(json.dumps({"input": {"q": str(i)}, "expected": "x"}) + "\n" for i in range(12))
        )
        failed = run_cli("eval", str(path), "--quiet", env=KEY)
    assert failed.exit_code == 1, failed.output
    assert "gate failed on exact_match" in failed.stderr
    assert "worse" in failed.stdout


def test_what_the_suite_names_is_checked_before_anything_runs(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = write_suite(tmp_path, "http://127.0.0.1:9", models=["nope"], baseline=None)
    missing = run_cli("eval", str(path), env=KEY)
    assert missing.exit_code == 2
    assert missing.stderr.strip().splitlines() == [
        f"Error: {path}: models.0: no model named 'nope': register it (evaltool models add) "
        "or define it here (name, adapter, model_id)"
    ]
    path = write_suite(tmp_path, "http://127.0.0.1:9", templates=["absent:3"])
    assert "templates.0: no template 'absent:3'" in run_cli("eval", str(path)).stderr
    path = write_suite(tmp_path, "http://127.0.0.1:9", metrics=["exact_match", "bleu_x"])
    assert "metrics.1: no scorer 'bleu_x'" in run_cli("eval", str(path)).stderr
    path = write_suite(tmp_path, "http://127.0.0.1:9", modelz=[])
    unknown = run_cli("eval", str(path), "--check")
    assert unknown.exit_code == 2 and "modelz" in unknown.stderr
    assert conn.execute("SELECT count(*) FROM evaltool.run").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM evaltool.model").fetchone() == (0,)


def test_baseline_previous_and_init(run_cli: RunCli, tmp_path: Path) -> None:
    with ModelServer() as server:
        path = write_suite(tmp_path, server.url, baseline="previous", models=[
            {"name": "cold", "adapter": "openai", "model_id": "m", "base_url": f"{server.url}/v1"}
        ])  # fmt: skip
        first = evaluate(run_cli, path)
        assert first["comparisons"] == [] and first["baseline"] is None
        second = evaluate(run_cli, path)
    assert second["baseline"] == first["runs"][0]["run_id"]
    assert second["comparisons"][0]["candidate"]["run_id"] == second["runs"][0]["run_id"]
    starter = tmp_path / "starter.yaml"
    assert run_cli("eval", "--init", str(starter)).exit_code == 0
    # the starter is a valid suite over the demo's questions, named relative to it
    missing = run_cli("eval", str(starter), "--check")
    assert missing.exit_code == 2 and "dataset.files: examples/qa.jsonl" in missing.stderr
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLES / "qa.jsonl", tmp_path / "examples")
    valid = run_cli("eval", str(starter), "--check")
    assert (valid.exit_code, valid.stdout) == (0, f"{starter}: valid\n")
    again = run_cli("eval", "--init", str(starter))
    assert again.exit_code == 2
