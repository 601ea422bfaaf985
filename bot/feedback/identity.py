"""People across platforms: one-time codes that connect two identities into one
person, or join a workspace to another's board; and a person's own settings."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import BadInput
from bot.feedback import demand
from bot.feedback.suggest import DuplicateFinder
from bot.scope import ADMIN, ANYONE, Scope, Scopes, requires
from storage.models import Handshake
from storage.uow import UnitOfWork

CODE_TTL = timedelta(minutes=15)
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def random_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


class IdentityService:
    def __init__(
        self,
        clock: Clock,
        scopes: Scopes,
        finder: DuplicateFinder,
        make_code: Callable[[], str] = random_code,
    ) -> None:
        self.clock = clock
        self.scopes = scopes
        self.finder = finder
        self.make_code = make_code

    @requires(ANYONE)
    def set_muted(self, scope: Scope, muted: bool) -> bool:
        """Stop or start ship DMs; returns whether anything changed."""
        changed = scope.person.muted != muted
        scope.person.muted = muted
        return changed

    @requires(ANYONE)
    def connect(self, scope: Scope, code: str | None) -> tuple[str, str | None]:
        """Without a code: a new one-time code. With one: the two identities become
        one person. Returns (the new code or "", the other identity's description)."""
        now = self.clock.now()
        if code is None:
            return self._new_code(scope, "connect", now), None
        handshake = _redeem(scope.uow, code, "connect", now)
        if handshake.person_id == scope.person.id:
            raise BadInput("That code is already yours here: give it on your other account.")
        other = scope.uow.workspaces.by_id(handshake.workspace_id)
        keep, gone = handshake.person_id, scope.person.id
        demand.fold_person(scope.groups, keep_id=keep, gone_id=gone)
        scope.uow.people.hand_over(keep_id=keep, gone_id=gone)
        handshake.used_at = now
        return "", f"{other.platform} ({other.name})"

    @requires(ADMIN, "join boards")
    def board_join(self, scope: Scope, code: str | None) -> tuple[str, tuple[int, int] | None]:
        """Without a code: a code that lets another workspace join this board. With
        one: this workspace's board, and everything on it, joins the code's.
        Returns (the code, or the joined board's workspace name; the new numbers)."""
        now = self.clock.now()
        if code is None:
            return self._new_code(scope, "board_join", now), None
        handshake = _redeem(scope.uow, code, "board_join", now)
        target = scope.uow.workspaces.by_id(handshake.workspace_id)
        if target.board_id == scope.board_id:
            raise BadInput("This workspace already shares that board.")
        source_board = scope.board_id
        moved = scope.uow.workspaces.move_board(source_board, target.board_id)
        handshake.used_at = now
        self.finder.forget(source_board)
        self.finder.forget(target.board_id)
        return target.name, moved if moved[1] >= moved[0] else None

    def _new_code(self, scope: Scope, kind: str, now: datetime) -> str:
        """A one-time code for the other side of a handshake, valid for CODE_TTL."""
        code = self.make_code()
        scope.uow.workspaces.add_handshake(
            Handshake(
                code=code,
                kind=kind,
                workspace_id=scope.workspace.id,
                person_id=scope.person.id,
                expires_at=now + CODE_TTL,
                used_at=None,
            )
        )
        return code


def _redeem(uow: UnitOfWork, code: str, kind: str, now: datetime) -> Handshake:
    handshake = uow.workspaces.handshake(code.strip().upper().replace("-", ""))
    if handshake is None or handshake.kind != kind:
        raise BadInput("That code is not valid: ask for a new one.")
    if handshake.used_at is not None:
        raise BadInput("That code was already used: ask for a new one.")
    if handshake.expires_at < now:
        raise BadInput("That code has expired (codes last 15 minutes): ask for a new one.")
    return handshake
