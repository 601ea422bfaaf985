"""Deliveries already handled, so a platform's re-deliveries do nothing."""

from __future__ import annotations

import time
from collections import OrderedDict


class Seen:
    """Keys (event ids, interaction ids, trigger ids, signed-body digests) handled
    within the TTL; the oldest are forgotten past ``limit``."""

    def __init__(self, ttl: float = 3600.0, limit: int = 50_000) -> None:
        self.ttl, self.limit = ttl, limit
        self._keys: OrderedDict[str, float] = OrderedDict()

    def repeat(self, key: str | None) -> bool:
        """True if ``key`` came before (within the TTL); remembers it otherwise."""
        if not key:
            return False
        now = time.monotonic()
        while self._keys:
            at = next(iter(self._keys.values()))
            if at > now - self.ttl and len(self._keys) < self.limit:
                break
            self._keys.popitem(last=False)
        if key in self._keys:
            return True
        self._keys[key] = now
        return False
