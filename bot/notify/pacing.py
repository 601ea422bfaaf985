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
    """At most ``per_second`` starts a second, evenly spaced (``burst`` 1) and a hair
    under: no one-second window, wherever it falls, holds more than ``per_second``."""

    def __init__(
        self,
        per_second: float,
        seconds: Seconds = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        burst: float = 1,
    ) -> None:
        if per_second <= 0:
            raise ValueError("a pace needs a positive rate")
        self.rate = per_second * MARGIN
        self.burst = max(1.0, burst)
        self.seconds = seconds
        self.sleep = sleep
        self._tokens = self.burst
        self._last = seconds()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.seconds()
                elapsed = max(0.0, now - self._last)
                self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
                self._last = now
                if self._tokens >= 1 - _EPSILON:  # clocks tick in microseconds: round
                    self._tokens -= 1
                    return
                await self.sleep(max((1 - self._tokens) / self.rate, 1e-6))

    def slow_down(self, seconds: float) -> None:
        """The platform said to wait: take the next ``seconds`` worth of tokens away."""
        self._tokens = min(self._tokens, 0) - seconds * self.rate
