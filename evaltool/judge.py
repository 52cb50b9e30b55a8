"""llm_judge: a Python scorer that has a registered model grade each response.

`--metric llm_judge:MODEL` grades with the default rubric; `llm_judge:MODEL:RUBRIC.j2`
with a Jinja template of your own, which gets `input`, `expected` and `output` (as text)
and must ask for a verdict in one of the forms `parse_verdict` reads. The judge is called
through the same adapters as `evaltool run`, at the model's current parameters, a few
calls at a time, with retries on rate limits and server errors. Its reply is kept in the
score's details; a reply without a verdict gives no score for that case.
"""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from evaltool import adapters, db
from evaltool.calls import as_text, ask, gather_or_cancel, judge_model, rubric
from evaltool.errors import EvaltoolError
from evaltool.pyscorers import Case, scored

CONCURRENCY = 8
PASS_AT = 0.7  # share of the scale a score needs to pass when the judge says no verdict

DEFAULT_RUBRIC = """\
You are grading an answer against a reference answer.

Question:
{{ input }}

Reference answer:
{{ expected }}

Answer to grade:
{{ output }}

Is the answer correct and complete with respect to the reference? Reply with only a JSON
object: {"score": <integer 0 to 10>, "pass": <true or false>, "reason": "<one sentence>"}
"""

_SCORE = re.compile(r"\bscore\W{0,3}(-?\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?", re.IGNORECASE)
_VERDICT = re.compile(r"\b(?:verdict|grade|result)\W{0,3}(pass|fail|correct|incorrect)\b", re.I)


def parse_verdict(text: str, scale: float = 10.0) -> dict[str, Any] | None:
    """The judge's verdict as a score result, or None when the reply holds none.

    Read, in order: a JSON object with `score` (0..scale, or "N/M") and/or `pass` and
    `reason`; else lines like `Score: 7/10` and `Verdict: PASS`.
    """
    found: dict[str, Any] = {}
    for match in re.finditer(r"\{.*?\}", text, re.DOTALL):
        try:
            obj = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(obj, dict) and ({"score", "pass", "passed"} & obj.keys()):
            found = obj
            break
    score, passed, reason = found.get("score"), found.get("pass", found.get("passed")), None
    if isinstance(found.get("reason"), str):
        reason = found["reason"]
    if score is None and (m := _SCORE.search(text)):
        score, scale = float(m.group(1)), float(m.group(2) or scale)
    if passed is None and (m := _VERDICT.search(text)):
        passed = m.group(1).lower() in ("pass", "correct")
    value = None
    if isinstance(score, int | float) and not isinstance(score, bool) and scale > 0:
        value = min(max(float(score) / scale, 0.0), 1.0)
    if not isinstance(passed, bool):
        passed = None if value is None else value >= PASS_AT
    if value is None and passed is None:
        return None
    return {"value": value if value is not None else float(bool(passed)), "passed": passed,
            "reason": reason}  # fmt: skip


async def llm_judge(cases: list[Case], arg: str | None) -> list[dict[str, Any] | None]:
    """Grade each case with the model named in ARG (MODEL[:RUBRIC_FILE])."""
    return await prepare(arg)(cases, arg)


def prepare(arg: str | None) -> Callable[[list[Case], str | None], Awaitable[list[Any]]]:
    """llm_judge with its judge model and rubric resolved once, for all the batches of one
    scoring (pyscorers.score calls this before the first batch)."""
    model, _, rubric_file = (arg or "").partition(":")
    if not model:
        raise EvaltoolError("llm_judge needs a model: --metric llm_judge:MODEL[:RUBRIC.j2]")
    template = rubric(rubric_file, DEFAULT_RUBRIC, "llm_judge")
    with db.connect() as conn:
        snapshot, params = judge_model(conn, model, "llm_judge")

    async def grade_batch(cases: list[Case], _arg: str | None) -> list[dict[str, Any] | None]:
        adapter = adapters.create(snapshot, params, CONCURRENCY)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def grade(case: Case) -> dict[str, Any] | None:
            prompt = template.render(
                input=as_text(case.input),
                expected=as_text(case.expected),
                output=case.output_text or "",
            )
            async with gate:
                reply = await ask(adapter, prompt, "llm_judge")
            scored()  # one call a case: the progress display moves case by case
            verdict = parse_verdict(reply)
            if verdict is None:
                return None
            details = {"judge": model, "reason": verdict.pop("reason"), "reply": reply[:2000]}
            return {**verdict, "details": details}

        try:
            return await gather_or_cancel([grade(c) for c in cases])
        finally:
            await adapter.aclose()

    # recorded with the scoring, so a later judge can be compared with this one
    grade_batch.judge = {  # type: ignore[attr-defined]
        "model": model,
        "snapshot": {**snapshot, "params": params},
        "rubric_sha256": template.sha256,
    }
    return grade_batch


llm_judge.version = "1"  # type: ignore[attr-defined]
llm_judge.prepare = prepare  # type: ignore[attr-defined]
