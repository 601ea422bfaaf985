"""The schema comes from Alembic revisions, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from storage.migrate import alembic_config, is_current, upgrade
from storage.models import Base
from storage.uow import Database


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
