"""Runs with responses and scores made directly in SQL, for scoring and comparison tests."""

import json
from collections.abc import Sequence
from typing import Any

import psycopg


def make_runs(
    conn: psycopg.Connection,
    cases: Sequence[dict[str, Any]],
    runs: int = 2,
) -> list[int]:
    """A dataset of `cases` (each: input, expected, id) and `runs` completed runs of one
    model over it, each answering every case with `outputs[i]` of the case (text, or a
    dict for structured output, {"error": msg} for an error response, None for none).
    Returns the run ids."""
    model_id = conn.execute("""
        WITH p AS (INSERT INTO evaltool.provider (name) VALUES ('test')
                   ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id)
        INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
        SELECT id, 'm' || (SELECT count(*) FROM evaltool.model), 'x:y', 'python' FROM p
        RETURNING id""").fetchone()[0]
    dataset_id = conn.execute("""
        INSERT INTO evaltool.dataset (project_id, name)
        VALUES (1, 'd' || (SELECT count(*) FROM evaltool.dataset)) RETURNING id""").fetchone()[0]
    prompt_ids = []
    for i, case in enumerate(cases):
        prompt_ids.append(
            conn.execute(
                """INSERT INTO evaltool.prompt (dataset_id, external_id, input, expected)
               VALUES (%s, %s, %s, %s) RETURNING id""",
                (
                    dataset_id,
                    case.get("id", f"case-{i}"),
                    psycopg.types.json.Jsonb(case.get("input", i)),
                    None if "expected" not in case else psycopg.types.json.Jsonb(case["expected"]),
                ),
            ).fetchone()[0]
        )
    run_ids = []
    for r in range(runs):
        run_id = conn.execute(
            """INSERT INTO evaltool.run (model_id, dataset_id, status, started_at, finished_at)
               VALUES (%s, %s, 'completed', now(), now()) RETURNING id""",
            (model_id, dataset_id),
        ).fetchone()[0]
        run_ids.append(run_id)
        for prompt_id, case in zip(prompt_ids, cases, strict=True):
            out = case.get("outputs", ["x"] * runs)[r]
            if out is None:
                continue  # no response: this test case is missing from the run
            error = out.get("error") if isinstance(out, dict) and "error" in out else None
            conn.execute(
                """INSERT INTO evaltool.response (run_id, prompt_id, status, output, output_text,
                                                  error, latency_ms, cost_usd)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    run_id,
                    prompt_id,
                    "error" if error else "ok",
                    None if error else psycopg.types.json.Jsonb(out),
                    None if error else (out if isinstance(out, str) else json.dumps(out)),
                    error,
                    case.get("latency_ms", 100.0),
                    case.get("cost_usd"),
                ),
            )
    conn.commit()
    return run_ids


def put_scores(
    conn: psycopg.Connection,
    run_id: int,
    metric: str,
    values: Sequence[float | None],
    passed: Sequence[bool | None] | None = None,
) -> None:
    """Scores of `metric` for the run's responses in test-case order (None: no score)."""
    passed = passed if passed is not None else [None] * len(values)
    conn.execute(
        """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
           SELECT %(run)s, r.id, %(metric)s, u.v, u.p, 'test'
           FROM (SELECT x.id, row_number() OVER (ORDER BY x.prompt_id) AS i
                 FROM evaltool.response x WHERE x.run_id = %(run)s) r
           JOIN unnest(%(values)s::float8[], %(passed)s::boolean[]) WITH ORDINALITY u(v, p, i)
             ON u.i = r.i
           WHERE u.v IS NOT NULL OR u.p IS NOT NULL""",
        {"metric": metric, "run": run_id, "values": list(values), "passed": list(passed)},
    )
    conn.commit()


def make_arena(
    conn: psycopg.Connection, models: Sequence[str], cases: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """One dataset of `cases` (each: id, input, expected, and outputs: one per model, in
    the order of `models`, {"error": msg} for an error response) and one completed run
    per model over it, each model registered under its name. Returns {model: run id}."""
    dataset_id = conn.execute("""
        INSERT INTO evaltool.dataset (project_id, name)
        VALUES (1, 'arena' || (SELECT count(*) FROM evaltool.dataset)) RETURNING id""").fetchone()[
        0
    ]
    conn.execute(
        """INSERT INTO evaltool.prompt (dataset_id, external_id, input, expected)
           SELECT %s, c ->> 'id', c -> 'input', c -> 'expected' FROM unnest(%s::jsonb[]) c""",
        (dataset_id, [psycopg.types.json.Jsonb(c) for c in cases]),
    )
    run_ids = {}
    for m, model in enumerate(models):
        run_ids[model] = conn.execute(
            """WITH p AS (INSERT INTO evaltool.provider (name) VALUES ('test')
                          ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id),
                    m AS (INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
                          SELECT id, %s, 'x:y', 'python' FROM p RETURNING id)
               INSERT INTO evaltool.run (model_id, dataset_id, status, started_at, finished_at)
               SELECT m.id, %s, 'completed', now(), now() FROM m RETURNING id""",
            (model, dataset_id),
        ).fetchone()[0]
        conn.execute(
            """INSERT INTO evaltool.response (run_id, prompt_id, status, output, output_text, error)
               SELECT %(run)s, p.id, CASE WHEN o ? 'error' THEN 'error' ELSE 'ok' END,
                      CASE WHEN NOT o ? 'error' THEN o -> 'out' END,
                      CASE WHEN NOT o ? 'error' THEN o ->> 'out' END, o ->> 'error'
               FROM unnest(%(ids)s::text[], %(outs)s::jsonb[]) AS u(id, o)
               JOIN evaltool.prompt p ON p.dataset_id = %(dataset)s AND p.external_id = u.id""",
            {
                "run": run_ids[model],
                "dataset": dataset_id,
                "ids": [c["id"] for c in cases],
                "outs": [
                    psycopg.types.json.Jsonb(o if isinstance(o, dict) else {"out": o})
                    for o in (c["outputs"][m] for c in cases)
                ],
            },
        )
    conn.commit()
    return run_ids


def call(
    conn: psycopg.Connection, function: str, *args: object, **options: object
) -> list[dict[str, Any]]:
    """The rows of evaltool.FUNCTION(args..., name => value, ...) as dicts."""
    params = {f"a{i}": a for i, a in enumerate(args)} | options
    given = [f"%(a{i})s" for i in range(len(args))] + [f"{k} => %({k})s" for k in options]
    query = f"SELECT * FROM evaltool.{function}({', '.join(given)})"
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()
