"""Everything due at an instant: each workspace's digest and weekly chart, and the
alert rules. A due post is queued in the outbox under its key — (workspace, job,
period) — and the outbox's unique key is the claim: two schedulers, or one that
restarted, queue it once. Its content is made when it is delivered."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bot.jobs.schedule import DailySchedule
from bot.jobs.settings import JOBS, ScheduleSettings
from bot.nsm.service import NsmService
from bot.nsm.watch import AlertWatcher
from storage.uow import Database

log = logging.getLogger(__name__)


@dataclass
class JobsReport:
    queued: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    failures: int = 0  # workspaces, or the alert rules, whose turn failed (logged)


def post_key(job: str, workspace_id: int, period: str) -> str:
    return f"{job}:{workspace_id}:{period}"


class Jobs:
    def __init__(
        self,
        db: Database,
        nsm: NsmService,
        watcher: AlertWatcher,
        schedules: ScheduleSettings,
    ) -> None:
        self.db = db
        self.nsm = nsm
        self.watcher = watcher
        self.schedules = schedules

    def run_due(self, now: datetime) -> JobsReport:
        """Queue what is due at ``now`` (the scheduler calls this every tick). Each
        workspace is queued on its own, and the alert rules apart: one that fails is
        logged and the others go on."""
        report = JobsReport()
        if self.nsm.config is None or self.nsm.config.tree is None:
            return report  # nothing to post without a metric tree
        with self.db.uow() as uow:
            workspaces = [(w.id, w.board_id) for w in uow.workspaces.all()]
        for workspace_id, board_id in workspaces:
            try:
                self._queue_due(workspace_id, board_id, now, report)
            except Exception:
                report.failures += 1
                log.exception("scheduled posts of workspace %s at %s", workspace_id, now)
        try:
            report.alerts = self.watcher.run(now).queued
        except Exception:
            report.failures += 1
            log.exception("alert rules at %s", now)
        return report

    def _queue_due(
        self, workspace_id: int, board_id: int, now: datetime, report: JobsReport
    ) -> None:
        with self.db.uow() as uow:
            for job in JOBS:
                found = self.schedules.resolve(uow, workspace_id, job)
                if found is None:
                    continue
                schedule, grace = found
                due = schedule.due(now, grace)
                if due is None:
                    continue
                period, slot = due
                key = str(period) if isinstance(schedule, DailySchedule) else period.key
                queued = uow.outbox.enqueue(
                    board_id,
                    post_key(job, workspace_id, key),
                    job,
                    {
                        "kind": job,
                        "workspace_id": workspace_id,
                        "channel": schedule.channel,
                        "at": slot.isoformat(),
                        "zone": schedule.zone.key,
                        "period": key,
                    },
                    now,
                )
                if queued:
                    report.queued[job] += 1
            uow.commit()
