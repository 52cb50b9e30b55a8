"""Suite files (evaltool.suite): what a file may say, the one-line errors that name the file
and the key, paths relative to the file, and the published JSON Schema. No database."""

import json
import re
import typing
from pathlib import Path

import pytest
import yaml

from evaltool import models, suite
from evaltool.compare import Policy
from evaltool.errors import EvaltoolError

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
name: nightly
dataset: qa
models:
  - gpt-4o-mini
  - name: local
    adapter: python
    model_id: examples.qa_models:v1
"""


def write(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(folder: Path, text: str) -> str:
    """The one line that loading `text` as folder/suite.yaml fails with."""
    path = write(folder, text)
    with pytest.raises(EvaltoolError) as caught:
        suite.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code == 2
    assert message.startswith(f"{path}:")
    return message.removeprefix(f"{path}")


def test_the_example_suite_validates() -> None:
    s = suite.load(REPO / "examples" / "qa-suite.yaml")
    assert s.name == "qa-demo"
    assert s.dataset.name == "demo-qa"
    assert s.dataset.files == [REPO / "examples" / "qa.jsonl"]
    assert s.model_names() == ["demo-v1", "demo-v2"]
    v1, v2 = s.inline_models()
    assert (v1.adapter, v1.model_id, v2.model_id) == (
        "python",
        "examples.qa_models:v1",
        "examples.qa_models:v2",
    )
    assert v1.price is not None and (v1.price.input_per_mtok, v1.price.output_per_mtok) == (
        0.15,
        0.60,
    )
    assert v2.price is not None and (v2.price.input_per_mtok, v2.price.output_per_mtok) == (
        0.25,
        1.00,
    )
    assert v2.params == {"temperature": 0.8}
    assert s.baseline_spec() == suite.Baseline("model", model="demo-v1", in_suite=True)
    assert s.reports == [
        REPO / "reports" / "out" / "demo-suite.html",
        REPO / "reports" / "out" / "demo-suite.md",
    ]
    assert s.source == (REPO / "examples" / "qa-suite.yaml").resolve()


def test_make_demo_runs_the_example() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "evaltool eval examples/qa-suite.yaml" in makefile.split("\ndemo:", 1)[1]


def test_the_starter_validates_and_runs_from_the_repository_root() -> None:
    s = suite.parse(suite.STARTER, source="starter", base=REPO)
    assert s.dataset.files == [REPO / "examples" / "qa.jsonl"]
    assert [m.model_id for m in s.inline_models()] == [
        "examples.qa_models:v1",
        "examples.qa_models:v2",
    ]
    # every section says what it is
    for key in ("name", "dataset", "models", "metrics", "repeats", "baseline", "gate", "reports"):
        before = suite.STARTER.split(f"\n{key}:", 1)[0]
        assert before.rstrip().splitlines()[-1].startswith("#"), key


def test_init_writes_the_starter_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    suite.init(path)
    assert path.read_text(encoding="utf-8") == suite.STARTER
    path.write_text("mine\n")
    with pytest.raises(EvaltoolError, match="exists"):
        suite.init(path)
    assert path.read_text() == "mine\n"


def test_a_minimal_suite_and_its_defaults(tmp_path: Path) -> None:
    s = suite.load(write(tmp_path, MINIMAL))
    assert s.dataset == suite.DatasetSpec(name="qa")
    assert s.dataset_ref().name == "qa" and s.dataset_ref().version is None
    assert s.dataset_ref().project == "default"
    assert isinstance(s.models[0], suite.ModelRef) and s.models[0].name == "gpt-4o-mini"
    assert isinstance(s.models[1], suite.InlineModel)
    assert (s.repeats, s.concurrency, s.cache, s.limit, s.sample) == (1, 8, "auto", None, None)
    assert s.template_specs() == [None]
    assert s.metric_specs() == []
    assert s.cache_args() == (None, False)
    # several runs and no baseline: the first model's run
    assert s.baseline_spec() == suite.Baseline("model", model="gpt-4o-mini", in_suite=True)
    assert s.policy() == Policy()
    assert s.fail_on_regression is False


def test_a_single_run_has_no_default_baseline(tmp_path: Path) -> None:
    s = suite.load(write(tmp_path, "name: n\ndataset: qa:2\nmodels: [m]\n"))
    assert s.baseline_spec() is None
    assert (s.dataset.name, s.dataset.version) == ("qa", "2")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("previous", suite.Baseline("previous")),
        ("41", suite.Baseline("run", run_id=41)),
        ("'41'", suite.Baseline("run", run_id=41)),
        ("local", suite.Baseline("model", model="local", in_suite=True)),
        ("prod-model", suite.Baseline("model", model="prod-model", in_suite=False)),
    ],
)
def test_baselines(tmp_path: Path, given: str, expected: suite.Baseline) -> None:
    s = suite.load(write(tmp_path, MINIMAL + f"baseline: {given}\n"))
    assert s.baseline_spec() == expected


def test_metric_strings_and_mappings_normalise(tmp_path: Path) -> None:
    text = MINIMAL + (
        "metrics:\n"
        "  - exact_match\n"
        "  - exact_match:case,whitespace\n"
        "  - correct=llm_judge:judge-a\n"
        "  - regex:a=b\n"
        "  - {name: fast, scorer: latency_under, arg: 50}\n"
        "  - {scorer: numeric_close, arg: '1%'}\n"
        "  - {scorer: json_valid}\n"
    )
    s = suite.load(write(tmp_path, text))
    assert s.metric_specs() == [
        "exact_match",
        "exact_match:case,whitespace",
        "correct=llm_judge:judge-a",
        "regex:a=b",
        "fast=latency_under:50",
        "numeric_close:1%",
        "json_valid",
    ]
    assert s.metric_names() == [
        "exact_match",
        "exact_match:case,whitespace",
        "correct",
        "regex:a=b",
        "fast",
        "numeric_close:1%",
        "json_valid",
    ]


def test_paths_resolve_relative_to_the_suite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "evals" / "data", '{"input": "q", "expected": "a"}\n', "qa.jsonl")
    write(tmp_path / "evals" / "prompts", "system: Be brief.\nuser: '{{ input }}'\n", "qa.yaml")
    text = MINIMAL.replace("dataset: qa", "dataset: {name: qa, files: [data/qa.jsonl, data/*.gz]}")
    text += "templates: [{name: t, file: prompts/qa.yaml}]\nreports: [out/r.html, ../r.md]\n"
    path = write(tmp_path / "evals", text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = suite.load(Path("..") / "evals" / "suite.yaml")
    assert s.dataset.files == [tmp_path / "evals/data/qa.jsonl", tmp_path / "evals/data/*.gz"]
    assert s.dataset.version == "1"  # files load into version 1, and the runs take that one
    assert s.reports == [tmp_path / "evals/out/r.html", tmp_path / "r.md"]
    (template,) = s.templates
    assert isinstance(template, suite.InlineTemplate)
    assert template.file == tmp_path / "evals/prompts/qa.yaml"
    assert template.body == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "{{ input }}"},
    ]
    assert s.source == path.resolve()


def test_templates_stored_and_inline(tmp_path: Path) -> None:
    text = MINIMAL + (
        "templates:\n"
        "  - qa:2\n"
        "  - name: short\n"
        "    system: One word.\n"
        "    user: 'Q: {{ question }}'\n"
        "  - name: chat\n"
        "    messages: [{role: user, content: '{{ input }}'}]\n"
    )
    s = suite.load(write(tmp_path, text))
    ref, short, chat = s.templates
    assert isinstance(ref, suite.TemplateRef) and (ref.ref, ref.name) == ("qa:2", "qa")
    assert isinstance(short, suite.InlineTemplate) and short.body == [
        {"role": "system", "content": "One word."},
        {"role": "user", "content": "Q: {{ question }}"},
    ]
    assert isinstance(chat, suite.InlineTemplate)
    assert chat.body == [{"role": "user", "content": "{{ input }}"}]


def test_the_gate_becomes_a_policy(tmp_path: Path) -> None:
    text = MINIMAL + (
        "metrics: [exact_match, fast=latency_under:50]\n"
        "gate:\n"
        "  metrics: [exact_match]\n"
        "  alpha: 0.1\n"
        "  margin: {exact_match: 0.02, availability: 0}\n"
        "  correction: bh\n"
        "  missing: ignore\n"
        "  by: tag\n"
        "  cluster: metadata.document\n"
    )
    s = suite.load(write(tmp_path, text))
    assert s.policy() == Policy(
        0.1, "ignore", "bh", {"exact_match": 0.02, "availability": 0.0}, "tag", "metadata.document"
    )
    assert s.gate_metrics() == ["exact_match"]
    assert s.fail_on_regression is True
    one = suite.load(write(tmp_path, MINIMAL + "gate: {margin: 1}\n"))
    assert one.policy().margins == {"*": 1.0}


@pytest.mark.parametrize(
    ("cache", "args"),
    [
        ("auto", (None, False)),
        ("on", (True, False)),
        ("off", (False, False)),
        ("only", (None, True)),
    ],
)
def test_cache_modes(tmp_path: Path, cache: str, args: tuple[bool | None, bool]) -> None:
    assert suite.load(write(tmp_path, MINIMAL + f"cache: {cache}\n")).cache_args() == args


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            MINIMAL + "colour: red\n",
            ": colour: unknown key (known: name, description, project, dataset,",
        ),
        (
            MINIMAL + "    paramz: {temperature: 0}\n",
            ": models.1.paramz: unknown key: did you mean params?",
        ),
        (
            MINIMAL.replace("adapter: python", "adapter: opnai"),
            ": models.1.adapter: Input should be 'openai', 'azure', 'anthropic', 'bedrock', "
            "'python' or 'command', not 'opnai'",
        ),
        (MINIMAL + "repeats: five\n", ": repeats: Input should be a valid integer, not 'five'"),
        (MINIMAL + "repeats: true\n", ": repeats: Input should be a valid integer, not true"),
        (MINIMAL + "repeats: 1001\n", ": repeats: Input should be less than or equal to 1000"),
        (MINIMAL + "timeout: .nan\n", ": timeout: Input should be a finite number, not nan"),
        ("name: n\ndataset: qa\n", ": models: this key is required"),
        ("name: n\ndataset: qa\nmodels: []\n", ": models: List should have at least 1 item"),
        (
            MINIMAL + "limit: 10\nsample: {n: 5}\n",
            ": sample: limit and sample are alternatives: give one",
        ),
        (MINIMAL + "sample: {n: 5, sed: 1}\n", ": sample.sed: unknown key: did you mean seed?"),
        (
            MINIMAL.replace("dataset: qa", "dataset: {name: qa, fils: [a]}"),
            ": dataset.fils: unknown key: did you mean files?",
        ),
        (
            MINIMAL.replace("dataset: qa", "dataset: {name: qa, files: [gone.jsonl]}"),
            ": dataset.files: gone.jsonl: no such file or folder",
        ),
        (
            MINIMAL + "  - local\n",
            ": models: local is given twice (models.1 and models.2)",
        ),
        (
            MINIMAL + "metrics: [exact_match, {scorer: exact_match}]\n",
            ": metrics: exact_match is given twice (metrics.0 and metrics.1)",
        ),
        (
            MINIMAL + "templates: [{name: t, user: a}, {name: t, user: b}]\n",
            ": templates: t is given twice (templates.0 and templates.1)",
        ),
        (
            MINIMAL + "templates: [{name: t, user: a, messages: [{role: user, content: b}]}]\n",
            ": templates.0: give the template as user (and system), or messages, or file, not"
            " user and messages",
        ),
        (
            MINIMAL + "templates: [{name: t, user: '{{ oops'}]\n",
            ": templates.0: template t: message 1 (user): Jinja syntax error on line 1",
        ),
        (
            MINIMAL + "templates: [{name: t, messages: [{role: bot, content: x}]}]\n",
            ": templates.0.messages.0.role: Input should be 'system', 'user' or 'assistant'",
        ),
        (MINIMAL + "templates: [{name: t, file: gone.j2}]\n", ": templates.0.file: gone.j2: no"),
        (
            MINIMAL + "metrics: [exact_match]\ngate: {metrics: [exact_mach]}\n",
            ": gate.metrics: exact_mach is not one of the suite's metrics (exact_match)",
        ),
        (
            MINIMAL + "metrics: [exact_match]\ngate: {margin: {bleu: 0.1}}\n",
            ": gate.margin: bleu is not a metric the gate judges",
        ),
        (
            MINIMAL + "gate: {margin: -0.1}\n",
            ": gate.margin: a margin is a number of 0 or more, not -0.1",
        ),
        (MINIMAL + "gate: {alpha: 1.5}\n", ": gate.alpha: Input should be less than 1, not 1.5"),
        (MINIMAL + "gate: {correction: bonferroni}\n", ": gate.correction: Input should be"),
        (MINIMAL + "gate: {by: document}\n", ": gate.by: 'document': slice by tag or metadata"),
        (
            MINIMAL + "gate: {fail_on_regression: 'yes'}\n",
            ": gate.fail_on_regression: Input should be a valid boolean, not 'yes'",
        ),
        (MINIMAL + "reports: [out.txt]\n", ": reports: out.txt: a report is a .html or .md"),
        (MINIMAL + "baseline: [41]\n", ": baseline: a baseline is previous, a run id or a"),
        (
            MINIMAL.replace("model_id: examples.qa_models:v1", "headers: {Authorization: sk-1}"),
            ": models.1.headers: header Authorization holds a credential",
        ),
        (
            MINIMAL + "    params: {api_key: sk-1}\n",
            ": models.1.params: parameter api_key holds a credential",
        ),
        (
            MINIMAL + "    params: {since: 2024-01-01}\n",
            ": models.1.params: parameters are JSON values",
        ),
        (
            MINIMAL + "    base_url: ftp://example.com\n",
            ": models.1.base_url: 'ftp://example.com' is not an http(s) URL with a host",
        ),
        (
            MINIMAL + "    price: {input_per_mtok: -1, output_per_mtok: 1}\n",
            ": models.1.price.input_per_mtok: Input should be greater than or equal to 0",
        ),
        ("name: n\ndataset: qa\nmodels: [5]\n", ": models.0: a model is a registered name"),
        ("name: n\ndataset: 'a b:c d'\nmodels: [m]\n", ": dataset: 'a b:c d': a dataset is"),
    ],
)
def test_errors_are_one_line_with_the_key_path(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text).startswith(message)


def test_several_errors_show_the_first_and_count_the_rest(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + "colour: red\nrepeats: 0\nsize: 3\n")
    assert message.startswith(": repeats: Input should be greater than or equal to 1, not 0")
    assert message.endswith("(and 2 more)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: n\ndataset: [\nmodels: [m]\n",
            ":4: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)",
        ),
        ("name: n\n  indented: badly\nmodels: [m]\n", ":2: mapping values are not allowed here"),
        ("name: n\ndataset: qa\nmodels: [m]\nname: again\n", ":4: the key name is given twice"),
        ("", ": the file is empty"),
        ("- a list\n", ": expected a mapping of keys"),
        (
            "name: n\n---\nname: m\n",
            ":2: found another document (expected a single document in the stream)",
        ),
        ("models: " + "[" * 100_000 + "]" * 100_000 + "\n", ": YAML nested too deeply"),
    ],
)
def test_yaml_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text).startswith(message)


def test_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    message = error_of(tmp_path, "\n".join(lines) + "\nname: n\n")
    assert message.startswith(":2: aliases (*a) are not allowed in a suite file")


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(EvaltoolError, match=r"gone\.yaml: cannot read .*gone\.yaml"):
        suite.load(tmp_path / "gone.yaml")
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (suite.MAX_BYTES + 1))
    with pytest.raises(EvaltoolError, match="larger than 10 MB"):
        suite.load(path)
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(EvaltoolError, match="not UTF-8"):
        suite.load(path)


def test_the_published_schema_is_current() -> None:
    """docs/suite.schema.json is what json_schema() gives (make docs rewrites it)."""
    published = (REPO / "docs" / "suite.schema.json").read_text(encoding="utf-8")
    assert published == suite.schema_text()
    assert json.loads(published) == suite.json_schema()


def test_the_schema_describes_every_key() -> None:
    schema = suite.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "evaltool suite file"
    assert schema["required"] == ["name", "dataset", "models"]
    undescribed = []
    for owner, part in [("suite", schema), *schema["$defs"].items()]:
        assert part["additionalProperties"] is False, owner
        for key, field in part["properties"].items():
            if not field.get("description"):
                undescribed.append(f"{owner}.{key}")
    assert undescribed == []
    # the short forms are in the schema too, for editors
    items = schema["properties"]["models"]["items"]["anyOf"]
    assert {"type": "string"} in items


def test_adapters_match_the_registry() -> None:
    assert list(typing.get_args(suite.Adapter)) == models.ADAPTERS


def test_the_guide_names_every_key() -> None:
    guide = (REPO / "docs" / "suite.md").read_text(encoding="utf-8")
    keys = set(suite.Suite.model_fields) | set(suite.Gate.model_fields)
    keys |= set(suite.InlineModel.model_fields) | set(suite.InlineTemplate.model_fields)
    assert sorted(k for k in keys if f"`{k}`" not in guide and f"{k}:" not in guide) == []


def test_the_suites_the_guides_show_are_valid(tmp_path: Path) -> None:
    """Every whole suite the README and the guides show (a YAML block with a name and
    models) loads, with
    the files its dataset names present."""
    shown = 0
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(), re.DOTALL)):
            doc = yaml.safe_load(block)
            if not isinstance(doc, dict) or not {"name", "models"} <= doc.keys():
                continue  # a part of a suite, showing some keys
            folder = tmp_path / f"{page.stem}-{i}"
            dataset = doc.get("dataset")
            for name in dataset.get("files", []) if isinstance(dataset, dict) else []:
                write(folder, "", name)
            suite.load(write(folder, block))
            shown += 1
    assert shown >= 2  # the README's and the guide's
