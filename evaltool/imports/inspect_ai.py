"""Inspect AI: eval logs, as JSON (`--log-format json`) or the zipped `.eval` format.

A log is one run of one model over one task's dataset: a sample's input (with its
choices) is the test case, its target the expected answer, its id the test case's id;
each epoch is a sample of the run (repeats); each scorer's value a score, "C" and "I"
(correct, incorrect) as passed or failed, "P" (partial) as 0.5. In a `.eval` archive the
samples are files; a message names the archive's sample by its number in the archive.
"""

import json
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evaltool.imports import Batch, RunInfo
from evaltool.imports.read import (
    dataset_name,
    fail,
    iso_time,
    json_document,
    number,
    obj,
    run_key,
    split_model,
    text_of,
)
from evaltool.load import documents
from evaltool.load.sources import InputError, Source

# Inspect's value_to_float: CORRECT, INCORRECT, PARTIAL, NOANSWER
_LETTERS = {"C": (1.0, True), "I": (0.0, False), "P": (0.5, None), "N": (0.0, False)}
_MAX_MEMBER = 1 << 30  # a sample larger than this is not a sample (a zip bomb)
# JSON compresses some 5 to 20 times; a large member that expands 200 times is a bomb,
# whose parsing would take tens of GB for a file of a megabyte
_BOMB_SIZE = 16 << 20
_BOMB_RATIO = 200


def read(sources: Sequence[Source], batch: Batch) -> None:
    """Eval logs: *.json or *.eval."""
    for source in sources:
        if source.path is not None and zipfile.is_zipfile(source.path):
            header, samples = _archive(source)
        else:
            text, doc = json_document(source, nan_as_null=True)  # NaN: unscored
            if not isinstance(doc, dict) or not isinstance(doc.get("eval"), dict):
                raise InputError(
                    f'{source.name}:1: not an Inspect eval log (no "eval")', source.name, 1
                )
            header = doc
            samples = documents.items(source, text, ("samples",), nan_as_null=True)
        _log(source, header, samples, batch)


def _archive(source: Source) -> tuple[dict[str, Any], Iterator[tuple[int, Any]]]:
    assert source.path is not None
    try:
        archive = zipfile.ZipFile(source.path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"{source.name}: not a readable .eval archive: {exc}", source.name
        ) from exc
    header = _member(source, archive, "header.json")
    if header is None:
        start = _member(source, archive, "_journal/start.json")
        header = start if isinstance(start, dict) else None
    if not isinstance(header, dict) or not isinstance(header.get("eval"), dict):
        archive.close()
        raise InputError(
            f"{source.name}: not an Inspect .eval archive (no header.json)", source.name
        )
    members = sorted(
        (n for n in names if n.startswith("samples/") and n.endswith(".json")), key=_sample_order
    )

    def samples() -> Iterator[tuple[int, Any]]:
        with archive:
            for number_in_archive, name in enumerate(members, 1):
                yield number_in_archive, _member(source, archive, name, number_in_archive)

    return header, samples()


def _sample_order(name: str) -> tuple[int, str, int]:
    """samples/ID_epoch_N.json by epoch, then id, so that an import reads them in order."""
    stem = Path(name).stem
    sample_id, _, epoch = stem.rpartition("_epoch_")
    return (int(epoch) if epoch.isdigit() else 0, sample_id, 0)


def _member(source: Source, archive: zipfile.ZipFile, name: str, line: int = 1) -> Any:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _MAX_MEMBER:
        fail(source, line, f"{name} is larger than 1 GiB")
    if info.file_size > _BOMB_SIZE and info.file_size > _BOMB_RATIO * max(info.compress_size, 1):
        fail(
            source,
            line,
            f"{name} expands {info.file_size // max(info.compress_size, 1):,} times "
            f"({info.compress_size:,} to {info.file_size:,} bytes): not a log Inspect wrote",
        )
    try:
        text = archive.read(name).decode("utf-8")
    except NotImplementedError:  # zstd, which Python's zipfile reads from 3.14 on
        fail(
            source,
            line,
            f"{name} is compressed in a way this Python cannot read (Inspect 0.3.206 and "
            "later use zstd): convert the log with inspect log convert --to json",
        )
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, RuntimeError, zlib.error) as exc:
        fail(source, line, f"{name}: cannot be read: {exc}")  # RuntimeError: encrypted
    try:
        return documents.loads(text, nan_as_null=True, nul_ok=True)
    except documents.JsonProblem as exc:
        fail(source, line, f"{name}: {exc}")
    return None


def _log(
    source: Source, header: dict[str, Any], samples: Iterator[tuple[int, Any]], batch: Batch
) -> None:
    spec = header["eval"]
    task = str(spec.get("task") or "inspect")
    model = str(spec.get("model") or "")
    if not model and not batch.model:
        raise InputError(f"{source.name}: the log names no model: give --model NAME", source.name)
    dataset = obj(spec.get("dataset"))
    name = dataset_name(str(dataset.get("name") or task), "inspect")
    vendor, model_id = split_model(model, "/")
    stats = obj(header.get("stats"))
    key = run_key(spec.get("run_id") or spec.get("task_id") or task, model)
    batch.run(
        key,
        RunInfo(
            dataset=name,
            model=model,
            model_id=model_id,
            provider=vendor,
            name=f"inspect {task} · {model}",
            params={
                **obj(spec.get("model_generate_config")),
                **({"model_args": spec["model_args"]} if spec.get("model_args") else {}),
                **({"task_args": spec["task_args"]} if spec.get("task_args") else {}),
            },
            started_at=iso_time(stats.get("started_at")) or iso_time(spec.get("created")),
            finished_at=iso_time(stats.get("completed_at")),
            metadata={
                k: v
                for k, v in (
                    ("inspect_task", task),
                    ("inspect_run_id", spec.get("run_id")),
                    ("inspect_status", header.get("status")),
                )
                if v
            },
        ),
    )
    for line, sample in samples:
        if not isinstance(sample, dict) or "input" not in sample:
            fail(source, line, 'not an Inspect sample: it needs "input"')
        case_input = sample["input"]
        if sample.get("choices"):
            case_input = {"input": sample["input"], "choices": sample["choices"]}
        case: dict[str, Any] = {"input": case_input, "origin": "imported"}
        if "target" in sample:
            case["expected"] = sample["target"]
        if isinstance(sample.get("id"), int | str) and not isinstance(sample["id"], bool):
            case["id"] = str(sample["id"])
        if isinstance(sample.get("metadata"), dict) and sample["metadata"]:
            case["metadata"] = sample["metadata"]
        batch.case(name, source, line, case)
        epoch = sample.get("epoch")
        epoch = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else 1
        batch.response(key, source, line, _response(sample, case_input, epoch, model))
        for score in _scores(sample):
            batch.score(key, source, line, {"input": case_input, "sample": epoch, **score})


def _response(sample: dict[str, Any], case_input: Any, epoch: int, model: str) -> dict[str, Any]:
    output = obj(sample.get("output"))
    choices = output.get("choices") if isinstance(output.get("choices"), list) else []
    first = obj(choices[0]) if choices else {}
    message = obj(first.get("message"))
    doc: dict[str, Any] = {"input": case_input, "sample": epoch}
    text = output.get("completion")
    if not isinstance(text, str):
        text = text_of(message.get("content"))
    if message:
        doc["output"] = message
    if isinstance(text, str):
        doc["output_text"] = text
    error = sample.get("error")
    if error:
        doc["status"] = "error"
        doc["error"] = str(obj(error).get("message") or error)
    usage = obj(output.get("usage")) or obj(obj(sample.get("model_usage")).get(model))
    for field, value in (
        ("input_tokens", number(usage.get("input_tokens"))),
        ("output_tokens", number(usage.get("output_tokens"))),
    ):
        if value is not None:
            doc[field] = value
    seconds = number(output.get("time"))
    if seconds is None:
        seconds = number(sample.get("working_time", sample.get("total_time")))
    if seconds is not None:
        doc["latency_ms"] = seconds * 1000
    metadata = {
        k: v
        for k, v in (
            ("stop_reason", first.get("stop_reason")),
            ("model", output.get("model")),
        )
        if v
    }
    if metadata:
        doc["metadata"] = metadata
    created = iso_time(sample.get("started_at"))
    if created:
        doc["created_at"] = created
    return doc


def _scores(sample: dict[str, Any]) -> list[dict[str, Any]]:
    scores = []
    named = obj(sample.get("scores")) or {"score": sample.get("score")}  # log version 1
    for scorer, score in named.items():
        if not isinstance(score, dict):
            continue
        details = {
            k: score[k] for k in ("answer", "explanation", "metadata") if score.get(k) is not None
        }
        value = score.get("value")
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for part, item in items:
            metric = scorer if part is None else f"{scorer}/{part}"
            scored = _value(item)
            if scored is not None:
                scores.append({"metric": metric, **scored, "details": details})
    return scores


def _value(value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool):
        return {"value": float(value), "passed": value}
    if isinstance(value, str) and value in _LETTERS:
        amount, passed = _LETTERS[value]
        return {"value": amount} | ({"passed": passed} if passed is not None else {})
    if number(value) is not None:
        return {"value": value}
    if isinstance(value, str):  # a number as text, as some scorers give it
        try:
            return {"value": float(json.loads(value))}
        except (ValueError, TypeError, RecursionError):
            return None
    return None
