"""Prompt templates in runs and the response cache: what the model server is sent, what is
stored, and which calls a second run does not make."""

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
from click.testing import Result

from tests.model_servers import ModelServer

RunCli = Callable[..., Result]
KEY = {"OPENAI_API_KEY": "sk-cache-test"}


def setup(run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, url: str) -> None:
    cases = [{"question": "2+2", "topic": "math"}, {"question": "capital of France"}]
    source = tmp_path / "qa.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "input": c, "expected": "x", "tags": ["t"]}) + "\n"
            for i, c in enumerate(cases)
        )
    )
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    for name, temperature in (("m", "0"), ("m-warm", "0.7")):
        added = run_cli(
            "models", "add", name, "--adapter", "openai", "--base-url", f"{url}/v1",
            "--model-id", "llama-3", "--param", f"temperature={temperature}",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
    conn.execute(
        "INSERT INTO evaltool.prompt_template (name, version, body) VALUES"
        " ('qa', 1, %s), ('qa', 2, %s)",
        [
            json.dumps([{"role": "user", "content": "Q: {{ question }}"}]),
            json.dumps(
                [
                    {"role": "system", "content": "Answer in one word. Tags: {{ tags|join(',') }}"},
                    {"role": "user", "content": "Question: {{ input.question }}"},
                ]
            ),
        ],
    )
    conn.commit()


def run(run_cli: RunCli, *args: str) -> dict:
    result = run_cli("run", *args, "--json", env=KEY)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_second_run_is_answered_from_the_cache(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        setup(run_cli, conn, tmp_path, server.url)
        first = run(run_cli, "m", "qa", "--template", "qa:2")
        assert len(server.requests) == 2
        # the requests go out concurrently: in any order
        sent = next(r["body"]["messages"] for r in server.requests if "2+2" in r["question"])
        assert sent == [
            {"role": "system", "content": "Answer in one word. Tags: t"},
            {"role": "user", "content": "Question: 2+2"},
        ]
        again = run(run_cli, "m", "qa", "--template", "qa:2")
        assert len(server.requests) == 2  # no call
        assert (again["ok"], again["cached"], again["worker"]["cached"]) == (2, 2, 2)
        assert again["template"] == "qa:2"
        rows = conn.execute(
            "SELECT c.output_text = r.output_text, c.latency_ms = r.latency_ms,"
            " c.input_tokens = r.input_tokens, c.cost_usd, c.request = r.request,"
            " c.request IS NOT NULL"
            " FROM evaltool.response c JOIN evaltool.response r ON r.id = c.cached_from"
            " WHERE c.run_id = %s",
            [again["run_id"]],
        ).fetchall()
        assert rows == [(True, True, True, 0, True, True)] * 2
        # another template version, other parameters, --no-cache: each calls again
        run(run_cli, "m", "qa", "--template", "qa:1")
        assert sorted(server.questions()[-2:]) == ["Q: 2+2", "Q: capital of France"]  # any order
        run(run_cli, "m-warm", "qa", "--template", "qa:2")
        run(run_cli, "m", "qa", "--template", "qa:2", "--no-cache")
        assert len(server.requests) == 8
        # the cache serves the template-less run of the input as it is, per sample
        run(run_cli, "m", "qa")
        repeated = run(run_cli, "m", "qa", "--repeats", "2")
        assert len(server.requests) == 12  # 2 for the first, only sample 2 for the second
        assert repeated["cached"] == 2
    run_ids = conn.execute(
        "SELECT template_id IS NOT NULL, config_hash IS NOT NULL FROM evaltool.run WHERE id = %s",
        [first["run_id"]],
    ).fetchone()
    assert run_ids == (True, True)


def test_cache_only_fails_on_a_miss_and_a_deleted_source_leaves_the_copy(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        setup(run_cli, conn, tmp_path, server.url)
        missed = run_cli("run", "m", "qa", "--cache-only", env=KEY)
        assert missed.exit_code == 2
        assert "not in the response cache (--cache-only)" in missed.output
        assert "evaltool run --resume" in missed.output
        assert server.requests == []
        first = run(run_cli, "m", "qa")
        copy = run(run_cli, "m", "qa", "--cache-only")
        assert copy["cached"] == 2 and len(server.requests) == 2
    deleted = run_cli("runs", "delete", str(first["run_id"]), "--yes")
    assert deleted.exit_code == 0, deleted.output
    kept = conn.execute(
        "SELECT count(*), count(cached_from) FROM evaltool.response WHERE run_id = %s",
        [copy["run_id"]],
    ).fetchone()
    assert kept == (2, 2)  # the copies keep what they reuse, and name their source's id


def test_python_models_are_not_cached_unless_asked(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("load", "prompts", "examples/qa.jsonl", "-d", "qa", "--quiet").exit_code == 0
    added = run_cli(
        "models", "add", "v1", "--adapter", "python", "--model-id", "examples.qa_models:v1"
    )
    assert added.exit_code == 0, added.output
    run(run_cli, "v1", "qa", "--limit", "3")
    assert run(run_cli, "v1", "qa", "--limit", "3")["cached"] == 0
    assert run(run_cli, "v1", "qa", "--limit", "3", "--cache")["cached"] == 3


def test_a_case_the_template_cannot_render_is_an_error_response(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        setup(run_cli, conn, tmp_path, server.url)
        conn.execute(
            "INSERT INTO evaltool.prompt_template (name, version, body) VALUES ('t', 1, %s)",
            [json.dumps([{"role": "user", "content": "{{ question }} about {{ topic }}"}])],
        )
        conn.commit()
        summary = run(run_cli, "m", "qa", "--template", "t")
        assert (summary["ok"], summary["errors"]) == (1, 1)
        assert server.questions() == ["2+2 about math"]
    error = conn.execute(
        "SELECT error FROM evaltool.response WHERE run_id = %s AND status = 'error'",
        [summary["run_id"]],
    ).fetchone()[0]
    assert "'topic' is undefined" in error
    unknown = run_cli("run", "m", "qa", "--template", "nope", env=KEY)
    assert unknown.exit_code == 2 and "no template 'nope'" in unknown.output
