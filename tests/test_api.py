"""The Python API, used as a notebook would: only names `import evaltool` gives."""

import json
from pathlib import Path

import psycopg
import pytest

import evaltool
from tests.model_servers import ModelServer

CASES = [
    {"id": "a", "input": {"question": "2+2"}, "expected": "4"},
    {"id": "b", "input": {"question": "3+3"}, "expected": "6"},
    {"id": "c", "input": {"question": "5+5"}, "expected": "11"},
]


def add(input: dict) -> str:
    left, right = input["question"].split("+")
    return str(int(left) + int(right))


def test_evaluate_runs_stores_and_returns_the_run(db_url: str) -> None:
    run = evaltool.evaluate(
        task=add, dataset="sums", data=CASES, metrics=["exact_match"], url=db_url
    )
    assert run.summary()["ok"] == 3
    (metric,) = run.metrics()
    assert (metric["metric"], metric["n"], metric["n_passed"]) == ("exact_match", 3, 2)
    rows = sorted(run.responses(), key=lambda r: r["external_id"])
    assert [r["output"] for r in rows] == ["4", "6", "10"]
    assert [r["scores"]["exact_match"]["passed"] for r in rows] == [True, True, False]
    # a second evaluation of a changed function is another run of the same model
    again = evaltool.evaluate(
        task=lambda input: "4", dataset="sums", metrics=["exact_match"], name="add", url=db_url
    )
    assert again.id != run.id and again.metrics()[0]["n_passed"] == 1
    assert again.summary()["model"] == run.summary()["model"] == "add"
    run.client.close()
    again.client.close()


def test_a_session_with_templates_models_and_a_comparison(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "sums.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    with evaltool.connect(db_url) as ev, ModelServer() as server:
        assert ev.load_dataset("sums", source)["inserted"] == 3
        assert ev.load_dataset("sums", CASES)["inserted"] == 0  # deduplicated
        ev.add_model("local", add)
        ev.add_model(
            "http", adapter="openai", model_id="m", base_url=f"{server.url}/v1",
            params={"temperature": 0}, price=(1.0, 2.0),
        )  # fmt: skip
        template = ev.add_template("sum", user="Compute {{ question }}")
        assert ev.add_template("sum", user="Compute {{ question }}").version == template.version
        base = ev.run("local", "sums", metrics=["exact_match"])
        with pytest.MonkeyPatch.context() as env:
            env.setenv("OPENAI_API_KEY", "sk-api-test")
            http = ev.run("http", "sums", template="sum", metrics=["exact_match"])
            cached = ev.run("http", "sums", template=template)
        assert sorted(server.questions()) == ["Compute 2+2", "Compute 3+3", "Compute 5+5"]
        assert cached.summary()["cached"] == 3
        assert http.summary()["template"] == f"sum:{template.version}"
        verdicts = ev.compare(base, http)
        (row,) = [r for r in verdicts["metrics"] if r["metric"] == "exact_match"]
        assert (row["n_paired"], row["baseline_mean"], row["candidate_mean"]) == (3, 2 / 3, 0)
        assert ev.get_run("http").id == cached.id
        with pytest.raises(evaltool.EvaltoolError, match="no template 'nope'"):
            ev.run("local", "sums", template="nope")


def test_several_candidates_and_a_suite_file(db_url: str, tmp_path: Path) -> None:
    with evaltool.connect(db_url) as ev:
        ev.load_dataset("sums", CASES)
        ev.add_model("local", add)
        ev.add_model("fours", lambda input: "4")
        base = ev.run("local", "sums", metrics=["exact_match"])
        fours = ev.run("fours", "sums", metrics=["exact_match"])
        same = ev.run("local", "sums", metrics=["exact_match"])
        documents = ev.compare_many(base, [fours, same], metrics=["exact_match"])
        means = [
            (d["candidate"]["run_id"], r["candidate_mean"])
            for d in documents
            for r in d["metrics"]
            if r["metric"] == "exact_match"
        ]
        assert means == [(fours.id, 1 / 3), (same.id, 2 / 3)]
        suite = tmp_path / "suite.yaml"
        suite.write_text(
            "name: api-suite\ndataset: sums\nmodels: [local, fours]\n"
            "metrics: [exact_match]\nbaseline: local\n"
        )
        done = ev.eval_suite(suite)
    assert [r["model"] for r in done.runs] == ["local", "fours"]
    assert [r["suite"] for r in done.runs] == ["api-suite"] * 2
    assert done.baseline == done.runs[0]["run_id"]
    assert [c["candidate"]["run_id"] for c in done.comparisons] == [done.runs[1]["run_id"]]


def test_each_call_is_committed_and_leaves_the_connection_idle(db_url: str) -> None:
    ev = evaltool.connect(db_url)
    ev.add_template("kept", user="{{ input }}")
    ev.load_dataset("sums", CASES)
    assert ev.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with pytest.raises(evaltool.EvaltoolError):
        ev.add_model("broken")  # neither a function nor an adapter
    assert ev.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    ev.close()  # a notebook's kernel that stops: what the calls did stays
    with psycopg.connect(db_url) as conn:
        found = conn.execute(
            "SELECT (SELECT count(*) FROM evaltool.prompt_template WHERE name = 'kept'),"
            " (SELECT count(*) FROM evaltool.prompt)"
        ).fetchone()
    assert found == (1, 3)
