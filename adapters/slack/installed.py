"""Only teams Lodestar is installed in are served.

With one bot token, that is the token's own team (``auth.test``, which Bolt asks once
and keeps); with OAuth, the teams in the installation store (Bolt refuses the others
before this runs). Anyone else — a signed request from another team of a shared
channel or of an Enterprise Grid org — is told so privately, before any core call: no
workspace is created for them and nothing is answered with another team's token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse

from adapters.slack import render

log = logging.getLogger(__name__)

NOT_INSTALLED = "Lodestar is not installed in this workspace."


def team_of(body: dict[str, Any]) -> str | None:
    """The team a request comes from: an interaction's ``team``, a command's or an
    event's ``team_id``, else the user's team."""
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    if isinstance(team, str) and team:
        return team
    if body.get("team_id"):
        return str(body["team_id"])
    user = body.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    return None


def serves(body: dict[str, Any], context: Any) -> bool:
    """True when the request's team is the one whose token Bolt authorized it with (an
    org-wide install serves every team of its org)."""
    auth = context.authorize_result
    team = team_of(body)
    if auth is None or team is None:
        return False
    if auth.team_id:
        return bool(team == auth.team_id)
    return bool(auth.enterprise_id) and auth.enterprise_id == context.enterprise_id


async def only_installed_teams(
    body: dict[str, Any], context: Any, next: Callable[[], Awaitable[Any]]
) -> BoltResponse | None:
    """Bolt middleware: pass requests of served teams on, answer the others."""
    if serves(body, context):
        return await next()
    log.info("refused a request from Slack team %s: not installed there", team_of(body))
    if "command" in body:
        answer = {"response_type": "ephemeral", "text": NOT_INSTALLED}
        return BoltResponse(status=200, body=answer)
    if body.get("type") == "view_submission":
        answer = {"response_action": "errors", "errors": {render.FORM_BLOCK: NOT_INSTALLED}}
        return BoltResponse(status=200, body=answer)
    if body.get("response_url"):
        try:
            await context.respond(text=NOT_INSTALLED, response_type="ephemeral")
        except Exception as error:  # an expired response_url: nothing more to say
            log.info("could not tell team %s: %s", team_of(body), error)
    return BoltResponse(status=200, body="")
