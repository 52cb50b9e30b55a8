"""`evaltool import TOOL FILE...`: other tools' result files into datasets, runs and scores."""

import importlib

import click

from evaltool import db
from evaltool.cli import types
from evaltool.cli.output import echo_json, json_option, quiet_option
from evaltool.datasets import DatasetRef
from evaltool.errors import EvaltoolError
from evaltool.imports import import_files
from evaltool.load.sources import expand
from evaltool.progress import Progress

# TOOL -> (module of evaltool.imports, the files a directory argument stands for)
TOOLS = {
    "promptfoo": ("promptfoo", (".json", ".csv", ".yaml", ".yml")),
    "lm-eval": ("lmeval", (".jsonl", ".jsonl.gz", ".json")),
    "inspect": ("inspect_ai", (".eval", ".json")),
    "openai-batch": ("openai_batch", (".jsonl",)),
    "bedrock": ("bedrock", (".jsonl.out", ".jsonl", ".jsonl.gz", ".json", ".json.gz")),
}


@click.command(name="import")
@click.argument("tool", type=click.Choice(list(TOOLS)))
@click.argument("files", type=types.INPUT_FILE, nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--dataset",
    "-d",
    "dataset_name",
    type=types.NAME,
    metavar="NAME[:VERSION]",
    help="Dataset of the test cases (default: named by the file: its task, description or "
    "tool); created when absent, else its test cases are matched by input.",
)
@click.option(
    "--project", type=types.NAME, default=None, help="Project of the dataset (default: default)."
)
@click.option(
    "--model",
    type=types.NAME,
    help="Model name to record the runs under, instead of the one the file gives (a "
    "registered model: its prices then give the costs).",
)
@quiet_option
@json_option
def import_(
    tool: str,
    files: tuple[str, ...],
    dataset_name: str | None,
    project: str | None,
    model: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Import another tool's results: test cases, runs, responses and scores.

    \b
    TOOL and the files it reads:
      promptfoo     results of `promptfoo eval -o results.json` (a run per prompt and
                    provider; assertions as metrics, "pass" as promptfoo's verdict), and
                    test files (CSV with __expected columns, YAML or JSON tests) as a dataset
      lm-eval       samples_TASK_DATE.jsonl of `lm_eval --log_samples` (a run per task;
                    the model from the results_DATE.json beside it, else --model)
      inspect       Inspect AI eval logs, .json or .eval (epochs as samples; C/I as pass/fail)
      openai-batch  the Batch API's input file with its output and error files
      bedrock       batch inference output (*.jsonl.out) and model invocation logs (S3
                    delivery, CloudWatch Logs exports, aws logs filter-log-events output)

    Models the files name are registered as imported (evaltool cannot call them) unless
    a model of that name exists; the runs record the files they came from, and importing
    the same files again adds nothing. One transaction: a bad record stops the import
    with FILE:LINE and leaves the database as it was.

    \b
    Example:
        evaltool import promptfoo results.json
        evaltool import lm-eval out/pythia/samples_gsm8k_*.jsonl --dataset gsm8k
        evaltool import inspect logs/2024-05-01T12-00-00_task_abc.eval
        evaltool import openai-batch batch_input.jsonl batch_output.jsonl batch_errors.jsonl
        evaltool import bedrock invocations/ --model claude-haiku --json
    """
    module_name, suffixes = TOOLS[tool]
    sources = expand(files, suffixes)
    if any(source.path is None for source in sources):
        raise EvaltoolError("evaltool import reads files, not standard input")
    reader = importlib.import_module(f"evaltool.imports.{module_name}").read
    ref = DatasetRef.parse(dataset_name, project) if dataset_name else None
    with (
        Progress(f"importing {tool}", None, enabled=not quiet) as progress,
        db.connect() as conn,
    ):
        summary = import_files(
            conn,
            tool,
            reader,
            sources,
            dataset=ref,
            project=project,
            model=model,
            progress=progress,
        )
    if as_json:
        echo_json(summary.as_dict())
    else:
        click.echo(summary.text())
