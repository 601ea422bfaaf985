"""A workspace's settings for the board: its configured admins and where ship
announcements go. (The North Star side's settings are in ``bot.nsm.settings``.)"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.errors import BadInput
from bot.scope import ADMIN, ANYONE, Scope, Scopes, requires
from bot.text import defang
from storage.uow import Database

_MENTION = re.compile(r"<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>")
_PLATFORM_ID = re.compile(r"[A-Z0-9]{6,}|[0-9]{6,}")
_CONSOLE_ID = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def user_id(token: str, platform: str) -> str:
    """The stable user id a mention or id stands for: ``<@U123|ana>`` (Slack) and
    ``<@!123>`` (Discord) become ``U123`` and ``123``; on the console a user's id is
    their name. A bare display name elsewhere is refused: anyone can take one."""
    token = token.strip().lstrip("@")
    mention = _MENTION.fullmatch(token)
    if mention:
        return mention.group(1)
    if platform == "console" and _CONSOLE_ID.fullmatch(token):
        return token.lower()
    if _PLATFORM_ID.fullmatch(token):
        return token
    raise BadInput(
        f"Mention the person (@{defang(token)[:40]}) so I know exactly who: "
        "display names can change."
    )


def edited(current: Iterable[str], add: Iterable[str], remove: Iterable[str]) -> list[str]:
    """An admin list with ``remove`` taken out and ``add`` appended, no repeats."""
    remove = set(remove)
    out = [a for a in current if a not in remove]
    out += [a for a in dict.fromkeys(add) if a not in out]
    return out


class WorkspaceSettings:
    def __init__(self, db: Database, scopes: Scopes) -> None:
        self.db = db
        self.scopes = scopes

    @requires(ADMIN, "set the announcement channel")
    def set_announce_channel(self, scope: Scope, channel: str | None) -> None:
        scope.uow.workspaces.set_setting(scope.workspace.id, "announce_channel", channel)

    @requires(ANYONE)
    def admins(self, scope: Scope) -> list[str]:
        """The configured admins (besides platform admins), by user id."""
        return list(scope.uow.workspaces.setting(scope.workspace.id, "admins") or [])

    @requires(ADMIN, "change the admin list")
    def edit_admins(self, scope: Scope, add: tuple[str, ...], remove: tuple[str, ...]) -> list[str]:
        platform = scope.caller.platform
        current = scope.uow.workspaces.setting(scope.workspace.id, "admins") or []
        admins = edited(
            current, (user_id(t, platform) for t in add), (user_id(t, platform) for t in remove)
        )
        scope.uow.workspaces.set_setting(scope.workspace.id, "admins", admins)
        return admins

    def configure_admins(
        self, workspace_id: int, add: Iterable[str], remove: Iterable[str]
    ) -> list[str]:
        """The operator's way in: edit an existing workspace's admin list."""
        with self.db.uow() as uow:
            workspace = uow.workspaces.by_id(workspace_id)
            platform = workspace.platform
            admins = edited(
                uow.workspaces.setting(workspace.id, "admins") or [],
                (user_id(t, platform) for t in add),
                (user_id(t, platform) for t in remove),
            )
            uow.workspaces.set_setting(workspace.id, "admins", admins)
            uow.commit()
            return admins
