"""The model registry: which models exist, how they are called, their price and parameters.

API keys are never stored: adapters read them from the environment. A base URL with
credentials in its user part or query string, a credential header whose value is not an
environment reference (${VAR}), and a credential-named parameter are refused for the same
reason; evaltool.secrets says which names are credentials.
"""

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg.types.json import Jsonb

from evaltool import queries
from evaltool import secrets as secret_values
from evaltool.datasets import ensure_row
from evaltool.errors import EvaltoolError

ADAPTERS = ["openai", "azure", "anthropic", "bedrock", "python", "command"]
_LOCAL_ADAPTERS = {"python", "command"}
# The adapters that can stream an answer and time its first token (config key `stream`)
STREAMING = ("openai", "azure", "anthropic")
# Azure OpenAI's api-version: a date, with -preview for a preview, or a word such as v1
_API_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,39}")
_FROM_ENV = (
    "secrets come from the environment only, e.g. the API key from $OPENAI_API_KEY "
    "or the variable that --api-key-env names"
)


def listing(conn: psycopg.Connection, *, deleted: bool = False) -> list[dict[str, Any]]:
    """Models with the price and parameters in force now."""
    return queries.fetch_all(conn, "model_list", {"all": deleted})


def summary(conn: psycopg.Connection, name: str) -> dict[str, Any] | None:
    """A model with the history of its prices and parameters; None if there is none."""
    return queries.fetch_one(conn, "model_show", {"name": name})


def parse_params(pairs: tuple[str, ...], option: str = "parameter") -> dict[str, Any]:
    """k=v arguments as a JSON object; values that read as JSON (0.2, true, [..]) are typed.
    A credential-named key (api_key, token, ...) is refused, naming `option`."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise EvaltoolError(f"{pair!r}: expected KEY=VALUE, e.g. temperature=0.2")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    check_params(params, option)
    return params


def check_params(params: dict[str, Any], option: str = "parameter") -> None:
    """Refuse parameters named like credentials: they would be stored with every run."""
    for key in params:
        if secret_values.is_secret_param(key):
            raise EvaltoolError(f"{option} {key} holds a credential: {_FROM_ENV}")


def parse_headers(lines: tuple[str, ...]) -> dict[str, str]:
    """'Name: value' arguments as a dict. Credentials must be written as ${VAR}, which the
    adapter reads from the environment at call time, so they are never stored."""
    headers: dict[str, str] = {}
    for line in lines:
        header, sep, value = line.partition(":")
        header, value = header.strip(), value.strip()
        if not sep or not header or " " in header:
            raise EvaltoolError(f"{line!r}: expected 'Name: value'")
        headers[header] = value
    check_headers(headers)
    return headers


def check_headers(headers: dict[str, str]) -> None:
    """Refuse a credential header (Authorization, Cookie, X-Goog-Api-Key, any name with key,
    token, secret or auth in it) whose value is more than an environment reference:
    `${VAR}`, for Authorization `Bearer ${VAR}`, for Cookie `name=${VAR}`."""
    for header, value in headers.items():
        if secret_values.is_secret_header(header) and not secret_values.is_env_reference(
            header, value
        ):
            scheme = "Bearer " if header.lower() in ("authorization", "proxy-authorization") else ""
            raise EvaltoolError(
                f"--header {header} holds a credential: write it as ${{VAR}}, e.g. "
                f"'{header}: {scheme}${{MY_API_KEY}}', and set VAR in the environment "
                "(secrets come from the environment only)"
            )


_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def check_base_url(base_url: str, option: str = "--base-url") -> None:
    """Refuse a base (or proxy) URL with credentials in its user part or its query string."""
    try:
        parts = urlsplit(base_url)
        has_user = bool(parts.username or parts.password)
    except ValueError as exc:
        raise EvaltoolError(f"{option} is not a URL: {exc}") from None
    if option == "--proxy" and all(
        part is None or _ENV_REF.fullmatch(part) for part in (parts.username, parts.password)
    ):
        has_user = False  # ${VAR} references, filled from the environment at call time
    if has_user:
        where = (
            "write them as ${VAR} (http://${PROXY_USER}:${PROXY_PASSWORD}@host:port), "
            "read from the environment"
            if option == "--proxy"
            else "adapters read API keys from the environment (e.g. OPENAI_API_KEY)"
        )
        raise EvaltoolError(f"{option} must not hold credentials: {where}")
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if secret_values.is_secret_query(name):
            raise EvaltoolError(
                f"{option} must not hold credentials (query parameter {name}): {_FROM_ENV}"
            )


def add(
    conn: psycopg.Connection,
    name: str,
    *,
    adapter: str,
    model_id: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    headers: dict[str, str] | None = None,
    api_key_env: str | None = None,
    region: str | None = None,
    version: str | None = None,
    params: dict[str, Any] | None = None,
    is_reference: bool = False,
    description: str | None = None,
    exist_ok: bool = False,
    proxy: str | None = None,
    ca_bundle: str | None = None,
    api_version: str | None = None,
    stream: bool = False,
) -> bool:
    """Register a model (with its first parameters); returns whether it was created.

    With `exist_ok`, a model of that name with the same adapter and model id is left as it
    is (scripts can register what they need every time); any other clash is an error.
    """
    if base_url:
        check_base_url(base_url)
    if adapter == "azure" and not base_url:
        raise EvaltoolError(
            "an azure model needs --base-url, its resource's endpoint "
            "(https://RESOURCE.openai.azure.com), and --model-id, the deployment's name"
        )
    check_adapter_settings(adapter, {"api_version": api_version, "stream": stream})
    if proxy:
        check_base_url(proxy, "--proxy")
    check_headers(headers or {})
    check_params(params or {}, "--param")
    if adapter == "python" and not re.fullmatch(r"[^:]+:[A-Za-z_]\w*", model_id or name):
        # the module itself may exist only where workers run, so only the form is checked
        raise EvaltoolError(
            f"python model {model_id or name!r}: --model-id must be module:function "
            "or path/to/file.py:function"
        )
    with conn.transaction():
        provider_name = provider or ("local" if adapter in _LOCAL_ADAPTERS else adapter)
        # safe when another session registers a model of a new provider at the same moment
        row = ensure_row(
            conn, "provider_ensure", {"provider": provider_name}, f"provider {provider_name}"
        )
        try:
            with conn.transaction():
                made = conn.execute(
                    queries.get("model_add"),
                    {
                        "provider_id": row[0],
                        "name": name,
                        "model_id": model_id or name,
                        "version": version,
                        "adapter": adapter,
                        "config": Jsonb(
                            {
                                k: v
                                for k, v in (
                                    ("base_url", base_url),
                                    ("headers", headers),
                                    ("api_key_env", api_key_env),
                                    ("region", region),
                                    ("proxy", proxy),
                                    ("ca_bundle", ca_bundle),
                                    ("api_version", api_version),
                                    ("stream", stream),
                                )
                                if v
                            }
                        ),
                        "is_reference": is_reference,
                        "description": description,
                    },
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            same = conn.execute(
                queries.get("model_same"),
                {"name": name, "adapter": adapter, "model_id": model_id or name},
            ).fetchone()
            if exist_ok and same:
                return False
            raise EvaltoolError(
                f"a model named {name!r} exists"
                + (" with another adapter or model id" if exist_ok else "")
                + f": see evaltool models show {name}"
            ) from exc
        assert made is not None
        if params:
            set_params(conn, name, params)
        return True


def set_price(
    conn: psycopg.Connection,
    name: str,
    *,
    input_per_mtok: float,
    output_per_mtok: float,
    valid_from: datetime | None = None,
) -> None:
    """Make a price current from `valid_from` (default now), ending the one before."""
    with conn.transaction():
        model_id = _model_id(conn, name)
        args = {
            "model_id": model_id,
            "input": input_per_mtok,
            "output": output_per_mtok,
            "valid_from": valid_from or _now(conn),
        }
        conn.execute(queries.get("price_close"), args)
        try:
            with conn.transaction():
                conn.execute(queries.get("price_add"), args)
        except psycopg.errors.ExclusionViolation as exc:
            raise EvaltoolError(
                f"{name} already has a price from a later date; "
                "--since must come after the last price change"
            ) from exc


# The connection settings of a model's configuration, which `update` may change
CONNECTION = (
    "base_url",
    "headers",
    "api_key_env",
    "region",
    "proxy",
    "ca_bundle",
    "api_version",
    "stream",
)


def check_adapter_settings(adapter: str, config: dict[str, Any]) -> None:
    """Refuse settings the model's adapter has no use for: an api_version but for azure,
    stream but for the adapters in STREAMING."""
    version = config.get("api_version")
    if version and adapter != "azure":
        raise EvaltoolError(f"--api-version is for azure models, not {adapter}")
    if version and not _API_VERSION.fullmatch(version):
        raise EvaltoolError(f"--api-version {version!r}: expected e.g. 2024-10-21")
    if config.get("stream") and adapter not in STREAMING:
        raise EvaltoolError(
            f"--stream is for {', '.join(STREAMING[:-1])} and {STREAMING[-1]} models, not {adapter}"
        )


def update(
    conn: psycopg.Connection,
    name: str,
    config: dict[str, Any],
    *,
    params: dict[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Change how a model is reached (CONNECTION settings; None removes one), its
    parameters from now on (kept in their history), or its description; the audit log
    records the change. Later runs take the new configuration into their snapshot, and
    `evaltool run --resume` uses it for the rest of a run. Returns the configuration."""
    unknown = set(config) - set(CONNECTION)
    assert not unknown, unknown
    if config.get("base_url"):
        check_base_url(config["base_url"])
    if config.get("proxy"):
        check_base_url(config["proxy"], "--proxy")
    check_headers(config.get("headers") or {})
    with conn.transaction():
        if config.get("api_version") or config.get("stream"):
            current = summary(conn, name)
            if current is None:
                raise EvaltoolError(f"no model named {name!r}: see evaltool models list")
            check_adapter_settings(current["adapter"], config)
        row = conn.execute(
            queries.get("model_update"),
            {
                "name": name,
                "set": Jsonb({k: v for k, v in config.items() if v is not None}),
                "unset": [k for k, v in config.items() if v is None],
                "description": description,
            },
        ).fetchone()
        if row is None:
            raise EvaltoolError(f"no model named {name!r}: see evaltool models list")
        if params:
            set_params(conn, name, params)
        return dict(row[0])


def set_params(conn: psycopg.Connection, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some generation parameters from now on; returns the parameters now in force."""
    check_params(changes)
    with conn.transaction():
        model_id = _model_id(conn, name)
        current = conn.execute(queries.get("params_current"), {"model_id": model_id}).fetchone()
        params = {**(current[0] if current else {}), **changes}
        args = {"model_id": model_id, "params": Jsonb(params), "valid_from": _now(conn)}
        conn.execute(queries.get("params_close"), args)
        conn.execute(queries.get("params_add"), args)
        return params


def _model_id(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute(queries.get("model_id_by_name"), {"name": name}).fetchone()
    if row is None:
        raise EvaltoolError(f"no model named {name!r}: see evaltool models list")
    return row[0]


def _now(conn: psycopg.Connection) -> datetime:
    row = conn.execute(queries.get("clock_now")).fetchone()
    assert row is not None
    return row[0]


def ensure(
    conn: psycopg.Connection,
    name: str,
    *,
    adapter: str,
    model_id: str | None = None,
    base_url: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    price: tuple[float, float] | None = None,
    description: str | None = None,
) -> None:
    """Register model NAME as defined in code or a suite file, or keep it when it is there
    with the same adapter and model id; parameters and a price (input, output USD per
    million tokens) that differ from those in force become the current ones, with history."""
    created = add(
        conn,
        name,
        adapter=adapter,
        model_id=model_id,
        base_url=base_url,
        headers=headers,
        params=params,
        description=description,
        exist_ok=True,
    )
    current = summary(conn, name)
    assert current is not None
    if not created and params is not None:
        now = [p["params"] for p in current["params"] if p["valid_to"] is None]
        if (now[0] if now else {}) != params:
            set_params(conn, name, params)
    if price is not None:
        now = [
            (float(p["input_usd_per_mtok"]), float(p["output_usd_per_mtok"]))
            for p in current["pricing"]
            if p["valid_to"] is None
        ]
        if not now or now[0] != (float(price[0]), float(price[1])):
            set_price(conn, name, input_per_mtok=price[0], output_per_mtok=price[1])
