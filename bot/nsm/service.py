"""The North Star Metric use cases: record, read, explain, chart.

Weekly values come from, in order: a value recorded for the week itself, the
metric's daily (or hourly) values rolled up by its rule, or — for event-fed
metrics — the week's unique actors (or events) from the weekly aggregates that
each import keeps, never a scan of the raw events.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from bot.clock import Clock
from bot.context import Caller
from bot.errors import BadInput, UserError
from bot.feedback.board import BoardService
from bot.feedback.views import ItemView
from bot.nsm.config import LodestarConfig, MetricDef, MetricTree
from bot.nsm.ingest import EventRow, ImportProblems, SnapshotRow, parse_value, read_events
from bot.nsm.periods import (
    Period,
    PeriodError,
    check_recordable,
    current_week,
    latest_complete_week,
    parse_period,
    week_of,
)
from bot.nsm.settings import MetricSettings
from bot.nsm.why import Explanation, WhyError, explain
from bot.scope import ADMIN
from bot.text import quote
from storage.metrics import MetricsRepository
from storage.models import Snapshot
from storage.uow import Database

Series = list[tuple[datetime, float]]


#: Events stored per transaction by a file import (the write lock is held that long).
BATCH = 5000


class NotConfigured(UserError):
    def __init__(self) -> None:
        super().__init__(
            "No metric tree is configured yet: add an [nsm] table to lodestar.toml "
            "(see the README)."
        )


@dataclass(frozen=True)
class Recorded:
    metric: MetricDef
    period: Period
    value: float
    previous: float | None


@dataclass(frozen=True)
class EventsImported:
    read: int
    added: int

    @property
    def known(self) -> int:
        """Events of the file that were stored already (a re-import adds nothing)."""
        return self.read - self.added


@dataclass(frozen=True)
class MetricMove:
    metric: MetricDef
    latest: float | None
    previous: float | None
    four_weeks_ago: float | None

    @property
    def change(self) -> float | None:
        if self.latest is None or self.previous is None:
            return None
        return self.latest - self.previous

    @property
    def relative(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        relative = self.change / abs(self.previous)
        return relative if math.isfinite(relative) else None  # a tiny previous value


@dataclass(frozen=True)
class Summary:
    week: Period
    north_star: MetricMove
    inputs: list[MetricMove]
    counters: list[MetricMove]


@dataclass(frozen=True)
class WhyResult:
    week: Period
    tree: MetricTree
    explanation: Explanation
    linked: list[ItemView] = field(default_factory=list)
    shipped: list[tuple[ItemView, datetime]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        e = self.explanation
        return {
            "week": self.week.key,
            "method": e.method,
            "north_star": {
                "key": self.tree.north_star.key,
                "previous": e.previous,
                "current": e.current,
                "change": e.change,
            },
            "contributions": [
                {
                    "metric": c.metric,
                    "previous": c.previous,
                    "current": c.current,
                    "contribution": c.contribution,
                }
                for c in e.contributions
            ],
            "unexplained": e.unexplained,
            "note": e.note,
            "feedback": [
                {
                    "number": v.number,
                    "text": v.text,
                    "demand": v.demand,
                    "metric": v.linked_metric,
                    "status": v.status,
                }
                for v in self.linked
            ],
            "shipped": [
                {"number": v.number, "text": v.text, "at": at.isoformat()} for v, at in self.shipped
            ],
        }


class NsmService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: LodestarConfig | None,
        feedback: BoardService,
        settings: MetricSettings,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.feedback = feedback
        self.settings = settings

    # -- the tree --------------------------------------------------------------

    @property
    def tree(self) -> MetricTree:
        if self.config is None or self.config.tree is None:
            raise NotConfigured()
        return self.config.tree

    @property
    def metric_keys(self) -> set[str]:
        return set() if self.config is None else set(self.config.metrics)

    def metric(self, key: str) -> MetricDef:
        if self.config is None:
            raise NotConfigured()
        found = self.config.metrics.get(key)
        if found is None:
            known = ", ".join(sorted(self.config.metrics)) or "none"
            raise BadInput(f"There is no metric “{quote(key, 40)}” (known: {known}).")
        return found

    # -- recording ---------------------------------------------------------------

    def record(
        self, caller: Caller, key: str, value_text: str, period_text: str | None
    ) -> Recorded:
        self.feedback.scopes.require(caller, ADMIN, "record metric values")
        metric = self.metric(key)
        if metric.events is not None:
            raise BadInput(f"{metric.key} is counted from raw events; import events instead.")
        value = parse_value(value_text)
        now = self.clock.now()
        try:
            period = check_recordable(
                parse_period(period_text) if period_text else current_week(now), now
            )
        except PeriodError as error:
            raise BadInput(str(error)) from None
        with self.db.uow() as uow:
            previous = uow.metrics.record(
                metric.key, period.kind, period.start, value, "chat", caller.name, self.clock.now()
            )
            uow.commit()
        return Recorded(metric, period, value, previous)

    def import_snapshots(self, rows: Sequence[SnapshotRow], source: str, by: str) -> int:
        """Store every row, or none: each must be for a period values may be recorded
        for, by the same rule as /nsm record."""
        for row in rows:
            if self.metric(row.metric).events is not None:
                raise BadInput(f"line {row.line}: {row.metric} is counted from raw events.")
        now = self.clock.now()
        problems = []
        for row in rows:
            try:
                check_recordable(row.period, now)
            except PeriodError as error:
                problems.append((row.line or 0, str(error).rstrip(".")))
        if problems:
            raise ImportProblems(by, problems)
        with self.db.uow() as uow:
            for row in rows:
                uow.metrics.record(
                    row.metric, row.period.kind, row.period.start, row.value, source, by, now
                )
            uow.commit()
        return len(rows)

    def import_event_file(self, path: Path) -> EventsImported:
        """Import a file of raw events in two streaming passes.

        The first pass only checks every row, so a bad file (a truncated last line is
        the usual one) is refused at reading speed without ever taking the database's
        write lock and writes nothing. The second stores the checked rows in
        transactions of ``BATCH`` rows, so the bot's own writes (a vote, a capture) wait
        for one batch at most, never for the whole file. Should the import die half
        way, running it again completes it: events are stored once whatever repeats.
        """
        now = self.clock.now()
        for _ in read_events(path, now=now):
            pass
        rows = read_events(path, now=now)
        read = added = 0
        while True:
            done = self.import_events(islice(rows, BATCH))
            if not done.read:
                return EventsImported(read, added)
            read, added = read + done.read, added + done.added

    def import_events(self, rows: Iterable[EventRow]) -> EventsImported:
        """Store events as they stream in, in one transaction: when the reader raises
        (it does at the end of a file with any bad row), nothing is stored."""
        with self.db.uow() as uow:
            read, added = uow.metrics.add_events(
                {
                    "actor": r.actor,
                    "event": r.event,
                    "occurred_at": r.occurred_at,
                    "properties": r.properties,
                }
                for r in rows
            )
            uow.commit()
        return EventsImported(read, added)

    # -- reading -------------------------------------------------------------------

    def weekly(
        self, keys: Iterable[str], weeks: Sequence[Period]
    ) -> dict[str, dict[Period, float]]:
        """Each metric's value for each of ``weeks`` that has one."""
        keys = list(keys)
        if not weeks:
            return {k: {} for k in keys}
        since, until = min(weeks).start, max(weeks).end
        wanted = set(weeks)
        out: dict[str, dict[Period, float]] = {k: {} for k in keys}
        with self.db.uow() as uow:
            snaps = uow.metrics.snapshots(keys, since=since, until=until)
            by_metric: dict[str, list[Snapshot]] = defaultdict(list)
            for snap in snaps:
                by_metric[snap.metric].append(snap)
            for key in keys:
                metric = self.metric(key)
                if metric.events is not None:
                    out[key] = self._event_weeks(uow.metrics, metric, since, until, wanted)
                else:
                    out[key] = _weeks_from_snapshots(by_metric[key], metric.rollup, wanted)
        return out

    def _event_weeks(
        self,
        repo: MetricsRepository,
        metric: MetricDef,
        since: datetime,
        until: datetime,
        wanted: set[Period],
    ) -> dict[Period, float]:
        assert metric.events is not None
        source = metric.events
        first, last = repo.event_span(source.events)
        if first is None or last is None:
            return {}
        counts = repo.event_counts(source.events, source.count == "unique_actors", since, until)
        # Weeks inside the span of the data with no events are real zeros.
        return {w: float(counts.get(w.start, 0)) for w in wanted if first <= w.start <= last}

    def series(self, key: str) -> Series:
        """The metric at its finest recorded grain, for alert rules."""
        metric = self.metric(key)
        if metric.events is not None:
            # The running week is still counting: it would look like a drop.
            weeks = self._span_weeks([key])[:-1]
            values = self.weekly([key], weeks)[key]
            return [(w.start, v) for w, v in sorted(values.items())]
        with self.db.uow() as uow:
            snaps = uow.metrics.snapshots([key])
        by_kind: dict[str, Series] = defaultdict(list)
        for snap in snaps:
            by_kind[snap.period_kind].append((snap.period_start, snap.value))
        # The grain with the most values (finer on a tie): one stray hourly value
        # must not hide a year of weekly ones.
        order = {"hour": 0, "day": 1, "week": 2}
        best = min(by_kind, key=lambda k: (-len(by_kind[k]), order[k]), default=None)
        return [] if best is None else by_kind[best]

    def _span_weeks(self, keys: Sequence[str], at: datetime | None = None) -> list[Period]:
        """Every week from the earliest data of these metrics to the week of ``at``
        (default: now)."""
        first: datetime | None = None
        with self.db.uow() as uow:
            for key in keys:
                metric = self.metric(key)
                if metric.events is not None:
                    start, _ = uow.metrics.event_span(metric.events.events)
                else:
                    snaps = uow.metrics.snapshots([key])
                    start = snaps[0].period_start if snaps else None
                if start is not None and (first is None or start < first):
                    first = start
        if first is None:
            return []
        week, last = week_of(first), current_week(at or self.clock.now())
        out = []
        while week <= last:
            out.append(week)
            week = week.next()
        return out

    def latest_week(self, at: datetime | None = None) -> Period:
        """The newest complete week with a north star value as of ``at`` (default:
        now), else the newest with any."""
        tree = self.tree
        weeks = self._span_weeks([tree.north_star.key], at)
        values = self.weekly([tree.north_star.key], weeks)[tree.north_star.key]
        if not values:
            raise BadInput(
                f"There are no values for {tree.north_star.label} yet: record one "
                "with /nsm record or import a CSV."
            )
        complete = [w for w in values if w <= latest_complete_week(at or self.clock.now())]
        return max(complete or values)

    def summary(self, at: datetime | None = None) -> Summary:
        tree = self.tree
        week = self.latest_week(at)
        weeks = [week.shift(-4), week.previous(), week]
        values = self.weekly([m.key for m in tree.metrics()], weeks)

        def move(metric: MetricDef) -> MetricMove:
            v = values[metric.key]
            return MetricMove(metric, v.get(week), v.get(week.previous()), v.get(week.shift(-4)))

        return Summary(
            week,
            move(tree.north_star),
            [move(m) for m in tree.inputs],
            [move(m) for m in tree.counter_metrics],
        )

    def history(self, key: str, weeks: int) -> list[tuple[Period, float | None]]:
        self.metric(key)
        if not 1 <= weeks <= 520:
            raise BadInput("Ask for between 1 and 520 weeks.")
        last = current_week(self.clock.now())
        span = [last.shift(-i) for i in range(weeks - 1, -1, -1)]
        values = self.weekly([key], span)[key]
        return [(w, values.get(w)) for w in span]

    def why(self, week_text: str | None, caller: Caller | None = None) -> WhyResult:
        tree = self.tree
        try:
            week = parse_period(week_text) if week_text else self.latest_week()
        except PeriodError as error:
            raise BadInput(str(error)) from None
        if week.kind != "week":
            week = week.week
        keys = [tree.north_star.key, *tree.input_keys]
        all_weeks = self._span_weeks(keys)
        if not all_weeks or week < all_weeks[0] or week > all_weeks[-1]:
            span = f" (data runs {all_weeks[0]} to {all_weeks[-1]})" if all_weeks else ""
            raise BadInput(f"There is no data for {week.key}{span}.")
        values = self.weekly(keys, all_weeks)
        previous = week.previous()
        if previous < all_weeks[0]:
            raise BadInput(
                f"{week.key} is the first week with data, so there is no earlier week to "
                "compare it with."
            )
        for when in (week, previous):
            missing = [k for k in keys if when not in values[k]]
            if missing:
                raise BadInput(
                    f"{when.key} is missing values for {', '.join(missing)}; record them first."
                )
        ns = values[tree.north_star.key]
        history = [
            (ns[w], {k: values[k][w] for k in tree.input_keys})
            for w in all_weeks
            if w <= week and all(w in values[k] for k in keys)
        ]
        try:
            explanation = explain(
                tree.formula,
                ns[previous],
                ns[week],
                {k: values[k][previous] for k in tree.input_keys},
                {k: values[k][week] for k in tree.input_keys},
                history=history,
                order=list(tree.input_keys),
            )
        except WhyError as error:
            raise BadInput(str(error)) from None
        linked: list[ItemView] = []
        shipped: list[tuple[ItemView, datetime]] = []
        if caller is not None:
            movers = [c.metric for c in explanation.contributions[:2]]
            linked = self.feedback.linked_to(caller, movers, limit=5)
            shipped = self.feedback.shipped_between(caller, week.start, week.end)
        return WhyResult(week, tree, explanation, linked, shipped)

    def chart_weeks(self, weeks: int, at: datetime | None = None) -> list[Period]:
        if not 4 <= weeks <= 260:
            raise BadInput("Charts show between 4 and 260 weeks.")
        last = self.latest_week(at)
        return [last.shift(-i) for i in range(weeks - 1, -1, -1)]


def _weeks_from_snapshots(
    snaps: list[Snapshot], rule: str, wanted: set[Period]
) -> dict[Period, float]:
    weekly = {Period(s.period_start, "week"): s.value for s in snaps if s.period_kind == "week"}
    days: dict[Period, dict[Period, float]] = defaultdict(dict)
    for s in snaps:
        if s.period_kind == "day":
            day = Period(s.period_start, "day")
            days[day.week][day] = s.value
    hours: dict[Period, dict[Period, float]] = defaultdict(dict)
    for s in snaps:
        if s.period_kind == "hour":
            day = Period(s.period_start.replace(hour=0), "day")
            hours[day][Period(s.period_start, "hour")] = s.value
    for day, by_hour in hours.items():
        # A day recorded directly wins over its hours.
        days[day.week].setdefault(day, _roll(list(by_hour.items()), rule))
    out = {}
    for week in wanted:
        if week in weekly:
            out[week] = weekly[week]
        elif days.get(week):
            out[week] = _roll(list(days[week].items()), rule)
    return out


def _roll(points: list[tuple[Period, float]], rule: str) -> float:
    values = [v for _, v in sorted(points)]
    if rule == "sum":
        return float(sum(values))
    if rule == "mean":
        return float(sum(values) / len(values))
    return float(values[-1])
