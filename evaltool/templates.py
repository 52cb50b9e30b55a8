"""Prompt templates: Jinja over a test case's fields that renders the chat messages a model
is sent, stored as immutable, numbered versions in evaltool.prompt_template.

A template's body is a list of messages, [{"role": "system"|"user"|"assistant",
"content": Jinja}]. Each content is rendered in a sandbox with StrictUndefined: a template
can read the test case (input, expected, metadata, tags, external_id, and the keys of an
object input), never Python's internals, and a misspelt variable is an error, not a blank.
"""

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

import jinja2
import jinja2.sandbox
import psycopg
import yaml
from psycopg.types.json import Jsonb

from evaltool import queries
from evaltool.errors import EvaltoolError

ROLES = ("system", "user", "assistant")
# The test case's own fields: in the context they win over keys of an object input.
CASE_FIELDS = ("input", "expected", "metadata", "tags", "external_id")
# File name endings that hold messages (YAML or JSON), and those that hold only the user
# message's text; any other file is sniffed.
STRUCTURED_SUFFIXES = (".yaml", ".yml", ".json")
TEXT_SUFFIXES = (".j2", ".jinja", ".jinja2", ".txt")
_KEYS = frozenset({"system", "user", "messages"})
_REF = re.compile(r"^(.+):([0-9]+)$")
_INT_MAX = 2**31 - 1  # prompt_template.version is an integer

_ENV = jinja2.sandbox.ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


class TemplateError(EvaltoolError):
    """A template could not be rendered for a test case: an undefined variable, an access
    the sandbox refuses, or an error raised by the template's own expressions."""


@dataclass(frozen=True)
class Template:
    """One version of a prompt template, as stored."""

    id: int
    name: str
    version: int
    body: list[dict[str, str]]
    hash: bytes  # prompt_template.template_hash: SHA-256 of the body (evaltool.json_hash)
    description: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None

    @property
    def ref(self) -> str:
        """NAME:VERSION, as the command line names it."""
        return f"{self.name}:{self.version}"


def parse_body(text: str, *, source: str) -> list[dict[str, str]]:
    """The messages a template file holds; `source` (a file name) names it in errors.

    A .yaml, .yml or .json file, or a text that reads as a YAML mapping whose keys are only
    among system, user and messages, holds `{system: ..., user: ...}` (system optional) or
    `{messages: [{role: ..., content: ...}, ...]}`. Any other text (.j2, .jinja, .txt) is the
    user message itself, less the final line break that editors add.
    """
    suffix = PurePath(source).suffix.lower()
    if not text.strip():
        raise EvaltoolError(f"{source}: the template is empty")
    if suffix in STRUCTURED_SUFFIXES:
        kind = "JSON" if suffix == ".json" else "YAML"
        try:
            doc = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except RecursionError:
            raise EvaltoolError(f"{source}: {kind} nested too deeply") from None
        except (ValueError, yaml.YAMLError) as exc:
            raise EvaltoolError(f"{source}: not valid {kind}: {_one_line(exc)}") from None
        return _from_mapping(doc, source)
    if suffix not in TEXT_SUFFIXES:
        doc = _yaml_or_none(text)
        if isinstance(doc, dict) and doc and set(doc) <= _KEYS:
            return _from_mapping(doc, source)
    content = text.removesuffix("\n").removesuffix("\r")
    return check_body([{"role": "user", "content": content}], source=source)


def check_body(body: Any, *, source: str) -> list[dict[str, str]]:
    """The messages, checked: a non-empty list of {role, content} with a known role and
    text content, at least one user message, and Jinja that compiles. Returns them with
    exactly those two keys."""
    if not isinstance(body, list) or not body:
        raise EvaltoolError(f"{source}: messages must be a non-empty list of {{role, content}}")
    messages: list[dict[str, str]] = []
    for number, message in enumerate(body, 1):
        where = f"{source}: message {number}"
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise EvaltoolError(f"{where}: expected exactly the keys role and content")
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise EvaltoolError(f"{where}: role must be system, user or assistant, not {role!r}")
        if not isinstance(content, str):
            raise EvaltoolError(f"{where} ({role}): content must be text")
        if not content.strip():
            raise EvaltoolError(f"{where} ({role}): content is empty")
        try:
            _compiled(content)
        except jinja2.TemplateSyntaxError as exc:
            raise EvaltoolError(
                f"{where} ({role}): Jinja syntax error on line {exc.lineno}: {exc.message}"
            ) from None
        messages.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in messages):
        raise EvaltoolError(f"{source}: no user message")
    return messages


def render(template: Template | list[dict[str, str]], case: dict[str, Any]) -> list[dict[str, str]]:
    """The messages of the template rendered over one test case.

    `case` holds input, expected, metadata, tags and external_id; the template sees those,
    and, when input is a JSON object, each of its keys as a variable of its own (a key
    named like a field is reached as input["key"]). Raises TemplateError.
    """
    if isinstance(template, Template):
        label, body = f"template {template.ref}", template.body
    else:
        label, body = "template", template
    context = context_for(case)
    roles = [m["role"] for m in body]
    rendered = []
    for number, message in enumerate(body, 1):
        role = message["role"]
        try:
            content = _compiled(message["content"]).render(context)
        except Exception as exc:
            where = f"{role} message" if roles.count(role) == 1 else f"message {number} ({role})"
            raise TemplateError(f"{label}, {where}: {_render_error(exc)}") from exc
        rendered.append({"role": role, "content": content})
    return rendered


def context_for(case: dict[str, Any]) -> dict[str, Any]:
    """The variables a template sees for a test case."""
    fields = {key: case[key] for key in CASE_FIELDS if key in case}
    given = case.get("input")
    return {**given, **fields} if isinstance(given, dict) else fields


def add(
    conn: psycopg.Connection,
    name: str,
    body: list[dict[str, str]],
    description: str | None = None,
) -> tuple[Template, bool]:
    """Store `body` as the next version of template `name`, unless a version of that name
    already has the same body; returns the version and whether it is new.

    One transaction; two sessions adding to one name at the same moment take turns.
    """
    if not name.strip() or ":" in name:
        raise EvaltoolError(f"{name!r}: a template name is not blank and has no ':'")
    body = check_body(body, source=f"template {name}")
    params = {"name": name, "body": Jsonb(body), "description": description}
    with conn.transaction():
        conn.execute(queries.get("template_lock"), {"name": name})
        try:
            with conn.transaction():
                row = queries.fetch_one(conn, "template_add", params)
        except psycopg.errors.UniqueViolation as exc:  # a version added without the lock
            raise EvaltoolError(
                f"template {name}: another version was added at the same moment: try again"
            ) from exc
        if row is not None:
            return _template(row), True
        same = queries.fetch_one(conn, "template_same", params)
        assert same is not None  # the insert met it
        return _template(same), False


def resolve(conn: psycopg.Connection, ref: str) -> Template:
    """The template named NAME (its latest version) or NAME:VERSION."""
    match = _REF.match(ref)
    name, version = (match.group(1), int(match.group(2))) if match else (ref, None)
    row = None
    if version is None or 1 <= version <= _INT_MAX:
        row = queries.fetch_one(conn, "template_get", {"name": name, "version": version})
    if row is None:
        raise EvaltoolError(f"no template {ref!r}: see evaltool templates list")
    return _template(row)


def get(conn: psycopg.Connection, template_id: int) -> Template:
    """The template version of that id (run.template_id)."""
    row = queries.fetch_one(conn, "template_by_id", {"id": template_id})
    if row is None:
        raise EvaltoolError(f"no template of id {template_id}")
    return _template(row)


def find(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every template by name: its latest version, how many versions, when the latest was
    added (updated) and its description."""
    return queries.fetch_all(conn, "template_list")


def versions(conn: psycopg.Connection, name: str) -> list[Template]:
    """Every version of a template, oldest first; none for an unknown name."""
    return [_template(row) for row in queries.fetch_all(conn, "template_versions", {"name": name})]


@functools.lru_cache(maxsize=512)
def _compiled(content: str) -> jinja2.Template:
    return _ENV.from_string(content)


def _from_mapping(doc: Any, source: str) -> list[dict[str, str]]:
    if not isinstance(doc, dict):
        raise EvaltoolError(
            f"{source}: expected a mapping with user (and system) or messages, not {_kind(doc)}"
        )
    unknown = sorted(str(key) for key in doc if key not in _KEYS)
    if unknown:
        raise EvaltoolError(
            f"{source}: unknown key {', '.join(unknown)}: expected system, user or messages"
        )
    if "messages" in doc:
        if len(doc) > 1:
            raise EvaltoolError(f"{source}: give either messages or system and user, not both")
        return check_body(doc["messages"], source=source)
    if "user" not in doc:
        raise EvaltoolError(f"{source}: no user message: add user: with its text")
    for key in ("system", "user"):
        if key in doc and not isinstance(doc[key], str):
            raise EvaltoolError(f"{source}: {key} must be text, not {_kind(doc[key])}")
    messages = [{"role": key, "content": doc[key]} for key in ("system", "user") if key in doc]
    return check_body(messages, source=source)


def _yaml_or_none(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


def _template(row: dict[str, Any]) -> Template:
    return Template(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        body=row["body"],
        hash=bytes(row["template_hash"]),
        description=row["description"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _render_error(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateError):
        return _one_line(exc)
    return f"{type(exc).__name__}: {_one_line(exc)}"


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
