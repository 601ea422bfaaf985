"""Self-tests of the Discord stand-in, driven by the real discord.py client (no adapter yet)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import time
import urllib.request
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.http import Route

from tests.discord_fake import (
    ALICE_ID,
    APPLICATION_ID,
    BOB_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    CREATE_MESSAGE,
    EPHEMERAL,
    FOLLOWUP,
    GUILD_ID,
    INTERACTION_CALLBACK,
    OPEN_DM,
    SYNC_GLOBAL_COMMANDS,
    SYNC_GUILD_COMMANDS,
    FakeDiscord,
    Intent,
    Op,
    Permission,
    fake_discord_fixture,
    payloads,
)
from tests.discord_fake.gateway import _encoder

fake = fake_discord_fixture("fake")
sharded_fake = fake_discord_fixture("sharded_fake", shards=2, default_guild=False)
tight_fake = fake_discord_fixture("tight_fake", bucket_limit=2, bucket_window=0.25)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingClient(discord.Client):
    """A plain discord.Client that queues the events the tests wait for."""

    def __init__(self, intents: discord.Intents | None = None, **options: Any) -> None:
        super().__init__(
            intents=intents or discord.Intents.default(), guild_ready_timeout=0.05, **options
        )
        self.queues: defaultdict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        return await asyncio.wait_for(self.queues[event].get(), timeout)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.queues["interaction"].put_nowait(interaction)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        self.queues["raw_reaction_add"].put_nowait(event)

    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        self.queues["raw_reaction_remove"].put_nowait(event)

    async def on_message(self, message: discord.Message) -> None:
        self.queues["message"].put_nowait(message)

    async def on_resumed(self) -> None:
        self.queues["resumed"].put_nowait(True)


@contextlib.asynccontextmanager
async def connected(client: discord.Client) -> AsyncIterator[discord.Client]:
    """Run `client` against the fake until it is ready; close it afterwards."""
    runner = asyncio.create_task(client.start(BOT_TOKEN))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({runner, ready}, timeout=5, return_when="FIRST_COMPLETED")
        if runner in done:
            runner.result()  # raises what stopped the client
        assert ready in done, "client not ready within 5 s"
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, 5)


async def general(client: discord.Client) -> discord.TextChannel:
    channel = client.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    return channel


def test_a_blocking_wait_cannot_deadlock_with_the_server(fake: FakeDiscord) -> None:
    """A blocking wait evaluates its predicate holding the notifier; the server must never
    wake waiters while holding the fake's lock, which that predicate may need."""
    in_predicate, release = threading.Event(), threading.Event()

    def where(call: Any) -> bool:
        in_predicate.set()
        release.wait(3)  # keep the notifier while the server answers a request
        return bool(fake.calls)  # needs the fake's lock

    def post_message() -> None:
        request = urllib.request.Request(
            f"{fake.api_url}/channels/{CHANNEL_ID}/messages",
            data=json.dumps({"content": "hi"}).encode(),
            headers={"Authorization": f"Bot {BOT_TOKEN}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).read()

    post_message()
    waiter = threading.Thread(
        target=lambda: fake.wait_for("*", count=2, where=where, timeout=10), daemon=True
    )
    waiter.start()
    assert in_predicate.wait(5)
    poster = threading.Thread(target=post_message, daemon=True)
    poster.start()
    time.sleep(0.3)  # the server now holds the lock and echoes the message
    release.set()

    poster.join(5)
    waiter.join(5)
    assert not poster.is_alive() and not waiter.is_alive()
    assert len(fake.messages_in(CHANNEL_ID)) == 2


class FeedbackBot(discord.Client):
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Logged #1", ephemeral=True)


@pytest.mark.anyio
async def test_readme_example(fake: FakeDiscord) -> None:
    client = FeedbackBot(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    await client.login(BOT_TOKEN)
    runner = asyncio.create_task(client.connect())
    await client.wait_until_ready()

    payload = payloads.slash_command("feedback", "dark mode please")
    fake.dispatch("INTERACTION_CREATE", payload)
    (reply,) = await fake.wait_for_async(INTERACTION_CALLBACK)

    assert reply.body["type"] == 4 and reply.ephemeral
    assert fake.interaction_responses(payload["id"]) == [reply]
    assert not fake.identifies[0]["intents"] & Intent.GUILD_MEMBERS
    await client.close()
    await runner


# --- gateway ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_connect_ready_and_guild_create_over_zlib_stream(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        guild = client.get_guild(GUILD_ID)

        assert guild is not None and guild.name == "Lodestar Test"
        assert guild.member_count == 3 and guild.owner_id == ALICE_ID
        assert [c.name for c in guild.text_channels] == ["general"]
        assert {r.name for r in guild.roles} == {"@everyone", "Product"}
        assert guild.me is not None and guild.me.id == BOT_USER_ID
        assert client.user is not None and client.user.id == BOT_USER_ID
        assert client.application_id == APPLICATION_ID
        (identify,) = fake.identifies
        assert identify["token"] == BOT_TOKEN
        assert not identify["intents"] & Intent.GUILD_MEMBERS
        assert identify["intents"] & Intent.GUILDS
        (connection,) = fake.connections
        assert connection.compress == "zlib-stream" and connection.frames_sent >= 3
        assert [c.key for c in fake.calls] == [
            "GET /users/@me",
            "GET /oauth2/applications/@me",
        ]


def test_zlib_stream_frames_end_in_sync_flush_and_share_one_context() -> None:
    encode = _encoder("zlib-stream")
    assert encode is not None
    first, second = encode('{"op":10}'), encode('{"op":11}')
    assert isinstance(first, bytes) and isinstance(second, bytes)
    assert first.endswith(b"\x00\x00\xff\xff") and second.endswith(b"\x00\x00\xff\xff")
    inflate = zlib.decompressobj()
    assert inflate.decompress(first) == b'{"op":10}'
    assert inflate.decompress(second) == b'{"op":11}'  # fails unless the stream is shared


@pytest.mark.anyio
async def test_heartbeats_are_acknowledged(fake: FakeDiscord) -> None:
    fake.heartbeat_interval = 0.05
    async with connected(RecordingClient()) as client:
        await fake.wait_for_op_async(Op.HEARTBEAT, count=3)
        await asyncio.sleep(0.01)
        assert client.latency < 1.0


@pytest.mark.anyio
async def test_dropped_connection_resumes_and_replays_what_was_missed(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        message = fake.add_message(payloads.message("spotted while away", author=payloads.bob()))

        assert fake.drop_connection() == 1
        (missed,) = fake.dispatch("MESSAGE_REACTION_ADD", payloads.reaction_add(message))
        await fake.wait_resumed_async()
        await client.next("resumed")
        event = await client.next("raw_reaction_add")

        (resume,) = fake.ops_received(Op.RESUME)
        assert resume.d["session_id"] == fake.sessions[0].session_id
        assert resume.d["seq"] < missed.seq  # so the event came from the replay
        assert event.message_id == int(message["id"])
        assert len(fake.identifies) == 1
        assert [c.path for c in fake.connections] == ["/", "/resume"]
        assert fake.connections[0].close_code == 4000

        (after,) = fake.dispatch("MESSAGE_REACTION_REMOVE", payloads.reaction_remove(message))
        assert (await client.next("raw_reaction_remove")).message_id == int(message["id"])
        assert after.seq > missed.seq


@pytest.mark.anyio
async def test_invalid_session_makes_the_client_identify_again(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()):
        fake.invalidate_session()
        await fake.wait_ready_async(count=2)
        assert len(fake.identifies) == 2
        assert not fake.ops_received(Op.RESUME)


@pytest.mark.anyio
async def test_auto_sharded_client_gets_each_shard_its_own_guilds(
    sharded_fake: FakeDiscord,
) -> None:
    guilds = {
        shard: [
            sharded_fake.add_guild(
                guild_id=payloads.guild_id_for_shard(shard, 2), name=f"g{shard}{i}"
            )["id"]
            for i in range(2)
        ]
        for shard in (0, 1)
    }
    client = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with connected(client):
        assert sharded_fake.calls_to("GET /gateway/bot")
        assert sorted(i["shard"] for i in sharded_fake.identifies) == [[0, 2], [1, 2]]
        for shard, ids in guilds.items():
            sent = [
                d.data["id"]
                for d in sharded_fake.dispatched
                if d.event == "GUILD_CREATE" and d.shard == shard
            ]
            assert sent == ids
            for gid in ids:
                cached = client.get_guild(int(gid))
                assert cached is not None and cached.shard_id == shard
        (routed,) = sharded_fake.dispatch(
            "MESSAGE_REACTION_ADD",
            payloads.reaction_add(channel_id=1, message_id=2, guild_id=guilds[1][0]),
        )
        assert routed.shard == 1


@pytest.mark.anyio
async def test_dispatch_honours_intents_like_discord(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.reactions = False
    async with connected(RecordingClient(intents)) as client:
        message = payloads.message("hi", author=payloads.bob())
        assert fake.dispatch("MESSAGE_REACTION_ADD", payloads.reaction_add(message)) == []

        fake.dispatch("MESSAGE_CREATE", payloads.message_create("secret", author=payloads.bob()))
        mention = f"<@{BOT_USER_ID}> help"
        fake.dispatch(
            "MESSAGE_CREATE",
            payloads.message_create(mention, author=payloads.bob(), mentions=[payloads.bot_user()]),
        )

        plain, addressed = await client.next("message"), await client.next("message")
        assert plain.content == ""  # no MESSAGE_CONTENT intent
        assert addressed.content == mention


# --- interactions -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_slash_command_ephemeral_reply_and_double_ack(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        payload = payloads.slash_command(
            "feedback", "dark mode please", permissions=Permission.MANAGER
        )
        fake.dispatch("INTERACTION_CREATE", payload)
        interaction = await client.next("interaction")

        assert interaction.type is discord.InteractionType.application_command
        assert interaction.data is not None and interaction.data["name"] == "feedback"
        assert interaction.data["options"] == [
            {"name": "text", "type": 3, "value": "dark mode please"}
        ]
        assert interaction.user.id == ALICE_ID and interaction.guild_id == GUILD_ID
        assert interaction.channel is not None and interaction.channel.id == CHANNEL_ID
        assert interaction.permissions.manage_guild
        assert interaction.app_permissions.send_messages
        await interaction.response.send_message("Noted.", ephemeral=True)

        (callback,) = fake.calls_to(INTERACTION_CALLBACK)
        assert callback.body["type"] == 4 and callback.ephemeral
        assert callback.body["data"]["content"] == "Noted."
        record = fake.interaction(payload["id"])
        assert record.response_type == 4
        assert record.original_id is not None
        original = fake.message(record.original_id)
        assert original is not None and original["flags"] & EPHEMERAL
        assert fake.messages_in(CHANNEL_ID) == []  # ephemeral: nobody's history

        url = f"{fake.api_url}/interactions/{payload['id']}/{payload['token']}/callback"
        async with aiohttp.ClientSession() as http:
            again = await http.post(url, json={"type": 4, "data": {"content": "twice"}})
            assert again.status == 400
            assert (await again.json())["code"] == 40060


@pytest.mark.anyio
async def test_defer_then_followups_and_edit(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        payload = payloads.slash_command("nsm")
        fake.dispatch("INTERACTION_CREATE", payload)
        interaction = await client.next("interaction")

        await interaction.response.defer(thinking=True)
        first = await interaction.followup.send("NSM: 42", wait=True)
        second = await interaction.followup.send("and rising", wait=True)
        await interaction.edit_original_response(content="NSM: 43")

        record = fake.interaction(payload["id"])
        assert [c.key for c in fake.interaction_responses(payload["id"])] == [
            INTERACTION_CALLBACK,
            FOLLOWUP,
            FOLLOWUP,
            "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original",
        ]
        assert fake.calls_to(INTERACTION_CALLBACK)[0].body["type"] == 5
        assert first.id == int(record.original_id or 0)  # replaced the "thinking…" message
        assert record.followup_ids == [str(second.id)]
        assert [m["content"] for m in fake.messages_in(CHANNEL_ID)] == ["NSM: 43", "and rising"]
        assert fake.messages_in(CHANNEL_ID)[0]["flags"] == 0


@pytest.mark.anyio
async def test_slash_command_in_a_dm_is_answered_in_the_dm(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        fake.dispatch("INTERACTION_CREATE", payloads.slash_command("nsm", guild_id=None))
        interaction = await client.next("interaction")

        assert interaction.guild_id is None and interaction.user.id == ALICE_ID
        assert isinstance(interaction.channel, discord.DMChannel)
        await interaction.response.send_message("NSM: 42")
        assert [m["content"] for m in fake.dms_to(ALICE_ID)] == ["NSM: 42"]


@pytest.mark.anyio
async def test_button_click_updates_the_card(fake: FakeDiscord) -> None:
    clicked: asyncio.Queue[discord.Interaction] = asyncio.Queue()

    async def vote(interaction: discord.Interaction) -> None:
        clicked.put_nowait(interaction)
        await interaction.response.edit_message(content="Votes: 1")

    async with connected(RecordingClient()) as client:
        view = discord.ui.View(timeout=None)
        button = discord.ui.Button(label="Vote", custom_id="vote:1")
        button.callback = vote  # type: ignore[method-assign]
        view.add_item(button)
        card = await (await general(client)).send("Feedback #1: dark mode", view=view)

        stored = fake.message(card.id)
        assert stored is not None
        assert stored["components"][0]["components"][0]["custom_id"] == "vote:1"
        fake.dispatch("INTERACTION_CREATE", payloads.button_click("vote:1", stored))
        interaction = await asyncio.wait_for(clicked.get(), 5)

        assert interaction.message is not None and interaction.message.id == card.id
        await fake.wait_for_async(INTERACTION_CALLBACK)
        assert fake.last(INTERACTION_CALLBACK).body["type"] == 7
        assert fake.messages_in(CHANNEL_ID)[-1]["content"] == "Votes: 1"


class FeedbackModal(discord.ui.Modal, title="Log as feedback"):
    note = discord.ui.TextInput(label="Note", required=False)


@pytest.mark.anyio
async def test_message_context_menu_opens_a_modal(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        target = fake.add_message(payloads.message("exports are slow", author=payloads.bob()))
        fake.dispatch("INTERACTION_CREATE", payloads.message_command(target))
        interaction = await client.next("interaction")

        assert interaction.data is not None and interaction.data["type"] == 3
        assert interaction.data["name"] == "Log as feedback"
        assert interaction.data["target_id"] == target["id"]
        resolved = interaction.data["resolved"]["messages"][target["id"]]  # type: ignore[typeddict-item]
        assert resolved["content"] == "exports are slow"
        await interaction.response.send_modal(FeedbackModal(custom_id="log-feedback"))

        callback = fake.last(INTERACTION_CALLBACK)
        assert callback.body["type"] == 9
        assert callback.body["data"]["custom_id"] == "log-feedback"
        assert callback.body["data"]["title"] == "Log as feedback"


@pytest.mark.anyio
async def test_autocomplete_answers_choices(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        fake.dispatch("INTERACTION_CREATE", payloads.autocomplete("feedback", "dar"))
        interaction = await client.next("interaction")

        assert interaction.type is discord.InteractionType.autocomplete
        assert interaction.data is not None
        assert interaction.data["options"][0] == {  # type: ignore[typeddict-item]
            "name": "text",
            "type": 3,
            "value": "dar",
            "focused": True,
        }
        await interaction.response.autocomplete(
            [app_commands.Choice(name="dark mode", value="dark mode")]
        )

        callback = fake.last(INTERACTION_CALLBACK)
        assert callback.body == {
            "type": 8,
            "data": {"choices": [{"name": "dark mode", "value": "dark mode"}]},
        }


@pytest.mark.anyio
async def test_command_tree_sync_and_invocation(fake: FakeDiscord) -> None:
    client = RecordingClient()
    tree = app_commands.CommandTree(client)

    @tree.command(name="feedback", description="Send feedback")
    async def feedback(interaction: discord.Interaction, text: str | None = None) -> None:
        await interaction.response.send_message(f"got {text}", ephemeral=True)

    @tree.context_menu(name="Log as feedback")
    async def log_as_feedback(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"logged {message.id}", ephemeral=True)

    async with connected(client):
        synced = await tree.sync()
        tree.copy_global_to(guild=discord.Object(GUILD_ID))
        await tree.sync(guild=discord.Object(GUILD_ID))

        assert {c.name for c in synced} == {"feedback", "Log as feedback"}
        assert fake.last(SYNC_GLOBAL_COMMANDS).ok and fake.last(SYNC_GUILD_COMMANDS).ok
        assert {c["name"] for c in fake.commands()} == {"feedback", "Log as feedback"}
        assert {c["name"] for c in fake.commands(GUILD_ID)} == {"feedback", "Log as feedback"}
        command_id = next(c.id for c in synced if c.name == "feedback")

        payload = payloads.slash_command("feedback", "dark mode", command_id=command_id)
        fake.dispatch("INTERACTION_CREATE", payload)
        (reply,) = await fake.wait_for_async(INTERACTION_CALLBACK)
        assert reply.body["data"]["content"] == "got dark mode" and reply.ephemeral

        target = fake.add_message(payloads.message("exports are slow", author=payloads.bob()))
        fake.dispatch("INTERACTION_CREATE", payloads.message_command(target))
        (_, logged) = await fake.wait_for_async(INTERACTION_CALLBACK, count=2)
        assert logged.body["data"]["content"] == f"logged {target['id']}"


# --- reactions, messages, DMs -------------------------------------------------------------


@pytest.mark.anyio
async def test_raw_reactions_on_an_uncached_message(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        message = fake.add_message(payloads.message("ship it", author=payloads.bob()))

        fake.dispatch("MESSAGE_REACTION_ADD", payloads.reaction_add(message, "👍"))
        added = await client.next("raw_reaction_add")
        assert fake.reactions_on(message["id"]) == {"👍": [str(ALICE_ID)]}
        fake.dispatch("MESSAGE_REACTION_REMOVE", payloads.reaction_remove(message, "👍"))
        removed = await client.next("raw_reaction_remove")

        assert added.message_id == removed.message_id == int(message["id"])
        assert added.user_id == ALICE_ID and str(added.emoji) == "👍"
        assert added.member is not None and added.member.id == ALICE_ID
        assert added.message_author_id == BOB_ID and added.guild_id == GUILD_ID
        assert removed.member is None
        assert fake.reactions_on(message["id"]) == {}


@pytest.mark.anyio
async def test_posted_messages_are_stored_echoed_and_reactable(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        posted = await (await general(client)).send("Feedback #7 logged")
        echoed = await client.next("message")
        await posted.add_reaction("✅")

        assert echoed.id == posted.id and echoed.author.id == BOT_USER_ID
        (stored,) = fake.messages_in(CHANNEL_ID)
        assert stored["content"] == "Feedback #7 logged"
        assert fake.reactions_on(posted.id) == {"✅": [str(BOT_USER_ID)]}
        fetched = await (await general(client)).fetch_message(posted.id)
        assert fetched.content == "Feedback #7 logged" and fetched.reactions[0].me

        fake.dispatch("MESSAGE_REACTION_ADD", payloads.reaction_add(stored, "👍"))
        assert (await client.next("raw_reaction_add")).emoji.name == "✅"  # the bot's own
        assert (await client.next("raw_reaction_add")).emoji.name == "👍"


@pytest.mark.anyio
async def test_a_dm_from_a_user_can_be_answered_in_that_dm(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    async with connected(RecordingClient(intents)) as client:
        dm_id = payloads.snowflake()
        fake.dispatch(
            "MESSAGE_CREATE",
            payloads.message_create(
                "is dark mode coming?", author=payloads.bob(), guild_id=None, channel_id=dm_id
            ),
        )
        received = await client.next("message")
        await received.channel.send("It shipped last week.")

        assert received.content == "is dark mode coming?" and received.guild is None
        assert [m["content"] for m in fake.dms_to(BOB_ID)] == [
            "is dark mode coming?",
            "It shipped last week.",
        ]
        with pytest.raises(ValueError, match="add_channel"):
            fake.dispatch("MESSAGE_CREATE", payloads.message_create("hi", channel_id=1))


@pytest.mark.anyio
async def test_deletion_records_the_audit_log_reason_and_is_echoed(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        posted = await (await general(client)).send("typo")
        await client.next("message")
        deleted: asyncio.Queue[discord.RawMessageDeleteEvent] = asyncio.Queue()
        client.on_raw_message_delete = deleted.put  # type: ignore[attr-defined]
        await client.http.delete_message(CHANNEL_ID, posted.id, reason="tidy: typo")

        call = fake.last("DELETE /channels/{channel_id}/messages/{message_id}")
        assert call.reason == "tidy: typo" and call.status == 204
        assert fake.messages_in(CHANNEL_ID) == []
        assert (await asyncio.wait_for(deleted.get(), 5)).message_id == posted.id


@pytest.mark.anyio
async def test_dm_to_a_user_who_blocks_dms_is_forbidden(fake: FakeDiscord) -> None:
    fake.block_dms(BOB_ID)
    async with connected(RecordingClient()) as client:
        bob = await client.fetch_user(BOB_ID)
        with pytest.raises(discord.Forbidden) as refused:
            await bob.send("Your feedback shipped")
        alice = await client.fetch_user(ALICE_ID)
        await alice.send("Your feedback shipped")

        assert refused.value.code == 50007 and refused.value.status == 403
        assert fake.dms_to(BOB_ID) == []
        assert [m["content"] for m in fake.dms_to(ALICE_ID)] == ["Your feedback shipped"]
        assert len(fake.calls_to(OPEN_DM)) == 2


@pytest.mark.anyio
async def test_allowed_mentions_are_recorded(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        await (await general(client)).send(
            f"<@{ALICE_ID}> asked, @everyone see",
            allowed_mentions=discord.AllowedMentions(everyone=False, users=True, roles=False),
        )

        call = fake.last(CREATE_MESSAGE)
        assert call.allowed_mentions == {"parse": ["users"], "replied_user": True}
        pinged = fake.pings(call)
        assert pinged.users == {str(ALICE_ID)} and not pinged.everyone and not pinged.roles


@pytest.mark.anyio
async def test_files_go_multipart_and_are_recorded(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        chart = discord.File(io.BytesIO(b"\x89PNG" + b"0" * 1020), filename="nsm.png")
        data = discord.File(io.BytesIO(b"week,value\n1,42\n"), filename="nsm.csv")
        await (await general(client)).send("This week", files=[chart, data])

        call = fake.last(CREATE_MESSAGE)
        assert call.headers["content-type"].startswith("multipart/form-data")
        assert call.body["content"] == "This week"
        assert [(f.field, f.filename, f.size) for f in call.files] == [
            ("files[0]", "nsm.png", 1024),
            ("files[1]", "nsm.csv", 16),
        ]
        (stored,) = fake.messages_in(CHANNEL_ID)
        assert [(a["filename"], a["size"], a["content_type"]) for a in stored["attachments"]] == [
            ("nsm.png", 1024, "image/png"),
            ("nsm.csv", 16, "text/csv"),
        ]


@pytest.mark.anyio
async def test_too_long_content_is_refused_like_discord(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        with pytest.raises(discord.HTTPException) as refused:
            await (await general(client)).send("x" * 2001)
        assert refused.value.code == 50035 and "2000" in str(refused.value)
        assert fake.messages_in(CHANNEL_ID) == []


# --- rate limits and failures -------------------------------------------------------------


@pytest.mark.anyio
async def test_every_answer_carries_rate_limit_headers(fake: FakeDiscord) -> None:
    me = f"{fake.api_url}/users/@me"
    async with aiohttp.ClientSession() as http:
        bot = {"Authorization": f"Bot {BOT_TOKEN}"}
        first = await http.get(me, headers=bot)
        second = await http.get(me, headers=bot)
        anonymous = await http.get(me)
        gateway = await (await http.get(f"{fake.api_url}/gateway")).json()

    assert first.headers["X-RateLimit-Limit"] == "50"
    assert first.headers["X-RateLimit-Remaining"] == "49"
    assert second.headers["X-RateLimit-Remaining"] == "48"
    assert float(first.headers["X-RateLimit-Reset-After"]) <= 1.0
    assert float(first.headers["X-RateLimit-Reset"]) > time.time()
    assert first.headers["X-RateLimit-Bucket"] == second.headers["X-RateLimit-Bucket"]
    # exactly "application/json", or discord.py reads the body as text
    assert first.headers["Content-Type"] == "application/json"
    assert anonymous.status == 401
    assert gateway == {"url": fake.gateway_url}


@pytest.mark.anyio
async def test_discord_py_waits_for_an_exhausted_bucket_instead_of_hitting_429(
    tight_fake: FakeDiscord,
) -> None:
    async with connected(RecordingClient()) as client:
        channel = await general(client)
        started = time.monotonic()
        for n in range(5):
            await channel.send(f"update {n}")

        assert time.monotonic() - started >= 0.5  # 5 sends, 2 per 0.25 s window
        assert [c.status for c in tight_fake.calls_to(CREATE_MESSAGE)] == [200] * 5
        assert len(tight_fake.messages_in(CHANNEL_ID)) == 5


@pytest.mark.anyio
async def test_429_is_waited_out_and_retried_once(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        fake.fail_next(CREATE_MESSAGE, 429, retry_after=0.2)
        started = time.monotonic()
        await (await general(client)).send("hello")

        assert time.monotonic() - started >= 0.2
        assert [c.status for c in fake.calls_to(CREATE_MESSAGE)] == [429, 200]
        assert fake.calls_to(CREATE_MESSAGE)[0].response["retry_after"] == 0.2
        assert [m["content"] for m in fake.messages_in(CHANNEL_ID)] == ["hello"]


@pytest.mark.anyio
async def test_500_then_success_and_503_is_raised(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        fake.fail_next(CREATE_MESSAGE, 500)
        await (await general(client)).send("once")  # discord.py retries after 1 s
        fake.fail_next(CREATE_MESSAGE, 503)
        with pytest.raises(discord.DiscordServerError):
            await (await general(client)).send("never")

        assert [c.status for c in fake.calls_to(CREATE_MESSAGE)] == [500, 200, 503]
        assert [m["content"] for m in fake.messages_in(CHANNEL_ID)] == ["once"]


@pytest.mark.anyio
async def test_simulated_limits_deliver_each_dm_exactly_once(fake: FakeDiscord) -> None:
    people = [int(fake.add_user(payloads.user(None, f"user{i}"))["id"]) for i in range(8)]
    async with connected(RecordingClient()) as client:
        fake.rate_limit(per_second=10)  # Discord's global limit, scaled down
        fake.rate_limit(CREATE_MESSAGE, per_second=4)  # shared by every channel

        async def notify(user_id: int) -> None:
            dm = await client.create_dm(discord.Object(user_id))
            await dm.send("Your feedback shipped")

        await asyncio.gather(*(notify(u) for u in people))

        assert all(len(fake.dms_to(u)) == 1 for u in people)
        refused = [c for c in fake.calls if c.status == 429]
        scopes = {(c.response["global"], c.route) for c in refused}
        assert (False, "/channels/{channel_id}/messages") in scopes


@pytest.mark.anyio
async def test_rest_reads_of_guild_member_roles_and_history(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        channel = await general(client)
        for text in ("one", "two", "three"):
            await channel.send(text)

        guild = await client.fetch_guild(GUILD_ID, with_counts=True)
        alice = await guild.fetch_member(ALICE_ID)
        roles = await guild.fetch_roles()
        history = [m.content async for m in channel.history(limit=2)]
        fetched = await client.fetch_channel(CHANNEL_ID)

        assert guild.name == "Lodestar Test" and guild.approximate_member_count == 3
        assert [r.name for r in alice.roles] == ["@everyone", "Product"]
        assert {r.name for r in roles} == {"@everyone", "Product"}
        assert history == ["three", "two"]
        assert fetched.id == CHANNEL_ID
        with pytest.raises(discord.NotFound) as missing:
            await guild.fetch_member(12345)
        assert missing.value.code == 10007


@pytest.mark.anyio
async def test_unknown_routes_answer_404_and_are_recorded(fake: FakeDiscord) -> None:
    async with connected(RecordingClient()) as client:
        route = Route("GET", "/guilds/{guild_id}/audit-logs", guild_id=GUILD_ID)
        with pytest.raises(discord.NotFound):
            await client.http.request(route)
        assert fake.last(lambda c: c.status == 404).path == f"/guilds/{GUILD_ID}/audit-logs"

        fake.on("GET /guilds/{guild_id}/audit-logs", {"audit_log_entries": []})
        assert await client.http.request(route) == {"audit_log_entries": []}
