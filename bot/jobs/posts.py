"""The content of queued posts, made when the dispatcher delivers them: the digest of
the 24 hours to its slot, the weekly chart of the week that closed, and a card
redrawn on another platform as its item is now."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import system_caller
from bot.errors import UserError
from bot.feedback.presenter import card, logged
from bot.notify.dispatcher import Renderer
from bot.notify.ports import Undeliverable
from bot.nsm.reports import digest, weekly_chart
from bot.nsm.service import NsmService
from bot.nsm.watch import AlertWatcher
from bot.replies import Attachment, Kind, Reply, public
from storage.uow import Database


def renderers(db: Database, nsm: NsmService, watcher: AlertWatcher) -> dict[str, Renderer]:
    board = nsm.feedback

    def caller_of(payload: dict[str, Any]):  # type: ignore[no-untyped-def]
        with db.uow() as uow:
            workspace = uow.workspaces.by_id(int(payload["workspace_id"]))
            return system_caller(workspace.platform, workspace.external_id, workspace.name)

    def daily(payload: dict[str, Any]) -> Reply:
        at = _local(payload)
        try:
            return digest(nsm, watcher, caller_of(payload), at)
        except UserError as error:  # no values yet: nothing to post, and say why
            raise Undeliverable(error.message) from None

    def weekly(payload: dict[str, Any]) -> Reply:
        at = datetime.fromisoformat(str(payload["at"]))
        try:
            chart = weekly_chart(nsm, 12, caller_of(payload), at)
        except UserError as error:
            raise Undeliverable(error.message) from None
        name = nsm.tree.north_star.name
        return public(
            f"📈 {name}: the week {payload['period']} closed.{chart.note}",
            kind=Kind.NSM_CHART,
            attachments=[Attachment("north-star.png", chart.png, "image/png", name)],
        )

    def redraw(payload: dict[str, Any]) -> Reply:
        view = board.item_by_id(caller_of(payload), int(payload["item_id"]))
        if view is None:  # the item left this board (it joined another): nothing to draw
            raise Undeliverable("the item is no longer on this board")
        return public(logged(view), kind=Kind.INFO, card=card(view), posts_card=True)

    return {"digest": daily, "weekly_chart": weekly, "redraw": redraw}


def _local(payload: dict[str, Any]) -> datetime:
    """The post's slot in its schedule's zone: the digest is headed with the reader's
    own day and time, not UTC's."""
    at = datetime.fromisoformat(str(payload["at"]))
    zone = payload.get("zone")
    return at.astimezone(ZoneInfo(str(zone))) if zone else at
