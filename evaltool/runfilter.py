"""The filter language of `evaltool runs search`: fields, comparisons, dates and words.

status:failed model:gpt-4o dataset:qa tag:nightly      exact matches
suite:qa-nightly                                       runs of a suite (evaltool eval)
since:7d until:2026-11-01 today yesterday "last week"   creation time
pass>0.8 success>=95% duration<60s                     thresholds
any other word                                          in name, notes, tags, model...
"""

import math
import re
import shlex
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from evaltool.errors import EvaltoolError

_FIELDS = ("status", "model", "dataset", "tag", "suite")
STATUSES = ("pending", "running", "completed", "failed", "interrupted", "budget_exceeded")
_COMPARE = re.compile(r"^(pass|success|duration)(<=|>=|<|>)([0-9.]+)(%|s|m|h)?$")
_AGO = re.compile(r"^(\d+)([hdwm])$")
_UNITS = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "m": timedelta(days=30),
}


@dataclass
class RunFilter:
    """What `runs list` options and `runs search` queries select; None selects all."""

    status: str | None = None
    model: str | None = None
    dataset: str | None = None
    tag: str | None = None
    suite: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_pass: float | None = None
    max_pass: float | None = None
    min_success: float | None = None
    max_success: float | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    words: list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        """Query parameters of runs_find."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse(query: str, now: datetime | None = None) -> RunFilter:
    """Parse a search query; raises EvaltoolError naming the part it cannot read."""
    now = now or datetime.now().astimezone()  # "today" is the local day
    today = datetime.combine(now.date(), datetime.min.time(), tzinfo=now.tzinfo)
    try:
        tokens = shlex.split(
            query.lower().replace("last week", "since:1w").replace("last month", "since:1m")
        )
    except ValueError as exc:
        raise EvaltoolError(f"cannot read the query {query!r}: {exc}") from exc
    found = RunFilter()
    for token in tokens:
        key, sep, value = token.partition(":")
        if token == "today":
            found.since = today
        elif token == "yesterday":
            found.since, found.until = today - timedelta(days=1), today
        elif sep and key in _FIELDS:
            if key == "status" and value not in STATUSES:
                raise EvaltoolError(f"{token}: status is one of {', '.join(STATUSES)}")
            setattr(found, key, value)
        elif sep and key in ("since", "until"):
            try:
                setattr(found, key, when(value, now))
            except EvaltoolError as exc:
                raise EvaltoolError(f"{token}: {exc}") from None
        elif match := _COMPARE.match(token):
            _threshold(found, *match.groups())
        elif token in STATUSES:
            found.status = token
        elif token not in ("runs", "run"):
            found.words.append(token)
    return found


def when(value: str, now: datetime) -> datetime:
    """The moment a date (2026-11-01) or an age before `now` (7d, 12h, 2w, 1m) names."""
    if match := _AGO.match(value):
        try:
            return now - int(match[1]) * _UNITS[match[2]]
        except (OverflowError, ValueError):  # before year 1, or more digits than int() reads
            raise EvaltoolError(f"{value} goes back before the year 1") from None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise EvaltoolError("expected a date (2026-11-01) or an age (7d, 12h, 2w, 1m)") from None
    return datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo)


def _threshold(found: RunFilter, name: str, op: str, number: str, unit: str | None) -> None:
    try:
        value = float(number)
    except ValueError:
        raise EvaltoolError(f"{name}{op}{number}{unit or ''}: {number} is not a number") from None
    if not math.isfinite(value):
        raise EvaltoolError(f"{name}{op}{number}{unit or ''}: {number} is too large")
    if name == "duration":
        value *= {"m": 60, "h": 3600}.get(unit or "s", 1)
        lower, upper = "min_seconds", "max_seconds"
    else:
        if unit == "%" or value > 1:
            value /= 100
        lower, upper = f"min_{name}", f"max_{name}"
    # > and >= (and < and <=) differ by nothing a user would notice on rates and seconds
    setattr(found, lower if op.startswith(">") else upper, value)
