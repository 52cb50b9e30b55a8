"""promptfoo: the results file of `promptfoo eval -o results.json`, and test files.

A results file holds one result per prompt, provider and test case: each prompt and
provider becomes a run, each test case's vars a test case (its input), each assertion of
the grading result a metric, beside "pass" (promptfoo's verdict, with its score as value).
Test files (CSV with `__expected` columns; YAML or JSON with `tests:` or a list of tests)
become a dataset. An assertion that only says what the output equals is the expected
output; other assertions are kept in the test case's metadata.
"""

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

import yaml

from evaltool.imports import Batch, RunInfo
from evaltool.imports.read import (
    dataset_name,
    fail,
    iso_time,
    json_document,
    number,
    obj,
    run_key,
    short,
    split_model,
    unix_time,
)
from evaltool.load import documents
from evaltool.load.formats import csv_rows
from evaltool.load.sources import InputError, Source

# "contains: Paris", "not-icontains:x", "similar(0.9): a greeting"
_ASSERTION = re.compile(r"(?s)^(not-)?([a-z][a-z0-9-]*)(?:\(([^)]*)\))?:\s?(.*)$")
# promptfoo's assertion types: a cell "word: text" of another word is a value to equal
# A test file's values once YAML aliases are expanded: beyond this, a "billion laughs"
MAX_YAML_VALUES = 1_000_000
_TYPES = frozenset(
    [
        "answer-relevance",
        "bleu",
        "classifier",
        "contains",
        "contains-all",
        "contains-any",
        "contains-html",
        "contains-json",
        "contains-sql",
        "contains-xml",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "cost",
        "equals",
        "factuality",
        "finish-reason",
        "g-eval",
        "gleu",
        "icontains",
        "icontains-all",
        "icontains-any",
        "is-html",
        "is-json",
        "is-refusal",
        "is-sql",
        "is-valid-function-call",
        "is-valid-openai-function-call",
        "is-valid-openai-tools-call",
        "is-xml",
        "javascript",
        "latency",
        "levenshtein",
        "llm-rubric",
        "meteor",
        "model-graded-closedqa",
        "model-graded-factuality",
        "moderation",
        "perplexity",
        "perplexity-score",
        "pi",
        "python",
        "regex",
        "rouge-n",
        "select-best",
        "similar",
        "starts-with",
        "webhook",
        "word-count",
    ]
)


def read(sources: Sequence[Source], batch: Batch) -> None:
    """Results files (*.json with "results") and test files (*.csv, *.yaml, *.json)."""
    for source in sources:
        if source.name.endswith((".csv", ".csv.gz")):
            _csv_tests(source, batch)
        elif source.name.endswith((".yaml", ".yml")):
            _yaml_tests(source, batch)
        else:
            text, doc = json_document(source)
            if _is_results(doc):
                _results(source, text, doc, batch)
            else:
                _json_tests(source, text, doc, batch)


def _is_results(doc: Any) -> bool:
    """A results file: {"results": [...]} (version 1) or {"results": {"results": [...]}}."""
    if not isinstance(doc, dict):
        return False
    results = doc.get("results")
    return isinstance(results, list) or (
        isinstance(results, dict) and isinstance(results.get("results"), list)
    )


def _results(source: Source, text: str, doc: dict[str, Any], batch: Batch) -> None:
    summary = doc["results"]
    path: tuple[str, ...] = ("results",)
    if isinstance(summary, dict):  # version 2 and later: {"version", "results": [...], ...}
        path = ("results", "results")
        summary_info = summary
    else:
        summary_info = {}
    config = obj(doc.get("config"))
    name = dataset_name(str(config.get("description") or ""), "promptfoo")
    started = iso_time(summary_info.get("timestamp")) or iso_time(doc.get("createdAt"))
    started = started or unix_time(_seconds(doc.get("createdAt")))
    prompts: list[Any] = summary_info.get("prompts") or []
    if not isinstance(prompts, list):
        prompts = []
    samples: Counter[tuple[str, int]] = Counter()
    found = False
    for line, result in documents.items(source, text, path):
        found = True
        if not isinstance(result, dict):
            fail(source, line, "a promptfoo result must be an object")
        test = obj(result.get("testCase"))
        variables = result.get("vars", test.get("vars"))
        if not isinstance(variables, dict):
            fail(source, line, 'a promptfoo result needs "vars" (or "testCase.vars")')
        batch.case(name, source, line, _case(test, variables))
        key = _run(batch, name, result, prompts, config, started, doc)
        test_idx = result.get("testIdx")
        samples[(key, test_idx if isinstance(test_idx, int) else line)] += 1
        sample = samples[(key, test_idx if isinstance(test_idx, int) else line)]
        batch.response(key, source, line, _response(result, variables, sample))
        if not _failed_to_call(result):
            for score in _scores(result):
                batch.score(key, source, line, {"input": variables, "sample": sample, **score})
    if not found:
        raise InputError(f"{source.name}:1: no promptfoo results in the file", source.name, 1)


def _seconds(value: Any) -> Any:
    """promptfoo writes createdAt in milliseconds."""
    millis = number(value)
    return millis / 1000 if millis is not None else None


def _case(test: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"input": variables, "origin": "imported"}
    asserts = test.get("assert")
    metadata = dict(obj(test.get("metadata")))
    if isinstance(test.get("description"), str):
        metadata["description"] = test["description"]
    if isinstance(asserts, list) and asserts:
        equals = [a for a in asserts if isinstance(a, dict) and a.get("type") == "equals"]
        if len(asserts) == 1 and equals and "value" in equals[0]:
            doc["expected"] = equals[0]["value"]
        else:
            metadata["assert"] = asserts
    if metadata:
        doc["metadata"] = metadata
    return doc


def _run(
    batch: Batch,
    dataset: str,
    result: dict[str, Any],
    prompts: list[Any],
    config: dict[str, Any],
    started: str | None,
    doc: dict[str, Any],
) -> str:
    provider = result.get("provider")
    if isinstance(provider, dict):
        provider_id = str(provider.get("id") or provider.get("label") or "unknown")
        label = str(provider.get("label") or provider_id)
    else:
        provider_id = label = str(provider or "unknown")
    # the prompt's template from the eval's prompts, by id or index (a result's own
    # "prompt" holds the prompt as rendered for its test case)
    index = result.get("promptIdx")
    prompt_id = result.get("promptId")
    template = next(
        (p for p in prompts if isinstance(p, dict) and prompt_id and p.get("id") == prompt_id),
        None,
    )
    if template is None and isinstance(index, int) and 0 <= index < len(prompts):
        template = obj(prompts[index])
    prompt = template or obj(result.get("prompt"))
    prompt_label = str(prompt.get("label") or prompt.get("raw") or f"prompt {index}")
    key = run_key(prompt_id or index, provider_id)
    if key in batch.runs:
        return key
    vendor, model_id = split_model(provider_id)
    return batch.run(
        key,
        RunInfo(
            dataset=dataset,
            model=label,
            model_id=model_id,
            provider=vendor,
            name=short(f"{prompt_label} · {label}"),
            params=_provider_config(config, provider_id, label),
            started_at=started,
            metadata={
                "prompt": prompt.get("raw"),
                "prompt_label": prompt.get("label"),
                "promptfoo_eval_id": doc.get("evalId"),
            },
        ),
    )


def _provider_config(config: dict[str, Any], provider_id: str, label: str) -> dict[str, Any]:
    """The options the eval's configuration gives the provider (temperature, ...)."""
    providers = config.get("providers")
    for entry in providers if isinstance(providers, list) else []:
        if isinstance(entry, dict) and entry.get("id") in (provider_id, label):
            return dict(obj(entry.get("config")))
        if isinstance(entry, dict) and entry.get("label") == label:
            return dict(obj(entry.get("config")))
    return {}


def _failed_to_call(result: dict[str, Any]) -> bool:
    """Whether the provider gave no output: promptfoo's failureReason 2 (ERROR). Its
    "error" is set for failed assertions too, so it tells only in files without one."""
    if "failureReason" in result:
        return bool(result["failureReason"] == 2)
    response = obj(result.get("response"))
    return bool(response.get("error") or result.get("error")) and response.get("output") is None


def _response(result: dict[str, Any], variables: dict[str, Any], sample: int) -> dict[str, Any]:
    response = obj(result.get("response"))
    usage = obj(response.get("tokenUsage") or result.get("tokenUsage"))
    doc: dict[str, Any] = {"input": variables, "sample": sample}
    output = response.get("output")
    if _failed_to_call(result):
        doc["status"] = "error"
        doc["error"] = str(response.get("error") or result.get("error") or "error")
    elif output is not None:
        doc["output"] = output
    for field, value in (
        ("latency_ms", number(result.get("latencyMs", response.get("latencyMs")))),
        ("input_tokens", number(usage.get("prompt"))),
        ("output_tokens", number(usage.get("completion"))),
        ("cost_usd", number(result.get("cost", response.get("cost")))),
    ):
        if value is not None:
            doc[field] = value
    metadata: dict[str, Any] = {k: response[k] for k in ("cached", "finishReason") if k in response}
    if isinstance(result.get("id"), str):
        metadata["promptfoo_result_id"] = result["id"]
    if metadata:
        doc["metadata"] = metadata
    return doc


def _scores(result: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo's verdict as "pass", then one metric per assertion (its metric name, else
    its type; repeated types numbered), then named scores not already there."""
    grading = obj(result.get("gradingResult"))
    scores: list[dict[str, Any]] = []
    passed = result.get("success", grading.get("pass"))
    value = number(result.get("score", grading.get("score")))
    if isinstance(passed, bool) or value is not None:
        details = {"reason": grading["reason"]} if isinstance(grading.get("reason"), str) else {}
        scores.append(_score("pass", passed, value, details))
    seen: Counter[str] = Counter()
    components = grading.get("componentResults")
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        assertion = obj(component.get("assertion"))
        metric = str(assertion.get("metric") or assertion.get("type") or "assertion")
        seen[metric] += 1
        if seen[metric] > 1:
            metric = f"{metric}#{seen[metric]}"
        details = {k: component[k] for k in ("reason",) if isinstance(component.get(k), str)}
        if "value" in assertion:
            details["assertion"] = assertion["value"]
        scores.append(
            _score(metric, component.get("pass"), number(component.get("score")), details)
        )
    for metric, named in obj(result.get("namedScores") or grading.get("namedScores")).items():
        if metric not in seen and number(named) is not None:
            scores.append(_score(metric, None, number(named), {}))
    return [s for s in scores if "value" in s or "passed" in s]


def _score(metric: str, passed: Any, value: Any, details: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"metric": metric, "details": details}
    if isinstance(passed, bool):
        doc["passed"] = passed
    if value is not None:
        doc["value"] = value
    return doc


# -- test files ----------------------------------------------------------------------------


def _csv_tests(source: Source, batch: Batch) -> None:
    name = dataset_name(_stem(source), "promptfoo")
    for line, row in csv_rows(source):
        row = {column.strip(): value for column, value in row.items()}
        # columns starting with __ say how to test; every other column is a var
        variables = {k: v for k, v in row.items() if not k.startswith("__")}
        asserts = [
            _assertion(value)
            for column, value in row.items()
            if column.startswith("__expected") and value != ""
        ]
        if row.get("__metric"):
            asserts = [{**a, "metric": row["__metric"]} for a in asserts]
        test: dict[str, Any] = {"assert": asserts} if asserts else {}
        if row.get("__description"):
            test["description"] = row["__description"]
        metadata: dict[str, Any] = {}
        for column, value in row.items():
            key = column.removeprefix("__metadata:")
            if key == column or not key or value == "":
                continue
            if key.endswith("[]"):
                metadata[key[:-2]] = [
                    part.replace("\\,", ",") for part in re.split(r"(?<!\\),", value)
                ]
            else:
                metadata[key] = value
        if metadata:
            test["metadata"] = metadata
        batch.case(name, source, line, _case(test, variables))


def _assertion(text: str) -> dict[str, Any]:
    """A CSV `__expected` cell as promptfoo reads it: "type: value" (javascript:, fn:,
    eval:, python:, grade: and file:// forms included), or the value the output equals."""
    for prefixes, kind in (
        (("javascript:", "fn:", "eval:"), "javascript"),
        (("grade:", "llm-rubric:"), "llm-rubric"),
        (("python:",), "python"),
    ):
        for prefix in prefixes:
            if text.startswith(prefix):
                return {"type": kind, "value": text[len(prefix) :].strip()}
    if text.startswith("file://"):
        return {"type": "python" if text.endswith(".py") else "javascript", "value": text}
    match = _ASSERTION.match(text)
    if match is None or match.group(2) not in _TYPES:
        return {"type": "equals", "value": text}
    negated, kind, limit, value = match.groups()
    threshold = None
    if limit is not None:
        try:
            threshold = float(limit)
        except ValueError:
            return {"type": "equals", "value": text}
    assertion: dict[str, Any] = {"type": f"{negated or ''}{kind}", "value": value}
    if kind in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        assertion["value"] = [part.strip() for part in value.split(",")]
    if threshold is not None:
        assertion["threshold"] = threshold
    return assertion


def _yaml_tests(source: Source, batch: Batch) -> None:
    text = documents.read_text(source)
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is not None and _expanded(node, {}) > MAX_YAML_VALUES:
            raise InputError(
                f"{source.name}: its aliases expand to more than {MAX_YAML_VALUES:,} values",
                source.name,
            )
        doc = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise InputError(f"{source.name}: YAML nested too deeply", source.name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise InputError(
            f"{source.name}:{line}: invalid YAML: {problem}", source.name, line
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    tests = doc.get("tests") if isinstance(doc, dict) else doc
    if not isinstance(tests, list):
        raise InputError(
            f"{source.name}:1: a promptfoo test file is a list of tests, or has tests: with one",
            source.name,
            1,
        )
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if getattr(k, "value", None) == "tests"), None)
    lines = [1] * len(tests)
    if isinstance(node, yaml.SequenceNode) and len(node.value) == len(tests):
        lines = [item.start_mark.line + 1 for item in node.value]
    _tests(source, batch, list(zip(lines, tests, strict=True)))


def _expanded(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values a YAML node stands for once its aliases are expanded (an alias is
    the same node object as its anchor: each is counted once per use, computed once)."""
    if id(node) not in sizes:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes[id(node)] = 1 + sum(_expanded(child, sizes) for child in children)
    return sizes[id(node)]


def _json_tests(source: Source, text: str, doc: Any, batch: Batch) -> None:
    path: tuple[str, ...] = ("tests",) if isinstance(doc, dict) else ()
    if not isinstance(doc.get("tests") if isinstance(doc, dict) else doc, list):
        raise InputError(
            f'{source.name}:1: not a promptfoo results file (no "results") nor a test file '
            '(a list of tests, or "tests")',
            source.name,
            1,
        )
    _tests(source, batch, list(documents.items(source, text, path)))


def _tests(source: Source, batch: Batch, tests: list[tuple[int, Any]]) -> None:
    name = dataset_name(_stem(source), "promptfoo")
    for line, test in tests:
        if isinstance(test, str):
            fail(source, line, f"tests given by reference ({short(test)}): import that file")
        if not isinstance(test, dict):
            fail(source, line, "a promptfoo test must be an object with vars")
        variables = test.get("vars", {})
        if not isinstance(variables, dict):
            fail(source, line, '"vars" must be an object')
        asserts = test.get("assert")
        if asserts is not None and not isinstance(asserts, list):
            fail(source, line, '"assert" must be a list')
        batch.case(name, source, line, _case(test, variables))


def _stem(source: Source) -> str:
    name = PurePath(source.name).name
    for suffix in (".gz", ".csv", ".yaml", ".yml", ".json"):
        name = name.removesuffix(suffix)
    return name
