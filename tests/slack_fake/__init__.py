"""Local stand-ins for Slack (Web API, Socket Mode) and builders of signed Slack requests.

Test the Slack adapter through the real slack-bolt and slack_sdk code paths, the way
bolt-python tests itself: the app's ``AsyncWebClient`` talks HTTP to :class:`FakeSlackWebAPI`,
and requests reach the app signed with its signing secret.

    fake_slack = fake_slack_fixture()  # module level: fixture "fake_slack", sets SLACK_API_URL

    @pytest.mark.anyio
    async def test_command(fake_slack: FakeSlackWebAPI) -> None:
        app = AsyncApp(signing_secret="s", client=fake_slack.async_client())
        ...  # register listeners, serve with AsyncSlackRequestHandler under httpx.ASGITransport
        req = payloads.slash_command("/lodestar", "hi", response_url=fake_slack.response_url())
        resp = await http.post("/slack/events", content=req.body, headers=req.headers("s"))
        (posted,) = await fake_slack.wait_for_async("chat.postMessage")
"""

from . import payloads, signing
from .payloads import SlackRequest
from .signing import forged_headers, signed_headers, stale_headers
from .socket_mode import Ack, FakeSocketMode
from .web_api import (
    APP_TOKEN,
    BOT_TOKEN,
    FILE_UPLOAD,
    RESPONSE_URL,
    ApiError,
    ApiRequest,
    Call,
    FakeSlackWebAPI,
    UploadedFile,
    fake_slack_fixture,
)

__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "FILE_UPLOAD",
    "RESPONSE_URL",
    "Ack",
    "ApiError",
    "ApiRequest",
    "Call",
    "FakeSlackWebAPI",
    "FakeSocketMode",
    "SlackRequest",
    "UploadedFile",
    "fake_slack_fixture",
    "forged_headers",
    "payloads",
    "signed_headers",
    "signing",
    "stale_headers",
]
