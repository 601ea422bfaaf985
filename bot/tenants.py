"""Which workspace an operator means: exactly one, or a clear refusal.

The command line names workspaces by ``platform:id`` (``slack:T0456``), by id, or
by name. A text that fits several (a Slack workspace *named* ``T0456`` beside the
team whose *id* is ``T0456``) is ambiguous and refused with the candidates; an
unknown one is refused with the workspaces there are. Nothing is ever created.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select

from bot.errors import BadInput
from storage.models import Workspace
from storage.uow import UnitOfWork

PLATFORMS = ("console", "slack", "discord")
_SHOWN = 20


def describe(workspace: Workspace) -> str:
    return f"{workspace.platform}:{workspace.external_id} ({workspace.name})"


def find_workspace(uow: UnitOfWork, text: str, platform: str | None = None) -> Workspace:
    """The one workspace ``text`` names (optionally on ``platform``)."""
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in PLATFORMS and rest:
        platform, text = prefix.lower(), rest
    query = select(Workspace).where(
        or_(Workspace.external_id == text, func.lower(Workspace.name) == text.lower())
    )
    if platform is not None:
        query = query.where(Workspace.platform == platform)
    found = list(uow.session.scalars(query.order_by(Workspace.id)))
    exact = [w for w in found if w.external_id == text]
    if sep and exact:  # platform:id names one workspace, whatever others are named
        found = exact
    if len(found) == 1:
        return found[0]
    where = f" on {platform}" if platform else ""
    if found:
        listed = ", ".join(describe(w) for w in found[:_SHOWN])
        raise BadInput(
            f"“{text}” could be several workspaces{where}: {listed}. "
            "Name one as platform:id, e.g. --workspace "
            f"{found[0].platform}:{found[0].external_id}."
        )
    known = list(uow.session.scalars(select(Workspace).order_by(Workspace.id).limit(_SHOWN + 1)))
    listed = ", ".join(describe(w) for w in known[:_SHOWN]) or "none yet"
    more = " …" if len(known) > _SHOWN else ""
    raise BadInput(f"There is no workspace “{text}”{where}. Workspaces: {listed}{more}.")
