"""Pairwise judging: a registered model says which of two runs' responses is better.

For each test case that both runs answered without error, the judge sees the input, the
reference answer when there is one, and the two responses as A and B. Judges favour one
position, so by default each pair is judged twice, once in each order: a verdict that
agrees across both orders stands, one that flips with the order becomes a tie (as in
MT-Bench). Verdicts are written to `preference` batch by batch, each batch committed, so
an interrupted call loses at most one batch and the next call resumes where it stopped:
pairs the judge already judged are never sent again.
"""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Generator
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from evaltool import adapters, queries
from evaltool.calls import as_text, ask, gather_or_cancel, judge_model, rubric
from evaltool.errors import EvaltoolError

BATCH = 64
WHO = "preferences judge"

DEFAULT_RUBRIC = """\
You are comparing two answers to the same question.

Question:
{{ input }}
{% if expected is not none %}
Reference answer:
{{ expected }}
{% endif %}
Answer A:
{{ output_a }}

Answer B:
{{ output_b }}

Which answer is better: more correct, complete and helpful? The order of the answers and
their length must not sway you. Reply with only a JSON object:
{"winner": "A" or "B" or "tie", "reason": "<one sentence>"}
"""

_MT_BENCH = re.compile(r"\[\[([ABC])\]\]")
_WINNER = re.compile(r"\b(?:winner|verdict|better)\W{0,3}(A|B|tie)\b", re.IGNORECASE)
_SIDES = {"a": "a", "b": "b", "tie": "tie", "c": "tie", "draw": "tie"}


def parse_preference(text: str) -> tuple[str, str | None] | None:
    """The judge's verdict as ("a" | "b" | "tie", reason), or None when the reply holds none.

    Read, in order: a JSON object with `winner` (A, B or tie) and `reason`; MT-Bench's
    `[[A]]`, `[[B]]` or `[[C]]` (a tie); a line like `Winner: B`.
    """
    for match in re.finditer(r"\{.*?\}", text, re.DOTALL):
        try:
            obj = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("winner"), str):
            side = _SIDES.get(obj["winner"].strip().lower())
            if side:
                reason = obj.get("reason")
                return side, reason if isinstance(reason, str) else None
    if found := _MT_BENCH.findall(text):
        return _SIDES[found[-1].lower()], None
    if m := _WINNER.search(text):
        return _SIDES[m.group(1).lower()], None
    return None


@dataclass
class JudgeSummary:
    """What one `preferences judge` call did."""

    run_a: int
    run_b: int
    judge: str
    shared: int
    with_error: int
    already_judged: int
    judged: int = 0
    no_verdict: int = 0
    inconsistent: int = 0
    tally: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The summary for --json."""
        return asdict(self)


@dataclass(frozen=True)
class _Verdict:
    winner: str
    reason: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class _Pair:
    prompt_id: int
    input: Any
    expected: Any
    a: int
    a_text: str
    b: int
    b_text: str


def run_datasets(conn: psycopg.Connection, run_a: int, run_b: int) -> tuple[int | None, int | None]:
    """The dataset of each run, None for a run that does not exist."""
    row = conn.execute(queries.get("preference_runs"), {"run_a": run_a, "run_b": run_b}).fetchone()
    assert row is not None  # one row, a dataset id or NULL for each run
    return row[0], row[1]


def judgment_summary(
    conn: psycopg.Connection,
    query: str,
    *,
    judge_kind: str | None,
    judge: str | None,
    dataset_id: int | None,
) -> list[dict[str, Any]]:
    """The rows of a judgment summary query (preference_win_rates, preference_ratings)
    for the judgments of one kind, judge or dataset (None: all)."""
    params = {"judge_kind": judge_kind, "judge": judge, "dataset_id": dataset_id}
    return queries.fetch_all(conn, query, params)


def count_pairs(
    conn: psycopg.Connection, run_a: int, run_b: int, judge: str | None
) -> tuple[int, int, int]:
    """Test cases both runs answered, those with an error response on either side, and
    those the judge already judged."""
    row = conn.execute(
        queries.get("pairs_count"), {"run_a": run_a, "run_b": run_b, "judge": judge}
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def export_lines(
    conn: psycopg.Connection,
    run_a: int,
    run_b: int,
    *,
    judge: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Generator[str, None, None]:
    """The pairs of two runs' responses that `judge` has yet to judge, as JSON lines for
    people to label (`evaltool load preferences` reads them back), streamed from COPY."""
    params = {"run_a": run_a, "run_b": run_b, "judge": judge, "limit": limit, "seed": seed}
    with conn.cursor().copy(queries.get("pairs_export"), params) as copy:
        for (line,) in copy.rows():
            # the server's json text has spaces around every colon: print it as people do
            yield json.dumps(json.loads(line), ensure_ascii=False)


def judge_runs(
    conn: psycopg.Connection,
    run_a: int,
    run_b: int,
    judge: str,
    *,
    rubric_path: str | None = None,
    both_orders: bool = True,
    limit: int | None = None,
    concurrency: int = 8,
    progress: Callable[[int, int], None] = lambda ok, errors: None,
) -> JudgeSummary:
    """Have model `judge` judge the responses of run_a (as A) against run_b (as B).
    `progress(judged, no_verdict)` counts the pairs as the judge answers."""
    template = rubric(rubric_path, DEFAULT_RUBRIC, WHO)
    snapshot, params = judge_model(conn, judge, WHO)
    summary = JudgeSummary(run_a, run_b, judge, *count_pairs(conn, run_a, run_b, judge))
    conn.commit()

    def prompt(pair: _Pair, swap: bool) -> str:
        first, second = (pair.b_text, pair.a_text) if swap else (pair.a_text, pair.b_text)
        expected = None if pair.expected is None else as_text(pair.expected)
        return template.render(
            input=as_text(pair.input), expected=expected, output_a=first, output_b=second
        )

    async def verdict(
        adapter: adapters.Adapter, gate: asyncio.Semaphore, pair: _Pair
    ) -> _Verdict | None:
        orders = [False, True] if both_orders else [False]

        async def one(swap: bool) -> str:
            async with gate:
                return await ask(adapter, prompt(pair, swap), WHO)

        replies = await gather_or_cancel([one(swap) for swap in orders])
        details: dict[str, Any] = {
            "orders": [
                {"shown": "BA" if swap else "AB", "reply": reply[:2000]}
                for swap, reply in zip(orders, replies, strict=True)
            ]
        }
        sides, reasons = [], []
        for swap, reply in zip(orders, replies, strict=True):
            parsed = parse_preference(reply)
            if parsed is None:
                return None
            sides.append(_unswap(parsed[0], swap))
            reasons.append(parsed[1])
        details["consistent"] = len(set(sides)) == 1
        return _Verdict(sides[0] if details["consistent"] else "tie", reasons[0], details)

    async def counted(judging: Awaitable[_Verdict | None]) -> _Verdict | None:
        found = await judging
        progress(int(found is not None), int(found is None))
        return found

    async def work() -> None:
        adapter = adapters.create(snapshot, params, concurrency)
        gate = asyncio.Semaphore(concurrency)
        after, left = 0, limit
        try:
            while left is None or left > 0:
                size = BATCH if left is None else min(BATCH, left)
                rows = conn.execute(
                    queries.get("pairs_next"),
                    {"run_a": run_a, "run_b": run_b, "judge": judge, "after": after,
                     "limit": size},
                ).fetchall()  # fmt: skip
                if not rows:
                    break
                pairs = [_Pair(r[0], r[1], r[2], r[3], _output(r[4], r[5]), r[6],
                               _output(r[7], r[8])) for r in rows]  # fmt: skip
                results = await gather_or_cancel(
                    [counted(verdict(adapter, gate, p)) for p in pairs]
                )
                _write(conn, judge, pairs, results, summary)
                after = pairs[-1].prompt_id
                left = None if left is None else left - len(pairs)
        except EvaltoolError as exc:
            raise EvaltoolError(
                f"{exc} ({summary.judged:,} verdicts are saved: the same command resumes)"
            ) from exc
        finally:
            await adapter.aclose()

    asyncio.run(work())
    tally = conn.execute(
        queries.get("pairs_tally"), {"run_a": run_a, "run_b": run_b, "judge": judge}
    ).fetchone()
    assert tally is not None
    names = ["a_wins", "b_wins", "ties", "a_win_rate", "a_win_rate_low", "a_win_rate_high"]
    summary.tally = dict(zip([*names, "p_value"], tally, strict=True))
    conn.commit()
    return summary


def _write(
    conn: psycopg.Connection,
    judge: str,
    pairs: list[_Pair],
    verdicts: list[_Verdict | None],
    summary: JudgeSummary,
) -> None:
    """One batch's verdicts in one statement, committed: what is judged stays judged."""
    kept = [(p, v) for p, v in zip(pairs, verdicts, strict=True) if v is not None]
    summary.no_verdict += len(pairs) - len(kept)
    summary.inconsistent += sum(1 for _, v in kept if not v.details["consistent"])
    cursor = conn.execute(
        queries.get("pairs_write"),
        {
            "judge": judge,
            "a": [p.a for p, _ in kept],
            "b": [p.b for p, _ in kept],
            "winner": [v.winner for _, v in kept],
            "reason": [v.reason for _, v in kept],
            "details": [Jsonb(v.details) for _, v in kept],
        },
    )
    summary.judged += cursor.rowcount
    conn.commit()


def _unswap(side: str, swapped: bool) -> str:
    if not swapped or side == "tie":
        return side
    return "b" if side == "a" else "a"


def _output(text: str | None, output: Any) -> str:
    return text if text is not None else as_text(output)
