"""The `evaltool` command: one Click group per noun, each in its own module."""

import sys

# 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

try:  # Ctrl-C while Python loads the modules below (the first half second): no traceback
    import traceback
    from typing import IO, Any

    import click
    import psycopg

    from evaltool import __version__, display
    from evaltool.cli.compare import compare
    from evaltool.cli.datasets import datasets
    from evaltool.cli.db import db
    from evaltool.cli.eval import eval_suite
    from evaltool.cli.imports import import_
    from evaltool.cli.judges import judges_group
    from evaltool.cli.load import load
    from evaltool.cli.models import models_group
    from evaltool.cli.plan import plan
    from evaltool.cli.preferences import preferences_group
    from evaltool.cli.projects import projects_group
    from evaltool.cli.refresh import refresh
    from evaltool.cli.report import report
    from evaltool.cli.run import run
    from evaltool.cli.runs import runs_group
    from evaltool.cli.score import score
    from evaltool.cli.templates import templates_group
    from evaltool.cli.training import training_group
    from evaltool.db import first_line, hide_secrets
    from evaltool.errors import EvaltoolError
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(EXIT_INTERRUPTED)

# invalid_parameter_value and feature_not_supported, as evaltool's SQL functions raise them.
USER_SQLSTATES = {"22023", "0A000"}


class UserError(click.ClickException):
    """An EvaltoolError on its way out: `Error: message` on stderr and exit code 2."""

    exit_code = 2


class CheckError(UserError):
    """A failed check or gate on its way out: exit code 1."""

    exit_code = 1


class Interrupted(click.ClickException):
    """Ctrl-C on its way out: `interrupted` on stderr and exit code 130."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


def user_error(message: str, exit_code: int) -> UserError:
    """The Click exception that prints `message` and exits with `exit_code` (1 or 2): on
    one line, whatever file name or value it quotes (display.one_line)."""
    return (CheckError if exit_code == 1 else UserError)(display.one_line(message))


# An evaltool table, view, function or column that is not there: a database not migrated
# yet, or migrated by an older evaltool.
SCHEMA_SQLSTATES = frozenset({"3F000", "42P01", "42883", "42703"})


class EvaltoolGroup(click.Group):
    """Turns the errors of every subcommand into one line on stderr, never a traceback,
    and Ctrl-C into `interrupted` and exit code 130 (Click's own is "Aborted!" and 1).

    With --debug the traceback is printed as well.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EvaltoolError as exc:
            self._debug(ctx)
            raise user_error(hide_secrets(str(exc)), exc.exit_code) from exc
        except psycopg.Error as exc:
            self._debug(ctx)
            if exc.sqlstate in USER_SQLSTATES:
                # Raised by evaltool's own SQL functions about what the user asked for.
                hint = exc.diag.message_hint or exc.diag.message_detail
                message = first_line(exc) + (f" ({hint})" if hint else "")
                raise user_error(hide_secrets(message), 2) from exc
            message = f"database error: {hide_secrets(first_line(exc))}"
            if exc.sqlstate in SCHEMA_SQLSTATES and "evaltool" in str(exc):
                message += ": the schema is missing or older than evaltool: run evaltool db migrate"
            raise user_error(message, 1) from exc
        except KeyboardInterrupt as exc:
            self._debug(ctx)
            raise Interrupted() from exc
        except UnicodeEncodeError as exc:  # a command line that is not valid UTF-8
            self._debug(ctx)
            raise user_error(
                f"not valid UTF-8 text: {exc.object[exc.start : exc.end]!r}", 2
            ) from exc
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C at a prompt
                raise Interrupted() from exc
            raise

    @staticmethod
    def _debug(ctx: click.Context) -> None:
        # Messages in the traceback may quote the connection string: its password is masked.
        if ctx.meta.get("evaltool.debug"):
            click.echo(hide_secrets(traceback.format_exc()), err=True)


@click.group(cls=EvaltoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evaltool")
@click.option("--debug", is_flag=True, help="Print tracebacks with errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """SQL-first evaluation of ML and LLM models, on PostgreSQL.

    evaltool uses the database named by EVALTOOL_DATABASE_URL, or else an embedded
    PostgreSQL that it starts on first use, with its data in ./.evaltool
    (EVALTOOL_HOME moves it).

    \b
    Example:
        evaltool db migrate      # create or upgrade the schema
        evaltool db health       # server version, schema version, rows per table
    """
    ctx.meta["evaltool.debug"] = debug


cli.add_command(db)
cli.add_command(load)
cli.add_command(import_)
cli.add_command(datasets)
cli.add_command(projects_group)
cli.add_command(models_group)
cli.add_command(run)
cli.add_command(score)
cli.add_command(compare)
cli.add_command(plan)
cli.add_command(refresh)
cli.add_command(runs_group)
cli.add_command(report)
cli.add_command(preferences_group)
cli.add_command(judges_group)
cli.add_command(templates_group)
cli.add_command(training_group)
cli.add_command(eval_suite)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="evaltool")
