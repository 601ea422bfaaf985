"""The frame of every use case: privileges stated up front, lost races run again."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from bot.app import Lodestar
from bot.context import Caller
from bot.errors import NotAllowed
from bot.feedback.board import BoardService
from bot.feedback.identity import IdentityService
from bot.feedback.merges import MergeService
from bot.feedback.settings import WorkspaceSettings
from bot.nsm.settings import MetricSettings
from bot.scope import ADMIN, ANYONE, Busy, Privilege, Scope, is_transient

ANA = Caller("console", "acme", "ana", "ana")


class _Deadlock(Exception):
    sqlstate = "40P01"


def _lost_race() -> OperationalError:
    return OperationalError("UPDATE items ...", {}, _Deadlock("deadlock detected"))


def test_every_use_case_states_who_may_run_it() -> None:
    """A use case's privilege can be read off its first line (and off the function)."""
    services = (BoardService, MergeService, IdentityService, WorkspaceSettings, MetricSettings)
    declared = {
        f"{cls.__name__}.{name}": fn.privilege
        for cls in services
        for name, fn in vars(cls).items()
        if hasattr(fn, "privilege")
    }
    assert declared["MergeService.merge"] is ADMIN
    assert declared["BoardService.ship"] is ADMIN
    assert declared["BoardService.vote"] is ANYONE
    assert declared["MetricSettings.set_channel"] is ADMIN
    assert all(isinstance(p, Privilege) for p in declared.values())
    assert len(declared) >= 25


def test_an_admin_use_case_refuses_others_and_creates_nothing(app: Lodestar) -> None:
    with pytest.raises(NotAllowed, match=r"Only board admins can merge items\."):
        app.merges.merge(Caller("console", "new-team", "kim", "kim"), 1, 2)
    with app.db.uow() as uow:
        assert uow.workspaces.get("console", "new-team") is None


def test_a_lost_race_runs_again_and_succeeds(app: Lodestar) -> None:
    attempts = []

    def flaky(scope: Scope) -> str:
        attempts.append(scope.person.display_name)
        if len(attempts) < 3:
            raise _lost_race()
        return "done"

    assert app.scopes.run(ANA, ANYONE, "test", flaky) == "done"
    assert attempts == ["ana", "ana", "ana"]


def test_a_race_lost_every_time_is_one_clear_sentence_and_changes_nothing(app: Lodestar) -> None:
    def always_loses(scope: Scope) -> None:
        scope.repo.take_number()  # a change that must not survive
        raise _lost_race()

    with pytest.raises(Busy, match=r"busy with other changes right now; nothing was changed"):
        app.scopes.run(ANA, ANYONE, "test", always_loses)
    app.board.capture(ANA, "first")
    assert [v.number for v in app.board.items(ANA)] == [1]


def test_only_lost_races_are_retried() -> None:
    assert is_transient(_lost_race())
    locked = OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
    assert is_transient(locked)
    other = OperationalError("x", {}, sqlite3.OperationalError("no such table: items"))
    assert not is_transient(other)
    assert not is_transient(ValueError("x"))
