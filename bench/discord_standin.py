"""The Discord stand-in in a process of its own, for ``bench/discord_ack.py``.

It prints its REST base (what ``DISCORD_API_URL`` takes), then answers one JSON line per
command read on standard input, until standard input closes:

* ``ready SECONDS``: wait until every shard got READY and its GUILD_CREATEs were written
  to the socket; answers ``{"guild_creates": N}``.
* ``measure CONCURRENCY COUNT``: COUNT ``/feedback <text>`` interactions, CONCURRENCY in
  flight at a time; answers each one's latency in milliseconds, the callback types and
  the interactions left unanswered.
* ``burst SIZE ROUNDS PAUSE``: the same, SIZE interactions dispatched at once, ROUNDS
  times, PAUSE seconds apart.

Latency is from just before ``dispatch`` of INTERACTION_CREATE to the arrival of its
callback at the stand-in's web server: both read from ``time.monotonic()`` in this process,
so no clock crosses processes.

    python bench/discord_standin.py [--guilds 1000] [--channels 1] [--roles 0] [--shards 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from bench.ack_workload import feedback_text  # noqa: E402
from tests.discord_fake import FakeDiscord, Op, payloads  # noqa: E402

CALLBACK_PATH = re.compile(r"/api/v\d+/interactions/(?P<id>\d+)/[^/]+/callback")


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the callback request reached the server
    status: int
    callback_type: int | None


class TimedFakeDiscord(FakeDiscord):
    """The stand-in, noting when each interaction callback arrives and waking its waiter."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._arrivals_lock = threading.Lock()
        self.arrivals: dict[str, Arrival] = {}
        self._waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Arrival]]] = {}

    async def _handle_rest(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        response = await super()._handle_rest(request)
        found = CALLBACK_PATH.fullmatch(request.path)
        if found is not None:
            interaction_id = found["id"]
            kind = self.world.interactions[interaction_id].response_type
            arrival = Arrival(at, response.status, kind)
            with self._arrivals_lock:
                first = self.arrivals.setdefault(interaction_id, arrival)
                waiter = self._waiters.pop(interaction_id, None)
            if waiter is not None:
                loop, future = waiter
                loop.call_soon_threadsafe(_resolve, future, first)
        return response

    def expect(self, interaction_id: str) -> asyncio.Future[Arrival]:
        """A future for the callback of an interaction about to be dispatched."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Arrival] = loop.create_future()
        with self._arrivals_lock:
            self._waiters[interaction_id] = (loop, future)
        return future

    def forget(self, interaction_id: str) -> None:
        with self._arrivals_lock:
            self._waiters.pop(interaction_id, None)

    def all_written(self) -> bool:
        """Every queued frame of every live socket is on the wire."""
        with self._lock:
            return all(not c.outbox for c in self.gateway.connections if c.open)


def _resolve(future: asyncio.Future[Arrival], arrival: Arrival) -> None:
    if not future.done():
        future.set_result(arrival)


def seed(fake: FakeDiscord, guilds: int, channels: int, roles: int) -> None:
    for g in range(guilds):
        gid = payloads.snowflake()
        fake.add_guild(
            payloads.guild(
                f"Guild {g}",
                guild_id=gid,
                channels=[
                    payloads.text_channel(f"channel-{c}", guild_id=gid, position=c)
                    for c in range(channels)
                ],
                roles=[payloads.role(f"role-{r}") for r in range(roles)],
            )
        )


def wait_ready(fake: TimedFakeDiscord, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    fake.wait_ready(timeout, count=fake.shards)
    deadline = started + timeout
    while not fake.all_written():
        if time.monotonic() > deadline:
            raise TimeoutError("the GUILD_CREATEs were not all written in time")
        time.sleep(0.01)
    # The seeded world lives as long as the process: keep it out of the collector's way,
    # so a full collection here does not stall callbacks and pass for the bot's latency.
    gc.collect()
    gc.freeze()
    creates = sum(1 for d in fake.dispatched if d.event == "GUILD_CREATE")
    return {"guild_creates": creates, "identifies": len(fake.ops_received(Op.IDENTIFY))}


async def _one(fake: TimedFakeDiscord, n: int, result: dict[str, Any], timeout: float) -> None:
    """Dispatch interaction number `n` and wait for its callback."""
    payload = payloads.slash_command("feedback", feedback_text(n))
    arrived = fake.expect(payload["id"])
    sent_at = time.monotonic()
    fake.dispatch("INTERACTION_CREATE", payload)
    try:
        arrival = await asyncio.wait_for(arrived, timeout)
    except TimeoutError:
        fake.forget(payload["id"])
        result["missing"].append(payload["id"])
        return
    result["latencies"].append((arrival.at - sent_at) * 1000)
    key = f"{arrival.callback_type} ({arrival.status})"
    result["types"][key] = result["types"].get(key, 0) + 1


async def measure(
    fake: TimedFakeDiscord, concurrency: int, count: int, first: int, timeout: float = 10.0
) -> dict[str, Any]:
    """COUNT interactions, CONCURRENCY workers each dispatching its next one as soon as
    the previous one's callback arrived (a closed loop: always CONCURRENCY in flight)."""
    numbers = iter(range(first, first + count))
    result: dict[str, Any] = {"latencies": [], "types": {}, "missing": []}

    async def worker() -> None:
        for n in numbers:
            await _one(fake, n, result, timeout)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {**result, "wall": time.monotonic() - started}


async def bursts(
    fake: TimedFakeDiscord, size: int, rounds: int, pause: float, first: int, timeout: float = 10.0
) -> dict[str, Any]:
    """ROUNDS bursts of SIZE interactions dispatched at once, PAUSE seconds between the end
    of one burst and the next (for the follow-up work of the last one)."""
    result: dict[str, Any] = {"latencies": [], "types": {}, "missing": []}
    busy = 0.0
    for r in range(rounds):
        started = time.monotonic()
        numbers = range(first + r * size, first + (r + 1) * size)
        await asyncio.gather(*(_one(fake, n, result, timeout) for n in numbers))
        busy += time.monotonic() - started
        await asyncio.sleep(pause)
    return {**result, "wall": busy}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=0, help="guilds besides the default one")
    parser.add_argument("--channels", type=int, default=1, help="text channels per guild")
    parser.add_argument("--roles", type=int, default=0, help="roles per guild besides @everyone")
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args(argv)

    fake = TimedFakeDiscord(shards=args.shards)
    seed(fake, args.guilds, args.channels, args.roles)
    fake.start()
    print(fake.api_url, flush=True)
    numbered = 0
    try:
        for line in sys.stdin:
            command, *values = line.split()
            if command == "ready":
                answer = wait_ready(fake, float(values[0]))
            elif command == "measure":
                concurrency, count = int(values[0]), int(values[1])
                answer = asyncio.run(measure(fake, concurrency, count, numbered))
                numbered += count
            elif command == "burst":
                size, rounds, pause = int(values[0]), int(values[1]), float(values[2])
                answer = asyncio.run(bursts(fake, size, rounds, pause, numbered))
                numbered += size * rounds
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
