"""Reading metric values and raw events from files, all-or-nothing.

Every front door (chat, CSV, events, and later the HTTP API and SQL pulls) turns
its input into ``SnapshotRow`` or ``EventRow`` lists here; the service stores a
list only when every row of it is valid, so a bad line never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import BadInput
from bot.nsm.periods import Period, PeriodError, check_recordable, parse_period
from bot.text import quote

MAX_PROBLEMS_SHOWN = 10
MAX_VALUE = 1e15  # a quadrillion: beyond any real count or amount, far below float limits
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class SnapshotRow:
    metric: str
    period: Period
    value: float
    line: int | None = None


@dataclass(frozen=True)
class EventRow:
    actor: str
    event: str
    occurred_at: datetime
    properties: dict[str, Any] | None = None


class ImportProblems(BadInput):
    """Some rows are bad; nothing was stored. Lists them by line."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        shown = "; ".join(f"line {n}: {p}" for n, p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{source}: nothing was imported — {shown}{tail}.")
        self.problems = problems


def parse_value(text: str) -> float:
    """A number as people type it: ``1234``, ``1,234``, ``12.5``, ``-3e2``, within
    ±``MAX_VALUE``: the one check every front door shares, so no stored value can make
    a sum, product or percentage overflow."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not _NUMBER.fullmatch(cleaned):
        raise BadInput(f"“{quote(text, 40)}” is not a number: write it like 1234 or 12.5.")
    value = float(cleaned)
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise BadInput(
            f"“{quote(text, 40)}” is out of range: values must be between -1e15 and 1e15."
        )
    return value


def parse_time(text: str) -> datetime:
    """ISO 8601 (a zone-less time is UTC) or Unix seconds."""
    text = text.strip()
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"“{text[:40]}” is not a time: use ISO 8601 or Unix seconds.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_snapshots(
    text: str, known: set[str], source: str = "CSV", *, now: datetime | None = None
) -> list[SnapshotRow]:
    """Rows of ``metric,period,value`` (a header line is optional). Given ``now``, a
    period values may not be recorded for (see ``check_recordable``) is a bad row too."""
    rows: list[SnapshotRow] = []
    problems: list[tuple[int, str]] = []
    for number, record in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not record or all(not cell.strip() for cell in record):
            continue
        if number == 1 and [c.strip().lower() for c in record[:3]] == ["metric", "period", "value"]:
            continue
        if len(record) != 3:
            problems.append((number, f"expected metric,period,value, got {len(record)} columns"))
            continue
        metric, period_text, value_text = (c.strip() for c in record)
        try:
            if metric not in known:
                raise BadInput(f"unknown metric “{quote(metric, 40)}”")
            period = parse_period(period_text)
            if now is not None:
                check_recordable(period, now)
            rows.append(SnapshotRow(metric, period, parse_value(value_text), number))
        except (BadInput, PeriodError) as error:
            problems.append((number, str(error).rstrip(".")))
    if problems:
        raise ImportProblems(source, problems)
    if not rows:
        raise BadInput(f"{source}: there are no rows to import.")
    return rows


def read_events(path: Path) -> list[EventRow]:
    """``actor,event,timestamp[,properties]`` CSV, or JSON lines with those keys."""
    text = path.read_text(encoding="utf-8-sig")  # spreadsheets write a BOM
    source = path.name
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return _events_jsonl(text, source)
    return _events_csv(text, source)


def _event(actor: Any, event: Any, when: Any, props: Any) -> EventRow:
    if not isinstance(actor, str | int) or not str(actor).strip():
        raise BadInput("actor is missing")
    if not isinstance(event, str) or not event.strip():
        raise BadInput("event is missing")
    if isinstance(when, int | float) and not isinstance(when, bool):
        when = str(when)
    if not isinstance(when, str):
        raise BadInput("timestamp is missing")
    if props is not None and not isinstance(props, dict):
        raise BadInput("properties must be a JSON object")
    return EventRow(str(actor).strip()[:200], event.strip()[:100], parse_time(when), props)


def _events_csv(text: str, source: str) -> list[EventRow]:
    rows: list[EventRow] = []
    problems: list[tuple[int, str]] = []
    for number, record in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not record or all(not cell.strip() for cell in record):
            continue
        if number == 1 and [c.strip().lower() for c in record[:3]] == [
            "actor",
            "event",
            "timestamp",
        ]:
            continue
        try:
            if len(record) not in (3, 4):
                raise BadInput(
                    f"expected actor,event,timestamp[,properties], got {len(record)} columns"
                )
            props = None
            if len(record) == 4 and record[3].strip():
                try:
                    props = json.loads(record[3])
                except json.JSONDecodeError:
                    raise BadInput("properties is not JSON") from None
            rows.append(_event(record[0], record[1], record[2], props))
        except BadInput as error:
            problems.append((number, error.message.rstrip(".")))
    return _checked(rows, problems, source)


def _events_jsonl(text: str, source: str) -> list[EventRow]:
    rows: list[EventRow] = []
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise BadInput("not a JSON object") from None
            if not isinstance(obj, dict):
                raise BadInput("not a JSON object")
            rows.append(
                _event(
                    obj.get("actor"), obj.get("event"), obj.get("timestamp"), obj.get("properties")
                )
            )
        except BadInput as error:
            problems.append((number, error.message.rstrip(".")))
    return _checked(rows, problems, source)


def _checked(rows: list[EventRow], problems: list[tuple[int, str]], source: str) -> list[EventRow]:
    if problems:
        raise ImportProblems(source, problems)
    if not rows:
        raise BadInput(f"{source}: there are no events to import.")
    return rows
