"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bot.app import Lodestar
from bot.clock import FixedClock
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Base
from storage.uow import Database

# No deadline: a property test asserts results, never timings (bench/ measures speed).
# Hypothesis's default 200 ms deadline made tests flaky under pytest -n 8 on two
# cores, where one example can be stretched past it and then run fast on the retry.
settings.register_profile("lodestar", deadline=None)
settings.load_profile("lodestar")

PG_ENV = "LODESTAR_TEST_POSTGRES_URL"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _pg_database(suffix: str, *, fresh: bool) -> str | None:
    """A database of its own on the PostgreSQL server (None when none is configured),
    named after the checkout too, so two checkouts' test runs never share one; `fresh`
    drops what an earlier run left."""
    base = os.environ.get(PG_ENV)
    if not base:
        return None
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    checkout = hashlib.sha1(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
    name = f"lodestar_test_{checkout}_{suffix}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def fresh_pg_database(suffix: str) -> str:
    """An empty PostgreSQL database's URL; skips the test when none is configured."""
    url = _pg_database(suffix, fresh=True)
    if url is None:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run these tests on it")
    return url


@pytest.fixture(scope="session")
def worker_id_safe(request: pytest.FixtureRequest) -> str:
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    return str(worker)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine(worker_id_safe: str) -> Iterator[Engine | None]:
    url = _pg_database(worker_id_safe, fresh=False)
    if url is None:
        yield None
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Database]:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "lodestar.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield Database(engine)
        engine.dispose()
        return
    pg = request.getfixturevalue("pg_engine")
    if pg is None:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run these tests on it")
    _truncate(pg)
    yield Database(pg)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def app(database: Database, clock: FixedClock) -> Lodestar:
    return Lodestar.build(database, clock)
