"""The composition root: one database, one clock, the services and the router."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.feedback.service import FeedbackService
from bot.feedback.suggest import DuplicateFinder
from bot.notify.dispatcher import Dispatcher
from bot.notify.ports import Messenger
from bot.router import Router
from storage.db import database_url, make_engine
from storage.migrate import is_current, upgrade
from storage.uow import Database


class SchemaOutOfDate(RuntimeError):
    pass


@dataclass
class Lodestar:
    db: Database
    clock: Clock
    feedback: FeedbackService
    router: Router
    messengers: dict[str, Messenger] = field(default_factory=dict)

    @classmethod
    def open(cls, url: str | None = None, clock: Clock | None = None) -> Lodestar:
        """Connect, bring an SQLite schema up to date (PostgreSQL: check it is),
        and wire the core together."""
        engine = make_engine(database_url(url))
        if engine.dialect.name == "sqlite":
            upgrade(engine)
        elif not is_current(engine):
            raise SchemaOutOfDate(
                "The database schema is not up to date: run `lodestar db upgrade` first."
            )
        return cls.build(Database(engine), clock or SystemClock())

    @classmethod
    def build(cls, db: Database, clock: Clock) -> Lodestar:
        feedback = FeedbackService(db, clock, DuplicateFinder())
        return cls(db=db, clock=clock, feedback=feedback, router=Router(feedback))

    def dispatcher(self, messengers: Mapping[str, Messenger] | None = None) -> Dispatcher:
        return Dispatcher(self.db, messengers or self.messengers, self.clock)
