"""Reading metric values and raw events from files, all-or-nothing.

Every front door (chat, CSV, events, and later the HTTP API and SQL pulls) turns
its input into ``SnapshotRow`` lists or ``EventRow`` streams here; the service
stores a file only when every row of it is valid, so a bad line never leaves half
a file.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.errors import BadInput
from bot.nsm.edge import checked_properties, checked_text, checked_time, load_json, out_of_range
from bot.nsm.periods import Period, PeriodError, check_recordable, parse_period
from bot.text import quote

MAX_PROBLEMS_SHOWN = 10
MAX_LINE_CHARS = 1 << 20
MAX_VALUE = 1e15  # a quadrillion: beyond any real count or amount, far below float limits
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_UNIX_SECONDS = re.compile(r"\d{9,11}(\.\d+)?")


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

    def __init__(
        self, source: str, problems: list[tuple[int, str]], total: int | None = None
    ) -> None:
        shown = "; ".join(f"line {n}: {p}" for n, p in problems[:MAX_PROBLEMS_SHOWN])
        more = (len(problems) if total is None else total) - MAX_PROBLEMS_SHOWN
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
    try:
        if _UNIX_SECONDS.fullmatch(text):
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"“{text[:40]}” is not a time: use ISO 8601 or Unix seconds.") from None
    except (OverflowError, OSError):
        raise BadInput(out_of_range(text)) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is in year 0
        raise BadInput(out_of_range(text)) from None


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


def read_events(path: Path, *, now: datetime) -> Iterator[EventRow]:
    """Stream ``actor,event,timestamp[,properties]`` CSV, or JSON lines with those keys.

    Rows come out one by one as the file is read, so memory stays flat whatever its
    size. After the first bad row no more rows come out; the rest of the file is
    still read, to name every bad line, and the end raises ``ImportProblems`` — so
    a consumer storing rows inside one transaction rolls all of them back.
    ``now`` (the injected clock) bounds how far in the future an event may be.
    """
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    problems: list[tuple[int, str]] = []
    bad = read = 0
    # utf-8-sig: spreadsheets write a BOM. csv wants newline="" to see quoted newlines.
    with path.open(encoding="utf-8-sig", newline=None if jsonl else "") as handle:
        records = _json_lines(handle) if jsonl else _csv_records(handle)
        for number, record in records:
            try:
                row = _jsonl_event(record, now) if jsonl else _csv_event(number, record, now)
            except BadInput as error:
                bad += 1
                if len(problems) < MAX_PROBLEMS_SHOWN:
                    problems.append((number, error.message.rstrip(".")))
                continue
            if row is None:
                continue
            read += 1
            if not bad:
                yield row
    if bad:
        raise ImportProblems(path.name, problems, total=bad)
    if not read:
        raise BadInput(f"{path.name}: there are no events to import.")


def _json_lines(handle: TextIO) -> Iterator[tuple[int, str | None]]:
    """Numbered lines; a line longer than ``MAX_LINE_CHARS`` comes out as None
    (and is never held in memory whole)."""
    number = 0
    while line := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := handle.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            yield number, None
        else:
            yield number, line


def _csv_records(handle: TextIO) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Numbered records; a record the csv module cannot read comes out as its error
    (the reader goes on with the next line)."""
    reader = csv.reader(handle)
    number = 0
    while True:
        number += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield number, error
            continue
        yield number, record


def _jsonl_event(line: str | None, now: datetime) -> EventRow | None:
    if line is None:
        raise BadInput(f"the line is longer than {MAX_LINE_CHARS:,} characters")
    if not line.strip():
        return None
    obj = load_json(line, "the line")
    if not isinstance(obj, dict):
        raise BadInput("not a JSON object")
    return _event(
        obj.get("actor"), obj.get("event"), obj.get("timestamp"), obj.get("properties"), now
    )


def _csv_event(number: int, record: list[str] | csv.Error, now: datetime) -> EventRow | None:
    if isinstance(record, csv.Error):
        raise BadInput(f"not readable as CSV ({record})")
    if not record or all(not cell.strip() for cell in record):
        return None
    if number == 1 and [c.strip().lower() for c in record[:3]] == ["actor", "event", "timestamp"]:
        return None
    if len(record) not in (3, 4):
        raise BadInput(f"expected actor,event,timestamp[,properties], got {len(record)} columns")
    props = load_json(record[3], "properties") if len(record) == 4 and record[3].strip() else None
    return _event(record[0], record[1], record[2], props, now)


def _event(actor: Any, event: Any, when: Any, props: Any, now: datetime) -> EventRow:
    if isinstance(actor, bool) or not isinstance(actor, str | int) or not str(actor).strip():
        raise BadInput("actor is missing")
    if not isinstance(event, str) or not event.strip():
        raise BadInput("event is missing")
    if isinstance(when, int | float) and not isinstance(when, bool):
        when = str(when)
    if not isinstance(when, str):
        raise BadInput("timestamp is missing")
    return EventRow(
        checked_text(str(actor), "actor").strip()[:200],
        checked_text(event, "event").strip()[:100],
        checked_time(parse_time(when), when, now),
        checked_properties(props),
    )
