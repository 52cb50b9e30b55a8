"""Prompt templates: file formats, rendering in the sandbox, immutable versions, and
`evaltool templates add | list | show | diff`."""

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result

from evaltool import templates
from evaltool.errors import EvaltoolError
from evaltool.templates import Template, TemplateError

RunCli = Callable[..., Result]

QA_YAML = "system: Answer in one word.\nuser: |\n  Question: {{ question }}\n"


def _case(**fields: Any) -> dict[str, Any]:
    return {
        "input": None,
        "expected": None,
        "metadata": {},
        "tags": [],
        "external_id": None,
        **fields,
    }


@pytest.mark.parametrize(
    ("text", "source", "body"),
    [
        (
            QA_YAML,
            "qa.yaml",
            [
                {"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "Question: {{ question }}\n"},
            ],
        ),
        ("user: '{{ input }}'", "qa.yml", [{"role": "user", "content": "{{ input }}"}]),
        (
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "2+2?"},
                        {"role": "assistant", "content": "4"},
                        {"role": "user", "content": "{{ input }}"},
                    ]
                }
            ),
            "chat.json",
            [
                {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4"},
                {"role": "user", "content": "{{ input }}"},
            ],
        ),
        # any other file is the user message, less the line break an editor adds
        ("Q: {{ question }}\n", "qa.j2", [{"role": "user", "content": "Q: {{ question }}"}]),
        ("user: {{ x }}\n\n", "qa.txt", [{"role": "user", "content": "user: {{ x }}\n"}]),
        # without a known ending, a mapping of system/user/messages holds messages ...
        (
            "system: s\nuser: u\n",
            "standard input",
            [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "u"},
            ],
        ),
        # ... and any other text, even one YAML reads as a mapping, is the user message
        ("Answer this: {{ q }}", "prompt", [{"role": "user", "content": "Answer this: {{ q }}"}]),
        ("Be brief: yes\n", "prompt", [{"role": "user", "content": "Be brief: yes"}]),
        ("{{ question }}", "prompt", [{"role": "user", "content": "{{ question }}"}]),
    ],
)
def test_parse_body_formats(text: str, source: str, body: list[dict[str, str]]) -> None:
    assert templates.parse_body(text, source=source) == body


@pytest.mark.parametrize(
    ("text", "source", "error"),
    [
        ("", "qa.j2", "qa.j2: the template is empty"),
        (
            "- user: x\n",
            "qa.yaml",
            "qa.yaml: expected a mapping with user (and system) or messages, not a list",
        ),
        (
            "user: x\nmodel: y\n",
            "qa.yaml",
            "qa.yaml: unknown key model: expected system, user or messages",
        ),
        ("system: x\n", "qa.yaml", "qa.yaml: no user message: add user: with its text"),
        ("user: 42\n", "qa.yaml", "qa.yaml: user must be text, not int"),
        ("user: '  '\n", "qa.yaml", "qa.yaml: message 1 (user): content is empty"),
        (
            '{"user": "x",}',
            "qa.json",
            "qa.json: not valid JSON: Expecting property name enclosed in double quotes: line 1",
        ),
        (
            '{"user": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "qa.json",
            "qa.json: JSON nested too deeply",
        ),
        ("user: " + "[" * 100_000 + "]" * 100_000, "qa.yaml", "qa.yaml: YAML nested too deeply"),
        (
            '{"messages": [{"role": "user", "content": "a"}], "user": "b"}',
            "qa.json",
            "qa.json: give either messages or system and user, not both",
        ),
        (
            '{"messages": [{"role": "tool", "content": "a"}]}',
            "qa.json",
            "qa.json: message 1: role must be system, user or assistant, not 'tool'",
        ),
        (
            '{"messages": [{"role": "user"}]}',
            "qa.json",
            "qa.json: message 1: expected exactly the keys role and content",
        ),
        (
            '{"messages": [{"role": "system", "content": "a"}]}',
            "qa.json",
            "qa.json: no user message",
        ),
        (
            "system: fine\nuser: 'Q: {{ question }'\n",
            "qa.yaml",
            "qa.yaml: message 2 (user): Jinja syntax error on line 1: unexpected '}'",
        ),
        (
            "line one\nline {{ two }\nline three\n",
            "qa.j2",
            "qa.j2: message 1 (user): Jinja syntax error on line 2: unexpected '}'",
        ),
    ],
)
def test_parse_body_errors_name_the_source(text: str, source: str, error: str) -> None:
    with pytest.raises(EvaltoolError) as caught:
        templates.parse_body(text, source=source)
    assert str(caught.value).startswith(error)
    assert "\n" not in str(caught.value)


def test_render_sees_the_case_and_the_keys_of_an_object_input() -> None:
    body = templates.parse_body(
        "system: 'Tone: {{ metadata.tone }}'\n"
        'user: \'{{ question }} {{ input.question }} [{{ tags | join(",") }}] '
        '{{ expected }} {{ external_id }} {{ input["tags"] }}\'\n',
        source="qa.yaml",
    )
    case = _case(
        input={"question": "2+2", "tags": "an input key"},
        expected="4",
        tags=["math", "easy"],
        metadata={"tone": "terse"},
        external_id="c1",
    )
    assert templates.render(body, case) == [
        {"role": "system", "content": "Tone: terse"},
        # the case's own tags win over the input key of that name, still reached as input["tags"]
        {"role": "user", "content": "2+2 2+2 [math,easy] 4 c1 an input key"},
    ]
    assert templates.render([{"role": "user", "content": "{{ input }}!\n"}], _case(input="hi")) == [
        {"role": "user", "content": "hi!\n"}
    ]


def test_an_undefined_variable_is_an_error_not_a_blank() -> None:
    qa = Template(
        id=1,
        name="qa",
        version=2,
        body=[{"role": "system", "content": "s"}, {"role": "user", "content": "{{ question }}"}],
        hash=b"",
    )
    with pytest.raises(
        TemplateError, match=r"^template qa:2, user message: 'question' is undefined$"
    ):
        templates.render(qa, _case(input={"q": "2+2"}))
    chat = [{"role": "user", "content": "a"}, {"role": "user", "content": "{{ metadata.x }}"}]
    with pytest.raises(
        TemplateError, match=r"^template, message 2 \(user\): 'dict object' has no attribute 'x'$"
    ):
        templates.render(chat, _case())
    with pytest.raises(
        TemplateError, match=r"^template, user message: ZeroDivisionError: division by zero$"
    ):
        templates.render([{"role": "user", "content": "{{ 1 / 0 }}"}], _case())


@pytest.mark.parametrize(
    "content",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ input.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ tags.append('x') }}",  # the environment is immutable: no mutating methods
        "{{ metadata.update(a=1) }}",
    ],
)
def test_the_sandbox_refuses_python_internals(content: str) -> None:
    with pytest.raises(TemplateError, match=r"unsafe|undefined"):
        templates.render([{"role": "user", "content": content}], _case(input="x"))


def test_add_is_idempotent_and_a_changed_body_is_the_next_version(conn: psycopg.Connection) -> None:
    body = templates.parse_body(QA_YAML, source="qa.yaml")
    first, added = templates.add(conn, "qa", body, "first")
    assert (first.name, first.version, added, len(first.hash)) == ("qa", 1, True, 32)
    again, added = templates.add(conn, "qa", [dict(m) for m in body], "ignored")
    assert (again, added) == (first, False)

    changed = [*body[:1], {"role": "user", "content": "Q: {{ question }}"}]
    second, added = templates.add(conn, "qa", changed)
    assert (second.version, added, second.description) == (2, True, None)
    assert second.hash != first.hash
    (db_hash,) = conn.execute(
        "SELECT evaltool.json_hash(%s::jsonb)", [json.dumps(changed)]
    ).fetchone()  # type: ignore[misc]
    assert second.hash == db_hash
    # going back to the first body is version 1 again, not a third version
    assert templates.add(conn, "qa", body) == (first, False)
    assert templates.add(conn, "other", body)[0].version == 1

    assert templates.resolve(conn, "qa") == second
    assert templates.resolve(conn, "qa:1") == first
    assert [t.version for t in templates.versions(conn, "qa")] == [1, 2]
    assert templates.versions(conn, "nope") == []
    assert [
        (r["name"], r["version"], r["versions"], r["description"]) for r in templates.find(conn)
    ] == [
        ("other", 1, 1, None),
        ("qa", 2, 2, None),
    ]


def test_unknown_templates_and_names_a_reference_cannot_name(conn: psycopg.Connection) -> None:
    templates.add(conn, "qa", [{"role": "user", "content": "{{ input }}"}])
    for ref in ["nope", "qa:2", "qa:0", "qa:99999999999999999999", "qa:x", "qa:"]:
        with pytest.raises(EvaltoolError) as caught:
            templates.resolve(conn, ref)
        assert str(caught.value) == f"no template {ref!r}: see evaltool templates list"
    for name in ["", "  ", "qa:2"]:
        with pytest.raises(EvaltoolError, match="a template name is not blank and has no ':'"):
            templates.add(conn, name, [{"role": "user", "content": "x"}])


def test_a_version_never_changes(conn: psycopg.Connection) -> None:
    qa, _ = templates.add(conn, "qa", [{"role": "user", "content": "{{ input }}"}])
    with pytest.raises(psycopg.errors.CheckViolation, match="template qa version 1 cannot change"):
        conn.execute(
            'UPDATE evaltool.prompt_template SET body = \'[{"role": "user", "content": "x"}]\''
        )
    conn.execute("UPDATE evaltool.prompt_template SET description = 'why'")  # notes may change
    assert templates.resolve(conn, "qa").hash == qa.hash


def test_concurrent_adds_take_turns(db_url: str) -> None:
    with (
        psycopg.connect(db_url, autocommit=True) as first,
        psycopg.connect(db_url, autocommit=True) as second,
    ):
        result: list[tuple[Template, bool]] = []
        other = threading.Thread(
            target=lambda: result.append(
                templates.add(second, "qa", [{"role": "user", "content": "b"}])
            )
        )
        with first.transaction():
            templates.add(first, "qa", [{"role": "user", "content": "a"}])  # holds the lock
            other.start()
            other.join(0.2)
            assert other.is_alive()  # waits for the first transaction to end
        other.join(5)
        assert [(t.version, added) for t, added in result] == [(2, True)]


def test_cli_add_list_show_diff(run_cli: RunCli, tmp_path: Path) -> None:
    qa = tmp_path / "qa.yaml"
    qa.write_text(QA_YAML)
    added = run_cli("templates", "add", "qa", str(qa), "--description", "one word")
    assert (added.exit_code, added.stdout) == (0, "template qa version 1 added\n")
    again = run_cli("templates", "add", "qa", str(qa))
    assert (again.exit_code, again.stdout) == (0, "template qa: unchanged, version 1\n")
    inline = run_cli(
        "templates",
        "add",
        "qa",
        "--system",
        "Answer in one word.",
        "--user",
        "Q: {{ question }}",
        "--json",
    )
    assert inline.exit_code == 0
    shown = json.loads(inline.stdout)
    assert (shown["version"], shown["added"], len(shown["hash"])) == (2, True, 64)
    piped = run_cli("templates", "add", "echo", "-", input="{{ input }}\n")
    assert piped.stdout == "template echo version 1 added\n"

    table = run_cli("templates", "list").stdout.splitlines()
    assert table[0].split() == ["name", "version", "versions", "updated", "description"]
    assert [line.split()[:3] for line in table[1:]] == [["echo", "1", "1"], ["qa", "2", "2"]]
    listed = json.loads(run_cli("templates", "list", "--json").stdout)
    assert [(r["name"], r["version"], r["versions"]) for r in listed] == [
        ("echo", 1, 1),
        ("qa", 2, 2),
    ]

    text = run_cli("templates", "show", "qa:1").stdout
    assert text.startswith("template    qa:1 (of 2)\ndescription one word\ncreated     ")
    assert text.endswith("\n\n[system]\nAnswer in one word.\n\n[user]\nQuestion: {{ question }}\n")
    assert json.loads(run_cli("templates", "show", "qa", "--json").stdout)["body"][1] == {
        "role": "user",
        "content": "Q: {{ question }}",
    }
    rendered = run_cli("templates", "show", "qa", "--render", '{"input": {"question": "2+2"}}')
    assert rendered.stdout == "[system]\nAnswer in one word.\n\n[user]\nQ: 2+2\n"
    as_json = run_cli(
        "templates", "show", "echo", "--render", '{"id": "c1", "input": "hi", "x": 1}', "--json"
    )
    assert json.loads(as_json.stdout) == [{"role": "user", "content": "hi"}]

    expected_diff = (
        "--- qa:1\n+++ qa:2\n@@ -2,4 +2,4 @@\n Answer in one word.\n \n [user]\n"
        "-Question: {{ question }}\n+Q: {{ question }}\n"
    )
    assert run_cli("templates", "diff", "qa").stdout == expected_diff
    assert run_cli("templates", "diff", "qa:2").stdout == expected_diff
    assert run_cli("templates", "diff", "qa:1", "qa").stdout == expected_diff
    assert run_cli("templates", "diff", "qa:2", "qa:1").stdout.startswith("--- qa:2\n+++ qa:1\n")
    same = run_cli("templates", "diff", "qa:2", "qa:2")
    assert (same.exit_code, same.stdout, same.stderr) == (
        0,
        "",
        "qa:2 and qa:2 have the same messages\n",
    )


def test_cli_errors_are_one_line_and_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.j2"
    bad.write_text("{{ question }")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"caf\xe9")
    assert run_cli("templates", "add", "one", "--user", "{{ question }}").exit_code == 0
    cases = [
        (["show", "nope"], "no template 'nope': see evaltool templates list"),
        (["diff", "nope"], "no template 'nope': see evaltool templates list"),
        (["show", "one:7"], "no template 'one:7': see evaltool templates list"),
        (
            ["diff", "one"],
            "template one:1 has no earlier version: name two, "
            "e.g. evaltool templates diff one:1 OTHER",
        ),
        (
            ["add", "qa"],
            "give a template FILE, or --user TEXT: "
            "e.g. evaltool templates add qa --user '{{ question }}'",
        ),
        (
            ["add", "qa", str(bad), "--user", "x"],
            "give a template FILE or --user (and --system), not both",
        ),
        (
            ["add", "qa", str(tmp_path / "missing.yaml")],
            f"{tmp_path / 'missing.yaml'}: No such file or directory",
        ),
        (["add", "qa", str(tmp_path)], f"{tmp_path}: Is a directory"),
        (["add", "qa", str(latin1)], f"{latin1}: not UTF-8 text"),
        (
            ["add", "qa", str(bad)],
            f"{bad}: message 1 (user): Jinja syntax error on line 1: unexpected '}}'",
        ),
        (["add", "qa", "--system", "{{ x"], "give a template FILE, or --user TEXT"),
        (
            ["add", "qa", "--user", "{% if %}"],
            "--user: message 1 (user): Jinja syntax error on line 1: ",
        ),
        (["show", "one", "--render", "{"], "--render: not valid JSON: "),
        (["show", "one", "--render", "[" * 100_000], "--render: JSON nested too deeply"),
        (
            ["show", "one", "--render", '"hi"'],
            "--render: expected a test case, a JSON object with input",
        ),
        (
            ["show", "one", "--render", '{"input": {"q": 1}}'],
            "template one:1, user message: 'question' is undefined",
        ),
    ]
    for args, error in cases:
        result = run_cli("templates", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith(f"Error: {error}"), (args, result.stderr)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
    assert run_cli("templates", "list", "--json").stdout.count('"name"') == 1  # nothing added


def test_cli_list_without_templates(run_cli: RunCli) -> None:
    empty = run_cli("templates", "list")
    assert (empty.exit_code, empty.stdout, empty.stderr) == (
        0,
        "",
        "no templates yet: evaltool templates add NAME FILE\n",
    )
    assert json.loads(run_cli("templates", "list", "--json").stdout) == []
