"""Secrets: which names hold them, which values an adapter must never let out, and redaction.

API keys are never stored. They come from the environment only: a base URL, a header or a
parameter that holds one is refused when a model is registered (evaltool.models), and every
error message an adapter builds passes through `redact` before it leaves the adapter, so a
provider that echoes the key (`invalid key sk-...`) cannot put it into a response's error,
the run's metadata, stderr or a report.

`redact` replaces, with `***`:

- the secret values an adapter uses: its API key variable, the values of its credential
  headers after ${VAR} substitution (and the token after a scheme word, `Bearer TOKEN`),
  credential-named parameters, and the well-known key variables of the environment
  (OPENAI_API_KEY, ANTHROPIC_API_KEY, AWS_SECRET_ACCESS_KEY, ...) that a Python or
  command model may use. Values shorter than MIN_SECRET_CHARS are left alone: they would
  mask ordinary words and are no secret anyway.
- text shaped like a well-known key, whatever its source: `sk-` and 17 or more key
  characters (OpenAI, Anthropic), `hf_` tokens, AWS access key ids (AKIA/ASIA + 16),
  Google API keys (AIza + 35), and the token of `Bearer TOKEN` (16 or more characters).
  Model outputs are never redacted: only what describes a failure.
"""

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
MIN_SECRET_CHARS = 4

# Environment variables that hold keys whatever the model's config says.
WELL_KNOWN_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "HF_TOKEN",
)

_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
}
_SECRET_HEADER_PARTS = ("key", "token", "secret", "auth", "cookie", "password")

_SECRET_QUERY = {
    "api_key",
    "api-key",
    "apikey",
    "key",
    "token",
    "access_token",
    "sig",
    "signature",
    "password",
    "secret",
}

_SECRET_PARAMS = {
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "credentials",
    "authorization",
    "bearer_token",
    "auth_token",
    "access_token",
    "secret_key",
}
_SECRET_PARAM_SUFFIXES = ("api_key", "apikey", "_secret", "password", "_access_token")

_REF = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"
# A credential header's value is a reference alone; Authorization may put a scheme word
# before it ("Bearer ${VAR}"), and Cookie a cookie name (session=${VAR}).
_REF_ONLY = re.compile(_REF)
_SCHEME_REF = re.compile(rf"[A-Za-z]{{1,16}}\s+{_REF}")
_COOKIE_REF = re.compile(rf"[A-Za-z0-9_.-]{{1,64}}={_REF}")

_KEY_SHAPES = re.compile(
    r"(?<![A-Za-z0-9_-])(?:sk-[A-Za-z0-9_-]{17,}|hf_[A-Za-z0-9]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])"
)
_BEARER = re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]{16,}")


def is_secret_header(name: str) -> bool:
    """Whether a header of this name carries a credential (Authorization, X-Goog-Api-Key,
    Cookie, or any name with key, token, secret, auth, cookie or password in it)."""
    lower = name.strip().lower()
    return lower in _SECRET_HEADERS or any(part in lower for part in _SECRET_HEADER_PARTS)


def is_secret_query(name: str) -> bool:
    """Whether a URL query parameter of this name carries a credential (?api_key=, ?sig=)."""
    return name.strip().lower() in _SECRET_QUERY


def is_secret_param(name: str) -> bool:
    """Whether a generation parameter of this name carries a credential (api_key, token,
    password, ...); max_tokens or prompt_cache_key do not."""
    lower = name.strip().lower().replace("-", "_")
    return lower in _SECRET_PARAMS or lower.endswith(_SECRET_PARAM_SUFFIXES)


def is_env_reference(header: str, value: str) -> bool:
    """Whether a credential header's value only names an environment variable: `${VAR}`,
    for (Proxy-)Authorization also `Scheme ${VAR}` (e.g. `Bearer ${VAR}`), for Cookie also
    `name=${VAR}`."""
    value, name = value.strip(), header.strip().lower()
    if _REF_ONLY.fullmatch(value):
        return True
    if name in ("authorization", "proxy-authorization"):
        return bool(_SCHEME_REF.fullmatch(value))
    return name == "cookie" and bool(_COOKIE_REF.fullmatch(value))


def of_headers(headers: Mapping[str, str]) -> set[str]:
    """The secret values among headers (after ${VAR} substitution): each credential header's
    value, and the part after its scheme word or cookie name."""
    found: set[str] = set()
    for name, value in headers.items():
        if not is_secret_header(name):
            continue
        found.add(value)
        scheme, _, rest = value.partition(" ")
        if rest and scheme.isalpha():
            found.add(rest.strip())
        cookie_name, eq, cookie = value.partition("=")
        if eq and cookie and " " not in cookie_name:
            found.add(cookie.strip())
    return found


def of_env(*names: str) -> set[str]:
    """The values of these environment variables and of the well-known key variables."""
    return {os.environ[n] for n in (*names, *WELL_KNOWN_ENV) if os.environ.get(n)}


def of_params(params: Mapping[str, Any]) -> set[str]:
    """The string values of credential-named parameters (stored before they were refused)."""
    return {str(v) for k, v in params.items() if is_secret_param(k) and v is not None}


def collect(*groups: Iterable[str]) -> frozenset[str]:
    """The values of all groups worth redacting (MIN_SECRET_CHARS or longer)."""
    return frozenset(s for group in groups for s in group if len(s) >= MIN_SECRET_CHARS)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and anything shaped like a well-known key, replaced by ***.
    Longer secrets go first, so that one containing another leaves nothing behind."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, MASK)
    text = _KEY_SHAPES.sub(MASK, text)
    return _BEARER.sub(rf"\1{MASK}", text)
