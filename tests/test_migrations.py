"""Migrations: idempotent, reversible, atomic, and immutable once landed."""

import hashlib
import re
import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from evaltool import config, migrate
from evaltool.errors import MigrationError
from tests.catalog import product_objects, snapshot

MIGRATIONS = config.data_dir("migrations")
ALL = [
    "0001_core",
    "0002_roles",
    "0003_training_example",
    "0004_run_task",
    "0005_scoring",
    "0006_preference",
    "0007_score_without_metric_index",
    "0008_audit_insert_without_row",
    "0009_repeats",
    "0010_score_history",
    "0011_templates_cache",
    "0012_run_metric_stats",
    "0013_partition_by_run",
    "0014_run_archive",
    "0015_run_id_statistics",
    "0016_cost_ledger",
    "0017_distribution_keys",
    "0018_partition_foreign_keys",
    "0019_token_counts_bigint",
    "0020_imported_models",
    "0021_response_cost_given",
    "0022_budgets",
    "0023_streaming_providers",
]


def test_migrate_twice_changes_nothing(empty_db_url: str) -> None:
    assert migrate.migrate(empty_db_url) == ALL
    first = snapshot(empty_db_url)
    assert migrate.migrate(empty_db_url) == []
    assert snapshot(empty_db_url) == first
    assert any(line.startswith("function evaltool.json_hash(jsonb)") for line in first)


def test_up_down_up_restores_the_same_schema(empty_db_url: str) -> None:
    migrate.migrate(empty_db_url)
    migrated = snapshot(empty_db_url)

    assert migrate.rollback(empty_db_url, count=len(ALL)) == list(reversed(ALL))
    left = product_objects(empty_db_url)
    assert len(left) == 1 and left[0].startswith("schema ") and left[0].endswith(" comment=")

    assert migrate.migrate(empty_db_url) == ALL
    assert snapshot(empty_db_url) == migrated


def test_partial_rollback_keeps_the_rest_working(empty_db_url: str) -> None:
    migrate.migrate(empty_db_url)
    migrated = snapshot(empty_db_url)
    assert migrate.rollback(empty_db_url, count=len(ALL) - 1) == list(reversed(ALL[1:]))
    assert not [line for line in snapshot(empty_db_url) if "evaltool_reader" in line]
    # sql/ was re-applied over the remaining tables: hashing and audit still work.
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO evaltool.dataset (project_id, name) VALUES (1, 'd');
                        INSERT INTO evaltool.prompt (dataset_id, input) VALUES (1, '"x"')""")
        row = conn.execute("""SELECT octet_length(p.prompt_hash), count(a.id)
                              FROM evaltool.prompt p JOIN evaltool.audit_log a ON a.row_id = p.id
                              AND a.table_name = 'prompt' GROUP BY 1""").fetchone()
        assert row == (32, 1)
    assert migrate.migrate(empty_db_url) == ALL[1:]
    assert snapshot(empty_db_url) == migrated


def test_rolling_back_the_lean_insert_audit_restores_the_inserted_values(
    empty_db_url: str,
) -> None:
    migrate.migrate(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO evaltool.dataset (project_id, name) VALUES (1, 'd');
                        INSERT INTO evaltool.prompt (dataset_id, input)
                        SELECT 1, to_jsonb(x) FROM unnest('{kept,changed,deleted}'::text[]) x""")
        conn.execute("""UPDATE evaltool.prompt SET tags = '{x}' WHERE input <> '"kept"';
                        DELETE FROM evaltool.prompt WHERE input = '"deleted"'""")
        trail = "SELECT row_id, new_row FROM evaltool.{} WHERE action = 'INSERT' ORDER BY id"
        shown = conn.execute(trail.format("audit_trail")).fetchall()
        assert [r[1]["input"] for r in shown[1:]] == ["kept", "changed", "deleted"]
        assert conn.execute(trail.format("audit_log")).fetchall()[1:] == [
            (row_id, None) for row_id, _ in shown[1:]
        ]

        back_to = ALL.index("0008_audit_insert_without_row")
        assert migrate.rollback(empty_db_url, count=len(ALL) - back_to)[-1] == ALL[back_to]
        # Every INSERT row holds the values inserted again, and new ones copy the row.
        assert conn.execute(trail.format("audit_log")).fetchall() == shown
        conn.execute("INSERT INTO evaltool.prompt (dataset_id, input) VALUES (1, '\"new\"')")
        newest = conn.execute(
            "SELECT new_row ->> 'input' FROM evaltool.audit_log ORDER BY id DESC LIMIT 1"
        ).fetchone()
        assert newest == ("new",)
    assert migrate.migrate(empty_db_url)[0] == "0008_audit_insert_without_row"


@pytest.fixture
def schema_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Private copies of migrations/ and sql/ that a test may change."""
    dirs = {name: tmp_path / name for name in ("migrations", "sql")}
    for name, target in dirs.items():
        shutil.copytree(config.data_dir(name), target)
    monkeypatch.setattr(config, "data_dir", lambda name: dirs[name])
    return dirs


def applied(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("""SELECT migration_id, count(*) FROM evaltool._yoyo_log
                               WHERE operation = 'apply' GROUP BY 1 ORDER BY 1""").fetchall()


def test_failed_migration_rolls_back_and_rerun_applies_once(
    empty_db_url: str, schema_copy: dict[str, Path]
) -> None:
    broken = schema_copy["migrations"] / "0099_extra.sql"
    broken.write_text(
        "-- depends: 0002_roles\nCREATE TABLE evaltool.extra (id int);\nSELECT 1 / 0;\n"
    )
    (schema_copy["migrations"] / "0099_extra.rollback.sql").write_text(
        "DROP TABLE evaltool.extra;\n"
    )

    with pytest.raises(MigrationError, match="division by zero"):
        migrate.migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert migrate.status(conn).pending == ["0099_extra"]
        assert conn.execute("SELECT to_regclass('evaltool.extra')").fetchone() == (None,)

    broken.write_text("-- depends: 0001_core\nCREATE TABLE evaltool.extra (id int);\n")
    assert migrate.migrate(empty_db_url) == ["0099_extra"]
    assert migrate.migrate(empty_db_url) == []
    assert applied(empty_db_url) == [(mid, 1) for mid in [*ALL, "0099_extra"]]


def test_broken_definition_names_file_and_line_and_changes_nothing(
    db_url: str, schema_copy: dict[str, Path]
) -> None:
    before = snapshot(db_url)
    (schema_copy["sql"] / "15_broken.sql").write_text(
        "-- a comment\n\nCREATE OR REPLACE FUNCTION evaltool.broken() RETURNS int\n"
        "    LANGUAGE sql RETURN 1 +;\n"
    )
    with pytest.raises(MigrationError, match=r"^sql/15_broken\.sql:4: syntax error"):
        migrate.migrate(db_url)
    assert snapshot(db_url) == before


def test_concurrent_migrations_apply_each_migration_once(empty_db_url: str) -> None:
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(migrate.migrate(empty_db_url)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [], ALL]
    assert applied(empty_db_url) == [(mid, 1) for mid in ALL]


# -- the files themselves ----------------------------------------------------------------

NAME = re.compile(r"^(\d{4})_[a-z0-9]+(?:_[a-z0-9]+)*\.sql$")


def migration_files() -> list[Path]:
    return sorted(p for p in MIGRATIONS.glob("*.sql") if not p.name.endswith(".rollback.sql"))


def test_migrations_are_named_numbered_and_paired() -> None:
    files = migration_files()
    assert [p.stem for p in files] == ALL
    for number, path in enumerate(files, start=1):
        match = NAME.match(path.name)
        assert match, f"{path.name}: expected NNNN_lower_snake_name.sql"
        assert int(match.group(1)) == number, f"{path.name}: numbers must be contiguous"
        assert path.with_name(f"{path.stem}.rollback.sql").exists(), f"{path.name}: no rollback"
        assert path.read_text().startswith(f"-- {path.stem}: "), f"{path.name}: say why first"
    rollbacks = {p.name for p in MIGRATIONS.glob("*.rollback.sql")}
    assert rollbacks == {f"{p.stem}.rollback.sql" for p in files}


def test_migrations_create_no_functions_views_or_triggers() -> None:
    # Those belong in sql/: rollbacks drop and re-create them around a migration.
    pattern = re.compile(r"CREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|VIEW|TRIGGER)", re.I)
    for path in MIGRATIONS.glob("*.sql"):
        assert not pattern.search(path.read_text()), f"{path.name} defines a function or view"


def test_landed_migrations_are_unchanged() -> None:
    """SHA256SUMS pins every migration: change a landed one and this fails.

    A new migration adds its line: `sha256sum 0003_x.sql 0003_x.rollback.sql >> SHA256SUMS`.
    """
    pinned = {}
    for line in (MIGRATIONS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        pinned[name] = digest
    present = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MIGRATIONS.glob("*.sql")}
    assert present == pinned
