"""`evaltool import TOOL FILE...`: other tools' result files, from samples written to each
tool's documented format (tests/data/imports), into datasets, runs, responses and scores."""

import gzip
import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result

RunCli = Callable[..., Result]
DATA = Path(__file__).parent / "data" / "imports"


def rows(conn: psycopg.Connection, query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def imported(run_cli: RunCli, *args: str) -> dict[str, Any]:
    result = run_cli("import", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def counts(conn: psycopg.Connection) -> tuple[int, ...]:
    row = conn.execute(
        """SELECT (SELECT count(*) FROM evaltool.prompt), (SELECT count(*) FROM evaltool.run),
                  (SELECT count(*) FROM evaltool.response), (SELECT count(*) FROM evaltool.score),
                  (SELECT count(*) FROM evaltool.model WHERE adapter = 'imported')"""
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_promptfoo_results_become_a_run_per_prompt_and_provider(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    summary = imported(run_cli, "promptfoo", str(DATA / "promptfoo-results.json"))
    assert sorted((r["name"], r["responses"]) for r in summary["runs"]) == [
        ("short · haiku", 2),
        ("short · openai:chat:gpt-4o-mini", 2),
        ("system-style · haiku", 2),
        ("system-style · openai:chat:gpt-4o-mini", 2),
    ]
    assert summary["datasets"] == {"French translation smoke test": {"read": 2, "inserted": 2}}
    # the models the file names, registered as imported, with the provider of their id
    assert rows(
        conn,
        """SELECT m.name, m.model_id, p.name FROM evaltool.model m
           JOIN evaltool.provider p ON p.id = m.provider_id
           WHERE m.adapter = 'imported' ORDER BY m.name""",
    ) == [
        ("haiku", "messages:claude-3-5-haiku-20241022", "anthropic"),
        ("openai:chat:gpt-4o-mini", "chat:gpt-4o-mini", "openai"),
    ]
    # the test case is the vars; the run records the prompt template and the file's time
    assert rows(
        conn,
        """SELECT r.metadata ->> 'prompt', r.started_at::text, r.params
           FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
           WHERE r.name = 'short · haiku'""",
    ) == [
        (
            "Translate into French: {{text}}",
            "2024-05-01 12:00:00+00",
            {"temperature": 0, "max_tokens": 256},
        )
    ]
    first = rows(
        conn,
        """SELECT x.output_text, x.latency_ms, x.input_tokens, x.output_tokens, x.cost_usd,
                  x.status
           FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id
           JOIN evaltool.run r ON r.id = x.run_id
           WHERE r.name = 'short · openai:chat:gpt-4o-mini'
             AND p.input = '{"text": "Good morning, how are you?"}'""",
    )
    assert first == [("Bonjour, comment allez-vous ?", 812.0, 20, 13, Decimal("0.00001080"), "ok")]
    # the provider's error is an error response, without scores
    errors = rows(
        conn,
        """SELECT r.name, x.error FROM evaltool.response x JOIN evaltool.run r ON r.id = x.run_id
           WHERE x.status = 'error'""",
    )
    assert len(errors) == 1 and errors[0][0] == "system-style · haiku"
    # promptfoo's verdict as "pass", each assertion by its metric name
    metrics = rows(
        conn,
        """SELECT s.metric, count(*), count(*) FILTER (WHERE s.passed)
           FROM evaltool.score s GROUP BY 1 ORDER BY 1""",
    )
    assert [m[0] for m in metrics] == ["accuracy", "fluency", "pass"]
    reason = rows(
        conn,
        """SELECT s.details ->> 'reason' FROM evaltool.score s
           JOIN evaltool.response x ON x.id = s.response_id
           WHERE s.metric = 'fluency' AND x.output_text = 'Bonjour, comment allez-vous ?'
           ORDER BY s.id LIMIT 1""",
    )
    assert reason == [("The translation is fluent and idiomatic French.",)]

    # the same file again adds nothing, and says so
    before = counts(conn)
    again = imported(run_cli, "promptfoo", str(DATA / "promptfoo-results.json"))
    assert counts(conn) == before
    assert {(r["responses"], r["scores"], r["created"]) for r in again["runs"]} == {(0, 0, False)}

    # the runs compare like any others
    ids = {r["name"]: r["id"] for r in summary["runs"]}
    compared = run_cli(
        "compare",
        str(ids["short · openai:chat:gpt-4o-mini"]),
        str(ids["system-style · openai:chat:gpt-4o-mini"]),
        "--json",
    )
    assert compared.exit_code in (0, 1), compared.stderr
    assert {m["metric"] for m in json.loads(compared.stdout)["metrics"]} >= {"pass", "accuracy"}


def test_promptfoo_test_files_become_a_dataset(run_cli: RunCli, conn: psycopg.Connection) -> None:
    summary = imported(
        run_cli,
        "promptfoo",
        str(DATA / "promptfoo-tests.csv"),
        str(DATA / "promptfoo-tests.yaml"),
        "--dataset",
        "translations",
    )
    assert summary["runs"] == []
    cases = rows(
        conn,
        "SELECT input, expected, metadata FROM evaltool.prompt ORDER BY id",
    )
    assert len(cases) == summary["datasets"]["translations"]["inserted"] > 0
    # an __expected that only says what the output equals is the expected output; others
    # are kept as assertions, with the description and __metadata columns
    assert all(isinstance(case[0], dict) for case in cases)
    assert any(case[1] is not None for case in cases)
    assertions = [case[2]["assert"] for case in cases if "assert" in case[2]]
    assert assertions and all(isinstance(a, list) and a[0]["type"] for a in assertions)
    assert any("description" in case[2] for case in cases)


def test_lm_eval_samples_with_the_model_of_their_results_file(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    summary = imported(run_cli, "lm-eval", str(DATA / "lm-eval"))
    assert sorted(summary["datasets"]) == ["gsm8k", "hellaswag"]
    assert {r["model"] for r in summary["runs"]} == {"EleutherAI/pythia-160m"}
    # doc is the test case, target the expected answer, doc_id its id
    case = rows(
        conn,
        """SELECT p.external_id, p.input ? 'question', p.expected IS NOT NULL
           FROM evaltool.prompt p JOIN evaltool.dataset d ON d.id = p.dataset_id
           WHERE d.name = 'gsm8k' ORDER BY p.external_id LIMIT 1""",
    )
    assert case == [("0", True, True)]
    metrics = {m for (m,) in rows(conn, "SELECT DISTINCT metric FROM evaltool.score")}
    assert {"acc", "acc_norm"} <= metrics
    assert any(m.startswith("exact_match") for m in metrics)
    # acc is a verdict as well as a value
    assert rows(
        conn,
        """SELECT count(*) FROM evaltool.score
           WHERE metric = 'acc' AND passed IS DISTINCT FROM (value = 1)""",
    ) == [(0,)]
    # one response per doc, even where a task has several filters
    assert rows(
        conn,
        """SELECT count(*), count(DISTINCT prompt_id) FROM evaltool.response x
           JOIN evaltool.run r ON r.id = x.run_id JOIN evaltool.dataset d ON d.id = r.dataset_id
           WHERE d.name = 'gsm8k'""",
    )[0] == (3, 3)

    # without the results file the model must be named
    lonely = tmp_path / "samples_gsm8k_2024-06-01T00-00-00.jsonl"
    shutil.copy(DATA / "lm-eval" / "samples_gsm8k_2024-05-01T12-00-00.jsonl", lonely)
    refused = run_cli("import", "lm-eval", str(lonely))
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Error: {lonely}: no results_*.json beside it names the model: give --model NAME\n",
    )
    named = imported(run_cli, "lm-eval", str(lonely), "--model", "pythia-local")
    assert [r["model"] for r in named["runs"]] == ["pythia-local"]


def test_inspect_json_and_eval_logs_import_alike(run_cli: RunCli, conn: psycopg.Connection) -> None:
    from_json = imported(run_cli, "inspect", str(DATA / "inspect-log.json"), "--project", "a")
    from_eval = imported(run_cli, "inspect", str(DATA / "inspect-log.eval"), "--project", "b")
    assert [r["responses"] for r in from_json["runs"]] == [
        r["responses"] for r in from_eval["runs"]
    ]

    def run_rows(project: str) -> list[tuple[Any, ...]]:
        return rows(
            conn,
            """SELECT p.external_id, x.sample, x.status, x.output_text, x.input_tokens,
                      s.metric, s.value, s.passed
               FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id
               JOIN evaltool.dataset d ON d.id = p.dataset_id
               JOIN evaltool.project j ON j.id = d.project_id
               LEFT JOIN evaltool.score s ON s.response_id = x.id
               WHERE j.name = %s ORDER BY 1, 2, 6""",
            project,
        )

    in_json = run_rows("a")
    assert in_json == run_rows("b")
    # epochs are samples of the run; C and I are passed and failed
    assert {r[1] for r in in_json} == {1, 2}
    verdicts = {(r[6], r[7]) for r in in_json if r[5] == "match"}
    assert verdicts <= {(1.0, True), (0.0, False)} and len(verdicts) == 2
    params = rows(conn, "SELECT params, metadata ->> 'inspect_task' FROM evaltool.run LIMIT 1")
    assert params[0][0]["temperature"] == 0.0 and params[0][1] == "capitals_qa"


def test_openai_batch_input_output_and_errors(run_cli: RunCli, conn: psycopg.Connection) -> None:
    files = [DATA / f"openai-batch-{kind}.jsonl" for kind in ("output", "errors", "input")]
    summary = imported(run_cli, "openai-batch", *map(str, files))
    assert [(r["model"], r["responses"]) for r in summary["runs"]] == [("gpt-4o-mini", 5)]
    responses = rows(
        conn,
        """SELECT p.external_id, x.status, x.error, x.input_tokens, x.created_at::date::text
           FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id
           ORDER BY 1""",
    )
    assert [r[0] for r in responses] == [f"eval-00{i}" for i in range(1, 6)]
    ok = [r for r in responses if r[1] == "ok"]
    assert ok and all(r[3] and r[4] == "2024-05-01" for r in ok)
    errors = {r[0]: r[2] for r in responses if r[1] == "error"}
    assert errors["eval-005"].startswith("batch_expired This request could not be executed")
    assert errors["eval-003"].startswith("HTTP 400 integer_below_min_value Invalid 'max_tokens'")

    # results name their requests by custom_id only: the input file is needed
    refused = run_cli("import", "openai-batch", str(files[0]))
    assert refused.exit_code == 2
    assert "give the batch's input file too" in refused.stderr


def test_bedrock_invocation_logs_land_in_the_cost_views(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    # a model registered with its price, by the identifier Bedrock logs it under
    assert (
        run_cli(
            "models", "add", "claude-haiku", "--adapter", "bedrock",
            "--model-id", "anthropic.claude-3-5-haiku-20241022-v1:0",
        ).exit_code
        == 0
    )  # fmt: skip
    priced = run_cli(
        "models", "price", "claude-haiku", "--input-per-mtok", "1", "--output-per-mtok", "5",
        "--since", "2024-01-01",
    )  # fmt: skip
    assert priced.exit_code == 0, priced.stderr
    summary = imported(run_cli, "bedrock", str(DATA / "bedrock-invocations.jsonl"))
    models = {r["model"] for r in summary["runs"]}
    assert "claude-haiku" in models  # found by its model id, not registered again
    assert summary["created"].count("model claude-haiku (imported)") == 0
    cost = rows(
        conn,
        """SELECT model, sum(calls)::int, sum(input_tokens)::int, sum(cost_usd)
           FROM evaltool.cost_daily WHERE day >= '2024-01-01' AND day < '2025-01-01'
           GROUP BY model ORDER BY model""",
    )
    haiku = next(c for c in cost if c[0] == "claude-haiku")
    expected = sum(
        Decimal(r[0]) / 10**6 + Decimal(r[1]) * 5 / 10**6
        for r in rows(
            conn,
            """SELECT x.input_tokens, x.output_tokens FROM evaltool.response x
               JOIN evaltool.run r ON r.id = x.run_id JOIN evaltool.model m ON m.id = r.model_id
               WHERE m.name = 'claude-haiku'""",
        )
    )
    assert haiku[3] == expected > 0
    # production traffic: test cases of origin production, calls at their own time
    assert rows(conn, "SELECT DISTINCT origin FROM evaltool.prompt") == [("production",)]
    assert rows(
        conn, "SELECT count(*) FROM evaltool.response WHERE created_at >= '2025-01-01'"
    ) == [(0,)]

    # the same records as exported from CloudWatch Logs, and as filter-log-events lists
    # them, read the same
    lines = (DATA / "bedrock-invocations.jsonl").read_text().splitlines()
    exported = tmp_path / "000000.gz"
    with gzip.open(exported, "wt") as out:
        for line in lines:
            out.write(f"{json.loads(line)['timestamp']} {line}\n")
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"events": [{"timestamp": 1, "message": m} for m in lines]}))

    def calls(project: str) -> list[tuple[Any, ...]]:
        return rows(
            conn,
            """SELECT p.input, x.sample, x.created_at, x.input_tokens, x.output_tokens,
                      x.output_text, x.latency_ms, x.status
               FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id
               JOIN evaltool.dataset d ON d.id = p.dataset_id
               JOIN evaltool.project j ON j.id = d.project_id
               WHERE j.name = %s ORDER BY x.created_at, x.sample""",
            project,
        )

    for project, path in (("cloudwatch", exported), ("events", events)):
        imported(run_cli, "bedrock", str(path), "--project", project)
        assert calls(project) == calls("default"), path
    assert len(calls("default")) == len(lines)


def test_bedrock_batch_output(run_cli: RunCli, conn: psycopg.Connection) -> None:
    summary = imported(run_cli, "bedrock", str(DATA / "bedrock-batch.jsonl.out"))
    [run] = summary["runs"]
    assert run["model"] == "claude-3-5-haiku-20241022"
    found = rows(
        conn,
        """SELECT p.external_id, x.status, x.output_text, x.output_tokens
           FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id ORDER BY 1""",
    )
    assert found[0] == ("REC00000001", "ok", "100 °C.", 7)
    assert [r[1] for r in found].count("error") == 1
    params = rows(conn, "SELECT params FROM evaltool.run")
    assert params == [
        ({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "temperature": 0},)
    ]


def test_an_imported_model_cannot_be_run(run_cli: RunCli) -> None:
    imported(run_cli, "bedrock", str(DATA / "bedrock-batch.jsonl.out"))
    result = run_cli("run", "claude-3-5-haiku-20241022", "bedrock-batch")
    assert result.exit_code == 2
    assert "is known only from imported results" in result.stderr
    assert "Traceback" not in result.output


def _damaged(tmp_path: Path, source: Path, line: int, text: str) -> Path:
    lines = source.read_text().splitlines()
    lines[line - 1] = text
    target = tmp_path / source.name
    target.write_text("\n".join(lines) + "\n")
    return target


GSM8K = "lm-eval/samples_gsm8k_2024-05-01T12-00-00.jsonl"
OUT_OF_RANGE = (
    '{"modelId": "m", "input": {"inputBodyJson": {"messages": []}, "inputTokenCount": 1e400}}'
)
DEEP_RESULT = '  "evalId": ' + "[" * 3000 + "]" * 3000 + ","
BAD_RECORDS = [
    ("openai-batch", "openai-batch-input.jsonl", 3, '{"custom_id": "x", "body": {', "invalid JSON"),
    ("openai-batch", "openai-batch-input.jsonl", 2, '{"custom_id": 7}', '"custom_id" (a string)'),
    ("bedrock", "bedrock-invocations.jsonl", 2, OUT_OF_RANGE, "number out of range"),
    ("bedrock", "bedrock-batch.jsonl.out", 2, "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("bedrock", "bedrock-invocations.jsonl", 1, '{"what": 1}', "not a Bedrock record"),
    ("lm-eval", GSM8K, 2, '{"doc_id": 1}', "not an lm-eval sample"),
    ("inspect", "inspect-log.json", 3, '  "status": success,', "invalid JSON"),
    ("promptfoo", "promptfoo-results.json", 2, DEEP_RESULT, "JSON nested too deeply"),
]


@pytest.mark.parametrize(("tool", "name", "line", "text", "reason"), BAD_RECORDS)
def test_a_bad_record_stops_the_import_with_file_and_line(
    run_cli: RunCli,
    conn: psycopg.Connection,
    tmp_path: Path,
    tool: str,
    name: str,
    line: int,
    text: str,
    reason: str,
) -> None:
    source = DATA / name
    bad = _damaged(tmp_path, source, line, text)
    others = [DATA / "openai-batch-output.jsonl"] if name.startswith("openai") else []
    if name.startswith("lm-eval"):
        shutil.copy(DATA / "lm-eval" / "results_2024-05-01T12-00-00.json", tmp_path)
    result = run_cli("import", tool, str(bad), *map(str, others))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {bad}:{line}: "), result.stderr
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1
    assert counts(conn) == (0, 0, 0, 0, 0)


def test_a_record_the_load_refuses_names_its_line(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Checks made by the loads (here a negative token count) name the tool's file."""
    source = DATA / "bedrock-invocations.jsonl"
    record = json.loads(source.read_text().splitlines()[1])
    record["input"]["inputTokenCount"] = -3
    bad = _damaged(tmp_path, source, 2, json.dumps(record))
    result = run_cli("import", "bedrock", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad}:2: ")
    assert "must be numbers >= 0" in result.stderr
    assert counts(conn) == (0, 0, 0, 0, 0)


def test_files_of_another_tool_are_refused(run_cli: RunCli, conn: psycopg.Connection) -> None:
    result = run_cli("import", "inspect", str(DATA / "promptfoo-results.json"))
    assert (result.exit_code, result.stderr) == (
        2,
        f'Error: {DATA / "promptfoo-results.json"}:1: not an Inspect eval log (no "eval")\n',
    )
    result = run_cli("import", "promptfoo", str(DATA / "inspect-log.json"))
    assert result.exit_code == 2
    assert "not a promptfoo results file" in result.stderr
    assert counts(conn) == (0, 0, 0, 0, 0)


def test_promptfoo_csv_columns_as_promptfoo_reads_them(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    tests = tmp_path / "tests.csv"
    tests.write_text(
        "question,__expected,__expected2,__metric,__description,__metadata:tags[],_note\n"
        "Capital of France?,Paris,,,plain,,x\n"
        'Colours?,"contains-any: red, blue",similar(0.9): a colour,colour,any,"a,b\\,c",y\n'
        "Note this,note: not a type,,,,,z\n"
    )
    imported(run_cli, "promptfoo", str(tests))
    found = rows(conn, "SELECT input, expected, metadata FROM evaltool.prompt ORDER BY id")
    assert found == [
        ({"question": "Capital of France?", "_note": "x"}, "Paris", {"description": "plain"}),
        (
            {"question": "Colours?", "_note": "y"},
            None,
            {
                "description": "any",
                "tags": ["a", "b,c"],
                "assert": [
                    {"type": "contains-any", "value": ["red", "blue"], "metric": "colour"},
                    {"type": "similar", "value": "a colour", "threshold": 0.9, "metric": "colour"},
                ],
            },
        ),
        ({"question": "Note this", "_note": "z"}, "note: not a type", {}),
    ]


def test_lm_eval_samples_of_older_versions_are_a_json_array(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    lines = (DATA / GSM8K).read_text().splitlines()
    old = tmp_path / "samples_gsm8k_2024-05-01T12-00-00.json"
    old.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    shutil.copy(DATA / "lm-eval" / "results_2024-05-01T12-00-00.json", tmp_path)
    summary = imported(run_cli, "lm-eval", str(tmp_path))
    assert [(r["model"], r["responses"]) for r in summary["runs"]] == [
        ("EleutherAI/pythia-160m", 3)
    ]


def test_names_from_files_are_one_line_and_storable(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Model, provider and run names come from the file: control characters, NULs and
    lengths a column or a terminal cannot take are made safe, not a database error."""
    lines = (DATA / "bedrock-invocations.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["modelId"] = "evil\nmodel\x1b[31m" + "x" * 5000
    source = tmp_path / "logs.jsonl"
    source.write_text(json.dumps(record) + "\n")
    summary = imported(run_cli, "bedrock", str(source))
    [run] = summary["runs"]
    assert run["model"].startswith("evil model ") and len(run["model"]) <= 200
    name, model_id = rows(conn, "SELECT m.name, m.model_id FROM evaltool.model m")[0]
    assert "\n" not in name and "\x1b" not in model_id
    listed = run_cli("runs", "list")
    assert listed.exit_code == 0 and "evil model" in listed.stdout
    # a NUL where a document holds names (a record holding one is refused: next test)
    results = json.loads((DATA / "promptfoo-results.json").read_text())
    for result in results["results"]["results"]:
        result["provider"]["label"] = "hai\x00ku"
    source = tmp_path / "results.json"
    source.write_text(json.dumps(results))
    names = {r["model"] for r in imported(run_cli, "promptfoo", str(source))["runs"]}
    assert names == {"hai ku"}


def test_a_nul_in_an_imported_value_names_its_line(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = DATA / GSM8K
    record = json.loads(source.read_text().splitlines()[2])
    record["doc"]["question"] = "nul \u0000 here"
    bad = _damaged(tmp_path, source, 3, json.dumps(record))
    shutil.copy(DATA / "lm-eval" / "results_2024-05-01T12-00-00.json", tmp_path)
    result = run_cli("import", "lm-eval", str(bad))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {bad}:3: invalid JSON: \\u0000 (NUL) is not allowed\n",
    )
    assert counts(conn) == (0, 0, 0, 0, 0)


def test_lm_eval_nan_metrics_are_left_out(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = DATA / GSM8K
    line = source.read_text().splitlines()[0]
    metric = json.loads(line)["metrics"][0]
    bad = _damaged(tmp_path, source, 1, line.replace(f'"{metric}": ', f'"{metric}": NaN, "x": ', 1))
    shutil.copy(DATA / "lm-eval" / "results_2024-05-01T12-00-00.json", tmp_path)
    summary = imported(run_cli, "lm-eval", str(bad))
    assert summary["runs"][0]["responses"] == 3


def test_yaml_aliases_that_expand_past_a_million_values_are_refused(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    source = tmp_path / "tests.yaml"
    source.write_text("\n".join(laughs) + "\ntests:\n  - vars: {x: *a8}\n")
    result = run_cli("import", "promptfoo", str(source))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {source}: its aliases expand to more than 1,000,000 values\n",
    )
    # aliases within reason (shared assertions) are read as YAML means them
    source.write_text(
        "shared: &shared [{type: icontains, value: paris}]\n"
        "tests:\n  - vars: {q: France}\n    assert: *shared\n  - vars: {q: Paris}\n"
        "    assert: *shared\n"
    )
    imported(run_cli, "promptfoo", str(source))
    assert rows(conn, "SELECT metadata -> 'assert' FROM evaltool.prompt ORDER BY id") == [
        ([{"type": "icontains", "value": "paris"}],),
        ([{"type": "icontains", "value": "paris"}],),
    ]


def test_promptfoo_json_test_files(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    listed = tmp_path / "list.json"
    listed.write_text(
        json.dumps([{"vars": {"q": "a"}, "assert": [{"type": "equals", "value": "A"}]}])
    )
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(
        json.dumps({"tests": [{"vars": {"q": "b"}, "description": "second"}]}, indent=1)
    )
    summary = imported(run_cli, "promptfoo", str(listed), str(wrapped), "-d", "json-tests")
    assert summary["datasets"] == {"json-tests": {"read": 2, "inserted": 2}}
    assert rows(conn, "SELECT input, expected, metadata FROM evaltool.prompt ORDER BY id") == [
        ({"q": "a"}, "A", {}),
        ({"q": "b"}, None, {"description": "second"}),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text('{"tests": [\n  {"vars": {"q": "c"}},\n  {"vars": "not an object"}\n]}')
    result = run_cli("import", "promptfoo", str(bad))
    assert (result.exit_code, result.stderr) == (2, f'Error: {bad}:3: "vars" must be an object\n')


def test_hostile_classes_of_the_importers(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Nothing to import is an error, not an empty success; a zip bomb is refused before
    it is parsed; --model names the model even when one has the file's model id."""
    import zipfile

    empty = tmp_path / "lm"
    empty.mkdir()
    (empty / "samples_gsm8k_2024-05-01T12-00-00.jsonl").write_text("\n  \n")
    shutil.copy(DATA / "lm-eval" / "results_2024-05-01T12-00-00.json", empty)
    result = run_cli("import", "lm-eval", str(empty))
    assert result.exit_code == 2 and "nothing to import" in result.stderr, result.output
    bomb = tmp_path / "bomb.eval"
    with (
        zipfile.ZipFile(DATA / "inspect-log.eval") as good,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        out.writestr("header.json", good.read("header.json"))
        out.writestr("samples/1_epoch_1.json", "[" + "{}," * (12 << 20) + "{}]")
    result = run_cli("import", "inspect", str(bomb))
    assert result.exit_code == 2 and "not a log Inspect wrote" in result.stderr, result.output
    dated = tmp_path / "tests.yaml"
    dated.write_text("tests:\n  - vars: {when: 2024-05-01, 1: one, tags: !!set {a, b}}\n")
    imported(run_cli, "promptfoo", str(dated))
    assert rows(conn, "SELECT input FROM evaltool.prompt") == [
        ({"1": "one", "when": "2024-05-01", "tags": ["a", "b"]},)
    ]
    # --model names the run's model, though a model has the file's model id
    imported(run_cli, "inspect", str(DATA / "inspect-log.json"), "--project", "x")
    named = imported(
        run_cli, "inspect", str(DATA / "inspect-log.eval"), "--model", "brandnew", "-d", "y"
    )
    assert [r["model"] for r in named["runs"]] == ["brandnew"]
