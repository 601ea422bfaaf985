"""Live alerting: recompute every rule's episodes over the stored history, post
what is new, and store the episodes so a restart never fires one twice."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.alerts.detectors import evaluate_rules
from bot.alerts.episodes import Episode, Mute, Notification, plan_notifications
from bot.alerts.rules import (
    AnyRule,
    CounterGuardRule,
    RuleError,
    default_rules,
    parse_duration,
)
from bot.errors import BadInput
from bot.nsm.config import MetricTree
from bot.nsm.service import NsmService
from bot.text import quote
from storage.models import AlertEpisode, AlertMute

# Episodes that began longer ago than this (say, in freshly imported history) are
# recorded without a post: an alert is news, not an archive.
FRESH = timedelta(days=14)


@dataclass(frozen=True)
class WatchReport:
    notifications: list[Notification]
    queued: int


def rules_for(service: NsmService) -> list[AnyRule]:
    """The configured ``[[alerts]]``, or sensible defaults for the whole tree."""
    config = service.config
    if config is None or config.tree is None:
        return []
    if config.rules:
        return list(config.rules)  # checked when the file was read
    tree: MetricTree = config.tree
    rules: list[AnyRule] = default_rules(tree.north_star.key, north_star=True)
    for metric in tree.inputs:
        rules += default_rules(metric.key)
    for counter in tree.counter_metrics:
        rules.append(
            CounterGuardRule(
                name=f"{counter.key}-guard",
                metric=tree.north_star.key,
                counter=counter.key,
                bad_direction="down" if counter.higher_is_better else "up",
                window=timedelta(days=7),
            )
        )
    return rules


def describe(note: Notification, service: NsmService) -> str:
    ep = note.episode
    label = (
        service.config.metrics[ep.metric].label
        if service.config and ep.metric in service.config.metrics
        else ep.metric
    )
    when = f"{ep.start:%Y-%m-%d}"
    peak = f"{ep.peak:,.4g}"
    if note.event == "recovery":
        return f"✅ Recovered: {label} ({ep.rule}) is back to normal since {note.at:%Y-%m-%d}."
    if ep.kind == "milestone":
        return f"🏆 {label} reached {peak} on {when}: {ep.detail or 'a new all-time high'}."
    direction = {"up": "up", "down": "down"}.get(ep.direction, "off")
    detail = f" — {ep.detail}" if ep.detail else ""
    return f"🔔 {label} is {direction}: {peak} on {when} ({ep.rule}){detail}."


class AlertWatcher:
    def __init__(self, service: NsmService, default_channel: str | None = None) -> None:
        self.service = service
        self.default_channel = default_channel

    def run(self, now: datetime | None = None) -> WatchReport:
        service = self.service
        rules = rules_for(service)
        if not rules:
            return WatchReport([], 0)
        now = now or service.clock.now()
        keys = sorted({k for rule in rules for k in rule.metrics})
        data = {k: [(t, v) for t, v in service.series(k) if t <= now] for k in keys}
        computed = evaluate_rules([r for r in rules if all(data[k] for k in r.metrics)], data)
        names = {r.name for r in rules}
        targets = service.settings.post_targets(self.default_channel)
        with service.db.uow() as uow:
            stored_rows = uow.metrics.episodes(sorted(names))
            stored = [_episode(row) for row in stored_rows]
            mutes = [Mute(m.rule, m.until, m.since) for m in uow.metrics.mutes(now)]
            plan = plan_notifications(
                stored, computed, now=now, mutes=mutes, quiet_before=now - FRESH
            )
            for episode in computed:
                uow.metrics.save_episode(_row(episode))
            # An open episode the history no longer shows is closed now, posted or not.
            found = {episode.key for episode in computed}
            for episode in stored:
                if episode.end is None and not episode.instant and episode.key not in found:
                    uow.metrics.save_episode(_row(replace(episode, end=now)))
            queued = 0
            snoozed = {m.rule for m in mutes if m.since is None or m.since <= now}
            for note in plan:
                # A snooze silences what would be posted now, whenever the episode began.
                if note.suppressed or note.episode.rule in snoozed or "*" in snoozed:
                    continue
                text = describe(note, service)
                key = f"alert:{note.episode.rule}:{note.episode.start.isoformat()}:{note.event}"
                for board_id, workspace_id, channel in targets:
                    queued += uow.outbox.enqueue(
                        board_id,
                        f"{key}:{workspace_id}",
                        note.event,  # the job: "alert" or "recovery"
                        {
                            "kind": "post",
                            "workspace_id": workspace_id,
                            "channel": channel,
                            "text": text,
                        },
                        now,
                    )
            uow.commit()
        return WatchReport(plan, queued)

    def mute(self, rule: str, duration: str, by: str) -> datetime:
        names = {r.name for r in rules_for(self.service)}
        if rule not in names and rule != "*":
            known = ", ".join(sorted(names)) or "none"
            raise BadInput(f"There is no alert rule “{quote(rule, 40)}” (rules: {known}).")
        try:
            length = parse_duration(duration)
        except (RuleError, ValueError, OverflowError):
            raise BadInput(
                f"“{quote(duration, 20)}” is not a duration: write it like 90m, 24h or 2d."
            ) from None
        if not timedelta(minutes=1) <= length <= timedelta(days=90):
            raise BadInput("Snooze for between 1 minute and 90 days.")
        now = self.service.clock.now()
        with self.service.db.uow() as uow:
            uow.metrics.add_mute(AlertMute(rule=rule, since=now, until=now + length, by=by))
            uow.commit()
        return now + length

    def open_episodes(self, at: datetime | None = None) -> list[AlertEpisode]:
        """Episodes open now, or as of ``at``."""
        with self.service.db.uow() as uow:
            if at is None:
                return uow.metrics.open_episodes()
            return [
                e for e in uow.metrics.episodes() if e.start <= at and (e.end is None or e.end > at)
            ]


def _episode(row: AlertEpisode) -> Episode:
    """A stored episode with everything that was stored about it, so saving it again
    (closing it) never blanks its direction, detail or peak time."""
    detail = row.detail or {}
    return Episode(
        rule=row.rule,
        kind=row.kind,
        start=row.start,
        end=row.end,
        peak=row.peak,
        peak_at=_moment(detail.get("peak_at")) or row.start,
        metric=row.metric,
        since=_moment(detail.get("since")),
        direction=str(detail.get("direction") or ""),
        detail=str(detail.get("detail") or ""),
        instant=bool(detail.get("instant")),
    )


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _row(ep: Episode) -> AlertEpisode:
    return AlertEpisode(
        rule=ep.rule,
        kind=ep.kind,
        metric=ep.metric,
        start=ep.start,
        end=ep.end,
        peak=ep.peak,
        detail={
            "instant": ep.instant,
            "direction": ep.direction,
            "detail": ep.detail,
            "peak_at": ep.peak_at.isoformat(),
            **({"since": ep.since.isoformat()} if ep.since is not None else {}),
        },
    )
