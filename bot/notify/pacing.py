"""Sending no faster than a platform allows: a token bucket per (platform, workspace).

The time source and the sleep are injected, so a test of a 5,000-notice fan-out
under a per-second limit runs in milliseconds and exactly: its sleep moves its
time. By default they are the monotonic clock and asyncio's sleep (never the
core's business clock, which tests hold still).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]
Seconds = Callable[[], float]


_EPSILON = 1e-6
#: Keep a hair under the limit: clocks on both sides round, and a 429 costs more.
MARGIN = 0.98


class Pace:
    """At most ``per_second`` starts a second, a hair under: starts are given evenly
    spaced slots, and a start that came late (a sleep oversleeps) does not push the
    later slots back, so the rate holds over a fan-out instead of sagging. Slots are
    not banked while idle: no burst after a quiet spell."""

    def __init__(
        self, per_second: float, seconds: Seconds = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if per_second <= 0:
            raise ValueError("a pace needs a positive rate")
        self.rate = per_second * MARGIN
        self.interval = 1 / self.rate
        self.seconds = seconds
        self.sleep = sleep
        self._next = seconds()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self.seconds()
            if self._next < now - self.interval:  # idle: start afresh, no saved-up slots
                self._next = now
            wait = self._next - now
            if wait > _EPSILON:
                await self.sleep(wait)
            self._next += self.interval

    def slow_down(self, seconds: float) -> None:
        """The platform said to wait: the next slot is that far away."""
        self._next = max(self._next, self.seconds()) + seconds
