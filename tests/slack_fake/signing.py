"""Slack request signing (v0 HMAC-SHA256), as Slack signs requests it sends to an app.

See https://api.slack.com/authentication/verifying-requests-from-slack. Bolt rejects a request
whose signature does not match, or whose timestamp is more than 5 minutes old, with 401.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
RETRY_NUM_HEADER = "X-Slack-Retry-Num"
RETRY_REASON_HEADER = "X-Slack-Retry-Reason"

#: Age Bolt still accepts is < 5 minutes; this is comfortably past it.
STALE_AGE_SECONDS = 6 * 60


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def signature(body: str | bytes, secret: str, timestamp: int | str) -> str:
    """Return the `v0=<hex>` signature of `body` sent at `timestamp`."""
    base = b"v0:" + str(timestamp).encode() + b":" + _as_bytes(body)
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(body: str | bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a correctly signed request (timestamp defaults to now)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(body, secret, ts)}


def forged_headers(
    body: str | bytes, secret: str = "not-the-signing-secret", timestamp: int | None = None
) -> dict[str, str]:
    """Headers signed with the wrong secret: a fresh timestamp but a signature Bolt rejects."""
    return signed_headers(body, secret, timestamp)


def stale_headers(
    body: str | bytes, secret: str, age_seconds: int = STALE_AGE_SECONDS
) -> dict[str, str]:
    """Headers correctly signed, but with a timestamp `age_seconds` old (a replayed request)."""
    return signed_headers(body, secret, int(time.time()) - age_seconds)


def retry_headers(retry_num: int, reason: str = "http_timeout") -> dict[str, str]:
    """Headers Slack adds when it re-delivers an Events API request."""
    return {RETRY_NUM_HEADER: str(retry_num), RETRY_REASON_HEADER: reason}
