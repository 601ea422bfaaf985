"""Everything due at an instant: each workspace's digest and weekly chart, and the
alert rules. A due post is queued in the outbox under its key — (workspace, job,
period) — and the outbox's unique key is the claim: two schedulers, or one that
restarted, queue it once. Its content is made when it is delivered."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bot.jobs.schedule import DailySchedule
from bot.jobs.settings import JOBS, ScheduleSettings
from bot.nsm.service import NsmService
from bot.nsm.watch import AlertWatcher
from storage.uow import Database


@dataclass
class JobsReport:
    queued: Counter[str] = field(default_factory=Counter)
    alerts: int = 0


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
        """Queue what is due at ``now`` (the scheduler calls this every tick)."""
        report = JobsReport()
        if self.nsm.config is None or self.nsm.config.tree is None:
            return report  # nothing to post without a metric tree
        with self.db.uow() as uow:
            for workspace in uow.workspaces.all():
                for job in JOBS:
                    found = self.schedules.resolve(uow, workspace.id, job)
                    if found is None:
                        continue
                    schedule, grace = found
                    due = schedule.due(now, grace)
                    if due is None:
                        continue
                    period, slot = due
                    key = str(period) if isinstance(schedule, DailySchedule) else period.key
                    queued = uow.outbox.enqueue(
                        workspace.board_id,
                        post_key(job, workspace.id, key),
                        job,
                        {
                            "kind": job,
                            "workspace_id": workspace.id,
                            "channel": schedule.channel,
                            "at": slot.isoformat(),
                            "period": key,
                        },
                        now,
                    )
                    report.queued[job] += int(queued)
            uow.commit()
        report.alerts = self.watcher.run(now).queued
        return report
