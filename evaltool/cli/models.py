"""`evaltool models`: the registry of models, with prices and parameters over time."""

import json
from datetime import datetime
from typing import Any

import click

from evaltool import db, display, models
from evaltool.cli import types
from evaltool.cli.output import echo_json, echo_table, json_option, renamed
from evaltool.errors import EvaltoolError


@click.group(name="models")
def models_group() -> None:
    """Register models and track their prices and generation parameters over time.

    API keys are never stored: adapters read them from the environment
    (OPENAI_API_KEY, AZURE_OPENAI_API_KEY, ANTHROPIC_API_KEY, the AWS credential chain).

    \b
    Example:
        evaltool models add gpt-4o --adapter openai --model-id gpt-4o-2024-08-06
        evaltool models price gpt-4o --input-per-mtok 2.5 --output-per-mtok 10
    """


@models_group.command()
@click.argument("name", type=types.NAME)
@click.option(
    "--adapter",
    type=click.Choice(models.ADAPTERS),
    required=True,
    help="How evaltool calls the model.",
)
@click.option(
    "--model-id",
    type=types.NAME,
    help="The provider's identifier, or module:function for python (default: NAME).",
)
@click.option("--provider", type=types.NAME, help="Who serves it (default: the adapter, or local).")
@click.option(
    "--base-url",
    type=types.URL,
    help="API base URL (http or https), e.g. a vLLM or Ollama server; for azure the "
    "resource's endpoint.",
)
@click.option(
    "--header",
    "headers",
    type=types.TEXT,
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Extra HTTP header (repeatable); a credential only as ${VAR} or 'Bearer ${VAR}', "
    "read from the environment.",
)
@click.option(
    "--api-key-env",
    type=types.NAME,
    metavar="VAR",
    help="Environment variable with the API key (default OPENAI_API_KEY, "
    "AZURE_OPENAI_API_KEY or ANTHROPIC_API_KEY).",
)
@click.option(
    "--api-version",
    type=types.NAME,
    # evaltool.adapters.azure.DEFAULT_API_VERSION, spelt out (a test keeps them equal) so
    # that the CLI starts without importing the HTTP client
    help="Azure OpenAI api-version (azure; default 2024-10-21).",
)
@click.option(
    "--stream/--no-stream",
    default=False,
    help="Stream answers and record the time to first token (openai, azure, anthropic; "
    "default: not streamed).",
)
@click.option(
    "--region", type=types.NAME, help="AWS region (bedrock; default: the AWS configuration)."
)
@click.option(
    "--proxy",
    type=types.URL,
    help="HTTP(S) proxy for this model's calls (else HTTPS_PROXY/HTTP_PROXY, NO_PROXY).",
)
@click.option(
    "--ca-bundle",
    type=types.TEXT,
    metavar="PATH",
    help="CA certificates to trust for this model's HTTPS (else SSL_CERT_FILE, "
    "REQUESTS_CA_BUNDLE, the system's).",
)
@click.option("--version", "model_version", type=types.NAME, help="Version label.")
@click.option(
    "--param",
    "params",
    type=types.TEXT,
    multiple=True,
    metavar="KEY=VALUE",
    help="Generation parameter, e.g. --param temperature=0.",
)
@click.option("--reference", is_flag=True, help="Mark as a reference model for comparisons.")
@click.option("--description", type=types.TEXT, help="Free text.")
@click.option(
    "--exist-ok", is_flag=True, help="Succeed if NAME exists with this adapter and model id."
)
def add(
    name: str,
    adapter: str,
    model_id: str | None,
    provider: str | None,
    base_url: str | None,
    headers: tuple[str, ...],
    api_key_env: str | None,
    api_version: str | None,
    stream: bool,
    region: str | None,
    proxy: str | None,
    ca_bundle: str | None,
    model_version: str | None,
    params: tuple[str, ...],
    reference: bool,
    description: str | None,
    exist_ok: bool,
) -> None:
    """Register a model under NAME.

    \b
    Example:
        evaltool models add llama-local --adapter openai --base-url http://127.0.0.1:8000/v1 \\
            --model-id meta-llama/Llama-3.1-8B-Instruct --param temperature=0
        evaltool models add clf-v2 --adapter python --model-id examples.models:v2
        evaltool models add together-llama --adapter openai \\
            --base-url https://api.together.xyz/v1 --api-key-env TOGETHER_API_KEY
        evaltool models add wc --adapter command --model-id 'wc -w'
        evaltool models add gpt-4o-azure --adapter azure --model-id my-gpt-4o \\
            --base-url https://my-resource.openai.azure.com --stream
        evaltool models add gemini-flash --adapter openai --model-id gemini-2.5-flash \\
            --base-url https://generativelanguage.googleapis.com/v1beta/openai \\
            --api-key-env GEMINI_API_KEY
        evaltool models add llama-ollama --adapter openai --model-id llama3.2 \\
            --base-url http://localhost:11434/v1 --api-key-env OLLAMA_API_KEY

    \b
    Adapters:
        openai     OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, Ollama,
                   LM Studio, Gemini); key from $OPENAI_API_KEY, none needed for a local
                   server
        azure      Azure OpenAI: --base-url the resource's endpoint, --model-id the
                   deployment; key from $AZURE_OPENAI_API_KEY, sent as api-key
        anthropic  Anthropic Messages; key from $ANTHROPIC_API_KEY
        bedrock    AWS Bedrock Converse (pip install 'evaltool[bedrock]'); AWS credentials
        python     --model-id module:function or file.py:function, called with the input
        command    --model-id 'shell command': input JSON on stdin, output on stdout
    """
    with db.connect() as conn:
        created = models.add(
            conn,
            name,
            adapter=adapter,
            model_id=model_id,
            provider=provider,
            base_url=base_url,
            headers=models.parse_headers(headers),
            api_key_env=api_key_env,
            region=region,
            version=model_version,
            params=models.parse_params(params, "--param"),
            is_reference=reference,
            description=description,
            exist_ok=exist_ok,
            proxy=proxy,
            ca_bundle=ca_bundle,
            api_version=api_version,
            stream=stream,
        )
    click.echo(f"{'registered' if created else 'kept existing'} model {name} ({adapter})")


@models_group.command()
@click.argument("name", type=types.NAME)
@click.option("--base-url", type=types.URL, help="New API base URL.")
@click.option(
    "--header",
    "headers",
    type=types.TEXT,
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Extra HTTP headers, replacing the model's (credentials only as ${VAR}).",
)
@click.option("--api-key-env", type=types.NAME, metavar="VAR", help="Variable with the API key.")
@click.option("--region", type=types.NAME, help="AWS region (bedrock).")
@click.option("--proxy", type=types.URL, help="HTTP(S) proxy for this model's calls.")
@click.option("--ca-bundle", type=types.TEXT, metavar="PATH", help="CA certificates to trust.")
@click.option("--api-version", type=types.NAME, help="Azure OpenAI api-version (azure).")
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Stream answers and record the time to first token, or not (the default).",
)
@click.option(
    "--unset",
    type=click.Choice(models.CONNECTION),
    multiple=True,
    help="Remove a setting (repeatable), e.g. --unset proxy.",
)
@click.option(
    "--param",
    "params",
    type=types.TEXT,
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a generation parameter from now on (kept in its history).",
)
@click.option("--description", type=types.TEXT, help="Free text.")
@json_option
def update(
    name: str,
    base_url: str | None,
    headers: tuple[str, ...],
    api_key_env: str | None,
    region: str | None,
    proxy: str | None,
    ca_bundle: str | None,
    api_version: str | None,
    stream: bool | None,
    unset: tuple[str, ...],
    params: tuple[str, ...],
    description: str | None,
    as_json: bool,
) -> None:
    """Change how a model is reached, its parameters or its description.

    The audit log records the change; runs created from now on take the new
    configuration into their snapshot, and `evaltool run --resume RUN` finishes a run with
    the model's connection settings as they are then (its model id and parameters stay
    the run's): fix a wrong base URL, then resume.

    \b
    Example:
        evaltool models update llama-local --base-url http://10.0.0.5:8000/v1
        evaltool models update gpt-4o --proxy http://proxy.corp:3128 --ca-bundle corp-ca.pem
        evaltool models update gpt-4o --param temperature=0.2 --unset proxy
        evaltool models update gpt-4o-azure --api-version 2025-01-01-preview --stream
    """
    given = {
        "base_url": base_url,
        "headers": models.parse_headers(headers) if headers else None,
        "api_key_env": api_key_env,
        "region": region,
        "proxy": proxy,
        "ca_bundle": ca_bundle,
        "api_version": api_version,
        "stream": stream or None,
    }
    config: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    both = sorted(set(config) & set(unset))
    if both:
        raise click.UsageError(f"--unset {both[0]} and a new value for it: give one")
    config.update(dict.fromkeys(unset))
    if stream is False:  # not streamed is the default: no key at all
        config["stream"] = None
    changes = models.parse_params(params, "--param")
    if not config and not changes and description is None:
        raise click.UsageError(
            "nothing to change: give a setting, --unset, --param or --description"
        )
    with db.connect() as conn:
        now = models.update(conn, name, config, params=changes, description=description)
    if as_json:
        echo_json({"model": name, "config": now})
        return
    shown = (
        ", ".join(f"{k} {now[k]}" for k in models.CONNECTION if k in now and k != "headers")
        or "defaults"
    )
    click.echo(f"updated model {name}: {shown}")


@models_group.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include retired models.")
@json_option
def list_(show_all: bool, as_json: bool) -> None:
    """List models with the price and parameters in force now.

    \b
    Example:
        evaltool models list --json
    """
    with db.connect() as conn:
        rows = models.listing(conn, deleted=show_all)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no models yet: evaltool models add NAME --adapter ...", err=True)
        return
    echo_table(
        ["name", "adapter", "model id", "provider", "$/Mtok in", "$/Mtok out", "params"],
        [
            (
                r["name"],
                r["adapter"],
                r["model_id"],
                r["provider"],
                display.price(r["input_usd_per_mtok"], ""),
                display.price(r["output_usd_per_mtok"], ""),
                _params(r["params"]),
            )
            for r in rows
        ],
    )


@models_group.command()
@click.argument("name", type=types.TEXT)
@json_option
def show(name: str, as_json: bool) -> None:
    """Show a model with the history of its prices and parameters.

    \b
    Example:
        evaltool models show gpt-4o
    """
    with db.connect() as conn:
        info = models.summary(conn, name)
    if info is None:
        raise EvaltoolError(f"no model named {name!r}: see evaltool models list")
    if as_json:
        echo_json(info)
        return
    for key in (
        "name",
        "adapter",
        "model_id",
        "provider",
        "version",
        "description",
        "created_by",
        "created_at",
        "runs",
    ):
        if info[key] is not None:
            click.echo(f"{key.replace('_', ' '):<12}{info[key]}")
    if info["config"]:
        click.echo(f"{'config':<12}{info['config']}")
    for price in info["pricing"]:
        until = price["valid_to"] or "now"
        click.echo(
            f"{'price':<12}${price['input_usd_per_mtok']} in, "
            f"${price['output_usd_per_mtok']} out per Mtok, {price['valid_from']} .. {until}"
        )
    for params in info["params"]:
        until = params["valid_to"] or "now"
        click.echo(f"{'params':<12}{_params(params['params'])}, {params['valid_from']} .. {until}")


@models_group.command()
@click.argument("name", type=types.TEXT)
@click.option(
    "--input-per-mtok",
    type=types.price(),
    required=True,
    help="USD per million input tokens.",
)
@click.option(
    "--output-per-mtok",
    type=types.price(),
    required=True,
    help="USD per million output tokens.",
)
@click.option(
    "--since", "valid_from", type=click.DateTime(), help="When it applies (default: now)."
)
@click.option("--from", "old_from", type=click.DateTime(), hidden=True)
def price(
    name: str,
    input_per_mtok: float,
    output_per_mtok: float,
    valid_from: datetime | None,
    old_from: datetime | None,
) -> None:
    """Set a model's price from now (or --since) on; earlier prices stay in history.

    \b
    Example:
        evaltool models price gpt-4o --input-per-mtok 2.5 --output-per-mtok 10 --since 2026-01-01
    """
    valid_from = renamed(valid_from, old_from, "--from", "--since")
    with db.connect() as conn:
        models.set_price(
            conn,
            name,
            input_per_mtok=input_per_mtok,
            output_per_mtok=output_per_mtok,
            valid_from=valid_from,
        )
    click.echo(f"priced {name}: ${input_per_mtok} in, ${output_per_mtok} out per million tokens")


@models_group.command()
@click.argument("name", type=types.TEXT)
@click.argument("changes", type=types.TEXT, nargs=-1, required=True, metavar="KEY=VALUE...")
def params(name: str, changes: tuple[str, ...]) -> None:
    """Change some of a model's generation parameters from now on.

    \b
    Example:
        evaltool models params gpt-4o temperature=0 max_tokens=512
    """
    with db.connect() as conn:
        current = models.set_params(conn, name, models.parse_params(changes))
    click.echo(f"{name} parameters: {_params(current)}")


def _params(value: dict[str, object] | None) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (value or {}).items())
