"""Who a message would notify, by Discord's ``allowed_mentions`` rules.

A bot that posts user text must not ping @everyone or a role by accident; tests assert that
with :func:`pings` over a recorded request body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")


@dataclass(frozen=True)
class Pings:
    """The users and roles notified, whether @everyone/@here was, and the replied-to author."""

    users: frozenset[str]
    roles: frozenset[str]
    everyone: bool
    replied_user: bool

    @property
    def anyone(self) -> bool:
        return bool(self.users or self.roles or self.everyone or self.replied_user)


def mentioned(content: str) -> tuple[list[str], list[str], bool]:
    """(user ids, role ids, @everyone/@here) written in `content`, in order, deduplicated."""
    users = list(dict.fromkeys(USER_MENTION.findall(content)))
    roles = list(dict.fromkeys(ROLE_MENTION.findall(content)))
    return users, roles, bool(EVERYONE_MENTION.search(content))


def pings(body: Mapping[str, Any], *, is_reply: bool | None = None) -> Pings:
    """Who a message body would notify. Without ``allowed_mentions`` everything written pings;
    with it, only what ``parse``, ``users``, ``roles`` and ``replied_user`` allow."""
    users, roles, everyone = mentioned(str(body.get("content") or ""))
    reply = bool(body.get("message_reference")) if is_reply is None else is_reply
    allowed = body.get("allowed_mentions")
    if allowed is None:
        return Pings(frozenset(users), frozenset(roles), everyone, reply)
    parse = set(allowed.get("parse") or ())
    allowed_users = {str(u) for u in allowed.get("users") or ()}
    allowed_roles = {str(r) for r in allowed.get("roles") or ()}
    return Pings(
        users=frozenset(u for u in users if "users" in parse or u in allowed_users),
        roles=frozenset(r for r in roles if "roles" in parse or r in allowed_roles),
        everyone=everyone and "everyone" in parse,
        replied_user=reply and bool(allowed.get("replied_user", False)),
    )
