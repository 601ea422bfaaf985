"""What reaches Bolt: a small body, signed by Slack, that parses the way Slack's requests do.

Bolt parses a body before it checks the signature, so an unsigned body that is not what
it expects (``payload=%7Bnot+json``, ``[1,2]``, bytes that are not UTF-8, a timestamp of
``abc``) got a 500 and a traceback; and it logs a body whose signature fails, whole, at
INFO. Here the size is capped before reading, the signature is checked before parsing
(401), a signed body that still does not parse gets 400, and log lines carry no body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltResponse
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

#: Slack's largest requests are interactive payloads that carry a whole message or App
#: Home view (100 blocks of 3,000 characters, JSON- then URL-encoded): well under this.
MAX_BODY = 2 * 1024 * 1024
#: A request older (or newer) than this is a replay, as Slack and Bolt define it.
MAX_AGE = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Admitted:
    """A signed request body and what it parses to."""

    raw: str
    body: dict[str, Any]


class FrontDoor:
    def __init__(self, signing_secret: str | None, max_body: int = MAX_BODY) -> None:
        self.secret = (signing_secret or "").encode()
        self.max_body = max_body

    async def admit(self, request: Request) -> Admitted | Response:
        """The request's body if Slack sent it, else the response that refuses it."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return _refuse(413, "body over the size cap")
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > self.max_body:
                return _refuse(413, "body over the size cap")
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not self.signed(bytes(raw), timestamp, signature):
            return _refuse(401, "missing, stale or wrong signature")
        try:
            text = bytes(raw).decode("utf-8")
            body = parse(text, request.headers.get("content-type"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            body = None
        if body is None:
            return _refuse(400, "signed, but not a body Slack sends")
        return Admitted(text, body)

    def signed(self, raw: bytes, timestamp: str, signature: str) -> bool:
        """Slack's v0 signature, over the raw bytes (slack_sdk's verifier decodes them as
        UTF-8 first, and raises on anything else), at most five minutes old."""
        if not self.secret or not _TIMESTAMP.fullmatch(timestamp):
            return False
        if abs(time.time() - int(timestamp)) > MAX_AGE:
            return False
        base = b"v0:" + timestamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


def parse(text: str, content_type: str | None) -> dict[str, Any] | None:
    """A request body as Bolt reads it (JSON, a form, or a form's ``payload`` field);
    None when it is none of these. Unlike Bolt, a form that merely contains the word
    "payload" (``/feedback webhook payload``) stays a form."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or text.startswith("{"):
        value = json.loads(text)
        return value if isinstance(value, dict) else None
    if not text:
        return None
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        value = json.loads(fields["payload"])
        return value if isinstance(value, dict) else None
    return fields


async def dispatch(app: AsyncApp, request: Request, admitted: Admitted) -> BoltResponse:
    """Hand an admitted request to Bolt with the body as parsed here."""
    bolt_request = to_async_bolt_request(request, admitted.raw.encode("utf-8"))
    if bolt_request.body != admitted.body:  # Bolt misread it (see ``parse``)
        bolt_request.body = admitted.body
        bolt_request.context = build_async_context(AsyncBoltContext({}), admitted.body)
    return await app.async_dispatch(bolt_request)


def _refuse(status: int, why: str) -> Response:
    log.info("refused a request to /slack/events (%d): %s", status, why)
    return Response(status_code=status)


class WithoutBodies(logging.Filter):
    """Bolt writes request bodies into a few lines (a failed signature at INFO, a request
    no middleware answered): keep the line, drop the body."""

    _BODY = re.compile(r"(body: |for the request \(|Unhandled request \()", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        found = self._BODY.search(message)
        if found is not None:
            record.msg = message[: found.end()] + "…not logged)"
            record.args = None
        return True


def bolt_logger() -> logging.Logger:
    """The logger to give Bolt: its parts copy this one's filters."""
    logger = logging.getLogger("lodestar.slack.bolt")
    if not any(isinstance(f, WithoutBodies) for f in logger.filters):
        logger.addFilter(WithoutBodies())
    return logger
