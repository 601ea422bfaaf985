"""Who a Slack user is: display name and workspace admin/owner, from users.info, cached.

The configured admin list lives in the core (``/feedback admins``); this only
says whether Slack itself calls the person an admin or owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

#: users.info may be slow or rate limited; a command never waits longer than this for it.
LOOKUP_TIMEOUT = 1.5
#: After a failed lookup, ask again no sooner than this.
RETRY_FAILED_AFTER = 30.0


@dataclass(frozen=True)
class Person:
    user: str
    name: str
    is_admin: bool
    is_bot: bool = False


class People:
    """users.info answers per (team, user), trusted for ``ttl`` seconds."""

    def __init__(self, ttl: float = 600.0, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.now = now
        self._cache: dict[tuple[str, str], tuple[float, Person]] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[Person]] = {}
        self.lookups = 0

    def cached(self, team: str, user: str) -> Person | None:
        hit = self._cache.get((team, user))
        if hit is not None and hit[0] > self.now():
            return hit[1]
        return None

    async def get(
        self, client: AsyncWebClient, team: str, user: str, fallback_name: str | None = None
    ) -> Person:
        """The person, from cache or users.info; on failure a non-admin named as Slack sent it."""
        hit = self.cached(team, user)
        if hit is not None:
            return hit
        key = (team, user)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(client, team, user, fallback_name))
            self._pending[key] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(key, None))
        try:
            return await asyncio.wait_for(asyncio.shield(pending), LOOKUP_TIMEOUT)
        except TimeoutError:
            log.warning("users.info for %s timed out; treating them as a non-admin", user)
            return Person(user, fallback_name or user, is_admin=False)

    async def _lookup(
        self, client: AsyncWebClient, team: str, user: str, fallback_name: str | None
    ) -> Person:
        self.lookups += 1
        try:
            info = (await client.users_info(user=user))["user"]
        except Exception as error:  # a missing scope or an outage must not stop the command
            log.warning("users.info for %s failed: %s", user, error)
            person = Person(user, fallback_name or user, is_admin=False)
            self._cache[(team, user)] = (self.now() + RETRY_FAILED_AFTER, person)
            return person
        profile = info.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or info.get("real_name")
            or info.get("name")
            or fallback_name
            or user
        )
        person = Person(
            user,
            name,
            is_admin=bool(
                info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner")
            ),
            is_bot=bool(info.get("is_bot")),
        )
        self._cache[(team, user)] = (self.now() + self.ttl, person)
        return person

    def forget(self, team: str | None = None, user: str | None = None) -> None:
        """Drop cached answers (all of them, a team's, or one person's)."""
        for key in list(self._cache):
            if (team is None or key[0] == team) and (user is None or key[1] == user):
                del self._cache[key]
