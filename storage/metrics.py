"""Queries for the North Star Metric: snapshots, raw events and their weekly
aggregates, alert episodes, snoozes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.orm import Session

from storage.models import (
    AlertEpisode,
    AlertMute,
    EventWeek,
    EventWeekActor,
    ProductEvent,
    Snapshot,
    SnapshotRevision,
)
from storage.statements import dialect_insert


def _dialect_insert(session: Session, table: Any) -> Any:
    return dialect_insert(session.get_bind().dialect.name, table)


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 of the ISO week of an aware UTC ``moment``: the aggregates' key
    (the same week as ``bot.nsm.periods.week_of``, and as migration 0004's SQL)."""
    day = moment - timedelta(days=moment.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


class MetricsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- snapshots -------------------------------------------------------------

    def record(
        self,
        metric: str,
        kind: str,
        start: datetime,
        value: float,
        source: str,
        by: str,
        now: datetime,
    ) -> float | None:
        """Store a value; a value already there for that period moves to the
        revisions and is returned."""
        current = self.session.scalar(
            select(Snapshot)
            .where(
                Snapshot.metric == metric,
                Snapshot.period_kind == kind,
                Snapshot.period_start == start,
            )
            .with_for_update()
        )
        if current is None:
            self.session.add(
                Snapshot(
                    metric=metric,
                    period_kind=kind,
                    period_start=start,
                    value=value,
                    source=source,
                    recorded_at=now,
                    recorded_by=by,
                )
            )
            self.session.flush()
            return None
        self.session.add(
            SnapshotRevision(
                metric=metric,
                period_kind=kind,
                period_start=start,
                value=current.value,
                source=current.source,
                recorded_at=current.recorded_at,
                recorded_by=current.recorded_by,
                replaced_at=now,
            )
        )
        previous = current.value
        current.value, current.source = value, source
        current.recorded_at, current.recorded_by = now, by
        self.session.flush()
        return previous

    def snapshots(
        self,
        metrics: Sequence[str],
        kinds: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Snapshot]:
        query = select(Snapshot).where(Snapshot.metric.in_(list(metrics)))
        if kinds:
            query = query.where(Snapshot.period_kind.in_(list(kinds)))
        if since is not None:
            query = query.where(Snapshot.period_start >= since)
        if until is not None:
            query = query.where(Snapshot.period_start < until)
        return list(self.session.scalars(query.order_by(Snapshot.period_start)))

    def revisions(self, metric: str) -> list[SnapshotRevision]:
        return list(
            self.session.scalars(
                select(SnapshotRevision)
                .where(SnapshotRevision.metric == metric)
                .order_by(SnapshotRevision.id)
            )
        )

    # -- raw events and their weekly aggregates ---------------------------------

    def add_events(self, rows: Iterable[dict[str, Any]], batch: int = 2000) -> tuple[int, int]:
        """Insert events as they stream in, ``batch`` at a time, and return (read, added).

        Events already stored (same event, actor and time) are skipped, and only the
        ones actually added move the weekly aggregates, so a re-import or two imports
        racing each other count every event once. Nothing is committed here.
        """
        table = ProductEvent.__table__
        insert_new = (
            _dialect_insert(self.session, table)
            .on_conflict_do_nothing(index_elements=["event", "actor", "occurred_at"])
            .returning(table.c.event, table.c.actor, table.c.occurred_at)
        )
        read = added = 0
        stream = iter(rows)
        while chunk := list(islice(stream, batch)):
            read += len(chunk)
            new = self.session.execute(insert_new, chunk).all()
            added += len(new)
            if new:
                self._count_new_events([(e, week_start(at), a) for e, a, at in new])
        return read, added

    def _count_new_events(self, new: list[tuple[str, datetime, str]]) -> None:
        """Fold newly stored (event, week start, actor) triples into the aggregates."""
        events = Counter((event, week) for event, week, _ in new)
        actors_table = EventWeekActor.__table__
        # Sorted, so two writers take row locks in the same order (no deadlock).
        triples = sorted(set(new))
        first_seen = self.session.execute(
            _dialect_insert(self.session, actors_table)
            .on_conflict_do_nothing()
            .returning(actors_table.c.event, actors_table.c.week_start),
            [{"event": e, "week_start": w, "actor": a} for e, w, a in triples],
        ).all()
        actors = Counter((event, week) for event, week in first_seen)
        weeks_table = EventWeek.__table__
        upsert = _dialect_insert(self.session, weeks_table)
        upsert = upsert.on_conflict_do_update(
            index_elements=["event", "week_start"],
            set_={
                "actors": weeks_table.c.actors + upsert.excluded.actors,
                "events": weeks_table.c.events + upsert.excluded.events,
            },
        )
        self.session.execute(
            upsert,
            [
                {"event": e, "week_start": w, "actors": actors[(e, w)], "events": n}
                for (e, w), n in sorted(events.items())
            ],
        )

    def event_counts(
        self, events: Sequence[str], unique_actors: bool, since: datetime, until: datetime
    ) -> dict[datetime, int]:
        """Per week starting in [since, until): the distinct actors of any of ``events``
        (``unique_actors``), else how many of them happened. Weeks without any are absent."""
        names = list(events)
        if unique_actors and len(names) > 1:
            event, week = EventWeekActor.event, EventWeekActor.week_start
            value = func.count(distinct(EventWeekActor.actor))
        else:
            event, week = EventWeek.event, EventWeek.week_start
            value = func.sum(EventWeek.actors if unique_actors else EventWeek.events)
        rows = self.session.execute(
            select(week, value).where(event.in_(names), week >= since, week < until).group_by(week)
        )
        return {start: int(n) for start, n in rows}

    def event_span(self, events: Sequence[str]) -> tuple[datetime | None, datetime | None]:
        """The start of the first and of the last week with any of ``events``."""
        row = self.session.execute(
            select(func.min(EventWeek.week_start), func.max(EventWeek.week_start)).where(
                EventWeek.event.in_(list(events))
            )
        ).one()
        return row[0], row[1]

    # -- alert episodes and snoozes ---------------------------------------------

    def episodes(self, rules: Sequence[str] | None = None) -> list[AlertEpisode]:
        query = select(AlertEpisode).order_by(AlertEpisode.start)
        if rules is not None:
            query = query.where(AlertEpisode.rule.in_(list(rules)))
        return list(self.session.scalars(query))

    def save_episode(self, episode: AlertEpisode) -> None:
        existing = self.session.scalar(
            select(AlertEpisode).where(
                AlertEpisode.rule == episode.rule, AlertEpisode.start == episode.start
            )
        )
        if existing is None:
            self.session.add(episode)
        else:
            existing.end, existing.peak, existing.detail = episode.end, episode.peak, episode.detail
        self.session.flush()

    def open_episodes(self) -> list[AlertEpisode]:
        return list(
            self.session.scalars(
                select(AlertEpisode).where(AlertEpisode.end.is_(None)).order_by(AlertEpisode.start)
            )
        )

    def mutes(self, now: datetime) -> list[AlertMute]:
        return list(self.session.scalars(select(AlertMute).where(AlertMute.until > now)))

    def all_mutes(self) -> list[AlertMute]:
        return list(self.session.scalars(select(AlertMute).order_by(AlertMute.id)))

    def add_mute(self, mute: AlertMute) -> None:
        self.session.add(mute)
        self.session.flush()

    def clear_mutes(self, rule: str) -> int:
        return self.session.execute(delete(AlertMute).where(AlertMute.rule == rule)).rowcount
