"""Where each workspace wants metric posts (alerts, digests): ``/nsm channel``."""

from __future__ import annotations

from bot.scope import ADMIN, Scope, Scopes, requires
from storage.uow import Database

KEY = "nsm_channel"


class MetricSettings:
    def __init__(self, db: Database, scopes: Scopes) -> None:
        self.db = db
        self.scopes = scopes

    @requires(ADMIN, "set the metrics channel")
    def set_channel(self, scope: Scope, channel: str | None) -> None:
        scope.uow.workspaces.set_setting(scope.workspace.id, KEY, channel)

    def post_targets(self, default_channel: str | None) -> list[tuple[int, int, str]]:
        """(board id, workspace id, channel) for every workspace that takes metric
        posts: its own ``/nsm channel`` setting, else the configured default."""
        with self.db.uow() as uow:
            out = []
            for workspace in uow.workspaces.all():
                channel = uow.workspaces.setting(workspace.id, KEY) or default_channel
                if channel:
                    out.append((workspace.board_id, workspace.id, channel))
            return out
