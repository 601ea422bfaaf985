"""The composition root: one database, one clock, the services and the router."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import Clock, SystemClock
from bot.feedback.board import BoardService
from bot.feedback.identity import IdentityService, random_code
from bot.feedback.merges import MergeService
from bot.feedback.settings import WorkspaceSettings
from bot.feedback.suggest import DuplicateFinder
from bot.jobs.posts import renderers
from bot.jobs.runner import Jobs, JobsReport
from bot.jobs.settings import ScheduleSettings
from bot.notify.dispatcher import Dispatcher
from bot.notify.ports import Messenger
from bot.nsm.commands import NsmCommands
from bot.nsm.config import LodestarConfig, load_config
from bot.nsm.service import NsmService
from bot.nsm.settings import MetricSettings
from bot.router import Router
from bot.scope import Scopes
from storage.db import database_url, make_engine
from storage.migrate import is_current, upgrade
from storage.uow import Database

CONFIG_ENV = "LODESTAR_CONFIG"
DEFAULT_CONFIG = "lodestar.toml"


class SchemaOutOfDate(RuntimeError):
    pass


def find_config(path: str | Path | None = None) -> LodestarConfig | None:
    """``--config``, else ``$LODESTAR_CONFIG``, else ``lodestar.toml`` here if it exists.
    A named file that is missing or invalid raises (ConfigError / FileNotFoundError)."""
    named = path or os.environ.get(CONFIG_ENV)
    if named:
        return load_config(named)
    if Path(DEFAULT_CONFIG).is_file():
        return load_config(DEFAULT_CONFIG)
    return None


@dataclass
class Lodestar:
    """The core, wired. Adapters use ``router`` (the one door); the services are
    here for the operator's command line, the scheduler and tests."""

    db: Database
    clock: Clock
    scopes: Scopes
    board: BoardService
    merges: MergeService
    identity: IdentityService
    settings: WorkspaceSettings
    nsm: NsmService
    nsm_commands: NsmCommands
    router: Router
    schedules: ScheduleSettings
    jobs: Jobs
    messengers: dict[str, Messenger] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        clock: Clock | None = None,
        config: LodestarConfig | None = None,
    ) -> Lodestar:
        """Connect, bring an SQLite schema up to date (PostgreSQL: check it is),
        and wire the core together."""
        engine = make_engine(database_url(url))
        if engine.dialect.name == "sqlite":
            upgrade(engine)
        elif not is_current(engine):
            raise SchemaOutOfDate(
                "The database schema is not up to date: run `lodestar db upgrade` first."
            )
        return cls.build(Database(engine), clock or SystemClock(), config)

    @classmethod
    def build(
        cls,
        db: Database,
        clock: Clock,
        config: LodestarConfig | None = None,
        make_code: Callable[[], str] = random_code,
    ) -> Lodestar:
        scopes = Scopes(db, clock)
        finder = DuplicateFinder()
        board = BoardService(db, clock, scopes, finder)
        merges = MergeService(clock, scopes)
        identity = IdentityService(clock, scopes, finder, make_code)
        settings = WorkspaceSettings(db, scopes)
        nsm = NsmService(db, clock, config, board, MetricSettings(db, scopes))
        schedules = ScheduleSettings(scopes, None if config is None else config.schedules)
        commands = NsmCommands(nsm, config, schedules)
        jobs = Jobs(db, nsm, commands.watcher, schedules)
        router = Router(board, merges, identity, settings)
        router.mount("nsm", commands)
        if config is not None:
            router.metric_keys = lambda: set(config.metrics)
        return cls(
            db=db,
            clock=clock,
            scopes=scopes,
            board=board,
            merges=merges,
            identity=identity,
            settings=settings,
            nsm=nsm,
            nsm_commands=commands,
            router=router,
            schedules=schedules,
            jobs=jobs,
        )

    def dispatcher(
        self,
        messengers: Mapping[str, Messenger] | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> Dispatcher:
        """The outbox's dispatcher over these messengers (default: the adapters'), able to
        render scheduled posts."""
        return Dispatcher(
            self.db,
            messengers if messengers is not None else self.messengers,
            clock or self.clock,
            renderers=renderers(self.db, self.nsm, self.nsm_commands.watcher),
            **options,
        )

    def run_jobs(self, now: datetime | None = None) -> JobsReport:
        """Queue every post due at ``now`` and evaluate the alert rules (a scheduler tick)."""
        return self.jobs.run_due(now or self.clock.now())

    def watch(self, now: datetime | None = None) -> None:
        """Evaluate alert rules (what the scheduler runs; the console's :run-jobs)."""
        if self.nsm.config is not None and self.nsm.config.tree is not None:
            self.nsm_commands.run_jobs(now)
