"""The core schema's constraints and triggers, proven with real inserts."""

import hashlib
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

# ON DELETE RESTRICT reports 23503 up to PostgreSQL 17 and 23001 from 18 on.
RESTRICTED = (errors.ForeignKeyViolation, errors.RestrictViolation)


def one(conn: psycopg.Connection, query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def dataset_id(conn: psycopg.Connection) -> int:
    return one(
        conn,
        """
        INSERT INTO evaltool.dataset (project_id, name)
        SELECT id, 'golden' FROM evaltool.project WHERE name = 'default' RETURNING id""",
    )


@pytest.fixture
def model_id(conn: psycopg.Connection) -> int:
    provider = one(conn, "INSERT INTO evaltool.provider (name) VALUES ('local') RETURNING id")
    return one(
        conn,
        """
        INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
        VALUES (%s, 'echo-v1', 'examples.models:v1', 'python') RETURNING id""",
        [provider],
    )


def add_prompt(conn: psycopg.Connection, dataset_id: int, doc: Any, **cols: Any) -> int:
    names = ["dataset_id", "input", *cols]
    values = [dataset_id, Jsonb(doc), *cols.values()]
    placeholders = ", ".join(["%s"] * len(values))
    return one(
        conn,
        f"INSERT INTO evaltool.prompt ({', '.join(names)}) VALUES ({placeholders}) RETURNING id",
        values,
    )


def add_run(conn: psycopg.Connection, model_id: int, dataset_id: int) -> int:
    return one(
        conn,
        "INSERT INTO evaltool.run (model_id, dataset_id) VALUES (%s, %s) RETURNING id",
        [model_id, dataset_id],
    )


def add_response(conn: psycopg.Connection, run_id: int, prompt_id: int, **cols: Any) -> int:
    cols = {"status": "ok", **cols}
    names = ["run_id", "prompt_id", *cols]
    placeholders = ", ".join(["%s"] * len(names))
    return one(
        conn,
        f"INSERT INTO evaltool.response ({', '.join(names)}) VALUES ({placeholders}) RETURNING id",
        [run_id, prompt_id, *cols.values()],
    )


# -- prompt hashing ------------------------------------------------------------------


def test_hash_ignores_key_order_and_whitespace(conn: psycopg.Connection, dataset_id: int) -> None:
    first = add_prompt(conn, dataset_id, {"question": "2+2?", "context": {"a": 1, "b": [1, 2]}})
    hashes = [
        one(conn, "SELECT evaltool.json_hash(%s::jsonb)", [text])
        for text in (
            '{"context": {"b": [1, 2], "a": 1}, "question": "2+2?"}',
            '{  "question" :"2+2?",\n\t"context":{"a":1,"b":[1,2]} }',
        )
    ]
    stored = one(conn, "SELECT prompt_hash FROM evaltool.prompt WHERE id = %s", [first])
    assert hashes == [stored, stored]
    assert len(stored) == 32


def test_hash_is_sha256_of_canonical_text(conn: psycopg.Connection, dataset_id: int) -> None:
    prompt = add_prompt(conn, dataset_id, {"b": "é", "a": 1})
    stored = one(conn, "SELECT prompt_hash FROM evaltool.prompt WHERE id = %s", [prompt])
    # jsonb's text form: keys sorted (shorter first, then bytewise), ", " and ": " separators.
    assert stored == hashlib.sha256('{"a": 1, "b": "é"}'.encode()).digest()


def test_duplicate_input_is_rejected_in_one_dataset_only(
    conn: psycopg.Connection, dataset_id: int
) -> None:
    add_prompt(conn, dataset_id, {"q": "x", "n": 1})
    with pytest.raises(errors.UniqueViolation, match="prompt_dataset_hash_key"):
        add_prompt(conn, dataset_id, {"n": 1, "q": "x"})
    other = one(
        conn,
        """
        INSERT INTO evaltool.dataset (project_id, name, version)
        SELECT id, 'golden', '2' FROM evaltool.project WHERE name = 'default' RETURNING id""",
    )
    add_prompt(conn, other, {"n": 1, "q": "x"})
    assert one(conn, "SELECT count(*) FROM evaltool.prompt") == 2


def test_hash_follows_input_on_update(conn: psycopg.Connection, dataset_id: int) -> None:
    prompt = add_prompt(conn, dataset_id, "first")
    conn.execute("UPDATE evaltool.prompt SET input = '\"second\"' WHERE id = %s", [prompt])
    assert (
        one(conn, "SELECT prompt_hash FROM evaltool.prompt WHERE id = %s", [prompt])
        == hashlib.sha256(b'"second"').digest()
    )
    # A forged hash is overwritten: the hash can never disagree with the input.
    conn.execute("UPDATE evaltool.prompt SET prompt_hash = %s WHERE id = %s", [b"x" * 32, prompt])
    assert (
        one(conn, "SELECT prompt_hash FROM evaltool.prompt WHERE id = %s", [prompt])
        == hashlib.sha256(b'"second"').digest()
    )


def test_is_verified_defaults_from_origin(conn: psycopg.Connection, dataset_id: int) -> None:
    human = add_prompt(conn, dataset_id, "a")
    synthetic = add_prompt(conn, dataset_id, "b", origin="synthetic")
    vouched = add_prompt(conn, dataset_id, "c", origin="synthetic", is_verified=True)
    rows = dict(conn.execute("SELECT id, is_verified FROM evaltool.prompt").fetchall())
    assert rows == {human: True, synthetic: False, vouched: True}
    with pytest.raises(errors.CheckViolation):
        add_prompt(conn, dataset_id, "d", origin="scraped")


# -- pricing and parameter history ----------------------------------------------------


def test_overlapping_price_ranges_are_rejected(conn: psycopg.Connection, model_id: int) -> None:
    insert = (
        "INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok, "
        "output_usd_per_mtok, valid_from, valid_to) VALUES (%s, 1, 2, %s, %s)"
    )
    conn.execute(insert, [model_id, "2026-01-01", "2026-06-01"])
    conn.execute(insert, [model_id, "2026-06-01", None])  # adjacent: allowed
    with pytest.raises(errors.ExclusionViolation, match="model_pricing_no_overlap"):
        conn.execute(insert, [model_id, "2026-05-01", "2026-07-01"])
    with pytest.raises(errors.ExclusionViolation):
        conn.execute(insert, [model_id, "2027-01-01", None])  # inside the open range
    with pytest.raises(errors.CheckViolation):
        conn.execute(insert, [model_id, "2025-02-01", "2025-01-01"])  # ends before it starts


def test_overlapping_params_are_rejected(conn: psycopg.Connection, model_id: int) -> None:
    insert = "INSERT INTO evaltool.model_params (model_id, params, valid_from) VALUES (%s, %s, %s)"
    conn.execute(insert, [model_id, Jsonb({"temperature": 0}), "2026-01-01"])
    with pytest.raises(errors.ExclusionViolation, match="model_params_no_overlap"):
        conn.execute(insert, [model_id, Jsonb({"temperature": 1}), "2026-02-01"])
    with pytest.raises(errors.CheckViolation):
        conn.execute(insert, [model_id, Jsonb([1]), "2020-01-01"])  # not an object


# -- updated_at ------------------------------------------------------------------------


def test_updated_at_moves_on_change_only(conn: psycopg.Connection, model_id: int) -> None:
    conn.execute("UPDATE evaltool.model SET updated_at = created_at - interval '1 day'")
    before = one(conn, "SELECT updated_at FROM evaltool.model WHERE id = %s", [model_id])
    conn.execute("UPDATE evaltool.model SET description = description WHERE id = %s", [model_id])
    assert one(conn, "SELECT updated_at FROM evaltool.model WHERE id = %s", [model_id]) == before
    conn.execute("UPDATE evaltool.model SET description = 'new' WHERE id = %s", [model_id])
    after, created = conn.execute(
        "SELECT updated_at, created_at FROM evaltool.model WHERE id = %s", [model_id]
    ).fetchone()
    assert after > before and after >= created


def test_every_mutable_table_has_the_updated_at_trigger(conn: psycopg.Connection) -> None:
    rows = conn.execute("""
        SELECT c.relname, count(t.oid)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at'
        LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = 'touch_updated_at'
        WHERE n.nspname = 'evaltool' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        GROUP BY c.relname ORDER BY 1""").fetchall()
    assert dict(rows) == {
        name: 1
        for name in (
            "dataset",
            "model",
            "model_params",
            "model_pricing",
            "preference",
            "project",
            "prompt",
            "prompt_template",
            "provider",
            "response",
            "run",
            "score",
            "training_example",
        )
    }


# -- audit -----------------------------------------------------------------------------


def test_audit_rows_for_insert_update_delete(conn: psycopg.Connection, dataset_id: int) -> None:
    conn.execute("SELECT set_config('evaltool.actor', 'alice', false)")
    prompt = add_prompt(conn, dataset_id, "hello")
    conn.execute("UPDATE evaltool.prompt SET tags = '{smoke}' WHERE id = %s", [prompt])
    conn.execute("UPDATE evaltool.prompt SET tags = '{smoke}' WHERE id = %s", [prompt])  # no-op
    conn.execute("DELETE FROM evaltool.prompt WHERE id = %s", [prompt])
    history = """
        SELECT action, actor, old_row->'tags', new_row->'tags', db_user = session_user
        FROM evaltool.{} WHERE table_name = 'prompt' AND row_id = %s ORDER BY id"""
    # The log itself copies no inserted row; audit_trail shows the values inserted.
    assert conn.execute(history.format("audit_log"), [prompt]).fetchall() == [
        ("INSERT", "alice", None, None, True),
        ("UPDATE", "alice", [], ["smoke"], True),
        ("DELETE", "alice", ["smoke"], None, True),
    ]
    assert conn.execute(history.format("audit_trail"), [prompt]).fetchall() == [
        ("INSERT", "alice", None, [], True),
        ("UPDATE", "alice", [], ["smoke"], True),
        ("DELETE", "alice", ["smoke"], None, True),
    ]


def test_audit_trail_shows_each_row_as_inserted(conn: psycopg.Connection, dataset_id: int) -> None:
    kept, changed, deleted = (add_prompt(conn, dataset_id, text) for text in ("a", "b", "c"))
    conn.execute("UPDATE evaltool.prompt SET tags = '{one}' WHERE id = %s", [changed])
    conn.execute("UPDATE evaltool.prompt SET tags = '{two}' WHERE id = %s", [changed])
    conn.execute("UPDATE evaltool.prompt SET tags = '{gone}' WHERE id = %s", [deleted])
    conn.execute("DELETE FROM evaltool.prompt WHERE id = %s", [deleted])
    inserted = dict(
        conn.execute(
            """SELECT row_id, new_row FROM evaltool.audit_trail
               WHERE table_name = 'prompt' AND action = 'INSERT'"""
        ).fetchall()
    )
    current = one(conn, "SELECT to_jsonb(p) FROM evaltool.prompt p WHERE id = %s", [kept])
    assert inserted[kept] == current
    assert [inserted[i]["input"] for i in (kept, changed, deleted)] == ["a", "b", "c"]
    assert inserted[changed]["tags"] == inserted[deleted]["tags"] == []


@pytest.mark.parametrize("table", ["model", "model_pricing", "dataset", "prompt", "run"])
def test_audited_tables(conn: psycopg.Connection, table: str) -> None:
    events = conn.execute(
        """
        SELECT array_agg(t.tgname ORDER BY t.tgname) FROM pg_trigger t
        WHERE t.tgrelid = %s::regclass AND t.tgname LIKE 'audit_%%'""",
        [f"evaltool.{table}"],
    ).fetchone()
    assert events == (["audit_delete", "audit_insert", "audit_update"],)


def test_one_audit_row_per_row_of_a_bulk_statement(
    conn: psycopg.Connection, dataset_id: int
) -> None:
    conn.execute(
        """INSERT INTO evaltool.prompt (dataset_id, input)
                    SELECT %s, to_jsonb(g) FROM generate_series(1, 500) g""",
        [dataset_id],
    )
    assert (
        one(
            conn,
            "SELECT count(*) FROM evaltool.audit_log WHERE table_name = 'prompt' "
            "AND action = 'INSERT'",
        )
        == 500
    )


# -- uniqueness, checks and cascades --------------------------------------------------------


@pytest.fixture
def graph(conn: psycopg.Connection, model_id: int, dataset_id: int) -> dict[str, int]:
    """A model, a dataset with one prompt, a run with one response and one score."""
    prompt = add_prompt(conn, dataset_id, "2+2?", expected=Jsonb("4"))
    run = add_run(conn, model_id, dataset_id)
    response = add_response(conn, run, prompt, output=Jsonb("4"), output_text="4")
    one(
        conn,
        """INSERT INTO evaltool.score (run_id, response_id, metric, passed, scorer)
                 VALUES (%s, %s, 'exact_match', true, 'exact_match') RETURNING id""",
        [run, response],
    )
    conn.execute(
        """INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok,
                    output_usd_per_mtok) VALUES (%s, 1, 2)""",
        [model_id],
    )
    return {
        "model": model_id,
        "dataset": dataset_id,
        "prompt": prompt,
        "run": run,
        "response": response,
    }


def test_one_response_per_run_and_prompt(conn: psycopg.Connection, graph: dict[str, int]) -> None:
    with pytest.raises(errors.UniqueViolation, match="run_id_prompt_id_sample_key"):
        add_response(conn, graph["run"], graph["prompt"])


def test_one_score_per_response_and_metric(conn: psycopg.Connection, graph: dict[str, int]) -> None:
    # (a partition's index names the violation: score_1_pkey)
    with pytest.raises(errors.UniqueViolation, match=r"score_\d+_pkey"):
        conn.execute(
            """INSERT INTO evaltool.score (run_id, response_id, metric, value, scorer)
                        VALUES (%s, %s, 'exact_match', 1, 'x')""",
            [graph["run"], graph["response"]],
        )


@pytest.mark.parametrize(
    "column, value",
    [
        ("input_tokens", -1),
        ("output_tokens", -5),
        ("latency_ms", -0.5),
        ("latency_ms", float("nan")),
        ("cost_usd", -0.01),
        ("attempts", 0),
        ("status", "done"),
        ("first_token_ms", -1.0),
        ("first_token_ms", float("nan")),
        ("first_token_ms", float("inf")),
    ],
)
def test_response_checks(
    conn: psycopg.Connection, graph: dict[str, int], column: str, value: object
) -> None:
    prompt = add_prompt(conn, graph["dataset"], "other")
    with pytest.raises(errors.CheckViolation):
        add_response(conn, graph["run"], prompt, **{column: value})


def test_first_token_comes_no_later_than_the_answer(
    conn: psycopg.Connection, graph: dict[str, int]
) -> None:
    prompt = add_prompt(conn, graph["dataset"], "other")
    with pytest.raises(errors.CheckViolation, match="response_first_token_ms_check"):
        add_response(conn, graph["run"], prompt, latency_ms=100.0, first_token_ms=100.5)
    add_response(conn, graph["run"], prompt, latency_ms=100.0, first_token_ms=100.0)


def test_error_response_needs_a_message(conn: psycopg.Connection, graph: dict[str, int]) -> None:
    prompt = add_prompt(conn, graph["dataset"], "other")
    with pytest.raises(errors.CheckViolation, match="response_error_has_message"):
        add_response(conn, graph["run"], prompt, status="error")
    add_response(conn, graph["run"], prompt, status="error", error="HTTP 500")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_score_values_are_finite(
    conn: psycopg.Connection, graph: dict[str, int], value: float
) -> None:
    with pytest.raises(errors.CheckViolation):
        conn.execute(
            """INSERT INTO evaltool.score (run_id, response_id, metric, value, scorer)
                        VALUES (%s, %s, 'similarity', %s, 'x')""",
            [graph["run"], graph["response"], value],
        )


def test_run_status_is_known(conn: psycopg.Connection, graph: dict[str, int]) -> None:
    with pytest.raises(errors.CheckViolation):
        conn.execute("UPDATE evaltool.run SET status = 'paused' WHERE id = %s", [graph["run"]])
    conn.execute("UPDATE evaltool.run SET status = 'interrupted' WHERE id = %s", [graph["run"]])


def count(conn: psycopg.Connection, table: str) -> int:
    return one(conn, f"SELECT count(*) FROM evaltool.{table}")


def test_deleting_a_run_deletes_its_responses_and_scores(
    conn: psycopg.Connection, graph: dict[str, int]
) -> None:
    conn.execute("DELETE FROM evaltool.run WHERE id = %s", [graph["run"]])
    assert (count(conn, "response"), count(conn, "score"), count(conn, "prompt")) == (0, 0, 1)


def test_results_are_never_deleted_as_a_side_effect(
    conn: psycopg.Connection, graph: dict[str, int]
) -> None:
    for statement, target in [
        ("DELETE FROM evaltool.prompt WHERE id = %s", "prompt"),
        ("DELETE FROM evaltool.dataset WHERE id = %s", "dataset"),
        ("DELETE FROM evaltool.model WHERE id = %s", "model"),
    ]:
        with pytest.raises(RESTRICTED):
            conn.execute(statement, [graph[target]])
    assert count(conn, "response") == 1


def test_deleting_a_dataset_or_model_without_runs_takes_its_parts(
    conn: psycopg.Connection, graph: dict[str, int]
) -> None:
    conn.execute("DELETE FROM evaltool.run")
    conn.execute("DELETE FROM evaltool.dataset WHERE id = %s", [graph["dataset"]])
    conn.execute("DELETE FROM evaltool.model WHERE id = %s", [graph["model"]])
    assert (count(conn, "prompt"), count(conn, "model_pricing")) == (0, 0)
    with pytest.raises(RESTRICTED):  # a provider with models stays
        model = one(
            conn,
            """INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
                             SELECT id, 'm2', 'x', 'openai' FROM evaltool.provider RETURNING id""",
        )
        assert model
        conn.execute("DELETE FROM evaltool.provider")


def test_default_project_exists(conn: psycopg.Connection) -> None:
    assert one(conn, "SELECT name FROM evaltool.project") == "default"
