"""docs/scaling.md's rules for moving evaltool's data onto Citus, checked on the catalog.

Citus cannot be installed where these tests run, so what Citus would refuse is checked on
the catalog of a migrated database instead: CLASSIFICATION says where each table of schema
evaltool goes (distributed by a column, reference, or local), and the rules below are the
ones Citus enforces when a table is distributed (docs/scaling.md cites them). The doc's
tables of classifications, dropped foreign keys and triggers, and its distribution steps,
are parsed and must say what this file says, so the two cannot drift. One database:
catalog queries, and a rolled-back transaction showing that the rules catch what they are
meant to.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
FIX = "say where each goes in docs/scaling.md (## Where each table goes) and in CLASSIFICATION"
DROPS = "docs/scaling.md (## Foreign keys the move drops)"
VERDICTS = ("keeps", "replaced")


@dataclass(frozen=True)
class Place:
    """Where a table goes on Citus."""

    kind: str  # distributed, reference or local
    column: str | None = None  # the distribution column
    colocate_with: str | None = None  # a distributed table, or "none": a group of its own


def distributed(column: str, colocate_with: str = "run") -> Place:
    return Place("distributed", column, colocate_with)


REFERENCE = Place("reference")
LOCAL = Place("local")

CLASSIFICATION: dict[str, Place] = {
    # Everything that grows with runs, keyed by run and co-located with it.
    "run": distributed("id", "none"),
    "response": distributed("run_id"),
    "score": distributed("run_id"),
    "score_history": distributed("run_id"),
    "run_task": distributed("run_id"),
    "scoring": distributed("run_id"),
    "run_metric_stats": distributed("run_id"),
    "run_stats_stale": distributed("run_id"),
    "run_archived": distributed("run_id"),
    "cost_ledger": distributed("run_id"),
    "comparison": distributed("candidate_run_id"),
    # Judgments of one test case by two runs: keyed by the test case, a group of their own.
    "preference": distributed("prompt_id", "none"),
    # The registry: small, read by every run, referenced by the distributed tables.
    "project": REFERENCE,
    "provider": REFERENCE,
    "model": REFERENCE,
    "model_pricing": REFERENCE,
    "model_params": REFERENCE,
    "dataset": REFERENCE,
    "prompt": REFERENCE,
    "prompt_template": REFERENCE,
    # On the coordinator only.
    "audit_log": LOCAL,
    "refresh_log": LOCAL,
    "run_partition": LOCAL,
    "training_example": LOCAL,
    "_yoyo_migration": LOCAL,
    "_yoyo_log": LOCAL,
    "_yoyo_version": LOCAL,
    "yoyo_lock": LOCAL,
}

# Foreign keys that name a row of another run (or of a non-co-located table), which Citus
# cannot check: the move drops them. (table, the column that names the other row).
DROPPED_ON_MOVE: set[tuple[str, str]] = {
    ("scoring", "reference_run_id"),
    ("comparison", "baseline_run_id"),
    ("preference", "response_a_id"),
    ("preference", "response_b_id"),
}

# Citus's ON DELETE / ON UPDATE limits on a foreign key that includes the distribution
# column (pg_constraint.confdeltype / confupdtype codes).
REFUSED_ON_DELETE = {"n": "SET NULL", "d": "SET DEFAULT"}
REFUSED_ON_UPDATE = {"n": "SET NULL", "d": "SET DEFAULT", "c": "CASCADE"}


# ---------------------------------------------------------------- the doc


def _markdown_table(heading: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first table under `heading` in docs/scaling.md."""
    lines = DOC.read_text().splitlines()
    assert heading in lines, f"docs/scaling.md has no heading {heading!r}"
    lines = lines[lines.index(heading) :]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:  # past the header and the |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", cell)


def doc_classification() -> dict[str, Place]:
    found: dict[str, Place] = {}
    for table_cell, kind, column, colocated, *_ in _markdown_table("## Where each table goes"):
        for table in _names(table_cell):
            columns = _names(column)
            groups = _names(colocated)
            group = groups[0] if groups else ("none" if colocated.startswith("none") else None)
            found[table] = Place(kind, columns[0] if columns else None, group)
    return found


def doc_dropped_foreign_keys() -> set[tuple[str, str]]:
    found = set()
    for key, *_ in _markdown_table("## Foreign keys the move drops"):
        table, column = _names(key)[0].split(".")
        found.add((table, column))
    return found


def doc_triggers() -> dict[tuple[str, str], str]:
    """(table, trigger) -> 'keeps' or 'replaced', from the doc's trigger table."""
    found = {}
    for triggers, tables, verdict, *_ in _markdown_table("## Triggers"):
        word = verdict.strip("*").split()[0].strip("*:,")
        for trigger in _names(triggers):
            for table in _names(tables):
                found[(table, trigger)] = word
    return found


def doc_steps() -> list[tuple[str, Place]]:
    """The create_reference_table / create_distributed_table calls of the doc's steps, in
    order."""
    text = DOC.read_text().split("## Moving a database onto Citus", 1)[1]
    calls = re.finditer(
        r"create_reference_table\('evaltool\.(\w+)'\)"
        r"|create_distributed_table\('evaltool\.(\w+)',\s*'(\w+)'"
        r"(?:,\s*colocate_with\s*=>\s*'(?:evaltool\.)?(\w+)')?\)",
        text,
    )
    steps = []
    for call in calls:
        if call[1]:
            steps.append((call[1], REFERENCE))
        else:
            steps.append((call[2], Place("distributed", call[3], call[4] or "default")))
    return steps


def test_the_doc_classifies_each_table_as_this_file_does() -> None:
    assert doc_classification() == CLASSIFICATION


def test_the_doc_drops_the_foreign_keys_this_file_drops() -> None:
    assert doc_dropped_foreign_keys() == DROPPED_ON_MOVE


def test_the_doc_steps_distribute_every_table_as_classified() -> None:
    steps = doc_steps()
    tables = [table for table, _ in steps]
    assert len(tables) == len(set(tables)), "a table is distributed twice"
    assert dict(steps) == {t: p for t, p in CLASSIFICATION.items() if p.kind != "local"}
    for i, (table, place) in enumerate(steps):
        if place.colocate_with not in (None, "none"):
            assert place.colocate_with in tables[:i], f"{table} is co-located with a later table"


def test_each_distributed_table_starts_or_joins_a_group() -> None:
    for table, place in CLASSIFICATION.items():
        if place.kind == "distributed":
            assert place.column and place.colocate_with, table
            if place.colocate_with != "none":
                assert CLASSIFICATION[place.colocate_with].kind == "distributed", table
        else:
            assert place.kind in ("reference", "local") and place.column is None, table


# ---------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str
    on_update: str

    def __str__(self) -> str:
        return (
            f"{self.table}.{self.name} ({', '.join(self.columns)}) -> "
            f"{self.target} ({', '.join(self.target_columns)})"
        )


RELATIONS = """
SELECT c.relname, c.relkind::text, c.relispartition,
       r.relname AS root
FROM pg_class c
JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)
WHERE c.relnamespace = 'evaltool'::regnamespace AND c.relkind IN ('r', 'p', 'm', 'f')
"""

COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attgenerated <> '' AS generated,
       a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%'
           AS numbered
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'evaltool'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
"""

# Unique indexes (primary keys and unique constraints included) and exclusion constraints:
# their key columns (NULL for an expression) and, for an exclusion, each column's operator.
UNIQUE_INDEXES = """
SELECT r.relname AS root, i.indexrelid::regclass::text,
       array(SELECT a.attname
             FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) WITH ORDINALITY k(n, o)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
             ORDER BY k.o) AS keys,
       array(SELECT o.oprname FROM unnest(x.conexclop) WITH ORDINALITY e(op, n)
             JOIN pg_operator o ON o.oid = e.op ORDER BY e.n) AS operators
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)
LEFT JOIN pg_constraint x ON x.conindid = i.indexrelid AND x.contype = 'x'
WHERE c.relnamespace = 'evaltool'::regnamespace AND (i.indisunique OR x.oid IS NOT NULL)
"""

# Each foreign key once: the clones PostgreSQL makes for partitions have a parent.
FOREIGN_KEYS = """
SELECT k.conname, c.relname, t.relname,
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o),
       array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o),
       k.confdeltype::text, k.confupdtype::text
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_class t ON t.oid = k.confrelid
WHERE k.contype = 'f' AND k.connamespace = 'evaltool'::regnamespace AND k.conparentid = 0
"""

TRIGGERS = """
SELECT r.relname, t.tgname, (t.tgtype & 1) = 1 AS for_each_row,
       t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL AS transition_tables
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)
WHERE c.relnamespace = 'evaltool'::regnamespace AND NOT t.tgisinternal AND t.tgparentid = 0
"""

POLICIES = """
SELECT c.relname, p.polname,
       concat_ws(' ', pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
WHERE c.relnamespace = 'evaltool'::regnamespace
"""


def _place(table: str) -> Place:
    return CLASSIFICATION.get(table, LOCAL)


def _group(table: str) -> str:
    """The first table of the co-location group of a distributed table."""
    while (group := CLASSIFICATION[table].colocate_with) not in (None, "none"):
        table = group
    return table


@dataclass(frozen=True)
class Catalog:
    """What the rules read of schema evaltool, in a handful of catalog queries."""

    # name, relkind, is a partition, the root of its partition tree (itself if none)
    relations: list[tuple[str, str, bool, str]]
    # (table, column): type, not null, generated, numbered (identity or sequence default)
    columns: dict[tuple[str, str], tuple[str, bool, bool, bool]]
    # root table, index, key columns (None: an expression), exclusion operators
    unique_indexes: list[tuple[str, str, list[str | None], list[str]]]
    foreign_keys: list[ForeignKey]
    # (table, trigger): fires for each row, reads transition tables
    triggers: dict[tuple[str, str], tuple[bool, bool]]
    # table, policy, its expressions
    policies: list[tuple[str, str, str]]

    @classmethod
    def read(cls, conn: psycopg.Connection) -> "Catalog":
        return cls(
            relations=conn.execute(RELATIONS).fetchall(),
            columns={(t, c): tuple(rest) for t, c, *rest in conn.execute(COLUMNS)},
            unique_indexes=conn.execute(UNIQUE_INDEXES).fetchall(),
            foreign_keys=[
                ForeignKey(name, table, tuple(cols), target, tuple(target_cols), on_del, on_upd)
                for name, table, target, cols, target_cols, on_del, on_upd in conn.execute(
                    FOREIGN_KEYS
                )
            ],
            triggers={(t, n): (row, tt) for t, n, row, tt in conn.execute(TRIGGERS)},
            policies=conn.execute(POLICIES).fetchall(),
        )

    @property
    def tables(self) -> set[str]:
        return {name for name, _, is_partition, _ in self.relations if not is_partition}


def violations(catalog: Catalog) -> dict[str, tuple[str, list[str]]]:
    """Each rule of docs/scaling.md: its title -> (why, what breaks it)."""
    rules: dict[str, tuple[str, list[str]]] = {}
    tables = catalog.tables

    rules["every table is classified"] = (
        f"tables without a place on Citus: {FIX}",
        sorted(tables - CLASSIFICATION.keys()),
    )
    rules["every classified table exists"] = (
        "classified tables that do not exist: take them out of docs/scaling.md",
        sorted(CLASSIFICATION.keys() - tables),
    )

    wrong = []
    for name, relkind, is_partition, root in catalog.relations:
        place = _place(root)
        if place.kind == "distributed" and relkind not in ("r", "p"):
            wrong.append(f"{name} (relkind {relkind}): Citus distributes tables only")
        if relkind == "p" and place.kind != "distributed":
            wrong.append(f"{name}: Citus partitions only hash-distributed tables")
        if relkind == "p" and is_partition:
            wrong.append(f"{name}: Citus refuses multi-level partitioning")
    rules["distributed tables are tables, partitioned one level deep at most"] = (
        "tables Citus cannot place as classified",
        wrong,
    )

    wrong = []
    for table, place in CLASSIFICATION.items():
        if place.kind != "distributed" or table not in tables:
            continue
        group = _group(table)
        group_type = catalog.columns.get((group, str(CLASSIFICATION[group].column)))
        found = catalog.columns.get((table, str(place.column)))
        if found is None:
            wrong.append(f"{table} has no column {place.column}")
            continue
        typ, notnull, generated, _ = found
        if not notnull:
            wrong.append(f"{table}.{place.column} may be NULL")
        if generated:
            wrong.append(f"{table}.{place.column} is generated: Citus refuses it")
        if group_type is None or typ != group_type[0]:
            wrong.append(f"{table}.{place.column} is {typ}, not of its group's type")
    rules["each distributed table has its distribution column"] = (
        "distribution columns missing or unfit",
        wrong,
    )

    wrong = []
    for root, index, keys, operators in catalog.unique_indexes:
        place = _place(root)
        if place.kind != "distributed":
            continue
        if place.column not in keys:
            shown = ", ".join(k or "<expression>" for k in keys)
            wrong.append(f"{index} ({shown}) lacks {root}.{place.column}")
        elif operators and operators[keys.index(place.column)] != "=":
            wrong.append(f"{index} excludes on {root}.{place.column} without =")
    rules["unique keys of distributed tables include the distribution column"] = (
        "unique keys Citus cannot enforce within a shard",
        wrong,
    )

    wrong = []
    for fk in catalog.foreign_keys:
        source, target = _place(fk.table), _place(fk.target)
        if source.kind != "distributed" or target.kind != "distributed" or _dropped(fk):
            continue
        if _group(fk.table) != _group(fk.target):
            wrong.append(f"{fk}: {fk.table} and {fk.target} are not co-located")
        elif not _on_distribution_column(fk):
            wrong.append(
                f"{fk}: needs {fk.table}.{source.column} and {fk.target}.{target.column}"
                " at the same position"
            )
    rules["foreign keys between distributed tables stay within a shard"] = (
        f"foreign keys Citus cannot check within a shard (or list them in {DROPS})",
        wrong,
    )

    wrong = []
    for fk in catalog.foreign_keys:
        place = _place(fk.table)
        if place.kind != "distributed" or place.column not in fk.columns or _dropped(fk):
            continue
        if fk.on_delete in REFUSED_ON_DELETE:
            wrong.append(f"{fk}: ON DELETE {REFUSED_ON_DELETE[fk.on_delete]}")
        if fk.on_update in REFUSED_ON_UPDATE:
            wrong.append(f"{fk}: ON UPDATE {REFUSED_ON_UPDATE[fk.on_update]}")
    rules["foreign keys with the distribution column neither null nor cascade it"] = (
        "actions Citus refuses on a key that includes the distribution column",
        wrong,
    )

    rules["no foreign key from a reference table to a distributed table"] = (
        "Citus supports no foreign key from a reference to a distributed table",
        [
            str(fk)
            for fk in catalog.foreign_keys
            if _place(fk.table).kind == "reference" and _place(fk.target).kind == "distributed"
        ],
    )

    wrong = []
    for fk in catalog.foreign_keys:
        kinds = (_place(fk.table).kind, _place(fk.target).kind)
        if set(kinds) == {"local", "distributed"}:
            wrong.append(f"{fk}: between a local and a distributed table")
        if kinds == ("reference", "local") and not {fk.on_delete, fk.on_update} <= {"a", "r"}:
            wrong.append(f"{fk}: from a reference to a local table, not RESTRICT/NO ACTION")
    rules["local tables have foreign keys only with local and reference tables"] = (
        "foreign keys of local tables that Citus cannot create",
        wrong,
    )

    wrong = []
    for table, column in sorted(DROPPED_ON_MOVE):
        found = [fk for fk in catalog.foreign_keys if fk.table == table and column in fk.columns]
        if len(found) != 1:
            wrong.append(f"{table}.{column}: {len(found)} foreign keys, not 1")
        elif _group(table) == _group(found[0].target) and _on_distribution_column(found[0]):
            wrong.append(f"{found[0]}: Citus can keep it")
    rules["each foreign key the doc drops exists, and Citus would refuse it"] = (
        f"update {DROPS}",
        wrong,
    )

    rules["numbered columns of distributed and reference tables are bigint"] = (
        "Citus numbers rows on every node with bigint sequences only",
        [
            f"{table}.{column} is {typ}"
            for (table, column), (typ, _, _, numbered) in sorted(catalog.columns.items())
            if numbered and _place(table).kind != "local" and typ != "bigint"
        ],
    )

    placed = {k: v for k, v in catalog.triggers.items() if _place(k[0]).kind != "local"}
    listed = doc_triggers()
    rules["every trigger of a distributed or reference table is in the doc"] = (
        "say in docs/scaling.md (## Triggers) what happens to these on Citus",
        [f"{t}.{n}" for t, n in sorted(placed.keys() - listed.keys())],
    )
    rules["every trigger the doc lists exists"] = (
        "docs/scaling.md (## Triggers) lists triggers that do not exist",
        [f"{t}.{n}" for t, n in sorted(listed.keys() - placed.keys())],
    )
    wrong = []
    for (table, name), (for_each_row, transition) in sorted(placed.items()):
        verdict = listed.get((table, name))
        if verdict is not None and verdict not in VERDICTS:
            wrong.append(f"{table}.{name}: {verdict!r} is neither of {VERDICTS}")
        elif verdict == "keeps" and not for_each_row:
            wrong.append(f"{table}.{name}: kept, but fires once per statement (per shard)")
        elif verdict == "keeps" and transition:
            wrong.append(f"{table}.{name}: kept, but reads transition tables")
    rules["the triggers kept fire for each row, without transition tables"] = (
        "only row triggers without transition tables can stay on Citus shards",
        wrong,
    )

    rules["row-level security policies of distributed tables use no subqueries"] = (
        "Citus refuses subqueries in policies of distributed tables",
        [
            f"{table}.{name}"
            for table, name, expression in catalog.policies
            if _place(table).kind == "distributed" and re.search(r"\bSELECT\b", expression, re.I)
        ],
    )

    order = [table for table, _ in doc_steps()]
    rules["the doc's steps distribute a referenced table first"] = (
        "Citus refuses a foreign key to a table it has not distributed yet",
        [
            str(fk)
            for fk in catalog.foreign_keys
            if fk.table in order
            and fk.target in order
            and fk.table != fk.target
            and not _dropped(fk)
            and order.index(fk.target) > order.index(fk.table)
        ],
    )
    return rules


def test_the_catalog_follows_the_rules_of_docs_scaling(
    conn: psycopg.Connection, subtests: pytest.Subtests
) -> None:
    for title, (why, wrong) in violations(Catalog.read(conn)).items():
        with subtests.test(title):
            assert sorted(wrong) == [], f"{why}:\n  " + "\n  ".join(sorted(wrong))

    # The rules can fail: what a careless migration might add is caught (rolled back).
    with subtests.test("the rules catch what they are for"), conn.transaction(force_rollback=True):
        conn.execute(
            """
            CREATE TABLE evaltool.new_thing (id bigint PRIMARY KEY);
            ALTER TABLE evaltool.model ADD COLUMN last_run_id bigint REFERENCES evaltool.run (id);
            CREATE UNIQUE INDEX run_task_prompt_key ON evaltool.run_task (prompt_id, sample);
            CREATE TRIGGER count_writes AFTER INSERT ON evaltool.run_task
                FOR EACH STATEMENT EXECUTE FUNCTION evaltool.touch_updated_at();
            ALTER TABLE evaltool.run_task ADD COLUMN n serial;
            """
        )
        caught = {
            title: wrong for title, (_, wrong) in violations(Catalog.read(conn)).items() if wrong
        }
        assert caught["every table is classified"] == ["new_thing"]
        from_reference = caught["no foreign key from a reference table to a distributed table"]
        assert from_reference == ["model.model_last_run_id_fkey (last_run_id) -> run (id)"]
        unique = caught["unique keys of distributed tables include the distribution column"]
        assert "evaltool.run_task_prompt_key (prompt_id, sample) lacks run_task.run_id" in unique
        unlisted = caught["every trigger of a distributed or reference table is in the doc"]
        assert unlisted == ["run_task.count_writes"]
        numbered = caught["numbered columns of distributed and reference tables are bigint"]
        assert numbered == ["run_task.n is integer"]


def _dropped(fk: ForeignKey) -> bool:
    return any(fk.table == table and column in fk.columns for table, column in DROPPED_ON_MOVE)


def _on_distribution_column(fk: ForeignKey) -> bool:
    """Both distribution columns are in the key, at the same position (as Citus requires)."""
    source, target = CLASSIFICATION[fk.table].column, CLASSIFICATION[fk.target].column
    return (
        source in fk.columns
        and target in fk.target_columns
        and fk.columns.index(source) == fk.target_columns.index(target)
    )
