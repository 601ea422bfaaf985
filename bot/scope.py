"""The frame every chat use case runs in: who asks, on which board, with what right.

A use case states its privilege on its first line::

    @requires(ADMIN, "merge items")
    def merge(self, scope: Scope, number: int, into: int) -> ...:

and the plumbing is written once, here: open a unit of work, find (or meet for
the first time) the caller's workspace and person, check the privilege, run the
use case, commit. A transaction that loses a race on PostgreSQL (deadlock,
serialization failure) or waits too long for SQLite's lock is run again from the
start a few times; if it still cannot finish, the caller gets one sentence and
nothing has changed.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError

from bot.clock import Clock
from bot.context import SYSTEM_USER, Caller
from bot.errors import NotAllowed, UnknownItem, UserError
from storage.groups import GroupRepository
from storage.models import Item, Person, Workspace
from storage.repositories import BoardRepository
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: How many times a use case runs before a lost race is reported as busy.
ATTEMPTS = 8
#: SQLSTATEs of a transaction that lost a race and may simply run again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


class Privilege(Enum):
    """Who may run a use case (Red-DiscordBot's privilege levels, two of them)."""

    ANYONE = "anyone"
    ADMIN = "board admin"  # a platform admin, or on the workspace's configured list


ANYONE = Privilege.ANYONE
ADMIN = Privilege.ADMIN


class Busy(UserError):
    def __init__(self) -> None:
        super().__init__(
            "The board is busy with other changes right now; nothing was changed. Please try again."
        )


@dataclass
class Scope:
    """The caller's workspace, board and person inside one unit of work."""

    uow: UnitOfWork
    caller: Caller
    workspace: Workspace
    person: Person
    repo: BoardRepository
    groups: GroupRepository

    @property
    def board_id(self) -> int:
        return self.workspace.board_id

    @property
    def is_admin(self) -> bool:
        """Whether the caller is a board admin here (for what admins alone may see)."""
        return Scopes.is_admin_in(self.uow, self.workspace, self.caller)

    def item(self, number: int) -> Item:
        item = self.repo.item(number)
        if item is None:
            raise UnknownItem(number)
        return item


def is_transient(error: BaseException) -> bool:
    """A lost race that running the transaction again can win."""
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)


class Scopes:
    """Opens use cases for callers: the only place that resolves and checks them."""

    def __init__(self, db: Database, clock: Clock, attempts: int = ATTEMPTS) -> None:
        self.db = db
        self.clock = clock
        self.attempts = attempts

    def run(
        self,
        caller: Caller,
        privilege: Privilege,
        action: str,
        use_case: Callable[[Scope], R],
        *,
        reads: bool = False,
    ) -> R:
        """Run ``use_case`` in its own transaction, committed when it returns; ``reads``:
        one that only reads (``Database.reader``), so a long one never holds up writers."""
        for attempt in range(1, self.attempts + 1):
            try:
                with self.db.reader() if reads else self.db.uow() as uow:
                    scope = self._scope(uow, caller)
                    if privilege is ADMIN and not self.is_admin_in(uow, scope.workspace, caller):
                        raise NotAllowed(action)
                    result = use_case(scope)
                    uow.commit()
                    return result
            except DBAPIError as error:
                if not is_transient(error):
                    raise
                log.info("attempt %d of %s lost a race: %s", attempt, action, error.orig)
                if attempt == self.attempts:
                    raise Busy() from error
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    def is_admin(self, caller: Caller) -> bool:
        return self.run(
            caller, ANYONE, "check admin", lambda s: self.is_admin_in(s.uow, s.workspace, caller)
        )

    def require(self, caller: Caller, privilege: Privilege, action: str) -> None:
        """Check a privilege for work done outside a board's transaction (metrics)."""
        self.run(caller, privilege, action, lambda _scope: None)

    def _scope(self, uow: UnitOfWork, caller: Caller) -> Scope:
        found = uow.people.resolve(caller.platform, caller.workspace, caller.user)
        if caller.user == SYSTEM_USER and found is not None:
            # Lodestar itself, reading for a scheduled post: never stored as a person.
            workspace, person = found[0], Person(display_name=caller.name, muted=True)
        elif found is not None and found[1] is not None and found[2] is not None:
            workspace, identity, person = found
            if caller.name and identity.display_name != caller.name:
                identity.display_name = person.display_name = caller.name
        else:  # the first words from this workspace or this person
            now = self.clock.now()
            workspace = uow.workspaces.ensure(
                caller.platform, caller.workspace, caller.workspace_name or caller.workspace, now
            )
            person = uow.people.ensure(workspace.id, caller.user, caller.name, now)
        return Scope(
            uow,
            caller,
            workspace,
            person,
            uow.board(workspace.board_id),
            uow.groups(workspace.board_id),
        )

    @staticmethod
    def is_admin_in(uow: UnitOfWork, workspace: Workspace, caller: Caller) -> bool:
        if caller.is_platform_admin:
            return True
        # Stable user ids only: a display name can be taken by anyone.
        return caller.user in (uow.workspaces.setting(workspace.id, "admins") or [])


class HasScopes(Protocol):
    scopes: Scopes


S = TypeVar("S", bound=HasScopes)


def requires(
    privilege: Privilege, action: str = "", *, reads: bool = False
) -> Callable[[Callable[Concatenate[S, Scope, P], R]], Callable[Concatenate[S, Caller, P], R]]:
    """Make ``method(self, scope, ...)`` a use case called as ``method(caller, ...)``;
    ``reads``: it only reads, and may take seconds (see ``Scopes.run``)."""

    def wrap(
        method: Callable[Concatenate[S, Scope, P], R],
    ) -> Callable[Concatenate[S, Caller, P], R]:
        @functools.wraps(method)
        def use_case(self: S, caller: Caller, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return self.scopes.run(
                caller,
                privilege,
                action,
                lambda scope: method(self, scope, *args, **kwargs),
                reads=reads,
            )

        use_case.privilege = privilege  # type: ignore[attr-defined]
        return use_case

    return wrap
