"""Each workspace's scheduled posts: set by its admins in chat, else the config's.

``/nsm digest #metrics 09:00 Europe/Paris`` and ``/nsm chart weekly #metrics monday
09:00`` set them; ``… off`` stops them for that workspace even if ``lodestar.toml``
schedules them for everyone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.jobs.schedule import DailySchedule, WeeklySchedule, from_json, to_json
from bot.scope import ADMIN, ANYONE, Scope, Scopes, requires
from storage.uow import UnitOfWork

JOBS = ("digest", "weekly_chart")
Schedule = DailySchedule | WeeklySchedule


def _key(job: str) -> str:
    return f"schedule:{job}"


class ScheduleSettings:
    def __init__(self, scopes: Scopes, defaults: dict[str, Any] | None = None) -> None:
        self.scopes = scopes
        #: job -> (schedule, grace) from lodestar.toml, for workspaces that set none.
        self.defaults: dict[str, tuple[Schedule, timedelta | None]] = dict(defaults or {})

    @requires(ADMIN, "schedule posts")
    def set(self, scope: Scope, job: str, schedule: Schedule | None) -> None:
        value = {"off": True} if schedule is None else to_json(schedule)
        scope.uow.workspaces.set_setting(scope.workspace.id, _key(job), value)

    @requires(ANYONE)
    def get(self, scope: Scope, job: str) -> Schedule | None:
        found = self.resolve(scope.uow, scope.workspace.id, job)
        return None if found is None else found[0]

    def resolve(
        self, uow: UnitOfWork, workspace_id: int, job: str
    ) -> tuple[Schedule, timedelta | None] | None:
        """The workspace's own schedule for ``job``, else the config's; None when off."""
        value = uow.workspaces.setting(workspace_id, _key(job))
        if value is None:
            return self.defaults.get(job)
        if value.get("off"):
            return None
        configured = self.defaults.get(job)  # the file's grace holds for chat's times too
        return from_json(value), None if configured is None else configured[1]
