"""``lodestar demo``: the whole product on a fresh database, no tokens, no network."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from adapters.console.demo_data import (
    ITEMS,
    LINKS,
    MERGES,
    PEOPLE,
    POPULAR,
    SCRIPT,
    SHIP,
    STATUSES,
    TAGS,
)
from adapters.console.session import ConsoleSession
from bot.app import Lodestar
from bot.context import Caller
from bot.export import to_csv

WORKSPACE = "canvasly"


def person(name: str, admin: bool = False) -> Caller:
    return Caller(
        "console",
        WORKSPACE,
        name.split()[0].lower(),
        name.split()[0],
        channel="product-feedback",
        is_platform_admin=admin,
        workspace_name=WORKSPACE,
    )


def seed(app: Lodestar) -> dict[str, int]:
    """A believable board: people, items with duplicates, votes, merges, a ship."""
    svc = app.feedback
    rng = random.Random(7)
    for requester, text in ITEMS:
        svc.capture(person(PEOPLE[requester]), text)
    votes = 0
    for number in range(1, len(ITEMS) + 1):
        # A few requests are wildly popular; most get a handful of votes.
        k = POPULAR.get(number, rng.randint(0, 4))
        for name in rng.sample(PEOPLE, k=k):
            votes += svc.vote(person(name), number).changed
    admin = person("Priya Nair", admin=True)
    for number, into in MERGES:
        svc.merge(admin, number, into)
    for number, status, note in STATUSES:
        svc.set_status(admin, number, status, note)
    for number, tags in TAGS:
        svc.tag(admin, number, tags, ())
    for number, metric in LINKS:
        svc.link(admin, number, metric)
    svc.set_announce_channel(admin, "announcements")
    shipped = svc.ship(admin, *SHIP)
    return {
        "people": len(PEOPLE),
        "items": len(ITEMS),
        "votes": votes,
        "merges": len(MERGES),
        "notices": shipped.people + shipped.threads + 1,
    }


def run_demo(db: str | None, out: Path, echo: Callable[[str], None]) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'demo.db'}"
        app = Lodestar.open(url)
        facts = seed(app)
        echo(
            f"Seeded Canvasly: {facts['people']} people, {facts['items']} items, "
            f"{facts['votes']} votes, {facts['merges']} merges, #{SHIP[0]} shipped "
            f"({facts['notices']} notices queued).\n"
        )
        session = ConsoleSession(app, echo, workspace=WORKSPACE, channel="product-feedback")
        session.run_jobs()
        echo("")
        session.run(SCRIPT.splitlines())
        out.mkdir(parents=True, exist_ok=True)
        export = out / "feedback.csv"
        export.write_text(
            to_csv(app.feedback.board_items(person("Priya Nair", True))), encoding="utf-8"
        )
        app.db.engine.dispose()
    echo(f"\nWrote {export}")
    echo(f"Demo finished in {time.perf_counter() - started:.1f} s.")
