"""Suite files: a whole evaluation in one YAML file, read and checked before anything runs.

`evaltool eval SUITE.yaml` runs what the file describes: the dataset (loaded first when it
names files), the prompt templates, the models, the metrics, repeats and sampling, the
baseline to compare against, the gate and the reports. `load` reads a file into a `Suite`
whose fields are already normalised (paths absolute, strings turned into references), so
that the executor never parses again; any problem is one EvaltoolError line naming the file
and the key path: `suite.yaml: models.1.adapter: Input should be 'openai', ...`.

The pydantic models below are the file's only definition: `json_schema()` is published as
docs/suite.schema.json (docs/generate.py writes it; a test compares it), and docs/suite.md
is the guide. Every model forbids unknown keys.
"""

import difflib
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pydantic
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from evaltool import models as model_registry
from evaltool import scoring, templates
from evaltool.compare import Policy
from evaltool.datasets import DEFAULT_PROJECT, DatasetRef
from evaltool.errors import EvaltoolError

# A suite file, or a template file it names, larger than this is refused unread.
MAX_BYTES = 10 * 1024 * 1024
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "evaltool suite file"
REPORT_SUFFIXES = (".html", ".md")
# NAME[:VERSION] of a dataset, as evaltool.datasets reads it
_DATASET_REF = re.compile(r"^([^:\s][^:]*)(?::([^:\s]+))?$")
_TEMPLATE_REF = re.compile(r"^(.+?)(?::([0-9]+))?$")
_GLOB_CHARS = re.compile(r"[*?\[]")
# compare's --by and --cluster keys
_METADATA_KEY = re.compile(r"^metadata\.[^.]+(\.[^.]+)*$")
_PRICE_MAX = 1e8  # model_price columns are numeric(14, 6)
_PREVIOUS = "previous"
_METRIC_NAMES = "metric_names"  # the key of the validation context that carries them


class _Model(BaseModel):
    """Every part of a suite file: unknown keys are errors, numbers are finite, and a
    number given where text is expected (version: 2) is read as that text."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True)


# ---------------------------------------------------------------------------- checks


def _name(value: str) -> str:
    """A name: not blank, no control characters."""
    if not value.strip():
        raise ValueError("must not be empty or blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{value!r} must not contain control characters")
    return value


Name = Annotated[str, pydantic.AfterValidator(_name)]
Count = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]


def _base(info: ValidationInfo) -> Path:
    """The folder relative paths start from: the suite file's, else the current one."""
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base")
    return Path(base) if base is not None else Path.cwd()


def _resolve(text: str, base: Path) -> Path:
    return (base / Path(text).expanduser()).resolve()


def _user_error(exc: EvaltoolError) -> ValueError:
    """An evaltool check's message as a pydantic error (which reports ValueErrors only)."""
    return ValueError(str(exc))


# ---------------------------------------------------------------------------- dataset


class DatasetSpec(_Model):
    """The test cases: a dataset NAME or NAME:VERSION that exists, or a mapping that can
    also load files into it first (loading what is already there adds nothing)."""

    name: Name = Field(description="The dataset's name.")
    version: str | None = Field(
        default=None,
        description='The dataset\'s version (e.g. "1"); default: "1" when files are given '
        "(as evaltool load), else the highest version.",
    )
    files: list[Path] = Field(
        default_factory=list,
        description="JSON Lines files (or folders, or globs) of test cases to load into the "
        "dataset before the runs, relative to the suite file; test cases already loaded are "
        "not loaded again, as with evaltool load prompts.",
    )

    @field_validator("files", mode="before")
    @classmethod
    def _files(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list):
            return value
        base = _base(info)
        found = []
        for item in value:
            if not isinstance(item, str):
                return value  # pydantic names the item's type error
            if not item.strip() or item == "-":
                raise ValueError(f"{item!r}: give a path (standard input cannot be read)")
            path = _resolve(item, base)
            if not _GLOB_CHARS.search(item) and not path.exists():
                raise ValueError(f"{item}: no such file or folder ({path})")
            found.append(path)
        return found

    @field_validator("version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^:\s]+", value):
            raise ValueError(f"{value!r}: a version has no spaces and no ':'")
        return value

    @model_validator(mode="after")
    def _loaded_version(self) -> "DatasetSpec":
        # evaltool load puts files into version 1 unless told: the runs take that one too,
        # not a higher version that may exist
        if self.files and self.version is None:
            self.version = "1"
        return self

    def ref(self, project: str | None = None) -> DatasetRef:
        """The dataset as evaltool.datasets names it."""
        return DatasetRef(self.name, self.version, project or DEFAULT_PROJECT)


def _dataset(value: Any) -> Any:
    if isinstance(value, str):
        match = _DATASET_REF.match(value.strip())
        if not match:
            raise ValueError(f"{value!r}: a dataset is named NAME or NAME:VERSION")
        return {"name": match.group(1), "version": match.group(2)}
    return value


# ---------------------------------------------------------------------------- templates


class Message(_Model):
    """One chat message of a template."""

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(
        description="Jinja over the test case: {{ input }}, {{ expected }}, {{ metadata }}, "
        "{{ tags }}, and each key of an object input ({{ question }})."
    )


class TemplateRef(_Model):
    """A stored template, NAME or NAME:VERSION (its latest version without one)."""

    ref: Name = Field(description="NAME or NAME:VERSION, as evaltool templates list shows it.")

    @property
    def name(self) -> str:
        match = _TEMPLATE_REF.match(self.ref)
        assert match is not None  # the pattern matches any non-empty text
        return match.group(1)


class InlineTemplate(_Model):
    """A template written in the suite, stored as a version of NAME when the suite runs:
    `user` (and `system`), or `messages`, or a template `file`."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["user"]}, {"required": ["messages"]}, {"required": ["file"]}]
        }
    )

    name: Name = Field(description="The template's name (no ':'); runs are labelled with it.")
    description: str | None = Field(default=None, description="Free text kept with it.")
    system: str | None = Field(default=None, description="The system message (Jinja).")
    user: str | None = Field(
        default=None, description="The user message (Jinja), e.g. 'Q: {{ question }}'."
    )
    messages: list[Message] | None = Field(
        default=None,
        description="The messages, instead of system and user; after loading, the "
        "template's messages whichever way they were given.",
    )
    file: Path | None = Field(
        default=None,
        description="A template file, relative to the suite file, as evaltool templates add "
        "reads it (.yaml/.json with system and user or messages; .j2/.txt: the user message).",
    )

    @field_validator("name")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if ":" in value:
            raise ValueError(f"{value!r}: a template name has no ':'")
        return value

    @field_validator("file", mode="before")
    @classmethod
    def _file(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        path = _resolve(value, _base(info))
        if not path.is_file():
            raise ValueError(f"{value}: no such file ({path})")
        return path

    @model_validator(mode="after")
    def _body(self) -> "InlineTemplate":
        given = [k for k in ("messages", "file") if getattr(self, k) is not None]
        if self.user is not None or self.system is not None:
            given.insert(0, "user" if self.system is None else "system and user")
        if len(given) != 1:
            raise ValueError(
                "give the template as user (and system), or messages, or file"
                + (f", not {' and '.join(given)}" if given else "")
            )
        source = f"template {self.name}"
        try:
            if self.file is not None:
                body = templates.parse_body(_read_text(self.file), source=self.file.name)
            elif self.messages is not None:
                body = templates.check_body([m.model_dump() for m in self.messages], source=source)
            else:
                if self.user is None:
                    raise EvaltoolError(f"{source}: no user message: add user: with its text")
                pairs = (("system", self.system), ("user", self.user))
                body = templates.check_body(
                    [{"role": r, "content": c} for r, c in pairs if c is not None], source=source
                )
        except (EvaltoolError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        self.messages = [Message.model_validate(m) for m in body]
        return self

    @property
    def body(self) -> list[dict[str, str]]:
        """The messages as evaltool.templates stores them."""
        return [m.model_dump() for m in self.messages or []]


def _template_tag(value: Any) -> str:
    return "TemplateRef" if isinstance(value, str | TemplateRef) else "InlineTemplate"


def _template(value: Any) -> Any:
    if isinstance(value, str):
        return TemplateRef(ref=_name(value))
    if not isinstance(value, dict | BaseModel):
        raise ValueError("a template is NAME[:VERSION] (a stored one) or a mapping with name")
    return value


TemplateSpec = Annotated[
    Annotated[TemplateRef, Tag("TemplateRef")] | Annotated[InlineTemplate, Tag("InlineTemplate")],
    Discriminator(_template_tag),
    BeforeValidator(_template, json_schema_input_type=str | InlineTemplate),
]


# ---------------------------------------------------------------------------- models


class ModelRef(_Model):
    """A model registered with evaltool models add."""

    name: Name = Field(description="The registered model's name.")


class Price(_Model):
    """USD per million tokens, in force from when the suite runs on."""

    input_per_mtok: Annotated[float, Field(strict=True, ge=0, lt=_PRICE_MAX)] = Field(
        description="USD per million input tokens."
    )
    output_per_mtok: Annotated[float, Field(strict=True, ge=0, lt=_PRICE_MAX)] = Field(
        description="USD per million output tokens."
    )


# evaltool.models.ADAPTERS, spelt out for the schema (a test keeps them equal)
Adapter = Literal["openai", "azure", "anthropic", "bedrock", "python", "command"]


class InlineModel(_Model):
    """A model defined in the suite: registered under `name` when the suite runs, or, when
    a model of that name exists, its price and parameters brought to these."""

    name: Name = Field(description="The model's name in evaltool.")
    adapter: Adapter = Field(
        description="How evaltool calls it: openai (any OpenAI-compatible server: Gemini's and "
        "Ollama's too), azure (Azure OpenAI: model_id the deployment), anthropic, bedrock, "
        "python (model_id module:function) or command (model_id a shell command)."
    )
    model_id: Name | None = Field(
        default=None,
        description="The provider's identifier, module:function for python, or the command "
        "(default: name).",
    )
    provider: Name | None = Field(
        default=None, description="Who serves it (default: the adapter, or local)."
    )
    base_url: str | None = Field(
        default=None, description="API base URL (http or https), e.g. a vLLM or Ollama server."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers; a credential only as ${VAR} (or 'Bearer ${VAR}'), "
        "read from the environment at call time.",
    )
    api_key_env: Name | None = Field(
        default=None,
        description="Environment variable with the API key (default OPENAI_API_KEY or "
        "ANTHROPIC_API_KEY).",
    )
    region: Name | None = Field(default=None, description="AWS region (bedrock).")
    version: Name | None = Field(default=None, description="Version label.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Generation parameters, e.g. {temperature: 0}; no credentials.",
    )
    price: Price | None = Field(default=None, description="Price per million tokens.")
    description: str | None = Field(default=None, description="Free text.")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            host, _ = parts.hostname, parts.port
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a URL: {exc}") from None
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise ValueError(f"{value!r} is not an http(s) URL with a host")
        try:
            model_registry.check_base_url(value)
        except EvaltoolError as exc:
            raise _user_error(exc) from None
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for header in value:
            if not header.strip() or " " in header or ":" in header:
                raise ValueError(f"{header!r} is not a header name")
        try:
            model_registry.check_headers(value)
        except EvaltoolError as exc:
            raise ValueError(str(exc).replace("--header ", "header ")) from None
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameters are JSON values (numbers, text, lists): {exc}") from None
        try:
            model_registry.check_params(value, "parameter")
        except EvaltoolError as exc:
            raise _user_error(exc) from None
        return value


def _model_tag(value: Any) -> str:
    return "ModelRef" if isinstance(value, str | ModelRef) else "InlineModel"


def _model(value: Any) -> Any:
    if isinstance(value, str):
        return ModelRef(name=_name(value))
    if not isinstance(value, dict | BaseModel):
        raise ValueError("a model is a registered name, or a mapping with name and adapter")
    return value


ModelSpec = Annotated[
    Annotated[ModelRef, Tag("ModelRef")] | Annotated[InlineModel, Tag("InlineModel")],
    Discriminator(_model_tag),
    BeforeValidator(_model, json_schema_input_type=str | InlineModel),
]


# ---------------------------------------------------------------------------- metrics


class Metric(_Model):
    """A metric as a mapping: the scorer, its argument, and the name scores are kept under."""

    name: str | None = Field(
        default=None,
        description="The metric's name (letters, digits, _ . -); default: SCORER[:ARG].",
    )
    scorer: Name = Field(
        description="A scorer: a built-in SQL one (evaltool scorers / SELECT * FROM "
        "evaltool.scorer), python, llm_judge, or one registered by a package."
    )
    arg: str | None = Field(
        default=None,
        description='The scorer\'s argument, e.g. "all" or "50" (a number is read as its text).',
    )

    @field_validator("name")
    @classmethod
    def _metric_name(cls, value: str | None) -> str | None:
        if value is not None and not scoring._NAME.match(value):
            raise ValueError(f"{value!r}: a metric name is letters, digits, _ . and -")
        return value

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, value: str) -> str:
        if ":" in value or "=" in value:
            raise ValueError(f"{value!r}: a scorer name has no ':' or '=' (give arg apart)")
        return value

    @property
    def spec(self) -> str:
        """The metric in --metric syntax, NAME=SCORER[:ARG]."""
        text = self.scorer if self.arg is None else f"{self.scorer}:{self.arg}"
        return text if self.name is None else f"{self.name}={text}"


def _metric(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = scoring.parse_metric(value)
        except EvaltoolError:
            raise ValueError(
                f"{value!r}: a metric is [NAME=]SCORER[:ARG], e.g. exact_match:case"
            ) from None
        found = {"name": parsed.name, "scorer": parsed.scorer, "arg": parsed.arg}
        return {key: v for key, v in found.items() if v is not None}
    if not isinstance(value, dict | BaseModel):
        raise ValueError("a metric is [NAME=]SCORER[:ARG] or a mapping with scorer")
    return value


MetricSpec = Annotated[Metric, BeforeValidator(_metric, json_schema_input_type=str | Metric)]


# ---------------------------------------------------------------------------- the rest


class Sample(_Model):
    """A random sample of the test cases instead of all of them."""

    n: Count = Field(description="How many test cases.")
    seed: str | None = Field(
        default=None,
        description="Seed of the sample: the same seed draws the same test cases (default: "
        "random, and recorded with the run).",
    )


class Gate(_Model):
    """The comparison with the baseline that decides the exit code, as evaltool compare
    --fail-on-regression judges it."""

    metrics: list[Name] | None = Field(
        default=None,
        description="The metrics the gate judges (availability is always judged); default: "
        "all the suite's metrics.",
    )
    alpha: Annotated[float, Field(strict=True, gt=0, lt=1)] = Field(
        default=0.05, description="Error rate of the whole gate (1 - alpha: the confidence)."
    )
    margin: (
        Annotated[float, Field(strict=True, ge=0)]
        | dict[str, Annotated[float, Field(strict=True, ge=0)]]
        | None
    ) = Field(
        default=None,
        description="Non-inferiority margin: the gate passes a metric only if its interval's "
        "lower end is above -margin. One number for every metric, or {metric: margin}.",
    )
    correction: Literal["holm", "bh", "none"] = Field(
        default="holm", description="Adjustment for testing many metrics at once."
    )
    missing: Literal["worst", "ignore"] = Field(
        default="worst",
        description="A test case the candidate lacks counts as a failure or the metric's "
        "worst value (worst), or is left out (ignore).",
    )
    by: str | None = Field(
        default=None, description="A verdict per slice too: tag or metadata.KEY."
    )
    cluster: str | None = Field(
        default=None,
        description="metadata.KEY: test cases sharing its value are one unit (e.g. questions "
        "on one document).",
    )
    fail_on_regression: Annotated[bool, Field(strict=True)] = Field(
        default=True,
        description="Exit 1 when a metric is worse (with a margin: not shown within it); "
        "false reports the verdicts without failing.",
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        names = _metric_names(info)
        if names is not None:
            _check_gate(value, None, names)
        return value

    @field_validator("margin", mode="before")
    @classmethod
    def _margin(cls, value: Any) -> Any:
        # checked here, so that an error names the margin rather than a branch of the union
        def number(given: Any, where: str) -> float:
            if isinstance(given, bool) or not isinstance(given, int | float):
                raise ValueError(f"{where}a margin is a number, not {_shown(given)}")
            if not (math.isfinite(given) and given >= 0):
                raise ValueError(f"{where}a margin is a number of 0 or more, not {given}")
            return float(given)

        if value is None:
            return None
        if isinstance(value, dict):
            return {str(k): number(v, f"{k}: ") for k, v in value.items()}
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("a margin is a number, or a mapping of metric names to numbers")
        return number(value, "")

    @field_validator("margin")
    @classmethod
    def _judged_margin(
        cls, value: float | dict[str, float] | None, info: ValidationInfo
    ) -> float | dict[str, float] | None:
        names = _metric_names(info)
        if names is not None and "metrics" in info.data:
            _check_gate(info.data["metrics"], value, names)
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: str | None) -> str | None:
        if value is not None and value != "tag" and not _METADATA_KEY.match(value):
            raise ValueError(f"{value!r}: slice by tag or metadata.KEY (metadata.domain)")
        return value

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str | None) -> str | None:
        if value is not None and not _METADATA_KEY.match(value):
            raise ValueError(f"{value!r}: cluster by metadata.KEY (metadata.document)")
        return value


def _metric_names(info: ValidationInfo) -> list[str] | None:
    """The suite's metric names, which Suite's metrics validator leaves in the context."""
    context = info.context if isinstance(info.context, dict) else {}
    names = context.get(_METRIC_NAMES)
    return list(names) if names is not None else None


def _check_gate(
    metrics: list[str] | None, margin: float | dict[str, float] | None, names: list[str]
) -> None:
    """The gate names only the suite's metrics (and availability)."""
    known = {*names, "availability"}
    for metric in metrics or []:
        if metric not in known:
            raise ValueError(
                f"{metric} is not one of the suite's metrics ({', '.join(names) or 'none'}) "
                "nor availability"
            )
    if isinstance(margin, dict):
        judged = {*(metrics or names), "availability", "*"}
        for metric in margin:
            if metric not in judged:
                raise ValueError(f"{metric} is not a metric the gate judges")


@dataclass(frozen=True)
class Baseline:
    """What the suite's runs are compared with.

    kind "previous": the suite's last completed run (of its first model and template);
    "run": run `run_id`; "model": `model`'s run in this evaluation when `in_suite`, else
    that model's latest completed run."""

    kind: Literal["previous", "run", "model"]
    run_id: int | None = None
    model: str | None = None
    in_suite: bool = False


class Suite(_Model):
    """An evaluation: a dataset, models and metrics, and what to compare and report."""

    model_config = ConfigDict(
        title=SCHEMA_TITLE,
        json_schema_extra={"not": {"required": ["limit", "sample"]}},
    )

    name: Name = Field(
        description="The suite's name: its runs are named after it, and baseline: previous "
        "finds its last run by it."
    )
    description: str | None = Field(default=None, description="Free text.")
    project: Name | None = Field(
        default=None, description="The dataset's project (default: default)."
    )
    dataset: Annotated[
        DatasetSpec, BeforeValidator(_dataset, json_schema_input_type=str | DatasetSpec)
    ] = Field(description="The test cases: NAME[:VERSION] of an existing dataset, or a mapping.")
    templates: list[TemplateSpec] = Field(
        default_factory=list,
        description="Prompt templates; each model runs once with each. None: the test cases' "
        "inputs are sent as they are.",
    )
    models: Annotated[list[ModelSpec], Field(min_length=1)] = Field(
        description="The models to run: registered names, or definitions (name, adapter, ...)."
    )
    metrics: list[MetricSpec] = Field(
        default_factory=list,
        description="Scorers applied to every run: [NAME=]SCORER[:ARG] as in evaltool score "
        "--metric, or {name, scorer, arg}.",
    )
    repeats: Annotated[int, Field(strict=True, ge=1, le=1000)] = Field(
        default=1, description="Ask each test case this many times (samples)."
    )
    limit: Count | None = Field(
        default=None, description="Only the first N test cases (by id); not with sample."
    )
    sample: Sample | None = Field(
        default=None, description="Only a random sample of the test cases; not with limit."
    )
    concurrency: Annotated[int, Field(strict=True, ge=1, le=4096)] = Field(
        default=8, description="Calls in flight at once, per run."
    )
    rpm: Annotated[float, Field(strict=True, gt=0)] | None = Field(
        default=None, description="At most this many requests a minute, per run."
    )
    tpm: Annotated[float, Field(strict=True, gt=0)] | None = Field(
        default=None, description="At most this many tokens a minute, per run."
    )
    timeout: Annotated[float, Field(strict=True, gt=0)] = Field(
        default=120.0, description="Seconds one call may take."
    )
    max_retries: Annotated[int, Field(strict=True, ge=0, le=100)] = Field(
        default=5, description="Retries of a call that failed on a 429, a 5xx or a timeout."
    )
    cache: Annotated[
        Literal["auto", "on", "off", "only"],
        # YAML 1.1 reads a bare on and off as true and false
        BeforeValidator(
            lambda v: {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v
        ),
    ] = Field(
        default="auto",
        description="The response cache: auto (on for API models, off for python and "
        "command models), on, off, or only (answer from the cache; a miss is an error).",
    )
    tags: list[Name] = Field(default_factory=list, description="Tags given to every run.")
    reference: Name | None = Field(
        default=None,
        description="A model whose run in this evaluation (or, if it is not one of the "
        "suite's models, latest completed run) is the reference of reference-based scoring.",
    )
    baseline: int | str | None = Field(
        default=None,
        description="What the runs are compared with: previous (the suite's last completed "
        "run), a run id, or a model name (its run here if it is one of the suite's models, "
        "else its latest completed run). Default: none for a single run, the first model's "
        "run when there are several.",
    )
    gate: Gate | None = Field(
        default=None, description="Decide the exit code from the comparison with the baseline."
    )
    reports: list[Path] = Field(
        default_factory=list,
        description="Reports to write, .html or .md, relative to the suite file.",
    )

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("templates")
    @classmethod
    def _unique_templates(
        cls, value: list[TemplateRef | InlineTemplate]
    ) -> list[TemplateRef | InlineTemplate]:
        seen: dict[str, int] = {}
        inline = {t.name: i for i, t in enumerate(value) if isinstance(t, InlineTemplate)}
        for number, item in enumerate(value):
            key = item.ref if isinstance(item, TemplateRef) else item.name
            if key in seen:
                raise ValueError(
                    f"{key} is given twice (templates.{seen[key]} and templates.{number})"
                )
            seen[key] = number
            if isinstance(item, TemplateRef) and item.name in inline:
                raise ValueError(
                    f"templates.{number} ({item.ref}) is a stored version of the template that "
                    f"templates.{inline[item.name]} defines: rename one"
                )
        return value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[ModelRef | InlineModel]) -> list[ModelRef | InlineModel]:
        seen: dict[str, int] = {}
        for number, item in enumerate(value):
            if item.name in seen:
                raise ValueError(
                    f"{item.name} is given twice (models.{seen[item.name]} and models.{number})"
                )
            seen[item.name] = number
        return value

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, value: list[Metric], info: ValidationInfo) -> list[Metric]:
        seen: dict[str, int] = {}
        for number, item in enumerate(value):
            name = scoring.parse_metric(item.spec).metric
            if name in seen:
                raise ValueError(
                    f"{name} is given twice (metrics.{seen[name]} and metrics.{number}): "
                    "give one a name of its own (NAME=SCORER[:ARG])"
                )
            seen[name] = number
        if isinstance(info.context, dict):
            info.context[_METRIC_NAMES] = list(seen)  # for the gate's checks, which follow
        return value

    @field_validator("sample")
    @classmethod
    def _one_subset(cls, value: Sample | None, info: ValidationInfo) -> Sample | None:
        if value is not None and info.data.get("limit") is not None:
            raise ValueError("limit and sample are alternatives: give one")
        return value

    @field_validator("baseline", mode="before")
    @classmethod
    def _baseline(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str | None):
            raise ValueError("a baseline is previous, a run id or a model name")
        if isinstance(value, int) and not 1 <= value <= 2**63 - 1:
            raise ValueError(f"{value}: a run id is a positive whole number")
        if isinstance(value, str):
            _name(value)
        return value

    @field_validator("gate")
    @classmethod
    def _gate_metrics(cls, value: Gate | None, info: ValidationInfo) -> Gate | None:
        # load() has Gate check its names as it validates them (naming the key); this is
        # for a suite validated without that context
        if value is not None and "metrics" in info.data and _metric_names(info) is None:
            names = [scoring.parse_metric(m.spec).metric for m in info.data["metrics"]]
            _check_gate(value.metrics, value.margin, names)
        return value

    @field_validator("reports", mode="before")
    @classmethod
    def _reports(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list):
            return value
        found = []
        for item in value:
            if not isinstance(item, str):
                return value
            if Path(item).suffix.lower() not in REPORT_SUFFIXES:
                raise ValueError(f"{item}: a report is a .html or .md file")
            found.append(_resolve(item, _base(info)))
        if len(set(found)) < len(found):
            raise ValueError("a report file is named twice")
        return found

    # ------------------------------------------------------------ for the executor

    @property
    def source(self) -> Path | None:
        """The suite file, when it was read by load()."""
        return self._source

    def dataset_ref(self) -> DatasetRef:
        """The dataset, in the suite's project."""
        return self.dataset.ref(self.project)

    def template_specs(self) -> list[TemplateRef | InlineTemplate | None]:
        """The templates each model runs with: [None] (inputs as they are) when none."""
        return list(self.templates) or [None]

    def model_names(self) -> list[str]:
        return [m.name for m in self.models]

    def inline_models(self) -> list[InlineModel]:
        return [m for m in self.models if isinstance(m, InlineModel)]

    def metric_specs(self) -> list[str]:
        """The metrics as evaltool score --metric takes them: [NAME=]SCORER[:ARG]."""
        return [m.spec for m in self.metrics]

    def metric_names(self) -> list[str]:
        """The names the metrics' scores are stored under."""
        return [scoring.parse_metric(m.spec).metric for m in self.metrics]

    def cache_args(self) -> tuple[bool | None, bool]:
        """(cache, cache_only) as evaltool.runner.cache_mode takes them."""
        return {"auto": None, "on": True, "off": False, "only": None}[self.cache], (
            self.cache == "only"
        )

    def baseline_spec(self) -> Baseline | None:
        """The baseline, with the default applied: None for a single run."""
        names = self.model_names()
        if self.baseline is None:
            if len(names) * len(self.template_specs()) == 1:
                return None
            return Baseline("model", model=names[0], in_suite=True)
        if isinstance(self.baseline, int):
            return Baseline("run", run_id=self.baseline)
        if self.baseline == _PREVIOUS:
            return Baseline("previous")
        if self.baseline.isdigit():
            return Baseline("run", run_id=int(self.baseline))
        return Baseline("model", model=self.baseline, in_suite=self.baseline in names)

    def policy(self) -> Policy:
        """How the comparison is judged (compare.Policy): the gate's settings, or the
        defaults of evaltool compare without a gate."""
        gate = self.gate or Gate()
        margin = gate.margin
        margins = {"*": float(margin)} if isinstance(margin, int | float) else dict(margin or {})
        return Policy(gate.alpha, gate.missing, gate.correction, margins, gate.by, gate.cluster)

    def gate_metrics(self) -> list[str] | None:
        """The metrics the gate judges; None: all of them."""
        return list(self.gate.metrics) if self.gate and self.gate.metrics else None

    @property
    def fail_on_regression(self) -> bool:
        """Whether a worse metric fails the suite (exit 1)."""
        return self.gate is not None and self.gate.fail_on_regression


# ---------------------------------------------------------------------------- reading


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses aliases, since `*name` can expand a small file into
    billions of nodes (the "billion laughs") and a suite needs none, and a key given twice
    in one mapping, which YAML would otherwise settle silently by keeping the last."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, typing.Hashable) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key} is given twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases (*{event.anchor}) are not allowed in a suite file: repeat the value",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load(path: Path) -> Suite:
    """Read and check a suite file; EvaltoolError with one line naming the problem."""
    label = str(path)
    try:
        text = _read_text(path)
    except ValueError as exc:
        raise EvaltoolError(f"{label}: {exc}") from None
    return parse(text, source=label, base=path.resolve().parent, path=path.resolve())


def parse(text: str, *, source: str, base: Path, path: Path | None = None) -> Suite:
    """A suite from its YAML text; `source` names it in errors, relative paths start at
    `base`."""
    loader = _Loader(text)  # what yaml.safe_load does, with aliases refused
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = (exc.problem or "not valid YAML").removeprefix("but ")
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise EvaltoolError(f"{where}: {' '.join(problem.split())}") from None
    except RecursionError:
        raise EvaltoolError(f"{source}: YAML nested too deeply") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise EvaltoolError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
    if doc is None:
        raise EvaltoolError(f"{source}: the file is empty: start from evaltool eval --init")
    if not isinstance(doc, dict):
        raise EvaltoolError(f"{source}: expected a mapping of keys (name:, dataset:, models:, ...)")
    try:
        suite = Suite.model_validate(doc, context={"base": base})
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise EvaltoolError(f"{source}: {describe(errors[0])}{more}") from None
    suite._source = path
    return suite


def _read_text(path: Path) -> str:
    """A file's UTF-8 text, at most MAX_BYTES; ValueError saying why not."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path} is larger than {MAX_BYTES // 1024 // 1024} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start})") from None


# The tags of the unions in error locations, with the model each stands for.
_TAGS: dict[str, type[BaseModel]] = {
    "TemplateRef": TemplateRef,
    "InlineTemplate": InlineTemplate,
    "ModelRef": ModelRef,
    "InlineModel": InlineModel,
}
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def describe(error: Any) -> str:
    """One pydantic error as `key.path: what is wrong`."""
    loc = _path(error["loc"])
    where = ".".join(str(part) for part in loc)
    kind, message = error["type"], error["msg"]
    for prefix in _MESSAGE_PREFIXES:
        message = message.removeprefix(prefix)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        key = str(loc[-1])
        message = "unknown key"
        if model is not None:
            keys = list(model.model_fields)
            close = difflib.get_close_matches(key, keys, n=1)
            message += f": did you mean {close[0]}?" if close else f" (known: {', '.join(keys)})"
    elif kind == "missing":
        message = "this key is required"
    elif "input" in error and _scalar(error["input"]) and not kind.startswith("value_error"):
        message = f"{message}, not {_shown(error['input'])}"
    message = " ".join(message.split())
    return f"{where}: {message}" if where else message


def _path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location without the union tags pydantic puts after a list index."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i and isinstance(loc[i - 1], int) and part in _TAGS)
    )


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class at a location of the suite (after _path), if it is one."""
    current: Any = Suite
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        if origin is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The one model or container inside Annotated[...] and X | None; for a union of
    models (ModelRef | InlineModel), the inline one: only it has keys to name."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            rich = [m for m in models if m not in (TemplateRef, ModelRef)]
            containers = [a for a in args if typing.get_origin(a) in (list, dict)]
            annotation = (rich or models or containers or [None])[-1]
        else:
            return annotation


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------- schema, init


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a suite file (published as docs/suite.schema.json)."""
    schema = Suite.model_json_schema()
    return {"$schema": SCHEMA_DIALECT, **schema, "title": SCHEMA_TITLE}


def schema_text() -> str:
    """json_schema() as the file docs/suite.schema.json holds it."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


STARTER = """\
# An evaltool suite: one whole evaluation. Run it with `evaltool eval suite.yaml`.
# Every key is described in docs/suite.md; editors complete and check this file with
# evaltool's JSON Schema, docs/suite.schema.json (for VS Code's YAML extension, add the line
# `# yaml-language-server: $schema=PATH/TO/suite.schema.json` at the top).
# Relative paths (dataset files, templates, reports) start at this file's folder.

# The suite's name: its runs are named after it, and `baseline: previous` finds the last one.
name: qa-starter
description: Two versions of the demo's local model on the demo's questions.

# The test cases: an existing dataset (NAME or NAME:VERSION), or files to load into one
# first. Loading a file again adds nothing: the test cases already there are kept.
dataset:
  name: demo-qa
  files: [examples/qa.jsonl]

# Prompt templates: each model runs once with each. With none, the test cases' inputs are
# sent as they are. A stored template is NAME or NAME:VERSION (evaltool templates list);
# an inline one has a name and user (and system), or messages, or file:
# templates:
#   - qa:2
#   - name: qa-short
#     system: Answer in one word.
#     user: "{{ input }}"

# The models: registered names (evaltool models list), or definitions, registered (or
# brought up to date) when the suite runs. Adapters: openai, anthropic, bedrock, python,
# command. API keys come from the environment, never from this file.
models:
  - name: demo-v1
    adapter: python
    model_id: examples.qa_models:v1
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60}
  - name: demo-v2
    adapter: python
    model_id: examples.qa_models:v2
    params: {temperature: 0.8}
    price: {input_per_mtok: 0.25, output_per_mtok: 1.00}

# The metrics: [NAME=]SCORER[:ARG] as in `evaltool score --metric`, or {name, scorer, arg}.
# The scorers: `SELECT * FROM evaltool.scorer`, and evaltool score --help.
metrics:
  - exact_match:all
  - numeric_close
  - edit_similarity
  - {name: fast, scorer: latency_under, arg: "50"}

# Ask each test case this many times: a model sampled at a temperature above 0 answers
# differently, and repeats tell a regression from that noise.
repeats: 3

# Only part of the dataset: `limit: 100` (the first 100 test cases) or a seeded sample.
# sample: {n: 100, seed: "7"}

# Calls in flight at once, per run; rpm and tpm cap requests and tokens a minute.
concurrency: 8

# The response cache: auto (on for API models, off for python and command ones), on, off,
# or only (answer from the cache alone).
cache: auto

# What the runs are compared with: previous (the suite's last run), a run id, or a model
# name (its run here if it is one of the models above, else its latest run).
baseline: demo-v1

# The gate: the comparison with the baseline that decides the exit code (1 when a metric
# is worse), as `evaltool compare --fail-on-regression` judges it.
gate:
  metrics: [exact_match:all, numeric_close]  # default: every metric
  alpha: 0.05                                 # error rate of the whole gate
  correction: holm                            # holm, bh or none
  missing: worst                              # unanswered test cases count as failures
  # margin: 0.02                              # non-inferiority: at most 2 points worse
  fail_on_regression: false                   # true in CI: exit 1 on a regression

# Reports to write (.html or .md), relative to this file.
reports:
  - reports/out/qa-starter.html
  - reports/out/qa-starter.md
"""


def init(path: Path) -> None:
    """Write the starter suite to `path`; an existing file is never overwritten."""
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(STARTER)
    except FileExistsError:
        raise EvaltoolError(f"{path} exists: give another path, or edit it") from None
    except OSError as exc:
        raise EvaltoolError(f"cannot write {path}: {exc.strerror or exc}") from None
