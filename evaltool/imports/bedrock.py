"""AWS Bedrock: batch inference output, and model invocation logs.

Batch output (`*.jsonl.out`: {"recordId", "modelInput", "modelOutput"} or an "error")
is one run: the model input's messages (or prompt) the test case, recordId its id, the
model output the response, with its tokens. The model is named by --model, else by the
output when it names one (Anthropic's messages do).

Invocation logs ({"schemaType": "ModelInvocationLog", "timestamp", "modelId", "input":
{"inputBodyJson", "inputTokenCount"}, "output": {"outputBodyJson", "outputTokenCount"}}),
as delivered to S3 (JSON lines, gzipped), exported from CloudWatch Logs (each line
prefixed by its time) or listed by `aws logs filter-log-events` ({"events": [{"message"}]}),
are production traffic: a run per model, each distinct input a test case (origin
production), each call a response at the time it was made, with its tokens (and latency,
for Converse), so that they land in the cost views at the model's price at that time.
The same input called again is a further sample of the run (up to 1,000).
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from evaltool.imports import Batch, RunInfo
from evaltool.imports.read import (
    fail,
    iso_time,
    json_document,
    number,
    obj,
    run_key,
    text_lines,
    text_of,
)
from evaltool.load import documents
from evaltool.load.sources import InputError, Source

# What a model input holds besides generation parameters
_INPUT_KEYS = ("system", "messages", "prompt", "inputText", "input")
# A CloudWatch Logs export line: the event's time (ISO 8601, or Unix milliseconds), a
# space, the message
_CLOUDWATCH_LINE = re.compile(r"^(?:\d{4}-\d{2}-\d{2}T[0-9:.]+Z?|\d{10,16}) (\{.*)$", re.S)
MAX_SAMPLES = 1000


def read(sources: Sequence[Source], batch: Batch) -> None:
    """Batch output files and invocation logs, told apart by their records."""
    samples: Counter[bytes] = Counter()
    for source in sources:
        model = batch.model or _batch_model(source)
        for line, record in _records(source):
            if not isinstance(record, dict):
                fail(source, line, "not a Bedrock record: a JSON object")
            if "recordId" in record:
                _batch_record(source, line, record, model, batch)
            elif "modelId" in record and ("input" in record or "output" in record):
                _invocation(source, line, record, batch, samples)
            else:
                fail(
                    source,
                    line,
                    "not a Bedrock record: neither batch output (recordId) nor an invocation "
                    "log (modelId, input, output)",
                )


def _batch_model(source: Source) -> str | None:
    """The model a batch output names in its first answer that names one (its failed
    records name none)."""
    for _, record in _records(source):
        model = obj(obj(record).get("modelOutput")).get("model")
        if isinstance(model, str) and model:
            return model
    return None


def _records(source: Source) -> Iterator[tuple[int, Any]]:
    """Records of JSON lines (S3 delivery, whatever the file's name), of CloudWatch export
    lines, or of JSON documents (a filter-log-events listing, or an array)."""
    if source.name.endswith((".json", ".json.gz")) and _is_document(source):
        text, doc = json_document(source)
        if isinstance(doc, dict) and isinstance(doc.get("events"), list):
            for line, event in documents.items(source, text, ("events",)):
                yield line, _message(source, line, obj(event).get("message"))
        elif isinstance(doc, list):
            yield from documents.items(source, text)
        else:
            yield 1, doc
        return
    for line, text in text_lines(source):
        match = _CLOUDWATCH_LINE.match(text)
        record = _message(source, line, match.group(1) if match else text)
        if isinstance(record, dict) and isinstance(record.get("events"), list):
            for event in record["events"]:  # a listing on one line
                yield line, _message(source, line, obj(event).get("message"))
        elif isinstance(record, list):
            for item in record:
                yield line, item
        else:
            yield line, record


def _is_document(source: Source) -> bool:
    """Whether a *.json file is one JSON document rather than lines of records (as S3
    delivers logs, in *.json.gz): its first line is not a record by itself."""
    stream = source.open()
    try:
        first = b""
        while not first.strip():
            first = stream.readline(1 << 24)
            if not first:
                return False
    finally:
        stream.close()
    try:
        documents.loads(first.decode("utf-8", "replace"))
    except documents.JsonProblem:
        return not _CLOUDWATCH_LINE.match(first.decode("utf-8", "replace"))
    return False


def _message(source: Source, line: int, text: Any) -> Any:
    if not isinstance(text, str):
        fail(source, line, 'a log event needs its "message" as text')
    try:
        return documents.loads(text)
    except documents.JsonProblem as exc:
        fail(source, line, str(exc))
    return None


def _split_input(model_input: Any) -> tuple[Any, dict[str, Any]]:
    """(test case input, generation parameters) of a model input."""
    if not isinstance(model_input, dict):
        return model_input, {}
    kept = {k: model_input[k] for k in _INPUT_KEYS if k in model_input}
    params = {k: v for k, v in model_input.items() if k not in _INPUT_KEYS}
    if list(kept) == ["messages"]:
        return kept["messages"], params
    return (kept or model_input), params


def _batch_record(
    source: Source, line: int, record: dict[str, Any], model: str | None, batch: Batch
) -> None:
    case_input, params = _split_input(record.get("modelInput"))
    if case_input is None:
        fail(source, line, 'a batch record needs "modelInput"')
    output = obj(record.get("modelOutput"))
    if model is None:
        raise InputError(
            f"{source.name}:{line}: the batch output names no model: give --model NAME",
            source.name,
            line,
        )
    name = "bedrock-batch"
    batch.case(
        name,
        source,
        line,
        {"id": str(record["recordId"]), "input": case_input, "origin": "imported"},
    )
    key = batch.run(
        run_key("batch", model),
        RunInfo(
            dataset=name,
            model=model,
            model_id=model,
            provider="bedrock",
            name=f"bedrock batch · {model}",
            params=params,
        ),
    )
    doc: dict[str, Any] = {"input": case_input}
    error = record.get("error")
    if error:
        details = obj(error)
        doc["status"] = "error"
        doc["error"] = " ".join(
            str(p) for p in (details.get("errorCode"), details.get("errorMessage")) if p
        ) or json.dumps(error)
    else:
        _output(doc, output)
    batch.response(key, source, line, doc)


def _output(doc: dict[str, Any], output: dict[str, Any]) -> None:
    """Output, text and tokens of a model's answer (Anthropic messages, Converse, Titan,
    Llama and the like)."""
    if not output:
        return
    doc["output"] = output
    converse = obj(obj(output.get("output")).get("message"))
    text = (
        text_of(output.get("content"))
        or text_of(converse.get("content"))
        or next(
            (
                output[k]
                for k in ("completion", "generation", "outputText", "text")
                if isinstance(output.get(k), str)
            ),
            None,
        )
    )
    results = output.get("results")
    if text is None and isinstance(results, list) and results:
        text = obj(results[0]).get("outputText")
    if isinstance(text, str):
        doc["output_text"] = text
    usage = obj(output.get("usage"))
    for field, value in (
        ("input_tokens", number(usage.get("input_tokens", usage.get("inputTokens")))),
        ("output_tokens", number(usage.get("output_tokens", usage.get("outputTokens")))),
    ):
        if value is not None:
            doc.setdefault(field, value)
    latency = number(obj(output.get("metrics")).get("latencyMs"))
    if latency is not None:
        doc["latency_ms"] = latency


def _invocation(
    source: Source, line: int, record: dict[str, Any], batch: Batch, samples: Counter[bytes]
) -> None:
    model = str(record["modelId"])
    short = model.rsplit("/", 1)[-1]  # an ARN's last part
    request = obj(record.get("input"))
    response = obj(record.get("output"))
    case_input, params = _split_input(request.get("inputBodyJson"))
    if case_input is None:
        where = "in S3 (inputBodyS3Path)" if request.get("inputBodyS3Path") else "missing"
        fail(source, line, f'"input.inputBodyJson" is {where}: import logs with the bodies')
    key = batch.run(
        run_key("log", model),
        RunInfo(
            dataset="bedrock-invocations",
            model=short,
            model_id=model,
            provider="bedrock",
            name=f"bedrock invocations · {short}",
            metadata={"bedrock_region": record.get("region")} if record.get("region") else {},
        ),
    )
    digest = hashlib.sha256(f"{key}\x00{json.dumps(case_input, sort_keys=True)}".encode()).digest()
    samples[digest] += 1
    if samples[digest] > MAX_SAMPLES:
        return  # the same input called more often than a run keeps samples of
    batch.case("bedrock-invocations", source, line, {"input": case_input, "origin": "production"})
    doc: dict[str, Any] = {"input": case_input, "sample": samples[digest]}
    when = iso_time(record.get("timestamp"))
    if when:
        doc["created_at"] = when
    for field, value in (
        ("input_tokens", number(request.get("inputTokenCount"))),
        ("output_tokens", number(response.get("outputTokenCount"))),
    ):
        if value is not None:
            doc[field] = value
    error = record.get("errorCode") or response.get("errorCode")
    if error:
        doc["status"] = "error"
        doc["error"] = str(error)
    else:
        _output(doc, obj(response.get("outputBodyJson")))
    metadata = {
        k: record[k] for k in ("requestId", "operation", "region") if isinstance(record.get(k), str)
    }
    if params:
        metadata["params"] = params
    identity = obj(record.get("identity")).get("arn")
    if isinstance(identity, str):
        metadata["identity"] = identity
    doc["metadata"] = metadata
    batch.response(key, source, line, doc)
