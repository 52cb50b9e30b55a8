"""Benchmark of `evaltool run` against the fastest a client can go on the same server.

    python bench/run.py [--cases 20000] [--concurrency 64] [--delay-ms 20]   (make bench-run)

Starts, in a process of its own, a local OpenAI-compatible server (stdlib asyncio,
keep-alive) that answers every chat completion after a fixed delay. Then measures in one run:

  limit     a minimal asyncio HTTP/1.1 client with keep-alive, `concurrency` connections,
            that sends the requests and discards the answers
  evaltool  `evaltool run` (its own process, as users start it) over a dataset of as many
            test cases, storing every response with tokens, latency and cost

and prints both rates and their ratio. Then it drains a second queue of the same size with
evaltool's claim statement alone and prints its median time over the first and the last 1%
of the claims (a queue that slows down as it drains shows there). The bound is
concurrency / delay (3,200/s for 64 at 20 ms). Nothing is asserted here.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import benchdb  # noqa: E402
from evaltool import db, queries  # noqa: E402

REQUEST = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
).encode()


# -- the server ---------------------------------------------------------------------------------


def serve(delay_s: float) -> None:
    """Answer every request after delay_s; print the port, then serve until killed."""
    body = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Paris is the capital of France."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22},
        }
    ).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                length = 0
                for line in self.buffer[:end].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                loop = asyncio.get_running_loop()
                loop.call_later(delay_s, self._answer)

        def _answer(self) -> None:
            if not self.transport.is_closing():
                self.transport.write(answer)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            Protocol, "127.0.0.1", 0, backlog=1024
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


# -- the limit ----------------------------------------------------------------------------------


async def bare_client(port: int, requests: int, concurrency: int) -> None:
    """Keep-alive connections that send requests one after another and discard the answers."""
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(REQUEST)
    )

    async def connection(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(head + REQUEST)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    share, extra = divmod(requests, concurrency)
    await asyncio.gather(*(connection(share + (i < extra)) for i in range(concurrency)))


# -- evaltool -----------------------------------------------------------------------------------


def prepare(url: str, port: int, cases: int) -> None:
    """The dataset and the model evaltool runs."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as out:
        for i in range(cases):
            out.write(json.dumps({"id": f"c{i}", "input": f"Question {i}: what is {i} + {i}?"}))
            out.write("\n")
    try:
        cli("load", "prompts", out.name, "-d", "bench", "--quiet", url=url)
    finally:
        os.unlink(out.name)
    cli("models", "add", "bench", "--adapter", "openai", "--base-url",
        f"http://127.0.0.1:{port}/v1", url=url)  # fmt: skip
    cli("models", "price", "bench", "--input-per-mtok", "1", "--output-per-mtok", "2", url=url)


def drain(url: str, batch: int = 128) -> tuple[float, float, int]:
    """The queue as it drains, without the calls: a second run of the dataset is queued
    (`evaltool run --prepare`), then claimed `batch` samples at a time with evaltool's own
    claim statement and the claimed rows deleted, as a worker's writes delete them, each
    in its own transaction. Returns the median time (ms) of the claim statement over the
    first and the last 1% of the claims, and how many claims there were: a queue whose
    claims slow down as it drains (dead rows before the next free one, an old snapshot
    holding back vacuum) shows in the second figure."""
    run_id = int(json.loads(cli("run", "bench", "bench", "--prepare", "--json", url=url))["run_id"])
    claim = queries.get("task_claim")
    times: list[float] = []
    with psycopg.connect(url, prepare_threshold=None) as conn:
        after = (0, 0)
        while True:
            params = {
                "run_id": run_id,
                "worker": "bench",
                "lease_s": 600,
                "n": batch,
                "with_case": False,
                "after_prompt": after[0],
                "after_sample": after[1],
            }
            t0 = time.perf_counter()
            rows = conn.execute(claim, params).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
            if not rows:
                break
            after = (rows[-1][0], rows[-1][1])
            conn.execute(
                "DELETE FROM evaltool.run_task WHERE run_id = %s AND prompt_id = ANY(%s)",
                (run_id, [r[0] for r in rows]),
            )
            conn.commit()
    times.pop()  # the last claim found nothing
    tail = max(1, len(times) // 100)
    return statistics.median(times[:tail]), statistics.median(times[-tail:]), len(times)


def cli(*args: str, url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    done = subprocess.run(
        [sys.executable, "-m", "evaltool", *args],
        env={**env, "EVALTOOL_DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"evaltool {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.delay_ms / 1000)
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--delay-ms", str(args.delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        admin = db.database_url()
        url = benchdb.fresh_database(admin)
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        prepare(url, port, args.cases)
        bound = args.concurrency / (args.delay_ms / 1000)
        print(
            f"{args.cases:,} calls at concurrency {args.concurrency}, server delay "
            f"{args.delay_ms:g} ms (bound {bound:,.0f}/s); PostgreSQL {version}; "
            f"{os.cpu_count()} CPUs\n",
            flush=True,
        )

        print("  limit ...", end="", flush=True)
        cpu0, start = time.process_time(), time.perf_counter()
        asyncio.run(bare_client(port, args.cases, args.concurrency))
        limit_s, limit_cpu = time.perf_counter() - start, time.process_time() - cpu0
        print(f" {limit_s:.1f} s", flush=True)

        print("  evaltool ...", end="", flush=True)
        start = time.perf_counter()
        out = cli("run", "bench", "bench", "--concurrency", str(args.concurrency), "--quiet",
                  "--json", url=url)  # fmt: skip
        evaltool_s = time.perf_counter() - start
        summary = json.loads(out)
        print(f" {evaltool_s:.1f} s", flush=True)
        print("  queue ...", end="", flush=True)
        start = time.perf_counter()
        first_ms, last_ms, claims = drain(url)
        print(f" {time.perf_counter() - start:.1f} s", flush=True)
        benchdb.drop_database(admin)
    finally:
        server.kill()
        server.wait()

    run_s = summary["duration"]
    print(f"\n{'method':<22}{'seconds':>9}{'calls/s':>10}  ratio")
    print(f"{'limit':<22}{limit_s:>9.2f}{args.cases / limit_s:>10,.0f}"
          f"  (client CPU {limit_cpu / args.cases * 1e3:.3f} ms/call)")  # fmt: skip
    for label, seconds in (("evaltool (process)", evaltool_s), ("evaltool (run only)", run_s)):
        print(
            f"{label:<22}{seconds:>9.2f}{args.cases / seconds:>10,.0f}  "
            f"{limit_s / seconds:.2f} x limit"
        )
    print(
        f"\nevaltool stored {summary['ok']:,} ok and {summary['errors']:,} error responses; "
        f"p50 {summary['latency_p50_ms']:.1f} ms, p95 {summary['latency_p95_ms']:.1f} ms; "
        f"cost ${summary['cost_usd']:.4f}"
    )
    print("(process: from starting `evaltool run` to its exit; run only: the run's "
          "started_at to finished_at, without interpreter start-up and run creation)")  # fmt: skip
    worker = summary["worker"]
    print(
        f"\nclaim statement, draining a queue of {args.cases:,} ({claims:,} claims of 128): "
        f"median {first_ms:.3f} ms over the first 1%, {last_ms:.3f} ms over the last 1% "
        f"({last_ms / first_ms:.2f} x; target: within 1.5 x)"
    )
    if worker.get("claim_ms_first") is not None:
        print(
            f"the run's worker: claims (statement, commit and the wait for its event loop) "
            f"{worker['claim_ms_first']:.2f} ms over its first 1%, "
            f"{worker['claim_ms_last']:.2f} ms over its last 1%"
        )


if __name__ == "__main__":
    main()
