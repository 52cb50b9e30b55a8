"""lm-evaluation-harness: the sample files of `lm_eval ... --log_samples`.

Each `samples_TASK_DATE.jsonl` is one run over one dataset (named for the task): a line's
"doc" is the test case, "target" its expected answer, "doc_id" its id; "resps" (the
model's raw answers) the response; each per-sample metric a score (with the filter's
name, as lm-eval reports it, when the task has several filters). The model is named by the
`results_DATE.json` lm-eval writes beside the samples, else by --model.
"""

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evaltool.imports import Batch, RunInfo
from evaltool.imports.read import (
    dataset_name,
    fail,
    json_document,
    json_lines,
    number,
    obj,
    run_key,
    split_model,
    unix_time,
)
from evaltool.load import documents
from evaltool.load.sources import InputError, Source

_SAMPLES = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.-]+)\.jsonl?(\.gz)?$")
_KNOWN = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
}
# Per-sample metrics that are 0 or 1 for a wrong or right answer: a verdict as well
_VERDICTS = {"acc", "acc_norm", "exact_match", "em", "mc1", "pass@1", "correct"}


def read(sources: Sequence[Source], batch: Batch) -> None:
    """Sample files; the model from the results file beside them, or --model."""
    for source in sources:
        if Path(source.name).name.startswith("results_"):
            continue  # the model's description, read with its samples
        match = _SAMPLES.match(Path(source.name).name)
        task = match.group("task") if match else Path(source.name).name.split(".")[0]
        date = match.group("date") if match else None
        results = _results_file(source, date)
        info = _model(source, results, batch)
        key = run_key(task, info["model"])
        batch.run(
            key,
            RunInfo(
                dataset=dataset_name(task, "lm-eval"),
                model=info["model"],
                model_id=info["model_id"],
                provider=info["provider"],
                name=f"lm-eval {task} · {info['model']}",
                params=info["params"],
                started_at=info["date"] or _iso(date),
                metadata={k: v for k, v in (("lm_eval_task", task),) if v},
            ),
        )
        seen: dict[Any, int] = {}
        for line, doc in _samples(source):
            if not isinstance(doc, dict) or "doc" not in doc:
                fail(source, line, 'not an lm-eval sample: a line needs "doc"')
            case = {"input": doc["doc"], "origin": "imported"}
            if "target" in doc:
                case["expected"] = doc["target"]
            if isinstance(doc.get("doc_id"), int | str) and not isinstance(doc["doc_id"], bool):
                case["id"] = str(doc["doc_id"])
            batch.case(dataset_name(task, "lm-eval"), source, line, case)
            doc_key = json.dumps(doc.get("doc_id", doc["doc"]), sort_keys=True)
            first = doc_key not in seen  # a task with several filters repeats each doc
            seen.setdefault(doc_key, line)
            if first:
                batch.response(key, source, line, _response(doc))
            for score in _scores(doc):
                batch.score(key, source, line, {"input": doc["doc"], **score})


def _samples(source: Source) -> Iterator[tuple[int, Any]]:
    """The samples of a file: JSON lines, or (lm-eval 0.4.2 and older) a JSON array."""
    if source.name.endswith((".json", ".json.gz")):
        text, doc = json_document(source, nan_as_null=True)
        if not isinstance(doc, list):
            fail(source, 1, "not an lm-eval samples file: a JSON array of samples")
        yield from documents.items(source, text, nan_as_null=True)
    else:
        yield from json_lines(source, nan_as_null=True)  # NaN: a metric without a value


def _response(doc: dict[str, Any]) -> dict[str, Any]:
    resps = doc.get("resps")
    response: dict[str, Any] = {"input": doc["doc"], "output": resps}
    first = resps
    while isinstance(first, list) and first:
        first = first[0]
    if isinstance(first, str):
        response["output_text"] = first
    elif resps is None:
        response.pop("output")
    if "arguments" in doc:
        response["metadata"] = {"arguments": doc["arguments"]}
    return response


def _scores(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One score per numeric per-sample metric; metrics whose per-sample values are the
    pieces of a corpus-level score (bleu's [reference, prediction]) are left to lm-eval."""
    names = doc.get("metrics")
    if not isinstance(names, list):
        names = [k for k in doc if k not in _KNOWN]
    filter_name = doc.get("filter")
    scores = []
    for name in names:
        if not isinstance(name, str):
            continue
        value = doc.get(name)
        metric = name if filter_name in (None, "none") else f"{name},{filter_name}"
        details = {"filtered": doc.get("filtered_resps")}
        if isinstance(value, bool):
            scores.append({"metric": metric, "passed": value, "details": details})
        elif number(value) is not None:
            score: dict[str, Any] = {"metric": metric, "value": value, "details": details}
            if name in _VERDICTS and value in (0, 1):
                score["passed"] = value == 1
            scores.append(score)
    return scores


def _results_file(samples: Source, date: str | None) -> dict[str, Any]:
    """The results file of the same evaluation: results_DATE.json beside the samples."""
    if samples.path is None:
        return {}
    folder = samples.path.parent
    candidates = [folder / f"results_{date}.json"] if date else []
    candidates += sorted(folder.glob("results_*.json"))
    for path in candidates:
        if path.is_file():
            source = Source(str(path), path)
            doc = documents.document(source, documents.read_text(source))
            return obj(doc)
    return {}


def _model(source: Source, results: dict[str, Any], batch: Batch) -> dict[str, Any]:
    config = obj(results.get("config"))
    model_args = config.get("model_args")
    args = _model_args(model_args)
    name = results.get("model_name") or args.get("pretrained") or args.get("model")
    if batch.model:
        name = batch.model
    if not isinstance(name, str) or not name:
        raise InputError(
            f"{source.name}: no results_*.json beside it names the model: give --model NAME",
            source.name,
        )
    provider = config.get("model") if isinstance(config.get("model"), str) else None
    vendor, model_id = split_model(name, "/")
    params = {k: v for k, v in args.items() if k not in ("pretrained", "model")}
    for key in ("batch_size", "num_fewshot", "gen_kwargs", "limit"):
        if config.get(key) is not None:
            params[key] = config[key]
    date = results.get("date")
    return {
        "model": name,
        "model_id": name if provider else model_id,
        "provider": provider or vendor,
        "params": params,
        "date": unix_time(date),
    }


def _model_args(value: Any) -> dict[str, Any]:
    """lm-eval's model_args: "pretrained=x,dtype=float16" or an object."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return {}
    pairs = (part.partition("=") for part in value.split(",") if "=" in part)
    return {key.strip(): val.strip() for key, _, val in pairs}


def _iso(date: str | None) -> str | None:
    """lm-eval's file date 2024-05-01T12-00-00.123456 as ISO 8601 (UTC)."""
    if not date:
        return None
    day, _, clock = date.partition("T")
    clock = clock.split(".")[0].replace("-", ":")
    return f"{day}T{clock}Z" if re.fullmatch(r"\d{2}:\d{2}:\d{2}", clock) else f"{day}T00:00:00Z"
