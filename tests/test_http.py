"""evaltool's HTTP client against a raw asyncio server on 127.0.0.1: body framings,
keep-alive, a connection the server closed meanwhile, and broken answers."""

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from evaltool import http
from evaltool.adapters.chat import retry_after

Answer = Callable[[int], bytes]


class Server:
    """A server whose n-th request (counted over all connections) gets answer(n); `seen`
    records which connection each request came on."""

    def __init__(self, answer: Answer, *, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.seen: list[int] = []
        self.handlers: list[asyncio.Task[None]] = []
        self.url = ""

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        me = len(self.handlers)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                self.seen.append(me)
                writer.write(self.answer(len(self.seen)))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def test_content_length_chunked_and_close_delimited_bodies() -> None:
    answers = {
        1: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        2: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
        3: b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nRetry-After: 7\r\n\r\n",
        4: b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    }

    async def main() -> list[http.Response]:
        async with Server(lambda n: answers[n]) as server:
            client = http.Client(server.url, {"X-A": "1"})
            got = [await client.post("/x", b"{}") for _ in range(4)]
            await client.aclose()
        assert server.seen == [1, 1, 1, 1]  # one keep-alive connection for all four
        return got

    got = asyncio.run(main())
    assert [(r.status, r.body) for r in got] == [
        (200, b"hello"),
        (200, b"abcdefg"),
        (503, b""),
        (200, b"until close"),
    ]
    assert got[2].headers["retry-after"] == "7"


def test_a_connection_closed_by_the_server_is_replaced() -> None:
    async def main() -> list[int]:
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        async with Server(lambda n: ok, close_after=True) as server:
            client = http.Client(server.url)
            for _ in range(3):
                assert (await client.post("/x", b"{}")).body == b"ok"
                await asyncio.sleep(0.05)  # the server's close reaches the idle connection
            await client.aclose()
        return server.seen

    assert asyncio.run(main()) == [1, 2, 3]


@pytest.mark.parametrize(
    "answer, message",
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "failed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunked"),
    ],
)
def test_broken_answers_raise_httperror(answer: bytes, message: str) -> None:
    async def main() -> None:
        async with Server(lambda n: answer, close_after=True) as server:
            with pytest.raises(http.HTTPError, match=message):
                await http.Client(server.url).post("/x", b"{}")

    asyncio.run(main())


def test_nothing_listening() -> None:
    with pytest.raises(http.HTTPError, match=r"cannot connect to 127\.0\.0\.1:9"):
        asyncio.run(http.Client("http://127.0.0.1:9").post("/x", b""))


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
