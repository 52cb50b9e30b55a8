"""A small asyncio HTTP/1.1 client with keep-alive, for calling model APIs.

Measured on this project's benchmark (bench/run.py), one shared httpx.AsyncClient spent 3 to
6 ms of CPU per request and aiohttp about 0.3 ms, while a bare asyncio client spends under
0.1 ms. Model APIs need one thing of HTTP: POST a JSON body and read the answer, so this
module does exactly that, over plain TCP or TLS (the system's CA store), with a pool of
keep-alive connections, Content-Length and chunked bodies, and an overall timeout.
It does not follow redirects or speak to proxies.
"""

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 256 * 1024 * 1024


class HTTPError(Exception):
    """The server could not be reached or broke the protocol (never an HTTP status)."""


@dataclass(frozen=True)
class Response:
    """Status, headers (names in lower case) and body of an answer."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Connection:
    __slots__ = ("reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def close(self) -> None:
        self.writer.close()


class Client:
    """POSTs to one origin (scheme, host, port) over a pool of keep-alive connections.

    Connections are opened on demand and kept while the server allows it; the pool is not
    bounded here because callers bound concurrency themselves.
    """

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # without its user part and query: either may hold a credential
            shown = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="")
            raise ValueError(f"{shown.geturl()!r} is not an http(s) URL")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host_header = self.host if default_port else f"{self.host}:{self.port}"
        if ":" in self.host and not default_port:  # IPv6 literal
            host_header = f"[{self.host}]:{self.port}"
        fixed = {"Host": host_header, "User-Agent": "evaltool", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._idle: list[_Connection] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Response:
        """POST body to base path + path and return the whole answer.

        A request sent on a kept-alive connection that the server had closed meanwhile is
        sent again once on a new connection; any other failure raises HTTPError.
        """
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode("latin-1")
        head = (
            f"POST {self.base_path}{path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n".encode()
            + self._fixed
            + extra
            + b"\r\n"
        )
        while True:
            conn = self._idle.pop() if self._idle else await self._open()
            try:
                conn.writer.write(head + body)
                response, keep = await _read_response(conn.reader)
            except (OSError, asyncio.IncompleteReadError, HTTPError) as exc:
                conn.close()
                stale = isinstance(exc, asyncio.IncompleteReadError | OSError)
                if conn.reused and stale and not getattr(exc, "partial", b""):
                    continue  # a stale keep-alive connection: send again on a new one
                if isinstance(exc, HTTPError):
                    raise
                raise HTTPError(f"connection to {self.host}:{self.port} failed: {exc!r}") from exc
            except BaseException:  # cancelled or timed out mid-request: the stream is unusable
                conn.close()
                raise
            if keep:
                conn.reused = True
                self._idle.append(conn)
            else:
                conn.close()
            return response

    async def aclose(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self._ssl else None,
                limit=_MAX_HEADER_BYTES,
            )
        except OSError as exc:
            raise HTTPError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return _Connection(reader, writer)


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    """Read one answer; also says whether the connection may be kept."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise HTTPError("response headers too large") from exc
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HTTPError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > _MAX_BODY_BYTES:
            raise HTTPError(f"response body too large ({length} bytes)")
        body = await reader.readexactly(length)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:  # body until the server closes
        body = await reader.read(_MAX_BODY_BYTES)
        keep = False
    return Response(status, headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise HTTPError("malformed chunked body") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > _MAX_BODY_BYTES:
            raise HTTPError("response body too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
