"""Refreshing the materialized aggregates, now or on a schedule."""

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from evaltool import queries
from evaltool.errors import EvaltoolError

_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def refresh(conn: psycopg.Connection, *, concurrent: bool = True) -> list[dict[str, Any]]:
    """Refresh every materialized view of the schema; one row per view (rows, seconds)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(queries.get("refresh_aggregates"), {"concurrent": concurrent}).fetchall()


def check_schedule(schedule: str) -> list[str]:
    """The five fields of a cron schedule (minute hour day-of-month month day-of-week)."""
    fields = schedule.split()
    if len(fields) != 5 or not all(_FIELD.match(f) for f in fields):
        raise EvaltoolError(
            f"--schedule {schedule!r}: expected five cron fields of numbers, *, ranges, lists "
            "and steps, e.g. '*/15 * * * *'"
        )
    return fields


def schedule_pg_cron(conn: psycopg.Connection, schedule: str) -> int | None:
    """Register the refresh as the pg_cron job evaltool-refresh; None without pg_cron."""
    with conn.cursor(row_factory=dict_row) as cur:
        if cur.execute(queries.get("pg_cron_database")).fetchone() is None:
            return None
        with conn.transaction():
            row = conn.execute(queries.get("pg_cron_schedule"), {"schedule": schedule}).fetchone()
    return int(row[0]) if row else None


def crontab_line(schedule: str, environment: dict[str, str]) -> str:
    """A crontab line that runs `evaltool refresh` on the schedule, in this directory."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment.items())
    command = f"{shlex.quote(_executable())} refresh --quiet"
    return f"{schedule} cd {shlex.quote(str(Path.cwd()))} && {env + ' ' if env else ''}{command}"


def systemd_units(schedule: str, environment: dict[str, str]) -> str:
    """A systemd service and timer that do what the crontab line does."""
    env = "".join(f"Environment={k}={v}\n" for k, v in environment.items())
    return (
        "# /etc/systemd/system/evaltool-refresh.service\n"
        "[Unit]\nDescription=Refresh evaltool's materialized aggregates\n\n"
        f"[Service]\nType=oneshot\nWorkingDirectory={Path.cwd()}\n{env}"
        f"ExecStart={_executable()} refresh --quiet\n\n"
        "# /etc/systemd/system/evaltool-refresh.timer\n"
        f"[Unit]\nDescription=evaltool refresh on '{schedule}'\n\n"
        f"[Timer]\nOnCalendar={on_calendar(schedule)}\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )


def on_calendar(schedule: str) -> str:
    """The systemd OnCalendar form of a cron schedule ('*/15 * * * *' is '*-*-* *:0/15:00')."""
    minute, hour, dom, month, dow = check_schedule(schedule)

    def field(text: str, start: int) -> str:
        parts = []
        for part in text.split(","):
            base, _, step = part.partition("/")
            if base == "*":
                base = str(start) if step else "*"
            elif "-" in base and step:
                raise EvaltoolError(f"cannot write {part!r} as a systemd calendar: edit by hand")
            parts.append(base.replace("-", "..") + (f"/{step}" if step else ""))
        return ",".join(parts)

    days = ""
    if dow != "*":
        names = []
        for part in dow.split(","):
            if "/" in part:
                raise EvaltoolError(f"cannot write {part!r} as a systemd calendar: edit by hand")
            low, _, high = part.partition("-")
            names.append(_DAYS[int(low)] + (f"..{_DAYS[int(high)]}" if high else ""))
        days = ",".join(names) + " "
    return f"{days}*-{field(month, 1)}-{field(dom, 1)} {field(hour, 0)}:{field(minute, 0)}:00"


def _executable() -> str:
    found = Path(sys.argv[0])
    return str(found.resolve()) if found.name == "evaltool" and found.exists() else "evaltool"
