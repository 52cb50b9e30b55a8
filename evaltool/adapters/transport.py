"""HTTP for the chat adapters, through aiohttp: one connection pool per adapter (per model),
opened on the first call and closed by the adapter's aclose().

Proxy
    the model's `proxy` (config key; an http or https URL, user:password@ allowed, ${VAR}
    expanded by evaltool.adapters.chat), for every call of that model; otherwise
    $HTTPS_PROXY or $HTTP_PROXY by the URL's scheme unless $NO_PROXY names the host (read
    when the adapter is made). A local server (127.0.0.1, localhost) goes through the proxy
    too unless NO_PROXY names it, as with curl and requests.
CA bundle
    https servers are verified against the first of the model's `ca_bundle` (config key),
    $SSL_CERT_FILE and $REQUESTS_CA_BUNDLE that is set (a file of PEM certificates, or a
    directory of them), otherwise against the system's store.
Redirects
    307 and 308 are followed, the same POST with the same body, up to MAX_REDIRECTS hops,
    on the same host and never from https to http: the model's credentials go only to the
    host its --base-url names. 301, 302 and 303 (which would turn the POST into a GET) and
    redirects elsewhere are errors that name the new location and the --base-url to use.
Compression
    gzip and deflate answers are decoded; one that cannot be is an error, never bytes shown.
Streaming
    Client.stream reads a text/event-stream answer as server-sent events, each stamped with
    when it arrived; a server that sends nothing for its idle_s seconds, or cuts the body
    short, fails the call (retryable). Redirects, proxies and failures are as for post.

Failures are CallErrors that say what failed and how to fix it: a certificate or a host
name that no call can get past stops the run (fatal); a refused or dropped connection is
retried. URLs in messages have no user part and their credential query values masked.
"""

import codecs
import contextlib
import os
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError
from yarl import URL

from evaltool import secrets as secret_values
from evaltool.adapters import CallError
from evaltool.errors import EvaltoolError

MAX_REDIRECTS = 5
_MOVED = frozenset({301, 302, 303})
_FOLLOWED = frozenset({307, 308})
_REDIRECTS = _MOVED | _FOLLOWED
# certificate verification codes that a missing CA (a private or corporate one) explains
_UNKNOWN_CA = frozenset({2, 18, 19, 20, 21})
_CA_HINT = "set SSL_CERT_FILE or REQUESTS_CA_BUNDLE to your CA bundle (or the model's ca_bundle)"
_NO_TIMEOUT = aiohttp.ClientTimeout(total=None)  # the caller times each call
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Event:
    """A server-sent event: its type (`event:`, "message" when none), its data (the `data:`
    lines joined by newlines) and when it arrived (time.perf_counter())."""

    name: str
    data: str
    at: float


@dataclass(frozen=True, slots=True)
class Response:
    """Status, headers (case-insensitive names) and decoded body of an answer; for a stream
    (Client.stream), its events instead of a body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    events: tuple[Event, ...] | None = None


class EventParser:
    """Server-sent events from the chunks of a text/event-stream body, as the WHATWG rules
    read them: lines end with CRLF, LF or CR; `data:` lines add to the event's data, `event:`
    names it, a line starting with a colon is a comment, and a blank line ends the event (one
    without data is none). At the end of the body, an event whose last line was complete is
    taken as ended; a line cut short is dropped."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._rest = ""  # the start of a line not ended yet
        self._started = False
        self._name = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes, at: float) -> list[Event]:
        """The events that chunk completes, stamped `at`."""
        text = self._rest + self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        held = "\r" if text.endswith("\r") else ""  # CR, or the first half of CRLF
        *lines, self._rest = _LINE_END.split(text.removesuffix("\r"))
        self._rest += held
        return [event for event in (self._line(line, at) for line in lines) if event]

    def end(self, at: float) -> list[Event]:
        """The event the body ended in the middle of, when its lines are complete."""
        text = self._rest + self._decoder.decode(b"", final=True)
        self._rest = ""
        lines = [text[:-1], ""] if text.endswith("\r") else [""]
        return [event for event in (self._line(line, at) for line in lines) if event]

    def _line(self, line: str, at: float) -> Event | None:
        if not line:
            event = (
                Event(self._name or "message", "\n".join(self._data), at) if self._data else None
            )
            self._name, self._data = "", []
            return event
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._name = value
        return None  # a comment (no field name), id, retry, or a field nobody knows


class Client:
    """POSTs to one model API: its base URL, fixed headers, proxy and CA bundle.

    Raises EvaltoolError when the base URL, the proxy or the CA bundle cannot be used at all.
    `secrets` are the proxy's credentials, for the adapter to redact.
    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        proxy: str | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self.base = URL(base_url)
        if self.base.scheme not in ("http", "https") or not self.base.host:
            raise EvaltoolError(
                f"the model's --base-url: {shown(self.base)!r} is not an http(s) URL"
            )
        try:
            self.base.host.encode("idna")
        except UnicodeError:
            raise EvaltoolError(
                f"the model's --base-url: {self.base.host!r} is no host name"
            ) from None
        self.headers = {"User-Agent": "evaltool", **headers}
        self._proxy = _proxy_url(proxy, "the model's proxy") if proxy else None
        self._env = urllib.request.getproxies_environment()
        self._proxies: dict[tuple[str, str], URL | None] = {}
        self._ca_bundle = ca_bundle
        self._tls: ssl.SSLContext | None = None
        self.ca: str | None = None  # the bundle in use, for messages
        self._urls: dict[str, URL] = {}
        self._session: aiohttp.ClientSession | None = None
        self.proxy_for(self.base)  # a proxy variable that is no URL fails here
        proxies = [self._proxy, *(_with_scheme(self._env.get(s, "")) for s in ("http", "https"))]
        self.secrets = frozenset(p.password for p in proxies if p and p.password)
        if self.base.scheme == "https":
            self.tls()

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Response:
        """POST body to the base URL's path + path, with the fixed headers and these; the
        answer, whatever its status, or a CallError when none came."""
        async with self._exchange(path, body, headers, None) as (url, answer):
            return Response(answer.status, answer.headers, await _read(url, answer))

    async def stream(self, path: str, body: bytes, *, idle_s: float) -> Response:
        """POST body as post() does, asking for server-sent events: a 200 text/event-stream
        answer comes back with its events, each stamped with when it arrived, read to the end
        of the body; any other answer as post() gives it. A pause of more than idle_s seconds
        in the answer, or a body cut short, is a CallError that retrying may get past."""
        timeout = aiohttp.ClientTimeout(total=None, sock_read=idle_s)
        accept = {"Accept": "text/event-stream"}
        async with self._exchange(path, body, accept, timeout) as (url, answer):
            if answer.status != 200 or answer.content_type != "text/event-stream":
                return Response(answer.status, answer.headers, await _read(url, answer))
            parser = EventParser()
            events: list[Event] = []
            try:
                async for chunk in answer.content.iter_any():
                    events.extend(parser.feed(chunk, time.perf_counter()))
            except aiohttp.ClientPayloadError as exc:
                if isinstance(exc.__cause__, ContentEncodingError):
                    raise _undecodable(url, answer) from exc
                raise
            events.extend(parser.end(time.perf_counter()))
            return Response(answer.status, answer.headers, b"", tuple(events))

    @contextlib.asynccontextmanager
    async def _exchange(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str] | None,
        timeout: aiohttp.ClientTimeout | None,
    ) -> AsyncIterator[tuple[URL, aiohttp.ClientResponse]]:
        """The answer to a POST of body, after the redirects that are followed, for the
        caller to read; aiohttp's failures, sending or reading, as CallErrors."""
        url = self._urls.get(path) or self._url(path)
        session = self._session or self._open()
        for _hop in range(MAX_REDIRECTS + 1):
            proxy = self.proxy_for(url)
            try:
                async with session.post(
                    url,
                    data=body,
                    headers=headers,
                    proxy=proxy,
                    ssl=self.tls() if url.scheme == "https" else True,
                    allow_redirects=False,
                    timeout=timeout or _NO_TIMEOUT,
                ) as answer:
                    location = answer.headers.get("Location")
                    if answer.status in _REDIRECTS and location:
                        url = self._redirect(url, answer.status, location, path)
                        continue
                    yield url, answer
                    return
            except aiohttp.ClientError as exc:
                idle_s = timeout.sock_read if timeout else None
                raise self._failure(exc, url, proxy, idle_s) from exc
        raise CallError(
            f"more than {MAX_REDIRECTS} redirects from {shown(self._url(path))}: "
            "check the model's --base-url",
            fatal=True,
        )

    async def aclose(self) -> None:
        """Close the pool's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def proxy_for(self, url: URL) -> URL | None:
        """The proxy for url: the model's, else the environment's unless NO_PROXY names the
        host."""
        if self._proxy is not None:
            return self._proxy
        key = (url.scheme, url.host or "")
        if key not in self._proxies:
            found = self._env.get(url.scheme)
            if found and urllib.request.proxy_bypass(key[1]):
                found = None
            where = f"${url.scheme.upper()}_PROXY"
            self._proxies[key] = _proxy_url(found, where) if found else None
        return self._proxies[key]

    def tls(self) -> ssl.SSLContext:
        """The TLS context of https calls, made on first use."""
        if self._tls is None:
            self._tls, self.ca = tls_context(self._ca_bundle)
        return self._tls

    def _open(self) -> aiohttp.ClientSession:
        # Unbounded: the caller bounds concurrency. No timeout: the caller times each call.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            headers=self.headers,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self._session

    def _url(self, path: str) -> URL:
        url = self.base.with_path(self.base.raw_path.rstrip("/") + path, encoded=True)
        self._urls[path] = url.with_query(self.base.raw_query_string)
        return self._urls[path]

    def _redirect(self, url: URL, status: int, location: str, path: str) -> URL:
        """Where a 307 or 308 leads, or the CallError that says why it is not followed."""
        try:
            new = url.join(URL(location))
        except ValueError:
            new = None
        if new is None or new.scheme not in ("http", "https") or not new.host:
            raise CallError(
                f"HTTP {status}: {shown(url)} redirects to {location[:200]!r}, which is not "
                "an http(s) URL",
                fatal=True,
            )
        base = _base_url(new, path)
        if status in _MOVED:
            raise CallError(
                f"HTTP {status}: {shown(url)} moved to {shown(new)}; a POST is not sent on "
                f"after {status} (it would become a GET): use --base-url {base}",
                fatal=True,
            )
        if new.host != url.host or (url.scheme == "https" and new.scheme == "http"):
            raise CallError(
                f"HTTP {status}: {shown(url)} redirects to {shown(new)}, on another host or "
                "without TLS, where the model's credentials are not sent: use --base-url "
                f"{base} if that server is the right one",
                fatal=True,
            )
        return new

    def _failure(
        self, exc: aiohttp.ClientError, url: URL, proxy: URL | None, idle_s: float | None = None
    ) -> CallError:
        """What went wrong, and how to fix it, as a CallError."""
        origin = shown(url.origin())
        if isinstance(exc, aiohttp.ServerTimeoutError) and idle_s is not None:
            return CallError(
                f"{origin} sent nothing for {idle_s:g} s in the middle of its answer",
                retryable=True,
            )
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            cause = exc.certificate_error
            reason = getattr(cause, "verify_message", None) or _one_line(cause)
            if getattr(cause, "verify_code", None) in _UNKNOWN_CA:
                using = f"; CA bundle {self.ca}" if self.ca else ""
                return CallError(
                    f"certificate verify failed for {origin} ({reason}{using}): {_CA_HINT}",
                    fatal=True,
                )
            return CallError(f"certificate verify failed for {origin}: {reason}", fatal=True)
        the_proxy = f"the proxy {shown(proxy)} ({self._proxy_source(url)})" if proxy else ""
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return CallError(
                f"cannot connect to {the_proxy}: {_os_reason(exc.os_error)}; is the proxy "
                f"running? (NO_PROXY={url.host} goes without it)",
                retryable=True,
                systemic=True,
            )
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            message = f"{the_proxy} refused to connect to {origin}"
            if exc.status == 407:
                return CallError(
                    f"{message}: it wants credentials (HTTP 407); put them in the proxy URL, "
                    "http://USER:PASSWORD@host:port",
                    fatal=True,
                )
            return CallError(f"{message}: HTTP {exc.status} {exc.message}", retryable=True)
        if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
            exc.os_error, socket.gaierror
        ):  # aiohttp 3.11+ raises ClientConnectorDNSError, its subclass
            reason = _os_reason(exc.os_error)
            transient = exc.os_error.errno == socket.EAI_AGAIN
            return CallError(
                f"cannot resolve host {url.host} ({reason}): check the host of the model's "
                "--base-url, and the network",
                retryable=transient,
                fatal=not transient,
                systemic=True,
            )
        if isinstance(exc, aiohttp.ClientSSLError):
            reason = _one_line(exc.os_error)
            hint = (
                ": the server does not speak TLS there; for plain HTTP use http:// in --base-url"
                if "WRONG_VERSION_NUMBER" in reason
                else ""
            )
            return CallError(
                f"TLS handshake with {origin} failed ({reason}){hint}",
                retryable=not hint,
                fatal=bool(hint),
                systemic=True,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return CallError(
                f"cannot connect to {origin}: {_os_reason(exc.os_error)}; is the server "
                "running there? (the model's --base-url)",
                retryable=True,
                systemic=True,
            )
        if isinstance(exc, aiohttp.ClientResponseError):  # the parser's, never a status
            return CallError(
                f"{origin} did not answer in HTTP: {_one_line(exc.message)}", retryable=True
            )
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            return CallError(
                f"{origin} closed the connection before the answer was complete", retryable=True
            )
        return CallError(f"call to {origin} failed: {_one_line(exc)}", retryable=True)

    def _proxy_source(self, url: URL) -> str:
        return "the model's proxy" if self._proxy else f"from ${url.scheme.upper()}_PROXY"


def tls_context(ca_bundle: str | None) -> tuple[ssl.SSLContext, str | None]:
    """A verifying TLS context with the first CA bundle set (the model's ca_bundle,
    $SSL_CERT_FILE, $REQUESTS_CA_BUNDLE), else the system's store; and which bundle, for
    messages. Raises EvaltoolError when the bundle cannot be read."""
    for path, source in (
        (ca_bundle, "the model's ca_bundle"),
        (os.environ.get("SSL_CERT_FILE"), "$SSL_CERT_FILE"),
        (os.environ.get("REQUESTS_CA_BUNDLE"), "$REQUESTS_CA_BUNDLE"),
    ):
        if not path:
            continue
        try:
            if os.path.isdir(path):
                context = ssl.create_default_context(capath=path)
            else:
                context = ssl.create_default_context(cafile=path)
        except ssl.SSLError as exc:
            raise EvaltoolError(
                f"the CA bundle {path} (from {source}) holds no PEM certificate: {exc.reason}"
            ) from None
        except OSError as exc:
            raise EvaltoolError(
                f"the CA bundle {path} (from {source}) cannot be read: {exc.strerror or exc}"
            ) from None
        return context, f"{path} from {source}"
    return ssl.create_default_context(), None


def shown(url: URL) -> str:
    """url without its user part, fragment and credential query values."""
    query = [
        (k, secret_values.MASK if secret_values.is_secret_query(k) else v)
        for k, v in url.query.items()
    ]
    return str(url.with_user(None).with_query(query).with_fragment(None))


def _proxy_url(value: Any, source: str) -> URL:
    url = _with_scheme(str(value))
    if url.scheme not in ("http", "https") or not url.host:
        raise EvaltoolError(
            f"{source} {shown(url)!r} is not an http(s) URL (evaltool speaks to HTTP proxies)"
        )
    return url


def _with_scheme(proxy: str) -> URL:
    """A proxy URL; host:port alone means http, as in curl and requests."""
    return URL(proxy if "://" in proxy or not proxy else f"http://{proxy}")


def _base_url(new: URL, path: str) -> str:
    """The --base-url that a redirect of base + path to new points at."""
    if new.path.endswith(path) and len(new.path) > len(path):
        new = new.with_path(new.path[: -len(path)])
    return shown(new)


async def _read(url: URL, answer: aiohttp.ClientResponse) -> bytes:
    """The whole body of an answer, decoded; one that does not decode is a CallError."""
    try:
        return await answer.read()
    except aiohttp.ClientPayloadError as exc:
        if isinstance(exc.__cause__, ContentEncodingError):
            raise _undecodable(url, answer) from exc
        raise


def _undecodable(url: URL, answer: aiohttp.ClientResponse) -> CallError:
    encoding = answer.headers.get("Content-Encoding", "?")[:40]
    return CallError(
        f"HTTP {answer.status} from {shown(url.origin())} says Content-Encoding: {encoding}, "
        "but its body does not decode: the server, or a proxy on the way, is broken"
    )


def _os_reason(error: OSError) -> str:
    """ "Connection refused" rather than asyncio's "Connect call failed ('127.0.0.1', 9)"."""
    if error.errno and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or _one_line(error)  # a resolver's error: negative numbers


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]
