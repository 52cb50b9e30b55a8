"""How evaltool writes numbers for people: statistics, p-values, intervals, rates, counts,
money and durations, the same in CLI tables and in reports.

Every function takes None for "there is none" and writes `empty` for it: an en dash in
reports, where a blank cell looks like a rendering fault, and nothing in CLI tables,
where blanks keep columns quiet.
"""

import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal

NONE = "\N{EN DASH}"


def number(value: float | Decimal | None, digits: int = 3, empty: str = NONE) -> str:
    """A statistic: fixed digits, thousands separated (1,234.500)."""
    return empty if value is None else f"{value:,.{digits}f}"


def signed(value: float | None, digits: int = 3, empty: str = NONE) -> str:
    """A difference, with its sign (+0.012, -0.300)."""
    return empty if value is None else f"{value:+.{digits}f}"


def interval(low: float | None, high: float | None, digits: int = 3, empty: str = NONE) -> str:
    """The ends of a difference's interval, signed: (-0.055 to -0.021)."""
    if low is None or high is None:
        return empty
    return f"({signed(low, digits)} to {signed(high, digits)})"


def percent(value: float | None, digits: int = 1, empty: str = NONE) -> str:
    """A share as a percentage (60.0%)."""
    return empty if value is None else f"{100 * value:.{digits}f}%"


def rate(
    value: float | None, low: float | None, high: float | None, digits: int = 1, empty: str = NONE
) -> str:
    """A rate with its interval: 60.0% (45.1%..73.2%)."""
    if value is None or low is None or high is None:
        return empty
    return f"{percent(value, digits)} ({percent(low, digits)}..{percent(high, digits)})"


def count(value: int | Decimal | None, empty: str = NONE) -> str:
    """A count, thousands separated."""
    return empty if value is None else f"{int(value):,}"


def pvalue(value: float | None, empty: str = NONE) -> str:
    """A p-value to four decimals, and below that only that it is below."""
    if value is None:
        return empty
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def cost(value: Decimal | float | None) -> str:
    """What calls cost in USD: cents from a dollar up, else the digits a single call needs;
    "no price set" where the model had no price."""
    if value is None:
        return "no price set"
    if value >= 1 or value == 0:
        return f"${value:,.2f}"
    return f"${value:.6f}".rstrip("0")


def price(value: Decimal | None, empty: str = NONE) -> str:
    """A price as it was entered: 2.5, 0.15 (no trailing zeros, no rounding)."""
    return empty if value is None else f"{value.normalize():f}"


def milliseconds(value: float | None, empty: str = NONE) -> str:
    """A latency: milliseconds below a second, seconds above."""
    if value is None:
        return empty
    return f"{value / 1000:,.2f} s" if value >= 1000 else f"{value:,.1f} ms"


def when(value: datetime | None, empty: str = NONE) -> str:
    """A moment, to the minute, with its time zone where it has one."""
    return empty if value is None else value.strftime("%Y-%m-%d %H:%M %Z").strip()


def duration(value: timedelta | None, empty: str = NONE) -> str:
    """How long something took: seconds below a minute, then minutes, then hours."""
    if value is None:
        return empty
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds} s"


def one_line(text: str) -> str:
    """Text with its control characters and line separators written as escapes (\\n,
    \\x1b, \\u2028): a file name or a value quoted in a message cannot break it into
    several lines or drive the terminal."""
    return "".join(
        repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text
    )
