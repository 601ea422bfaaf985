"""Periods that metric snapshots are recorded for: an hour, a day or an ISO week, in UTC.

The north star is read weekly, but numbers arrive hourly (events), daily (a SQL
pull) or weekly (a person typing ``/nsm record``). One small value type with a
stable text key (``2026-W41``, ``2026-10-05``, ``2026-10-05T14``) lets storage,
commands and charts agree on what "this week" means. Weeks are ISO weeks
(Monday to Monday, UTC), so a week key never depends on a server's timezone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bot.nsm.config import ROLLUPS
from bot.text import quote

PeriodKind = Literal["hour", "day", "week"]

_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_HOUR_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2})(?::00)?(?::00)?Z?$")
_USAGE = "use 2026-W41 or 2026-10-05"
# Nothing a product measures happened before 1970, and keeping every moment in a sane
# range keeps week arithmetic (a week before, 90 days after) far from datetime's limits.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class PeriodError(ValueError):
    """A period or rollup the user asked for does not make sense."""


@dataclass(frozen=True, order=True)
class Period:
    """An hour, day or ISO week; ``start`` is an aware UTC datetime aligned to the kind."""

    start: datetime
    kind: PeriodKind

    def __post_init__(self) -> None:
        if self.kind not in _STEP:
            raise PeriodError(f"'{self.kind}' is not a period kind: use hour, day or week.")
        if self.start.tzinfo is None or self.start.utcoffset() != timedelta(0):
            raise PeriodError("a period must start at a UTC time.")
        s = self.start
        aligned = s.minute == s.second == s.microsecond == 0 and (
            self.kind == "hour" or (s.hour == 0 and (self.kind == "day" or s.weekday() == 0))
        )
        if not aligned:
            raise PeriodError(f"{s.isoformat()} is not the start of a {self.kind}.")

    @property
    def end(self) -> datetime:
        """Exclusive end: the start of the next period."""
        return self.start + _STEP[self.kind]

    @property
    def key(self) -> str:
        if self.kind == "week":
            y, w, _ = self.start.date().isocalendar()
            return f"{y:04d}-W{w:02d}"
        if self.kind == "day":
            return self.start.date().isoformat()
        return f"{self.start.date().isoformat()}T{self.start.hour:02d}"

    def __str__(self) -> str:
        return self.key

    def contains(self, moment: datetime) -> bool:
        return self.start <= _utc(moment) < self.end

    def shift(self, n: int) -> Period:
        """The period ``n`` steps later (negative: earlier)."""
        return Period(self.start + n * _STEP[self.kind], self.kind)

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def days(self) -> list[date]:
        """Calendar dates this period touches (seven for a week)."""
        first = self.start.date()
        return [first + timedelta(days=i) for i in range((self.end - self.start).days or 1)]

    @property
    def week(self) -> Period:
        """The ISO week containing this period."""
        return week_of(self.start)


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def week_of(when: date | datetime) -> Period:
    """The ISO week containing a date or moment (moments are converted to UTC first)."""
    d = _utc(when).date() if isinstance(when, datetime) else when
    return Period(_midnight(d - timedelta(days=d.weekday())), "week")


def day_of(when: date | datetime) -> Period:
    d = _utc(when).date() if isinstance(when, datetime) else when
    return Period(_midnight(d), "day")


def hour_of(moment: datetime) -> Period:
    m = _utc(moment)
    return Period(m.replace(minute=0, second=0, microsecond=0), "hour")


def current_week(now: datetime) -> Period:
    """The week that is still running at ``now``."""
    return week_of(now)


def latest_complete_week(now: datetime) -> Period:
    """The last week that has fully ended by ``now`` (what a weekly chart should end on)."""
    return week_of(now).previous()


def parse_period(text: str) -> Period:
    """Parse ``2026-W41``, ``2026-10-05`` or ``2026-10-05T14`` into a :class:`Period`."""
    s = text.strip()
    if m := _WEEK_RE.match(s):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            return week_of(date.fromisocalendar(year, week, 1))
        except ValueError:
            raise PeriodError(f"'{quote(text, 40)}' is not a week: {_USAGE}.") from None
    if m := _DAY_RE.match(s):
        try:
            return day_of(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            raise PeriodError(f"'{quote(text, 40)}' is not a date: {_USAGE}.") from None
    if m := _HOUR_RE.match(s):
        y, mo, d, h = (int(g) for g in m.groups())
        try:
            return Period(datetime(y, mo, d, h, tzinfo=UTC), "hour")
        except ValueError:
            raise PeriodError(
                f"'{quote(text, 40)}' is not an hour: use 2026-10-05T14 (UTC, 00 to 23)."
            ) from None
    raise PeriodError(
        f"'{quote(text, 40)}' is not a period: {_USAGE} (or 2026-10-05T14 for an hour)."
    )


def check_recordable(period: Period, now: datetime) -> Period:
    """The one rule for where values may be recorded, by chat or import: a period that
    has started by ``now``, from 1970 on. Raises :class:`PeriodError`."""
    if period.start > now:
        raise PeriodError(f"{period.key} has not started yet; record values for past periods.")
    if period.start < EARLIEST:
        raise PeriodError(f"{period.key} is before 1970; record values from 1970 on.")
    return period


def parse_moment(text: str, *, day_hour: int = 0) -> datetime:
    """A date (taken at ``day_hour`` UTC) or an ISO 8601 time, kept as given: a time
    with an offset keeps it, one without is UTC. Raises :class:`PeriodError`."""
    s = text.strip()
    if m := _DAY_RE.match(s):
        try:
            return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), day_hour, tzinfo=UTC)
        except ValueError:
            raise PeriodError(f"“{quote(text, 40)}” is not a date.") from None
    try:
        moment = datetime.fromisoformat(s)
    except ValueError:
        raise PeriodError(
            f"“{quote(text, 40)}” is not a date or time: use 2026-11-25 or 2026-11-25T09:00+01:00."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_moment(moment: datetime, now: datetime, *, ahead: timedelta = timedelta(0)) -> datetime:
    """A time someone asked for, from 1970 to ``ahead`` of ``now`` (default: not in the
    future). Raises :class:`PeriodError`."""
    shown = moment.date().isoformat()
    if moment < EARLIEST:
        raise PeriodError(f"{shown} is before 1970: give a later date.")
    if moment > now + ahead:
        if not ahead:
            raise PeriodError(f"{shown} is in the future: give a past or present date.")
        raise PeriodError(f"{shown} is more than {ahead.days:,} days ahead: give an earlier date.")
    return moment


def weeks_between(first: Period, last: Period) -> list[Period]:
    """Every week from ``first`` to ``last`` inclusive (for filling gaps in a chart)."""
    a, b = first.week, last.week
    n = (b.start - a.start).days // 7
    return [a.shift(i) for i in range(n + 1)]


def _as_date(day: date | datetime | Period) -> date:
    if isinstance(day, Period):
        if day.kind != "day":
            raise PeriodError(f"rollup needs daily values, but got the {day.kind} {day.key}.")
        return day.start.date()
    if isinstance(day, datetime):
        return _utc(day).date()
    return day


def rollup(values_by_day: Mapping[date, float] | Mapping[Period, float], rule: str) -> float:
    """Roll daily values into one number by ``sum``, ``mean`` or ``last`` (latest day).

    Missing days are simply absent: ``mean`` averages the days present, and
    ``last`` takes the latest day present.
    """
    if rule not in ROLLUPS:
        raise PeriodError(f"'{rule}' is not a rollup: use {', '.join(ROLLUPS)}.")
    items = sorted((_as_date(d), float(v)) for d, v in values_by_day.items())
    if not items:
        raise PeriodError("there are no daily values to roll up.")
    if rule == "last":
        return items[-1][1]
    total = sum(v for _, v in items)
    return total if rule == "sum" else total / len(items)


def rollup_by_week(
    values_by_day: Mapping[date, float] | Iterable[tuple[date, float]], rule: str
) -> dict[Period, float]:
    """Group daily values into ISO weeks and roll each week up; weeks come out in order."""
    pairs = values_by_day.items() if isinstance(values_by_day, Mapping) else values_by_day
    weeks: dict[Period, dict[date, float]] = defaultdict(dict)
    for d, v in pairs:
        day = _as_date(d)
        weeks[week_of(day)][day] = v
    return {w: rollup(weeks[w], rule) for w in sorted(weeks)}
