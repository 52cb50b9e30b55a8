"""Docs that cannot drift: the generated references are current, and every hand-written
list of scorers, tables, options and examples agrees with the code and the catalog."""

import re
import shlex
from pathlib import Path

import click
import psycopg
import pytest

from docs import generate
from evaltool.cli import cli
from tests.fix_db import Server

REPO = Path(__file__).resolve().parent.parent


def test_generated_docs_are_current(db_url: str) -> None:
    stale = generate.check(generate.render(db_url))
    assert not stale, f"{', '.join(map(str, stale))}: {generate.FIX}\n" + "".join(stale.values())


def test_the_schema_reference_follows_the_catalog(conn: psycopg.Connection, db_url: str) -> None:
    conn.execute("ALTER TABLE evaltool.run ADD COLUMN flavour text")
    conn.execute("COMMENT ON COLUMN evaltool.run.flavour IS 'Added by a test.'")
    stale = generate.check(generate.render(db_url))
    assert list(stale) == [generate.SCHEMA_DOC]
    assert "+| `flavour` | `text` |  |  | Added by a test. |" in stale[generate.SCHEMA_DOC]


def test_the_scorer_table_follows_the_view(conn: psycopg.Connection, db_url: str) -> None:
    conn.execute("ALTER VIEW evaltool.scorer RENAME TO scorer_base")
    conn.execute(
        "CREATE VIEW evaltool.scorer AS SELECT * FROM evaltool.scorer_base"
        " WHERE name <> 'json_valid'"
    )
    stale = generate.check(generate.render(db_url))
    assert Path("docs/scoring.md") in stale
    assert "-| `json_valid` |" in stale[Path("docs/scoring.md")]


def test_scratch_database_is_dropped_even_on_failure(pg_server: Server) -> None:
    admin = pg_server.url("postgres")
    with pytest.raises(RuntimeError), generate.scratch_database(admin) as url:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM evaltool.scorer").fetchone()[0] > 0
        raise RuntimeError("the generator failed")
    with psycopg.connect(admin) as conn:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    assert found is None


def test_generated_blocks_must_exist() -> None:
    with pytest.raises(ValueError, match="no generated block"):
        generate.replace_blocks("no markers here\n", {"scorers": "x"}, Path("page.md"))


def _scorer_forms(conn: psycopg.Connection) -> dict[str, str]:
    """Each scorer of the view, with whether its ARG is none, optional or required."""
    rows = conn.execute("SELECT name, arg, arg_required FROM evaltool.scorer").fetchall()
    return {
        name: "none" if arg is None else "required" if required else "optional"
        for name, arg, required in rows
    }


def test_score_help_lists_the_scorers_of_the_view(conn: psycopg.Connection) -> None:
    """`evaltool score --help` writes the scorers out by hand: they must be the view's."""
    help_text = cli.commands["score"].help or ""
    block = help_text.split("Scorers (", 1)[1].split("\n\n", 1)[0]
    listed = {}
    for line in block.splitlines()[1:]:
        token = line.split()[0]
        name = re.match(r"[a-z_]+", token)[0]  # type: ignore[index]
        rest = token[len(name) :]
        listed[name] = "none" if not rest else "optional" if rest.startswith("[") else "required"
    assert listed == _scorer_forms(conn)


def test_every_scorer_of_the_view_is_a_function(conn: psycopg.Connection) -> None:
    functions = {
        name
        for (name,) in conn.execute(
            "SELECT substr(proname, length('scorer_') + 1) FROM pg_proc"
            " WHERE pronamespace = 'evaltool'::regnamespace AND proname LIKE 'scorer\\_%'"
        )
    }
    assert functions == set(_scorer_forms(conn))


def test_the_database_guide_names_every_table(conn: psycopg.Connection) -> None:
    """The overview table of docs/database.md is written by hand: it names every table."""
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'evaltool'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition AND relname !~ '^_?yoyo_'"
        )
    }
    text = (REPO / "docs" / "database.md").read_text()
    overview = text.split("| table | one row is |", 1)[1].split("\n\n", 1)[0]
    named = {n for row in overview.splitlines() for n in re.findall(r"`([a-z_]+)`", row[:60])}
    assert tables - named == set()


def test_every_option_has_help() -> None:
    assert generate.undocumented_options() == []


def test_every_command_has_an_example() -> None:
    missing = [
        c.path
        for c in generate.commands(cli, "evaltool")
        if not isinstance(c.command, click.Group) and "Example:" not in (c.command.help or "")
    ]
    assert missing == []


def test_guides_link_to_files_that_exist() -> None:
    pages = [REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").glob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert broken == []


def _example_lines() -> list[tuple[str, str]]:
    """(page, line) for each `evaltool ...` line of the shell blocks of the hand-written pages,
    and of the Makefile."""
    pages = [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    found = []
    for page in sorted(pages):
        if page.name in (generate.CLI_DOC.name, generate.SCHEMA_DOC.name):
            continue
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.DOTALL):
            for line in block.splitlines():
                for part in re.split(r"&&|\|(?= )", line):
                    part = part.strip()
                    if part.startswith("evaltool "):
                        found.append((page.name, part))
    for line in (REPO / "Makefile").read_text().splitlines():
        if "$(BIN)/evaltool " in line:
            found.append(("Makefile", "evaltool " + line.split("$(BIN)/evaltool ", 1)[1]))
    return found


def test_guide_examples_use_commands_and_options_that_exist() -> None:
    """Every `evaltool ...` line of the guides and the Makefile names a command and options
    that exist (their values are not checked)."""
    wrong = []
    for page, line in _example_lines():
        words = shlex.split(re.split(r"\s+#\s", line, maxsplit=1)[0])[1:]
        command: click.Command = cli
        ctx = click.Context(cli, info_name="evaltool")
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            sub = command.get_command(ctx, words[0].strip("[]"))
            if sub is None:
                wrong.append(f"{page}: {line}: no command {words[0]}")
                break
            command, words = sub, words[1:]
            ctx = click.Context(command, info_name=command.name, parent=ctx)
        if command.context_settings.get("ignore_unknown_options"):
            continue  # evaltool db psql: the rest goes to psql
        names = {o for p in command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
        for word in words:
            option = word.strip("[]|").split("=", 1)[0]
            if option.startswith("-") and option != "-" and option not in names:
                wrong.append(f"{page}: {line}: no option {option}")
    assert wrong == []
