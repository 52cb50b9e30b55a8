"""`evaltool templates`: prompt templates that turn a test case into the messages a model is
sent, kept as numbered, immutable versions."""

import difflib
import json
import sys
from typing import Any

import click

from evaltool import db, templates
from evaltool.cli import types
from evaltool.cli.output import echo_json, echo_table, json_option
from evaltool.errors import EvaltoolError


@click.group(name="templates")
def templates_group() -> None:
    """Prompt templates: the messages a model is sent, rendered from a test case.

    A template is Jinja over a test case's fields. A changed body is a new version;
    versions never change.

    \b
    Example:
        evaltool templates add qa qa.yaml
        evaltool templates show qa --render '{"input": {"question": "2+2"}}'
        evaltool templates diff qa
    """


@templates_group.command()
@click.argument("name", type=types.NAME)
@click.argument("file", type=types.INPUT_FILE, required=False)
@click.option("--user", type=types.TEXT, help="The user message's template (instead of FILE).")
@click.option("--system", type=types.TEXT, help="A system message's template, with --user.")
@click.option("--description", type=types.TEXT, help="Free text: what this version changes.")
@json_option
def add(
    name: str,
    file: str | None,
    user: str | None,
    system: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Add a template, or a new version of it, from FILE or from --user and --system.

    FILE (- for standard input) is .yaml, .yml or .json with `system:` and `user:`, or
    with `messages:` (a list of role and content); any other file, such as .j2 or .txt,
    is the user message. Adding a body that a version of NAME already has adds nothing.

    \b
    Example:
        evaltool templates add qa qa.yaml --description "asks for one word"
        evaltool templates add qa --system "Answer in one word." --user "{{ question }}"
        evaltool templates add summary prompts/summary.j2

    \b
    A template file (qa.yaml):
        system: You are a careful assistant. Answer in one word.
        user: |
          Question: {{ question }}
          {% if tags %}Topics: {{ tags | join(", ") }}{% endif %}
    """
    body = _body(file, user, system)
    with db.connect() as conn:
        template, added = templates.add(conn, name, body, description)
    if as_json:
        echo_json({**_summary(template), "added": added})
    elif added:
        click.echo(f"template {name} version {template.version} added")
    else:
        click.echo(f"template {name}: unchanged, version {template.version}")


@templates_group.command(name="list")
@json_option
def list_(as_json: bool) -> None:
    """List templates with their latest version, by name.

    \b
    Example:
        evaltool templates list --json
    """
    with db.connect() as conn:
        rows = templates.find(conn)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no templates yet: evaltool templates add NAME FILE", err=True)
        return
    echo_table(
        ["name", "version", "versions", "updated", "description"],
        [
            (r["name"], r["version"], r["versions"], r["updated"], _first_line(r["description"]))
            for r in rows
        ],
    )


@templates_group.command()
@click.argument("template", type=types.TEXT, metavar="NAME[:VERSION]")
@click.option(
    "--render",
    "case_json",
    type=types.TEXT,
    metavar="JSON",
    help='Show the messages rendered over this test case, e.g. \'{"input": {"q": "2+2"}}\'.',
)
@json_option
def show(template: str, case_json: str | None, as_json: bool) -> None:
    """Show a template's messages, or those it renders from one test case.

    The latest version unless VERSION is given; with --render, the messages it makes of
    the test case given as JSON.

    A template sees input, expected, metadata, tags and external_id, and each key of an
    object input as a variable of its own.

    \b
    Example:
        evaltool templates show qa
        evaltool templates show qa:1 --json
        evaltool templates show qa --render '{"input": {"question": "2+2"}, "tags": ["math"]}'
    """
    case = _case(case_json) if case_json is not None else None
    with db.connect() as conn:
        found = templates.resolve(conn, template)
        count = len(templates.versions(conn, found.name))
    if case is not None:
        messages = templates.render(found, case)
        if as_json:
            echo_json(messages)
        else:
            click.echo("\n".join(_message_lines(messages)))
        return
    if as_json:
        echo_json(_summary(found))
        return
    click.echo(f"{'template':<12}{found.ref} (of {count})")
    if found.description:
        click.echo(f"{'description':<12}{found.description}")
    click.echo(f"{'created':<12}{found.created_at:%Y-%m-%d %H:%M} by {found.created_by}")
    click.echo(f"{'hash':<12}{found.hash.hex()}")
    click.echo()
    click.echo("\n".join(_message_lines(found.body)))


@templates_group.command()
@click.argument("old", type=types.TEXT, metavar="NAME[:V1]")
@click.argument("new", type=types.TEXT, metavar="[NAME[:V2]]", required=False)
def diff(old: str, new: str | None) -> None:
    """Show how two template versions differ, as a unified diff of their messages.

    With one argument: NAME compares the version before the latest with the latest, and
    NAME:V the version before V with V.

    \b
    Example:
        evaltool templates diff qa
        evaltool templates diff qa:1 qa:3
        evaltool templates diff qa summary:2
    """
    with db.connect() as conn:
        second = templates.resolve(conn, new if new is not None else old)
        if new is not None:
            first = templates.resolve(conn, old)
        else:
            earlier = [
                t for t in templates.versions(conn, second.name) if t.version < second.version
            ]
            if not earlier:
                raise EvaltoolError(
                    f"template {second.ref} has no earlier version: name two, "
                    f"e.g. evaltool templates diff {second.name}:1 OTHER"
                )
            first = earlier[-1]
    lines = difflib.unified_diff(
        _message_lines(first.body),
        _message_lines(second.body),
        fromfile=first.ref,
        tofile=second.ref,
        lineterm="",
    )
    text = "\n".join(lines)
    if text:
        click.echo(text)
    else:
        click.echo(f"{first.ref} and {second.ref} have the same messages", err=True)


def _body(file: str | None, user: str | None, system: str | None) -> list[dict[str, str]]:
    """The messages of `add`: from FILE, or from --user and --system."""
    if file is not None and (user is not None or system is not None):
        raise EvaltoolError("give a template FILE or --user (and --system), not both")
    if file is None:
        if user is None:
            raise EvaltoolError(
                "give a template FILE, or --user TEXT: e.g. evaltool templates add qa "
                "--user '{{ question }}'"
            )
        if system is None:
            return templates.check_body([{"role": "user", "content": user}], source="--user")
        return templates.check_body(
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            source="--system and --user",
        )
    source = "standard input" if file == "-" else file
    try:
        if file == "-":
            text = sys.stdin.buffer.read().decode("utf-8")
        else:
            with open(file, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        raise EvaltoolError(f"{source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise EvaltoolError(f"{source}: not UTF-8 text") from None
    return templates.parse_body(text, source=source)


def _case(text: str) -> dict[str, Any]:
    """The test case of --render: a JSON object with input and, if wanted, expected,
    metadata, tags and id (or external_id), as a line of a test-case file has them."""
    try:
        given = json.loads(text)
    except RecursionError:
        raise EvaltoolError("--render: JSON nested too deeply") from None
    except ValueError as exc:
        raise EvaltoolError(f"--render: not valid JSON: {exc}") from None
    if not isinstance(given, dict) or "input" not in given:
        raise EvaltoolError(
            '--render: expected a test case, a JSON object with input, e.g. {"input": "2+2"}'
        )
    return {
        "expected": None,
        "metadata": {},
        "tags": [],
        "external_id": given.get("id"),
        **{k: v for k, v in given.items() if k in templates.CASE_FIELDS},
    }


def _message_lines(messages: list[dict[str, str]]) -> list[str]:
    """Messages as text: each role in brackets, then its content, a blank line between."""
    lines: list[str] = []
    for message in messages:
        if lines:
            lines.append("")
        lines.append(f"[{message['role']}]")
        lines.extend(message["content"].splitlines() or [""])
    return lines


def _summary(template: templates.Template) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "version": template.version,
        "body": template.body,
        "hash": template.hash.hex(),
        "description": template.description,
        "created_at": template.created_at,
        "created_by": template.created_by,
    }


def _first_line(text: str | None) -> str | None:
    return text.splitlines()[0] if text else text
