"""A local stand-in for Discord (REST API v10 and the gateway) that drives the real discord.py.

    fake_discord = fake_discord_fixture()  # module level: fixture "fake_discord"

    @pytest.mark.anyio
    async def test_command(fake_discord: FakeDiscord) -> None:
        client = MyBot(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        await client.login(BOT_TOKEN)
        runner = asyncio.create_task(client.connect())
        await client.wait_until_ready()
        fake_discord.dispatch("INTERACTION_CREATE", payloads.slash_command("feedback", "hi"))
        (callback,) = await fake_discord.wait_for_async(INTERACTION_CALLBACK)

See README.md in this directory for the controls.
"""

from . import payloads
from .fake import DEFAULT_APPLICATION_FLAGS, FakeDiscord, fake_discord_fixture, fast_reconnects
from .gateway import Connection, Dispatch, Intent, Op, ReceivedOp, Session
from .mentions import Pings, pings
from .payloads import (
    ALICE_ID,
    APPLICATION_ID,
    BOB_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    Permission,
)
from .rest import Callback
from .routes import ApiError, ApiRequest, Call, UploadedFile
from .state import InteractionRecord

#: Route keys as recorded (and as discord.py's ``Route`` spells them).
CREATE_MESSAGE = "POST /channels/{channel_id}/messages"
EDIT_MESSAGE = "PATCH /channels/{channel_id}/messages/{message_id}"
OPEN_DM = "POST /users/@me/channels"
ADD_REACTION = "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
INTERACTION_CALLBACK = "POST /interactions/{webhook_id}/{webhook_token}/callback"
FOLLOWUP = "POST /webhooks/{webhook_id}/{webhook_token}"
EDIT_ORIGINAL = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
SYNC_GLOBAL_COMMANDS = "PUT /applications/{application_id}/commands"
SYNC_GUILD_COMMANDS = "PUT /applications/{application_id}/guilds/{guild_id}/commands"

__all__ = [
    "ADD_REACTION",
    "ALICE_ID",
    "APPLICATION_ID",
    "BOB_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "CREATE_MESSAGE",
    "DEFAULT_APPLICATION_FLAGS",
    "EDIT_MESSAGE",
    "EDIT_ORIGINAL",
    "EPHEMERAL",
    "FOLLOWUP",
    "GUILD_ID",
    "INTERACTION_CALLBACK",
    "OPEN_DM",
    "SYNC_GLOBAL_COMMANDS",
    "SYNC_GUILD_COMMANDS",
    "ApiError",
    "ApiRequest",
    "Call",
    "Callback",
    "Connection",
    "Dispatch",
    "FakeDiscord",
    "Intent",
    "InteractionRecord",
    "Op",
    "Permission",
    "Pings",
    "ReceivedOp",
    "Session",
    "UploadedFile",
    "fake_discord_fixture",
    "fast_reconnects",
    "payloads",
    "pings",
]
