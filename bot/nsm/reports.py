"""The weekly chart and the daily digest, built from the service's numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.context import Caller
from bot.errors import BadInput
from bot.nsm.numbers import format_value
from bot.nsm.presenter import _delta
from bot.nsm.service import NsmService
from bot.nsm.watch import AlertWatcher
from bot.replies import Attachment, Reply, public
from bot.text import quote


@dataclass(frozen=True)
class WeeklyChart:
    """The chart as PNG, and the inputs it could not draw for want of values."""

    png: bytes
    missing: list[str]

    @property
    def note(self) -> str:
        return f" No values yet for {', '.join(self.missing)}." if self.missing else ""


def weekly_chart(
    service: NsmService, weeks: int, caller: Caller | None, at: datetime | None = None
) -> WeeklyChart:
    # Imported here: matplotlib is slow to import, and only drawing needs it.
    from bot.nsm.chart import ChartData, ChartError, render_weekly_chart

    tree = service.tree
    span = service.chart_weeks(weeks, at)
    values = service.weekly([m.key for m in tree.metrics()], span)

    def series(key: str) -> list[tuple[datetime, float]]:
        return [(w.start.date(), v) for w, v in sorted(values[key].items())]

    start, end = span[0].start, span[-1].end
    alerts = [
        (row.start.date(), row.rule)
        for row in _episodes(service)
        if start <= row.start < end and row.kind != "milestone"
    ]
    ships = []
    if caller is not None:
        ships = [
            (at.date(), f"#{v.number}")
            for v, at in service.feedback.shipped_between(caller, start, end)
        ]
    data = ChartData(
        north_star=series(tree.north_star.key),
        title=tree.north_star.name,
        unit=tree.north_star.unit,
        subtitle=f"Weekly, {span[0].key} to {span[-1].key}",
        higher_is_better=tree.north_star.higher_is_better,
        inputs={m.name: series(m.key) for m in tree.inputs},
        input_units={m.name: m.unit for m in tree.inputs},
        lower_is_better=frozenset(m.name for m in tree.inputs if not m.higher_is_better),
        alerts=alerts,
        ships=ships,
    )
    try:
        png = render_weekly_chart(data)
    except ChartError as error:
        raise BadInput(str(error)) from None
    missing = [m.name for m in tree.inputs if not any(map(math.isfinite, values[m.key].values()))]
    return WeeklyChart(png, missing)


def _episodes(service: NsmService):  # type: ignore[no-untyped-def]
    with service.db.uow() as uow:
        return uow.metrics.episodes()


def chart_reply(service: NsmService, weeks: int, caller: Caller | None) -> Reply:
    chart = weekly_chart(service, weeks, caller)
    name = service.tree.north_star.name
    return public(
        f"📈 {name}, last {weeks} weeks.{chart.note}",
        kind="nsm_chart",
        attachments=[Attachment("north-star.png", chart.png, "image/png", name)],
    )


def digest(
    service: NsmService,
    watcher: AlertWatcher,
    caller: Caller | None,
    at: datetime,
    *,
    with_chart: bool = True,
) -> Reply:
    """The daily digest for the 24 hours up to ``at``; the feedback part is that of the
    caller's board (none without a caller: no workspace exists yet). The header reads
    ``at`` in its own zone (the schedule's); everything else is reckoned in UTC."""
    shown, at = at, at.astimezone(UTC)
    since = at - timedelta(days=1)
    until = at + timedelta(microseconds=1)  # include what happened at ``at`` itself
    summary = service.summary(at)
    ns = summary.north_star
    lines = [
        f"☀️ Daily digest, {shown:%A %d %B %Y} "
        f"(24 hours to {shown:%H:%M} {shown.tzname() or 'UTC'})",
        f"⭐ {ns.metric.name} ({summary.week.key}): "
        f"{format_value(ns.latest or 0, ns.metric.unit)} ({_delta(ns)} vs last week)",
    ]
    movers = sorted(
        (m for m in summary.inputs if m.relative is not None),
        key=lambda m: abs(m.relative or 0),
        reverse=True,
    )[:2]
    if movers:
        lines.append("Moved most: " + "; ".join(f"{m.metric.name} {_delta(m)}" for m in movers))
    open_alerts = [f"{e.rule} since {e.start:%Y-%m-%d}" for e in watcher.open_episodes(at)]
    lines.append("Open alerts: " + ("; ".join(open_alerts) if open_alerts else "none"))
    created, rising, shipped = [], [], []
    if caller is not None:
        created, rising = service.feedback.activity(caller, since, until)
        shipped = service.feedback.shipped_between(caller, since, until)
    lines.append(f"Feedback: {len(created)} logged, {len(shipped)} shipped since yesterday.")
    if rising:
        lines.append(
            "Gaining demand: "
            + "; ".join(f"#{v.number} {quote(v.text, 50)} (+{n})" for v, n in rising)
        )
    if shipped:
        lines.append(
            "Shipped: " + "; ".join(f"#{v.number} {quote(v.text, 50)}" for v, _ in shipped)
        )
    attachments = []
    if with_chart:
        chart = weekly_chart(service, 26, caller, at)
        if chart.missing:
            lines.append(chart.note.strip())
        attachments.append(Attachment("north-star.png", chart.png, "image/png", ns.metric.name))
    return public(
        "\n".join(lines),
        kind="nsm_digest",
        attachments=attachments,
        data={
            "digest": {
                "at": at.isoformat(),
                "logged": len(created),
                "shipped": len(shipped),
                "open_alerts": len(open_alerts),
            }
        },
    )
