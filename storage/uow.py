"""The unit of work: one use case, one transaction, committed or rolled back whole."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.db import READ_ONLY, session_factory
from storage.groups import GroupRepository
from storage.metrics import MetricsRepository
from storage.repositories import (
    BoardRepository,
    OutboxRepository,
    PeopleRepository,
    WorkspaceRepository,
)


class UnitOfWork:
    session: Session
    workspaces: WorkspaceRepository
    people: PeopleRepository
    outbox: OutboxRepository
    metrics: MetricsRepository

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.workspaces = WorkspaceRepository(self.session)
        self.people = PeopleRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.metrics = MetricsRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed, and leaves loaded
        # objects readable (rollback would expire them).
        self.session.close()

    def board(self, board_id: int) -> BoardRepository:
        """A repository that can only see one board's rows."""
        return BoardRepository(self.session, board_id)

    def groups(self, board_id: int) -> GroupRepository:
        """The statements behind one board's groups (for ``bot.feedback.demand`` only)."""
        return GroupRepository(self.session, board_id)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class Database:
    """An engine plus the units of work drawn from it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.readers = session_factory(engine.execution_options(**{READ_ONLY: True}))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def reader(self) -> UnitOfWork:
        """A unit of work for reading: on SQLite it takes the write lock only if it writes,
        so a read of seconds (an export) never stalls the writes behind an ack."""
        return UnitOfWork(self.readers)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name
