"""OpenAI Batch API files: the input file and the output and error files of a batch.

The input file's requests ({"custom_id", "method", "url", "body"}) are the test cases
(input: the body's messages, or its input or prompt; id: custom_id), and the output and
error files ({"custom_id", "response": {"status_code", "body"}, "error"}) a run per
requested model, with tokens, the time of each call, and errors as error responses. Give
the input file with the others: the results name their requests by custom_id only.
"""

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from evaltool.imports import Batch, RunInfo
from evaltool.imports.read import (
    dataset_name,
    fail,
    json_lines,
    number,
    obj,
    text_of,
    unix_time,
)
from evaltool.load.sources import InputError, Source

_REQUEST_INPUT = ("messages", "input", "prompt")


def read(sources: Sequence[Source], batch: Batch) -> None:
    """Input files first, whatever the order given, then output and error files."""
    kinds = {source: _kind(source) for source in sources}
    requests: dict[str, tuple[Any, dict[str, Any]]] = {}  # custom_id -> (input, body)
    inputs = [s for s in sources if kinds[s] == "input"]
    if not inputs:
        raise InputError(
            f"{sources[0].name}: give the batch's input file too (the requests, with "
            "custom_id and body): the results name their requests by custom_id only",
            sources[0].name,
        )
    name = dataset_name(_stem(inputs[0]), "openai-batch")
    for source in inputs:
        for line, doc in json_lines(source):
            custom_id, body = _request(source, line, doc)
            if custom_id in requests:
                fail(source, line, f"custom_id {custom_id!r} is used by an earlier request")
            case_input = next(body[k] for k in _REQUEST_INPUT if k in body)
            requests[custom_id] = (case_input, body)
            batch.case(
                name,
                source,
                line,
                {
                    "id": custom_id,
                    "input": case_input,
                    "origin": "imported",
                    "metadata": {"url": doc.get("url")} if doc.get("url") else {},
                },
            )
    for source in (s for s in sources if kinds[s] == "results"):
        for line, doc in json_lines(source):
            _result(source, line, doc, requests, name, batch)


def _kind(source: Source) -> str:
    """input or results, by the first line (a request has a body, a result a response or
    an error)."""
    for line, doc in json_lines(source):
        if isinstance(doc, dict) and "custom_id" in doc:
            if "body" in doc:
                return "input"
            if "response" in doc or "error" in doc:
                return "results"
        fail(source, line, "not an OpenAI Batch line: no custom_id with body or response")
    raise InputError(f"{source.name}: empty file", source.name)


def _request(source: Source, line: int, doc: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("custom_id"), str):
        fail(source, line, 'a request needs "custom_id" (a string)')
    body = doc.get("body")
    if not isinstance(body, dict) or not any(k in body for k in _REQUEST_INPUT):
        fail(source, line, 'a request needs a "body" with messages, input or prompt')
    return doc["custom_id"], body


def _result(
    source: Source,
    line: int,
    doc: Any,
    requests: dict[str, tuple[Any, dict[str, Any]]],
    dataset: str,
    batch: Batch,
) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("custom_id"), str):
        fail(source, line, 'a result needs "custom_id" (a string)')
    custom_id = doc["custom_id"]
    if custom_id not in requests:
        fail(source, line, f"custom_id {custom_id!r} is not a request of the input file")
    case_input, body = requests[custom_id]
    response = obj(doc.get("response"))
    answer = obj(response.get("body"))
    model = str(body.get("model") or answer.get("model") or "unknown")
    key = batch.run(
        model,
        RunInfo(
            dataset=dataset,
            model=model,
            model_id=model,
            provider="openai",
            name=f"openai batch · {model}",
            params={k: v for k, v in body.items() if k not in (*_REQUEST_INPUT, "model")},
            metadata={"openai_batch_url": doc.get("url")} if doc.get("url") else {},
        ),
    )
    out: dict[str, Any] = {"input": case_input}
    status = number(response.get("status_code"))
    error = doc.get("error") or (answer.get("error") if status is None or status >= 400 else None)
    if error or status is None or status >= 400:
        details = obj(error)
        message = details.get("message") or (error if isinstance(error, str) else None)
        code = details.get("code") or details.get("type")
        out["status"] = "error"
        out["error"] = (
            " ".join(str(p) for p in (f"HTTP {status}" if status else None, code, message) if p)
            or "error"
        )
    else:
        choices = answer.get("choices") if isinstance(answer.get("choices"), list) else []
        first = obj(choices[0]) if choices else {}
        message = obj(first.get("message"))
        if message:
            out["output"] = message
            text = text_of(message.get("content"))
            if text is not None:
                out["output_text"] = text
        elif "output" in answer:  # the Responses API
            out["output"] = answer["output"]
            text = answer.get("output_text")
            if isinstance(text, str):
                out["output_text"] = text
        elif isinstance(first.get("text"), str):  # completions
            out["output_text"] = first["text"]
        usage = obj(answer.get("usage"))
        for field, value in (
            ("input_tokens", number(usage.get("prompt_tokens", usage.get("input_tokens")))),
            ("output_tokens", number(usage.get("completion_tokens", usage.get("output_tokens")))),
        ):
            if value is not None:
                out[field] = value
        created = unix_time(answer.get("created", answer.get("created_at")))
        if created:
            out["created_at"] = created
        metadata = {
            k: v
            for k, v in (
                ("request_id", response.get("request_id")),
                ("finish_reason", first.get("finish_reason")),
                ("model", answer.get("model")),
            )
            if v
        }
        if metadata:
            out["metadata"] = metadata
    batch.response(key, source, line, out)


def _stem(source: Source) -> str:
    name = PurePath(source.name).name
    for suffix in (".gz", ".jsonl"):
        name = name.removesuffix(suffix)
    return name
