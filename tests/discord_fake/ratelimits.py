"""Discord's rate limits as the fake plays them: per-bucket windows reported in headers,
simulated shared or global per-second limits, and failures a test injects.

A real 429 from Discord carries ``retry_after`` in a JSON body, a ``Via`` header (discord.py
treats a 429 without one as a Cloudflare ban and gives up) and ``X-RateLimit-Scope``; a
global one also says ``"global": true``. The fake answers every 429 that way.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .routes import ApiRequest, RouteSpec, matches

#: The parts of a path that make a separate bucket of one route (as on Discord).
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")


@dataclass
class Window:
    """A fixed window of `limit` requests per `per` seconds, opened by its first request."""

    limit: int
    per: float
    start: float = -math.inf
    used: int = 0

    def _roll(self, now: float) -> None:
        if now >= self.start + self.per:
            self.start, self.used = now, 0

    def take(self, now: float) -> float | None:
        """Count one request; None if allowed, else the seconds until the window reopens."""
        self._roll(now)
        if self.used >= self.limit:
            return self.reset_after(now)
        self.used += 1
        return None

    def remaining(self, now: float) -> int:
        self._roll(now)
        return max(self.limit - self.used, 0)

    def reset_after(self, now: float) -> float:
        return max(self.start + self.per - now, 0.0)


@dataclass
class Denial:
    """Why a request gets a 429 (or another injected failure)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def too_many_requests(retry_after: float, *, scope: str, global_: bool = False) -> Denial:
    """A 429 exactly as Discord words it."""
    retry_after = round(max(retry_after, 0.001), 3)
    headers = {
        "Retry-After": str(max(math.ceil(retry_after), 1)),
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",
    }
    if global_:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_}
    if global_:
        body["code"] = 0
    return Denial(429, body, headers)


def server_error(status: int) -> Denial:
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return Denial(status, {"message": f"{status}: {reason.get(status, 'Error')}", "code": 0})


@dataclass
class Injected:
    """A failure queued by ``fail_next``/``fail_for``; `remaining` None means until undone."""

    spec: RouteSpec
    denial: Callable[[], Denial]
    remaining: int | None


@dataclass
class Simulated:
    """A per-second limit on a route (shared by all its buckets) or on everything (global)."""

    spec: RouteSpec
    window: Window
    global_: bool


def bucket_hash(method: str, route: str) -> str:
    """An opaque, stable bucket id per route, like the ``X-RateLimit-Bucket`` Discord sends."""
    return hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:32]


class RateLimiter:
    """Decides which requests get a 429 and writes the rate-limit headers of every answer.

    `bucket_limit` requests per `bucket_window` seconds per bucket (route + major parameters),
    announced in ``X-RateLimit-*`` headers and enforced; ``bucket_limit=None`` lifts it.
    """

    def __init__(
        self,
        bucket_limit: int | None = 50,
        bucket_window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self._clock = clock
        self._buckets: dict[str, Window] = {}
        self.injected: list[Injected] = []
        self.simulated: list[Simulated] = []

    def reset(self) -> None:
        self._buckets.clear()
        self.injected.clear()
        self.simulated.clear()

    def _bucket(self, req: ApiRequest) -> tuple[str, Window]:
        hashed = bucket_hash(req.method, req.route)
        major = "+".join(str(req.params[k]) for k in MAJOR_PARAMETERS if k in req.params)
        key = f"{hashed}:{major}"
        window = self._buckets.get(key)
        if window is None:
            limit = self.bucket_limit if self.bucket_limit is not None else 1_000_000
            window = self._buckets[key] = Window(limit, self.bucket_window)
        return hashed, window

    def take_injected(self, req: ApiRequest) -> Denial | None:
        for failure in self.injected:
            if not matches(failure.spec, req):
                continue
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self.injected.remove(failure)
            return failure.denial()
        return None

    def admit(self, req: ApiRequest) -> Denial | None:
        """Count `req` against every limit; a Denial if one of them is exceeded."""
        now = self._clock()
        for limit in self.simulated:
            if not matches(limit.spec, req):
                continue
            wait = limit.window.take(now)
            if wait is not None:
                scope = "global" if limit.global_ else "shared"
                return too_many_requests(wait, scope=scope, global_=limit.global_)
        _, window = self._bucket(req)
        wait = window.take(now)
        if wait is not None:
            return too_many_requests(wait, scope="user")
        return None

    def headers(self, req: ApiRequest) -> dict[str, str]:
        """``X-RateLimit-*`` headers describing `req`'s bucket after it was counted."""
        now = self._clock()
        hashed, window = self._bucket(req)
        reset_after = window.reset_after(now) if window.used else window.per
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.remaining(now)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashed,
        }
