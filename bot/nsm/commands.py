"""The ``/nsm`` command: parsed here, answered by the NSM service."""

from __future__ import annotations

import re
from datetime import datetime

from bot.context import Caller
from bot.errors import BadInput
from bot.feedback.grammar import parse_channel
from bot.jobs.schedule import (
    DailySchedule,
    WeeklySchedule,
    parse_time,
    parse_weekday,
    parse_zone,
)
from bot.jobs.settings import JOBS, ScheduleSettings
from bot.nsm import presenter
from bot.nsm.config import LodestarConfig
from bot.nsm.reports import chart_reply, digest
from bot.nsm.service import NsmService
from bot.nsm.watch import AlertWatcher
from bot.replies import Reply, private
from bot.scope import ADMIN
from bot.text import defang, quote

HELP = """\
/nsm — the north star this week, its inputs, open alerts
/nsm why [week] — why the north star moved, input by input (week like 2026-W41)
/nsm chart [weeks] — the weekly chart
/nsm tree · history <metric> [weeks] — the metric tree; a metric's recent values
/nsm alerts — open alerts
/nsm digest — the daily digest now · schedule — when digests and charts are posted
Admins: record <metric> <value> [period] · alerts mute <rule> <duration> · \
channel <channel>|off · digest <channel> <HH:MM> [zone]|off · \
chart weekly <channel> <weekday> <HH:MM> [zone]|off"""


EXAMPLES = {
    "digest": "/nsm digest #metrics 09:00 Europe/Paris",
    "weekly_chart": "/nsm chart weekly #metrics monday 09:00 Europe/Paris",
}


class NsmCommands:
    def __init__(
        self,
        service: NsmService,
        config: LodestarConfig | None,
        schedules: ScheduleSettings | None = None,
    ) -> None:
        self.service = service
        default = None if config is None else config.digest.get("channel")
        self.watcher = AlertWatcher(service, default)
        self.schedules = schedules or ScheduleSettings(service.feedback.scopes)

    def __call__(self, caller: Caller, text: str) -> list[Reply]:
        words = text.split()
        head, args = (words[0].lower(), words[1:]) if words else ("", [])
        svc = self.service
        if head == "":
            return [presenter.summary(svc.summary(), self._open())]
        if head == "help":
            return [private(HELP, kind="help")]
        if head == "why" and len(args) <= 1:
            return [presenter.why(svc.why(args[0] if args else None, caller))]
        if head == "chart" and args and args[0].lower() == "weekly":
            return [self._schedule(caller, "weekly_chart", args[1:])]
        if head == "digest" and args:
            return [self._schedule(caller, "digest", args)]
        if head == "schedule" and not args:
            return [presenter.schedules({j: self.schedules.get(caller, j) for j in JOBS})]
        if head == "chart" and len(args) <= 1:
            return [chart_reply(svc, _int(args[0], "weeks") if args else 12, caller)]
        if head == "tree" and not args:
            return [private(svc.tree.describe(), kind="nsm_tree")]
        if head == "history" and 1 <= len(args) <= 2:
            return [self._history(args[0], _int(args[1], "weeks") if len(args) > 1 else 8)]
        if head == "record" and len(args) in (2, 3):
            recorded = svc.record(caller, args[0], args[1], args[2] if len(args) > 2 else None)
            self.watcher.run()
            return [presenter.recorded(recorded)]
        if head == "alerts" and not args:
            opened = self._open()
            return [
                private(
                    "Open alerts: " + ("; ".join(opened) if opened else "none") + ".",
                    kind="nsm_alerts",
                )
            ]
        if head == "alerts" and len(args) == 3 and args[0].lower() == "mute":
            svc.feedback.scopes.require(caller, ADMIN, "snooze alerts")
            until = self.watcher.mute(args[1], args[2], caller.name)
            return [
                private(
                    f"{defang(args[1])} is snoozed until {until:%Y-%m-%d %H:%M} UTC.",
                    kind="nsm_alerts",
                )
            ]
        if head == "channel" and len(args) == 1:
            channel = None if args[0].lower() == "off" else parse_channel(args[0])
            if channel is None and args[0].lower() != "off":
                raise BadInput(f"“{quote(args[0], 40)}” is not a channel: write it like #metrics.")
            svc.settings.set_channel(caller, channel)
            what = f"in #{defang(channel)}" if channel else "nowhere (off)"
            text = (
                f"Metric alerts will be posted {what}. The daily digest and the weekly "
                "chart have channels of their own: /nsm schedule shows them."
            )
            return [private(text, kind="nsm_channel")]
        if head == "digest" and not args:
            return [digest(svc, self.watcher, caller, svc.clock.now())]
        raise BadInput(f"I don't understand “{quote('/nsm ' + text, 60)}”; try /nsm help.")

    def _schedule(self, caller: Caller, job: str, args: list[str]) -> Reply:
        """``digest #metrics 09:00 Europe/Paris`` · ``chart weekly #metrics monday 09:00``
        (the zone is optional: UTC) · ``… off``."""
        self.service.tree  # noqa: B018  (no metric tree: nothing to post, say so first)
        if len(args) == 1 and args[0].lower() == "off":
            self.schedules.set(caller, job, None)
            return presenter.scheduled(job, None)
        weekly = job == "weekly_chart"
        wanted = 3 if weekly else 2
        if len(args) not in (wanted, wanted + 1):
            usage = (
                "/nsm chart weekly <channel> <weekday> <HH:MM> [zone]"
                if weekly
                else "/nsm digest <channel> <HH:MM> [zone]"
            )
            raise BadInput(f"Write it like {usage}, e.g. {EXAMPLES[job]} (or off).")
        channel = parse_channel(args[0])
        if channel is None:
            raise BadInput(f"“{quote(args[0], 40)}” is not a channel: write it like #metrics.")
        zone = parse_zone(args[wanted]) if len(args) > wanted else parse_zone("UTC")
        at = parse_time(args[wanted - 1])
        schedule: DailySchedule | WeeklySchedule = (
            WeeklySchedule(channel, parse_weekday(args[1]), at, zone)
            if weekly
            else DailySchedule(channel, at, zone)
        )
        self.schedules.set(caller, job, schedule)
        return presenter.scheduled(job, schedule)

    def _open(self) -> list[str]:
        return [f"{e.rule} since {e.start:%Y-%m-%d}" for e in self.watcher.open_episodes()]

    def _history(self, key: str, weeks: int) -> Reply:
        metric = self.service.metric(key)
        rows = self.service.history(key, weeks)
        body = "\n".join(f"{w.key}: {'—' if v is None else f'{v:,.6g}'}" for w, v in rows)
        return private(
            f"{metric.name}, last {weeks} weeks:\n{body}",
            kind="nsm_history",
            data={"history": [{"week": w.key, "value": v} for w, v in rows]},
        )

    def run_jobs(self, now: datetime | None = None) -> None:
        self.watcher.run(now)


def _int(text: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", text):
        raise BadInput(f"“{quote(text, 20)}” is not a number of {what}.")
    return int(text)
