"""A 5,000-person ship fanned out through the outbox to a local stand-in of Slack's
Web API, in real time, at a set pace: how close to the allowed rate it gets, and how
long the window between the platform's answer and our commit of "sent" is (the only
place a crash could send a notice twice; the in-doubt check covers it).

    python bench/fanout.py [--people 5000] [--rate 100] [--quick]

Each DM is two Web API calls (conversations.open, chat.postMessage) over loopback, so
the stand-in's own speed bounds the rate from above.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def measure(people: int, rate: float, db: str) -> dict[str, float]:
    from adapters.slack.messenger import standalone_messenger
    from adapters.slack.settings import SlackSettings
    from bot.app import Lodestar
    from bot.clock import SystemClock
    from storage.uow import Database
    from tests.slack_fake import BOT_TOKEN, FakeSlackWebAPI
    from tests.test_scheduler_processes import seeded

    with FakeSlackWebAPI() as fake:
        from storage.db import make_engine
        from storage.migrate import upgrade

        engine = make_engine(db)
        upgrade(engine)
        database = Database(engine)
        app = seeded(database, datetime.now(UTC), people=people - 1)
        live = Lodestar.build(database, SystemClock(), app.nsm.config)
        from tests.test_scheduler_processes import PM

        live.router.command(PM, "feedback", "ship #1 live")
        settings = SlackSettings(bot_token=BOT_TOKEN, api_url=fake.api_url)
        messenger = standalone_messenger(settings, engine)
        dispatcher = live.dispatcher({"slack": messenger}, rates={"slack": rate})
        started = time.perf_counter()
        report = asyncio.run(dispatcher.run_once())
        took = time.perf_counter() - started
        posts = [
            c for c in fake.calls_to("chat.postMessage")
            if c.ok and str(c.params["channel"]).startswith("D")
        ]  # fmt: skip
        windows = sorted(report.windows)
        engine.dispose()
    sent = len(posts)
    return {
        "sent": sent,
        "seconds": took,
        "rate": sent / took,
        "share": sent / took / rate,
        "window_p50_ms": statistics.median(windows) * 1000 if windows else 0.0,
        "window_p99_ms": windows[int(len(windows) * 0.99) - 1] * 1000 if windows else 0.0,
        "window_max_ms": windows[-1] * 1000 if windows else 0.0,
    }


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    people = 500 if args.quick else args.people
    with tempfile.TemporaryDirectory() as tmp:
        found = measure(people, args.rate, f"sqlite:///{Path(tmp) / 'fanout.db'}")
    load = os.getloadavg()
    return "\n".join(
        [
            "## Ship fan-out through the outbox: `fanout.py`",
            "",
            f"{people:,} DMs to a Slack Web API stand-in (loopback), paced at "
            f"{args.rate:g} notices/s (the allowed rate), SQLite, load "
            f"{load[0]:.2f}.",
            "",
            "| sent | seconds | notices/s | share of the allowed rate | "
            "answer→commit p50 | p99 | max |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {found['sent']:,.0f} | {found['seconds']:.1f} | {found['rate']:.1f} | "
            f"**{found['share']:.1%}** | {found['window_p50_ms']:.2f} ms | "
            f"{found['window_p99_ms']:.2f} ms | {found['window_max_ms']:.2f} ms |",
            "",
            "Target: at least 95 % of the allowed rate. The answer→commit window is the "
            "time a crash would have to hit to leave a delivered notice marked *sending*; "
            "such a notice is looked up on the platform before it is sent again.",
        ]
    )


if __name__ == "__main__":
    print(main(sys.argv[1:]))
