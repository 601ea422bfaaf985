"""Turns NSM results into replies."""

from __future__ import annotations

from bot.jobs.schedule import DailySchedule, WeeklySchedule
from bot.nsm.numbers import format_percent, format_value
from bot.nsm.service import MetricMove, Recorded, Summary, WhyResult
from bot.replies import Kind, Reply, private, public
from bot.text import defang, quote


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else format_value(value, unit)


def _delta(move: MetricMove) -> str:
    if move.change is None:
        return "no previous week"
    arrow = "▲" if move.change > 0 else "▼" if move.change < 0 else "="
    good = (move.change >= 0) == move.metric.higher_is_better or move.change == 0
    mood = "" if good else " ⚠"
    pct = f" ({format_percent(move.relative)})" if move.relative is not None else ""
    return f"{arrow} {format_value(abs(move.change), move.metric.unit)}{pct}{mood}"


def summary(s: Summary, open_alerts: list[str]) -> Reply:
    ns = s.north_star
    four = ""
    if ns.latest is not None and ns.four_weeks_ago:
        since = format_percent((ns.latest - ns.four_weeks_ago) / abs(ns.four_weeks_ago))
        four = f", {since} vs 4 weeks ago" if since else ""
    lines = [
        f"⭐ {ns.metric.name}, {s.week.key}: {_num(ns.latest, ns.metric.unit)} "
        f"({_delta(ns)} vs last week{four})"
    ]
    lines += [f"• {m.metric.name}: {_num(m.latest, m.metric.unit)} ({_delta(m)})" for m in s.inputs]
    lines += [
        f"◦ {m.metric.name} (counter): {_num(m.latest, m.metric.unit)} ({_delta(m)})"
        for m in s.counters
    ]
    lines.append("Open alerts: " + ("; ".join(open_alerts) if open_alerts else "none"))
    fields = [(m.metric.name, _num(m.latest, m.metric.unit)) for m in [ns, *s.inputs]]
    return public(
        "\n".join(lines),
        kind="nsm",
        fields=fields,
        data={"week": s.week.key, "north_star": ns.latest},
    )


def why(result: WhyResult) -> Reply:
    e, tree = result.explanation, result.tree
    ns = tree.north_star
    names = {m.key: m.name for m in tree.metrics()}
    lines = [
        f"Why {ns.name} moved in {result.week.key}: "
        f"{format_value(e.previous, ns.unit)} → {format_value(e.current, ns.unit)} "
        f"({e.change:+,.4g}), by {e.method}."
    ]
    for c in e.contributions:
        lines.append(
            f"• {names.get(c.metric, c.metric)}: {c.contribution:+,.4g} "
            f"({format_value(c.previous)} → {format_value(c.current)})"
        )
    if e.unexplained:
        lines.append(f"• unexplained: {e.unexplained:+,.4g}")
    if e.note:
        lines.append(e.note)
    if result.linked:
        lines.append("Feedback behind the inputs that moved most:")
        lines += [
            f"  #{v.number} {quote(v.text, 80)} — {v.linked_metric}, demand {v.demand}, {v.status}"
            for v in result.linked
        ]
    if result.shipped:
        lines.append(
            "Shipped that week: "
            + "; ".join(f"#{v.number} {quote(v.text, 60)}" for v, _ in result.shipped)
        )
    return public("\n".join(lines), kind="nsm_why", data={"why": result.to_json()})


def recorded(r: Recorded) -> Reply:
    was = f" (was {format_value(r.previous, r.metric.unit)})" if r.previous is not None else ""
    return private(
        f"Recorded {r.metric.name} = {format_value(r.value, r.metric.unit)} for "
        f"{r.period.key}{was}.",
        kind="nsm_record",
    )


_POSTS = {"digest": "The daily digest", "weekly_chart": "The weekly chart"}


def scheduled(job: str, schedule: DailySchedule | WeeklySchedule | None) -> Reply:
    what = _POSTS[job]
    if schedule is None:
        return private(f"{what} is off for this workspace.", kind=Kind.NSM_SCHEDULE)
    return private(f"{what} will be posted {defang(schedule.describe())}.", kind=Kind.NSM_SCHEDULE)


def schedules(found: dict[str, DailySchedule | WeeklySchedule | None]) -> Reply:
    lines = [f"{_POSTS[job]}: {defang(s.describe()) if s else 'off'}." for job, s in found.items()]
    return private("\n".join(lines), kind=Kind.NSM_SCHEDULE)
