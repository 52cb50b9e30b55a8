"""`evaltool load`: files into the database with COPY, all or nothing."""

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, wraps
from pathlib import Path
from typing import Any

import click

from evaltool import db
from evaltool.cli import types
from evaltool.cli.output import echo_json, json_option, quiet_option
from evaltool.datasets import DatasetRef
from evaltool.load import LoadSummary
from evaltool.load.formats import CONTAINERS, FORMATS
from evaltool.load.preferences import load_preferences
from evaltool.load.prompts import load_prompts
from evaltool.load.records import FieldMap
from evaltool.load.results import load_responses, load_scores
from evaltool.load.sources import Source, expand
from evaltool.load.training import load_training
from evaltool.progress import Progress

JSONL = (".jsonl", ".jsonl.gz")
SUFFIXES = {"csv": (".csv", ".csv.gz"), "json": (".json", ".json.gz")}
MAP_HELP = (
    "Read the value at SOURCE (a field, a CSV column, or a dotted path such as "
    "answers.text.0) as FIELD; repeatable."
)


@dataclass(frozen=True)
class LoadOptions:
    """The options every load shares."""

    skip_invalid: bool
    rejects_path: Path
    quiet: bool
    as_json: bool


def load_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """FILE arguments and the shared options, passed to the command as `files` and `options`."""

    @click.argument("files", type=types.INPUT_FILE, nargs=-1, required=True, metavar="FILE...")
    @click.option(
        "--skip-invalid",
        is_flag=True,
        help="Load the valid lines and write the others to the rejects file.",
    )
    @click.option(
        "--rejects",
        "rejects_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default="evaltool-rejects.jsonl",
        show_default=True,
        help="Where --skip-invalid writes rejected lines with their reasons.",
    )
    @quiet_option
    @json_option
    @wraps(command)
    def wrapper(
        skip_invalid: bool, rejects_path: Path, quiet: bool, as_json: bool, **kwargs: Any
    ) -> None:
        command(options=LoadOptions(skip_invalid, rejects_path, quiet, as_json), **kwargs)

    return wrapper


def format_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--format (the container) and --map, passed as `fmt` and `field_map`."""

    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", *CONTAINERS]),
        default="auto",
        show_default=True,
        help="jsonl (JSON Lines), json (an array of records, or an object holding one) or "
        "csv (a header row; typed fields read as numbers); auto goes by the file name.",
    )
    @click.option(
        "--map", "mappings", type=types.TEXT, multiple=True, metavar="SOURCE=FIELD", help=MAP_HELP
    )
    @wraps(command)
    def wrapper(fmt: str, mappings: tuple[str, ...], **kwargs: Any) -> None:
        command(fmt=fmt, field_map=FieldMap(mappings), **kwargs)

    return wrapper


def suffixes(fmt: str) -> tuple[str, ...]:
    """The files of a directory argument that a load reads."""
    return SUFFIXES.get(fmt, JSONL)


def _execute(
    label: str, sources: list[Source], options: LoadOptions, loader: Callable[..., LoadSummary]
) -> None:
    """Run a loader with progress on a connection, then print its summary."""
    # a share of the bytes only where the bytes counted are the files' (not gzip's, nor
    # those of the JSON that CSV rows and JSON documents become)
    sized = all(s.path is not None and s.name.endswith(".jsonl") for s in sources)
    total = sum(s.size or 0 for s in sources) if sized else None
    with (
        Progress(f"loading {label}", total, enabled=not options.quiet) as progress,
        db.connect() as conn,
    ):
        summary = loader(
            conn,
            sources,
            skip_invalid=options.skip_invalid,
            rejects_path=options.rejects_path if options.skip_invalid else None,
            progress=progress,
        )
    if options.as_json:
        echo_json(summary.as_dict())
    else:
        click.echo(summary.text())


@click.group()
def load() -> None:
    """Load JSON Lines, JSON or CSV files into the database: COPY, one transaction per command.

    FILE is a path, a directory or a glob (its *.jsonl and *.jsonl.gz files, in name
    order; *.json or *.csv with --format json or csv), or - for standard input; gzip is
    read transparently. --map SOURCE=FIELD reads other field names, dotted paths too.
    A bad line stops the load with FILE:LINE and a reason, exit code 2, and the database
    as it was; --skip-invalid loads the rest and writes rejects to a file. Loading the
    same file twice adds nothing the second time.

    \b
    Other tools' result files: evaltool import.

    \b
    Example:
        evaltool load prompts golden.jsonl --dataset qa
        evaltool load prompts batches/ --dataset qa:2 --skip-invalid --json
    """


@load.command()
@load_options
@click.option(
    "--dataset",
    "-d",
    "dataset_name",
    type=types.NAME,
    required=True,
    metavar="NAME[:VERSION]",
    help="Dataset to load into; created when absent (version 1 unless named).",
)
@click.option(
    "--project", type=types.NAME, default=None, help="Project of the dataset (default: default)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Line format, or a container of evaltool's format (jsonl, json, csv); auto "
    "goes by the file name and tells line formats apart by their fields, or asks.",
)
@click.option(
    "--map", "mappings", type=types.TEXT, multiple=True, metavar="SOURCE=FIELD", help=MAP_HELP
)
def prompts(
    files: tuple[str, ...],
    dataset_name: str,
    project: str | None,
    fmt: str,
    mappings: tuple[str, ...],
    options: LoadOptions,
) -> None:
    """Load test cases into a dataset.

    \b
    Formats (one JSON object a line unless CSV):
      evaltool      {"input": any JSON (required), "expected": any JSON, "id": external id,
                     "tags": [strings], "metadata": {...}, "origin": human|synthetic|
                     imported|production, "is_verified": bool}; other fields go to metadata
      openai-evals  {"input": [messages], "ideal": answer}  -> input, expected = ideal
      chat          {"messages": [...]}  -> input = the messages before a final assistant
                     message, expected = that message's content
      inspect       {"input", "target", "choices", "id", "metadata"}  -> expected = target;
                     with choices, input = {"input": ..., "choices": [...]}
      lm-eval       lm-evaluation-harness --log_samples lines {"doc_id", "doc", "target",
                     ...}  -> id = doc_id, input = doc, expected = target
      csv           header row; columns id, input, expected, tags (split on , or ;), origin,
                     is_verified, metadata (JSON) by name or --map; others go to metadata
      json          one JSON document: an array of records, or an object holding one
                     array of records (as Hugging Face and SQuAD-style files do)

    Files named *.csv and *.json are read as such; --map SOURCE=FIELD renames fields
    before the format applies, by name or by dotted path into the record (for every
    format: answers.text.0=expected takes the first answer).

    A test case is stored once per dataset: a line whose input (compared as JSON, so key
    order and spacing do not matter) is already there counts as a duplicate.

    \b
    Example:
        evaltool load prompts golden.jsonl --dataset qa
        evaltool load prompts evals/*.jsonl.gz --dataset qa:2 --project search
        zcat dump.jsonl.gz | evaltool load prompts - --dataset qa --format chat
        evaltool load prompts cases.csv --dataset qa --map question=input --map answer=expected
        evaltool load prompts squad.json -d sq --map question=input --map answers.text.0=expected
    """
    sources = expand(files, suffixes(fmt))
    ref = DatasetRef.parse(dataset_name, project)
    _execute(
        "prompts",
        sources,
        options,
        partial(load_prompts, ref=ref, fmt=fmt, field_map=FieldMap(mappings)),
    )


@load.command()
@load_options
@format_options
@click.option("--run", "run_id", type=types.count(), help="Run to add the responses to.")
@click.option(
    "--model",
    type=types.NAME,
    help="With --dataset: record a new run of this registered model.",
)
@click.option(
    "--dataset",
    "-d",
    "dataset_name",
    type=types.NAME,
    metavar="NAME[:VERSION]",
    help="With --model: the dataset the responses answer.",
)
@click.option(
    "--project", type=types.NAME, default=None, help="Project of the dataset (default: default)."
)
@click.option("--name", type=types.NAME, help="Name of the new run.")
def responses(
    files: tuple[str, ...],
    run_id: int | None,
    model: str | None,
    dataset_name: str | None,
    project: str | None,
    name: str | None,
    fmt: str,
    field_map: FieldMap,
    options: LoadOptions,
) -> None:
    """Load model responses produced elsewhere, one per test case of a run.

    \b
    Each line names its test case by "id" (external id) or by "input" (matched as JSON),
    and may give: "output" (any JSON), "output_text", "status" (ok|error), "error",
    "latency_ms", "input_tokens", "output_tokens", "tokens_estimated", "cost_usd",
    "attempts", "sample", "created_at" (when the call was made: ISO 8601), "metadata";
    other fields go to metadata. Without "cost_usd" the cost is computed from the model's
    price at "created_at" (else now). A test case the run already answered is a duplicate.
    Other tools' result files: evaltool import.

    \b
    Example:
        evaltool load responses outputs.jsonl --model gpt-4o --dataset qa --name nightly
        evaltool load responses more.jsonl --run 12
        evaltool load responses out.csv --run 12 --map answer=output --map ms=latency_ms
    """
    sources = expand(files, suffixes(fmt))
    ref = DatasetRef.parse(dataset_name, project) if dataset_name else None
    _execute(
        "responses",
        sources,
        options,
        partial(
            load_responses,
            run_id=run_id,
            model=model,
            dataset=ref,
            name=name,
            fmt=fmt,
            field_map=field_map,
        ),
    )


@load.command()
@load_options
@format_options
@click.option(
    "--run",
    "run_id",
    type=types.count(),
    help="Run whose responses are scored: lets lines name test cases.",
)
@click.option(
    "--scorer",
    type=types.NAME,
    default="imported",
    show_default=True,
    help="Scorer name for lines that give none.",
)
def scores(
    files: tuple[str, ...],
    run_id: int | None,
    scorer: str,
    fmt: str,
    field_map: FieldMap,
    options: LoadOptions,
) -> None:
    """Load scores computed elsewhere, one per response and metric.

    \b
    Each line names its response by "response_id", or, with --run, its test case by "id"
    or "input"; then "metric" (required), "value" (number) and/or "passed" (bool),
    "details" (object), "scorer", "scorer_version". A metric the response already has
    is a duplicate.

    \b
    Example:
        evaltool load scores judge.jsonl --run 12 --scorer gpt4-judge
        evaltool load scores labels.csv --run 12 --map verdict=passed --map rubric=metric
    """
    sources = expand(files, suffixes(fmt))
    _execute(
        "scores",
        sources,
        options,
        partial(load_scores, run_id=run_id, scorer=scorer, fmt=fmt, field_map=field_map),
    )


@load.command(name="archive")
@load_options
def archive_file(files: tuple[str, ...], options: LoadOptions) -> None:
    """Restore the runs `evaltool runs archive` wrote to a file.

    Every response of the file comes back with its id, its scores, score history and the
    preferences whose two responses are here again; partitions dropped by the archive are
    created again, and the runs read their rows (not their archived summary) again. A run
    that is not archived, or not in this database, is a bad line.

    \b
    Example:
        evaltool load archive evaltool-archive-20260101.jsonl.gz
    """
    from evaltool.archive import load_archive

    _execute("archived responses", expand(files, JSONL), options, load_archive)


@load.command()
@load_options
@format_options
@click.option(
    "--project",
    type=types.NAME,
    default="default",
    show_default=True,
    help="Project the examples belong to; created when absent.",
)
@click.option(
    "--source",
    "data_source",
    type=types.NAME,
    default="file",
    show_default=True,
    help="data_source of lines that give none (synthetic, production, ...).",
)
@click.option(
    "--priority",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Priority of lines that give none, 1 to 1000.",
)
def training(
    files: tuple[str, ...],
    project: str,
    data_source: str,
    priority: int,
    fmt: str,
    field_map: FieldMap,
    options: LoadOptions,
) -> None:
    """Load prompt/completion pairs for training pipelines.

    \b
    Each line is {"prompt": any JSON, "completion" or "enhancement": any JSON} with
    optional "priority" (1 to 1000), "data_source" and "metadata"; other fields go to
    metadata. Generator batches of {"prompt", "enhancement"} load as they are; each
    example records its batch file and line. A pair the project already holds is a
    duplicate.

    \b
    Example:
        evaltool load training ml_stub/batches/ --source synthetic --priority 200
        evaltool load training pairs.csv --map question=prompt --map answer=completion
    """
    sources = expand(files, suffixes(fmt))
    _execute(
        "training examples",
        sources,
        options,
        partial(
            load_training,
            project=project,
            data_source=data_source,
            priority=priority,
            fmt=fmt,
            field_map=field_map,
        ),
    )


@load.command()
@load_options
@format_options
@click.option(
    "--run-a",
    "run_a",
    type=types.count(),
    help="Run of the A responses: lets lines name test cases.",
)
@click.option("--run-b", "run_b", type=types.count(), help="Run of the B responses (with --run-a).")
@click.option(
    "--judge",
    type=types.NAME,
    default=getpass.getuser,
    show_default="your login name",
    help="Judge of lines that name none: an annotator, or a judge model's name.",
)
@click.option(
    "--judge-kind",
    type=click.Choice(["human", "model"]),
    default="human",
    show_default=True,
    help="Kind of judge of lines that give no judge_kind.",
)
def preferences(
    files: tuple[str, ...],
    run_a: int | None,
    run_b: int | None,
    judge: str,
    judge_kind: str,
    fmt: str,
    field_map: FieldMap,
    options: LoadOptions,
) -> None:
    """Load pairwise judgments: which of two responses to a test case is better.

    \b
    Each line names its two responses by "response_a" and "response_b" (response ids),
    or, with --run-a and --run-b, its test case by "id" or "input"; then "winner": "a",
    "b" or "tie" (also model_a, model_b and "tie (bothbad)" as in Chatbot Arena exports),
    and optionally "judge", "judge_kind" (human|model), "reason" and "details" (object);
    other fields go to details, except "expected", "output_a" and "output_b", which
    evaltool preferences export writes for the annotator. One judgment per pair of
    responses and judge, in either order: a pair the judge already judged is a
    duplicate. Win rates and Bradley-Terry ratings: evaltool preferences ratings.

    \b
    Example:
        evaltool load preferences labels.jsonl --run-a 3 --run-b 4 --judge alice
        evaltool load preferences arena.jsonl.gz --judge-kind model --judge gpt-4o
        evaltool load preferences to-label.jsonl --judge alice --skip-invalid
    """
    sources = expand(files, suffixes(fmt))
    _execute(
        "preferences",
        sources,
        options,
        partial(
            load_preferences,
            run_a=run_a,
            run_b=run_b,
            judge=judge,
            judge_kind=judge_kind,
            fmt=fmt,
            field_map=field_map,
        ),
    )
