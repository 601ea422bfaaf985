"""Queries for the North Star Metric: snapshots, raw events, alert episodes, snoozes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import AlertEpisode, AlertMute, ProductEvent, Snapshot, SnapshotRevision
from storage.statements import dialect_insert


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

    # -- raw events ------------------------------------------------------------

    def add_events(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert events; ones already stored (same event, actor and time) are skipped."""
        added = 0
        batch = list(rows)
        for i in range(0, len(batch), 1000):
            chunk = batch[i : i + 1000]
            result = self.session.execute(
                dialect_insert(self.session.get_bind().dialect.name, ProductEvent)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=["event", "actor", "occurred_at"])
                .returning(ProductEvent.id)
            )
            added += len(result.all())
        return added

    def event_actors(
        self, events: Sequence[str], since: datetime, until: datetime
    ) -> list[tuple[str, datetime]]:
        rows = self.session.execute(
            select(ProductEvent.actor, ProductEvent.occurred_at).where(
                ProductEvent.event.in_(list(events)),
                ProductEvent.occurred_at >= since,
                ProductEvent.occurred_at < until,
            )
        )
        return [(actor, at) for actor, at in rows]

    def event_span(self, events: Sequence[str]) -> tuple[datetime | None, datetime | None]:
        row = self.session.execute(
            select(func.min(ProductEvent.occurred_at), func.max(ProductEvent.occurred_at)).where(
                ProductEvent.event.in_(list(events))
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
