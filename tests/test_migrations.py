"""The schema comes from Alembic revisions, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from storage.db import make_engine
from storage.migrate import alembic_config, is_current, upgrade
from storage.models import Base
from storage.uow import Database
from tests.conftest import fresh_pg_database


def test_the_migrated_schema_is_the_models_schema(database: Database) -> None:
    assert is_current(database.engine)
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_nothing_and_upgrade_again(database: Database) -> None:
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not is_current(database.engine)
    assert "items" not in inspect(database.engine).get_table_names()
    upgrade(database.engine)
    assert is_current(database.engine)


def _upgrade_at_once(url: str, processes: int = 4) -> list[subprocess.CompletedProcess[str]]:
    """`lodestar db upgrade` started by several processes at the same moment."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "db", "upgrade", "--db", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    done = []
    for p in started:
        out, err = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_that_upgrade_a_fresh_database_at_once_all_succeed(
    kind: str, tmp_path: Path, worker_id_safe: str
) -> None:
    """A release starts its web, clock and Discord processes together on an empty
    database: one creates the schema, the others wait for it and find it current."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = fresh_pg_database(f"fresh_{worker_id_safe}")
    for run in _upgrade_at_once(url):
        assert run.returncode == 0, run.stderr
    engine = make_engine(url)
    try:
        assert is_current(engine)
    finally:
        engine.dispose()
