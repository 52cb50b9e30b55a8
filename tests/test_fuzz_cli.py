"""Bad values are refused at the door: every option of every command, fed random and hostile
values, ends in 0, 1, 2 or 130 and never in a traceback; the values the issue named get
one usage error (exit 2) before anything reaches the database; Ctrl-C exits 130."""

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltool.cli import cli
from tests.scores import make_runs, put_scores
from tests.test_concurrency import env_for

RunCli = Callable[..., Result]

# Commands that act outside the test's database: start or stop the embedded server, hand
# the terminal to psql, or drop the schema every other example needs.
SKIPPED = {("db", "up"), ("db", "stop"), ("db", "psql"), ("db", "rollback")}
EXAMPLES = 25

# Values that broke an option parser once, or that a parser must think about: nothing,
# blanks and control characters, numbers no column holds, nan and inf, dates and ages out
# of the calendar, LIKE wildcards, Markdown mentions, and names that exist in the database
# (model m0, dataset d0, runs 1 and 2, metric exact_match) so that commands get past
# "not found". A command line cannot carry NUL, so no value has one.
SPECIAL = [
    "",
    " ",
    "\t",
    "a\nb",
    "\x1b[31m",
    "-",
    "-1",
    "0",
    "1",
    "2",
    "99999999999999999999",
    "9" * 5000,
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "2026-01-01",
    "0001-01-01",
    "9999-12-31",
    "7d",
    "99999999d",
    "%",
    "_",
    "@octocat",
    "m0",
    "d0",
    "d0:1",
    "exact_match",
    "default",
    "a=1",
    "X-Test: 1",
    "http://127.0.0.1:9/v1",
    "not a url",
    "*/15 * * * *",
]
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
VALUES = st.one_of(st.sampled_from(SPECIAL), TEXT, st.integers().map(str), st.floats().map(str))
# Paths, all inside the test's own folder (the working directory): files, folders, a file
# to read, and places that do not exist or cannot be written.
PATHS = st.sampled_from(
    [
        "out.md",
        "out.html",
        "out.pdf",
        "cases.jsonl",
        "templates",
        ".",
        "",
        "-",
        "missing/x.md",
        "cases.jsonl/x.md",
    ]
)


def commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the evaltool group, with its path (`models price`, `run`, ...)."""

    def walk(
        command: click.Command, path: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], click.Command]]:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, (*path, name))
        elif path not in SKIPPED:
            yield path, command

    yield from walk(cli, ())


COMMANDS = list(commands())


def value_for(param: click.Parameter) -> st.SearchStrategy[str]:
    if isinstance(param.type, click.Path):
        return PATHS
    if isinstance(param.type, click.Choice):
        return st.one_of(st.sampled_from([str(c) for c in param.type.choices]), VALUES)
    return VALUES


@st.composite
def command_lines(draw: st.DrawFn, path: tuple[str, ...], command: click.Command) -> list[str]:
    """Arguments for `command`: every argument, and a random choice of its options."""
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            count = draw(st.integers(1, 3)) if param.nargs == -1 else 1
            args += [draw(value_for(param)) for _ in range(count)]
        elif isinstance(param, click.Option) and draw(st.booleans()):
            name = max(param.opts, key=len)
            if param.is_flag:
                args.append(name)
                continue
            for _ in range(draw(st.integers(1, 2)) if param.multiple else 1):
                args += [name, draw(value_for(param))]
    if path == ("run",):
        args.append("--prepare")  # queue the run, never call the model
    return [*path, *args]


@pytest.fixture
def populated(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunCli:
    """run_cli in a folder of its own, on a database with a model, a dataset and two scored
    runs, and with a file of test cases and a templates folder to name."""
    base, cand = make_runs(
        conn,
        [
            {"id": f"c{i}", "input": f"q{i}", "expected": "a", "outputs": ["a", "b"]}
            for i in range(4)
        ],
    )
    put_scores(conn, base, "exact_match", [1.0] * 4, [True] * 4)
    put_scores(conn, cand, "exact_match", [0.0] * 4, [False] * 4)
    (tmp_path / "cases.jsonl").write_text('{"id": "x", "input": "question"}\n')
    (tmp_path / "templates").mkdir()
    monkeypatch.chdir(tmp_path)
    return run_cli


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(path) for path, _ in COMMANDS]
)
def test_no_value_makes_a_traceback(
    populated: RunCli, path: tuple[str, ...], command: click.Command
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(command_lines(path, command))
    def check(args: list[str]) -> None:
        result = populated(*args)  # an exception other than SystemExit fails here
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code in {0, 1, 2, 130}, (args, result.output)
        assert "Traceback" not in result.output, (args, result.output)

    check()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["models", "price", "m", "--input-per-mtok", "nan", "--output-per-mtok", "1"],
            "Invalid value for '--input-per-mtok': 'nan' is not a finite number.",
        ),
        (
            ["models", "price", "m", "--input-per-mtok", "1", "--output-per-mtok", "inf"],
            "Invalid value for '--output-per-mtok': 'inf' is not a finite number.",
        ),
        (
            ["models", "price", "m", "--input-per-mtok", "1e400", "--output-per-mtok", "1"],
            "Invalid value for '--input-per-mtok': '1e400' is not a finite number.",
        ),
        (
            ["models", "price", "m", "--input-per-mtok", "-1", "--output-per-mtok", "1"],
            "Invalid value for '--input-per-mtok': -1.0 is not in the range 0<=x<100000000.0.",
        ),
        (
            ["models", "price", "m", "--input-per-mtok", "1e8", "--output-per-mtok", "1"],
            "Invalid value for '--input-per-mtok': 100000000.0 is not in the range "
            "0<=x<100000000.0.",
        ),
        (
            ["runs", "list", "--since", "99999999d"],
            "Invalid value for '--since': 99999999d goes back before the year 1",
        ),
        (
            ["runs", "list", "--until", "tuesday"],
            "Invalid value for '--until': expected a date (2026-11-01) or an age (7d, 12h, 2w, 1m)",
        ),
        (
            ["runs", "list", "--limit", "99999999999999999999"],
            "Invalid value for '--limit': 99999999999999999999 is not in the range "
            "1<=x<=9223372036854775807.",
        ),
        (
            ["run", "m", "qa", "--sample", "99999999999999999999"],
            "Invalid value for '--sample': 99999999999999999999 is not in the range "
            "1<=x<=9223372036854775807.",
        ),
        (
            ["run", "m", "qa", "--timeout", "nan"],
            "Invalid value for '--timeout': 'nan' is not a finite number.",
        ),
        (
            ["models", "add", "", "--adapter", "openai"],
            "Invalid value for 'NAME': must not be empty or blank.",
        ),
        (
            ["models", "add", "  ", "--adapter", "openai"],
            "Invalid value for 'NAME': must not be empty or blank.",
        ),
        (
            ["models", "add", "a\tb", "--adapter", "openai"],
            "Invalid value for 'NAME': 'a\\tb' must not contain control characters.",
        ),
        (
            ["models", "add", "\udcff", "--adapter", "openai"],  # a byte that is not UTF-8
            "Invalid value for 'NAME': '\\udcff' is not valid UTF-8 text.",
        ),
        (
            ["models", "add", "m", "--adapter", "openai", "--base-url", "not a url"],
            "Invalid value for '--base-url': 'not a url' is not an http(s) URL with a host, "
            "e.g. http://127.0.0.1:8000/v1.",
        ),
        (
            ["models", "add", "m", "--adapter", "openai", "--base-url", "file:///etc/passwd"],
            "Invalid value for '--base-url': 'file:///etc/passwd' is not an http(s) URL with "
            "a host, e.g. http://127.0.0.1:8000/v1.",
        ),
        (
            ["load", "prompts", "cases.jsonl", "--dataset", " "],
            "Invalid value for '--dataset' / '-d': must not be empty or blank.",
        ),
        (
            ["report", "cost", "--template-dir", "{tmp}/missing"],
            "Invalid value for '--template-dir': Directory '{tmp}/missing' does not exist.",
        ),
        (
            ["compare", "1", "2", "--alpha", "nan"],
            "Invalid value for '--alpha': 'nan' is not a finite number.",
        ),
        (
            ["runs", "search", "since:99999999d"],
            "since:99999999d: 99999999d goes back before the year 1",
        ),
        (["runs", "search", "pass>1.2.3"], "pass>1.2.3: 1.2.3 is not a number"),
        (
            ["runs", "show", "9" * 5000],  # more digits than Python turns into a number
            f"Invalid value for 'RUN': '{'9' * 60}'... is not a run id: see evaltool runs list.",
        ),
        (
            ["report", "compare", "1", "²"],  # a digit to str.isdigit, not to int()
            "Invalid value for 'CANDIDATE...': '²' is not a run id: see evaltool runs list.",
        ),
        (
            ["load", "prompts", "x" * 300, "-d", "qa"],
            f"Invalid value for 'FILE...': '{'x' * 60}'...: File name too long.",
        ),
    ],
)
def test_bad_values_are_one_usage_error(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(*(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"Error: {message.replace('{tmp}', str(tmp_path))}"
    assert "Traceback" not in result.output
    # Nothing reached the database: no model, no price, no run.
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM evaltool.model), (SELECT count(*) FROM evaltool.run)"
    ).fetchone()
    assert counts == (0, 0)


def test_good_values_still_pass(run_cli: RunCli, conn: psycopg.Connection) -> None:
    add = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", "https://h.example/v1")
    assert add.exit_code == 0, add.output
    price = run_cli(
        "models", "price", "m", "--input-per-mtok", "0", "--output-per-mtok", "99999999"
    )
    assert price.exit_code == 0, price.output
    assert run_cli("runs", "list", "--since", "2026-01-01", "--until", "7D").exit_code == 0
    stored = conn.execute(
        "SELECT input_usd_per_mtok, output_usd_per_mtok FROM evaltool.model_pricing"
    ).fetchone()
    assert stored == (0, 99999999)


def test_search_words_are_not_like_patterns(populated: RunCli, conn: psycopg.Connection) -> None:
    conn.execute("UPDATE evaltool.run SET name = 'nightly_50%' WHERE id = 1")
    conn.execute("UPDATE evaltool.run SET name = 'nightlyX50', notes = 'C:\\temp' WHERE id = 2")
    conn.commit()

    def found(*words: str) -> list[str]:
        result = populated("runs", "search", *words, "--json")
        assert result.exit_code == 0, result.output
        return sorted(row["name"] for row in json.loads(result.stdout))

    assert found("%") == ["nightly_50%"]
    assert found("_") == ["nightly_50%"]
    assert found("y_50%") == ["nightly_50%"]
    assert found("nightly") == ["nightlyX50", "nightly_50%"]
    assert found("'c:\\temp'") == ["nightlyX50"]  # a backslash is a backslash


def test_ctrl_c_while_working_exits_130(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "cases.jsonl").write_text('{"input": "q"}\n')
    assert run_cli("load", "prompts", str(tmp_path / "cases.jsonl"), "-d", "qa").exit_code == 0
    assert run_cli("models", "add", "m", "--adapter", "python", "--model-id", "x:y").exit_code == 0

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("evaltool.runs.create", interrupted)  # Ctrl-C while queueing
    result = run_cli("run", "m", "qa", "--prepare")
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")

    monkeypatch.setattr("evaltool.db.connect", interrupted)  # Ctrl-C while connecting
    result = run_cli("runs", "list")
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")


def test_ctrl_c_at_a_prompt_exits_130(populated: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    def confirm(*args: object, **kwargs: object) -> bool:
        try:  # what click.confirm does with Ctrl-C (CliRunner cannot press it)
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise click.Abort() from None

    monkeypatch.setattr("click.confirm", confirm)
    result = populated("runs", "delete", "1")
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")
    assert populated("runs", "show", "1").exit_code == 0  # not deleted


@pytest.mark.slow
def test_ctrl_c_while_python_starts_exits_130(db_url: str) -> None:
    # Ctrl-C while the modules load, made certain by an import that raises it.
    script = textwrap.dedent("""
        import sys

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == "jinja2":
                    raise KeyboardInterrupt

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["evaltool", "runs", "list"]
        from evaltool.cli import main
        main()
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env_for(db_url), capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (130, "interrupted\n")
