"""The loopback Discord, driven by a tiny discord.py bot (not the project's bot).

One bot and one loopback for the whole module; tests run in file order and share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from playground.loopback import CommandUnavailable, LoopbackDiscord, Permissions

pytestmark = pytest.mark.asyncio(loop_scope="session")

TITLES = ["ballerina", "balto", "barbarella", "cats", "dune"] + [f"ball{i:02d}" for i in range(40)]


class CounterView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=120)
        self.clicks = 0

    @discord.ui.button(label="Count", custom_id="lb:count", style=discord.ButtonStyle.primary)
    async def count(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.clicks += 1
        await interaction.response.edit_message(content=f"clicked {self.clicks}", view=self)

    @discord.ui.select(
        custom_id="lb:pick",
        options=[
            discord.SelectOption(label="Red", value="red"),
            discord.SelectOption(label="Blue", value="blue"),
        ],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"picked {select.values[0]}", ephemeral=True)


class AskModal(discord.ui.Modal, title="Ask the bot"):
    question = discord.ui.TextInput(label="Question", custom_id="lb:question", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"asked: {self.question.value}", ephemeral=True)


class Record:
    """What the bot saw, for assertions."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.resumed = 0
        self.attachment_bytes: bytes | None = None


def make_bot(record: Record) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1)

    @bot.tree.command(name="release", description="Show a release")
    @app_commands.describe(title="Film title")
    async def release(interaction: discord.Interaction, title: str) -> None:
        await interaction.response.send_message(f"Release: {title}", ephemeral=title == "secret")

    @release.autocomplete("title")
    async def title_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in TITLES if t.startswith(current)][:25]

    @bot.tree.command(name="greedy", description="Autocomplete with too many choices")
    async def greedy(interaction: discord.Interaction, title: str) -> None:
        await interaction.response.send_message(title)

    @greedy.autocomplete("title")
    async def greedy_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in TITLES]  # 45 > 25

    reminders = app_commands.Group(name="reminders", description="Reminders")
    config = app_commands.Group(name="config", description="Reminder settings", parent=reminders)

    @reminders.command(name="add", description="Add a reminder")
    async def reminders_add(
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        role: discord.Role,
        user: discord.Member,
        file: discord.Attachment,
        days: app_commands.Range[int, 1, 30] = 7,
    ) -> None:
        record.attachment_bytes = await file.read()
        await interaction.response.send_message(
            f"{channel.id}|{role.id}|{user.id}|{file.filename}|{days}", ephemeral=True
        )

    @config.command(name="set", description="Set the reminder hour")
    async def config_set(interaction: discord.Interaction, hour: int, loud: bool = False) -> None:
        await interaction.response.send_message(f"hour={hour} loud={loud}")

    bot.tree.add_command(reminders)

    @bot.tree.command(name="panel", description="A message with a button and a select")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("clicked 0", view=CounterView())

    @bot.tree.command(name="slow", description="Defers, then follows up")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await asyncio.sleep(0.2)
        await interaction.followup.send("done after defer")
        await interaction.followup.send("second follow-up")

    @bot.tree.command(name="late", description="Answers after 3.5 s")
    async def late(interaction: discord.Interaction) -> None:
        await asyncio.sleep(3.5)
        await interaction.response.send_message("too late")

    @bot.tree.command(name="twice", description="Acknowledges twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        adapter = discord.webhook.async_.async_context.get()
        await adapter.create_interaction_response(
            interaction.id,
            interaction.token,
            session=interaction._session,
            params=discord.webhook.async_.interaction_response_params(4, {"content": "second"}),
        )

    @bot.tree.command(name="ask", description="Opens a modal")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(AskModal())

    @bot.tree.command(name="setup", description="Admins only")
    @app_commands.default_permissions(manage_guild=True)
    async def setup_cmd(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("configured", ephemeral=True)

    @bot.tree.context_menu(name="Poke")
    async def poke(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(f"poked {member.display_name}")

    @bot.tree.command(name="edit-later", description="Defers, then edits the original")
    async def edit_later(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="edited original")

    @bot.tree.error
    async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        record.errors.append(error)

    @bot.event
    async def on_resumed() -> None:
        record.resumed += 1

    return bot


@dataclass
class Env:
    dc: LoopbackDiscord
    bot: commands.Bot
    record: Record
    guild: object
    general: object
    locked: object
    admin: object
    alice: object
    bob: object


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def env():
    async with LoopbackDiscord() as dc:
        undo = dc.patch_discord()
        guild = dc.add_guild("Wick Fans")
        admin = guild.add_role("Admin", permissions=Permissions.MANAGE_GUILD, mentionable=True)
        general = guild.add_text_channel("general")
        locked = guild.add_text_channel(
            "announcements",
            overwrites=[{"id": guild.bot_role, "type": 0, "allow": 0, "deny": Permissions.SEND_MESSAGES}],
        )
        alice = guild.add_member("alice", roles=[admin])
        bob = guild.add_member("bob")
        record = Record()
        bot = make_bot(record)

        async def setup_hook() -> None:
            target = discord.Object(guild.id)
            bot.tree.copy_global_to(guild=target)
            await bot.tree.sync(guild=target)

        bot.setup_hook = setup_hook
        task = asyncio.create_task(bot.start(dc.token))
        try:
            await dc.wait_until_ready(timeout=10)
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            await dc.wait_for_commands(guild, timeout=10)
            yield Env(dc, bot, record, guild, general, locked, admin, alice, bob)
        finally:
            await bot.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
            undo()


async def fresh_channel(env: Env, name: str):
    """A new channel (its own rate-limit bucket), once the bot has it in its cache."""
    ch = env.guild.add_text_channel(name)
    await env.dc.wait_until(lambda: env.bot.get_channel(ch.id) is not None, 5)
    return ch, channel(env, ch)


def channel(env: Env, ch) -> discord.TextChannel:
    found = env.bot.get_channel(ch.id)
    assert isinstance(found, discord.TextChannel)
    return found


async def test_login_ready_and_guild_cache(env: Env) -> None:
    bot, dc = env.bot, env.dc
    assert bot.user is not None and bot.user.id == dc.bot_user_id
    assert bot.application_id == dc.application_id
    g = bot.get_guild(env.guild.id)
    assert g is not None and g.name == "Wick Fans"
    assert {c.name for c in g.channels} == {"general", "announcements"}
    assert g.get_role(env.admin.id).name == "Admin"
    assert g.me is not None and g.me.id == dc.bot_user_id
    assert not g.me.guild_permissions.administrator
    assert not channel(env, env.locked).permissions_for(g.me).send_messages
    assert [r.path for r in dc.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    # a channel created after READY arrives as CHANNEL_CREATE
    late = env.guild.add_text_channel("late-channel")
    await dc.wait_until(lambda: bot.get_channel(late.id) is not None, 5)
    env.guild.delete_channel(late)
    await dc.wait_until(lambda: bot.get_channel(late.id) is None, 5)


async def test_unauthorized_without_token(env: Env) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(env.dc.base_url + "/users/@me") as resp:
            assert resp.status == 401
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["code"] == 0


async def test_commands_registered(env: Env) -> None:
    cmds = {c["name"]: c for c in env.dc.commands(env.guild)}
    assert {"release", "reminders", "panel", "slow", "late", "greedy", "twice"} <= set(cmds)
    assert all(c["id"].isdigit() and c["version"].isdigit() for c in cmds.values())
    sub = {o["name"]: o for o in cmds["reminders"]["options"]}
    assert sub["add"]["type"] == 1 and sub["config"]["type"] == 2


async def test_command_validation_error(env: Env) -> None:
    bot = env.bot
    bad = app_commands.Command(name="ok", description="fine", callback=_noop)
    bad.name = "Bad Name!"  # bypass discord.py's own check: Discord must reject it
    payload = [bad.to_dict(bot.tree)]
    with pytest.raises(discord.HTTPException) as exc:
        await bot.http.bulk_upsert_guild_commands(env.dc.application_id, env.guild.id, payload)
    assert exc.value.status == 400 and exc.value.code == 50035
    assert "APPLICATION_COMMAND_INVALID_NAME" in str(exc.value) or "invalid" in str(exc.value).lower()
    long_desc = [{"name": "fine", "description": "x" * 101, "type": 1}]
    with pytest.raises(discord.HTTPException) as exc2:
        await bot.http.bulk_upsert_guild_commands(env.dc.application_id, env.guild.id, long_desc)
    assert exc2.value.code == 50035
    # the registered set did not change
    assert "release" in {c["name"] for c in env.dc.commands(env.guild)}


async def _noop(interaction: discord.Interaction) -> None:  # pragma: no cover - never invoked
    pass


async def test_run_command_and_autocomplete(env: Env) -> None:
    dc = env.dc
    r = await dc.run_command(env.guild, env.general, env.alice, "release", {"title": "ballerina"})
    assert r.type == 4 and not r.ephemeral and r.error is None
    assert r.message is not None and r.message.content == "Release: ballerina"
    assert r.message in dc.messages(env.general)
    choices = await dc.autocomplete(
        env.guild, env.general, env.alice, "release", {"title": "barb"}, focused="title"
    )
    assert choices == [{"name": "barbarella", "value": "barbarella"}]
    with pytest.raises(ValueError):
        await dc.run_command(env.guild, env.general, env.alice, "nope", {})
    with pytest.raises(ValueError):
        await dc.run_command(env.guild, env.general, env.alice, "release", {"titel": "x"})


async def test_autocomplete_too_many_choices(env: Env) -> None:
    choices = await env.dc.autocomplete(
        env.guild, env.general, env.alice, "greedy", {"title": ""}, focused="title"
    )
    assert choices == []
    assert choices.error is not None and choices.error["code"] == 50035


async def test_ephemeral_flag(env: Env) -> None:
    r = await env.dc.run_command(env.guild, env.general, env.bob, "release", {"title": "secret"})
    assert r.type == 4 and r.ephemeral and r.message.flags & 64
    assert r.message not in env.dc.messages(env.general)


async def test_subcommand_group_with_resolved_options(env: Env) -> None:
    dc = env.dc
    att = dc.attachment("list.csv", b"title,date\nballerina,2025-06-06\n", content_type="text/csv")
    r = await dc.run_command(
        env.guild,
        env.general,
        env.alice,
        "reminders add",
        {"channel": env.general, "role": env.admin, "user": env.bob, "file": att, "days": 3},
    )
    assert r.error is None, r.error
    assert r.ephemeral
    assert r.message.content == f"{env.general.id}|{env.admin.id}|{env.bob.id}|list.csv|3"
    assert env.record.attachment_bytes == b"title,date\nballerina,2025-06-06\n"
    data = r.payload["data"]
    assert data["options"][0]["type"] == 1
    assert set(data["resolved"]) >= {"channels", "roles", "users", "members", "attachments"}
    assert r.payload["member"]["flags"] == 0 and "permissions" in r.payload["member"]

    r2 = await dc.run_command(
        env.guild, env.general, env.alice, "reminders config set", {"hour": 9, "loud": True}
    )
    assert r2.message.content == "hour=9 loud=True"
    with pytest.raises(ValueError):  # out of the Range the bot registered
        await dc.run_command(
            env.guild,
            env.general,
            env.alice,
            "reminders add",
            {"channel": env.general, "role": env.admin, "user": env.bob, "file": att, "days": 99},
        )


async def test_button_click_edits_message(env: Env) -> None:
    dc = env.dc
    r = await dc.run_command(env.guild, env.general, env.alice, "panel")
    assert r.message.content == "clicked 0"
    assert r.message.custom_ids() == ["lb:count", "lb:pick"]
    r2 = await dc.click(r.message, "lb:count", member=env.bob)
    assert r2.type == 7 and r2.error is None
    assert r.message.content == "clicked 1" and r.message.edited
    r3 = await dc.click(r.message, "lb:count", member=env.alice)
    assert r3.message is r.message and r.message.content == "clicked 2"
    r4 = await dc.select(r.message, "lb:pick", ["blue"], member=env.bob)
    assert r4.type == 4 and r4.ephemeral and r4.message.content == "picked blue"
    with pytest.raises(ValueError):
        await dc.select(r.message, "lb:pick", ["green"], member=env.bob)


async def test_defer_then_followup(env: Env) -> None:
    r = await env.dc.run_command(env.guild, env.general, env.alice, "slow")
    assert r.type == 5 and r.ephemeral
    assert r.message.content == "done after defer" and not r.message.loading
    await r.wait_for_followups(2, timeout=5)
    assert [m.content for m in r.followups] == ["done after defer", "second follow-up"]
    assert r.followups[0] is r.message  # the first follow-up replaces the "thinking" message


async def test_late_response_gets_10062(env: Env) -> None:
    t0 = time.monotonic()
    r = await env.dc.run_command(env.guild, env.general, env.alice, "late")
    assert time.monotonic() - t0 < 6
    assert r.type is None and r.message is None
    assert r.error is not None and r.error["code"] == 10062
    await env.dc.wait_until(lambda: env.record.errors, 5)
    err = env.record.errors[-1]
    assert isinstance(getattr(err, "original", err), discord.NotFound)


async def test_acknowledging_twice_gets_40060(env: Env) -> None:
    r = await env.dc.run_command(env.guild, env.general, env.alice, "twice")
    assert r.type == 4 and r.message.content == "first"
    await env.dc.wait_until(lambda: r.error is not None, 5)
    assert r.error["code"] == 40060


async def test_allowed_mentions_and_pings(env: Env) -> None:
    lb_ch, ch = await fresh_channel(env, "pings")
    text = f"hi <@{env.bob.id}> and <@&{env.admin.id}> @everyone"
    quiet = await ch.send(text, allowed_mentions=discord.AllowedMentions.none())
    loud = await ch.send(text)
    only_role = await ch.send(
        text,
        allowed_mentions=discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(env.admin.id)]
        ),
    )
    embed_only = await ch.send(embed=discord.Embed(description=text))
    by_id = {m.id: m for m in env.dc.messages(lb_ch)}
    assert by_id[quiet.id].pings == set()
    assert by_id[loud.id].pings == {"everyone", f"user:{env.bob.id}", f"role:{env.admin.id}"}
    assert by_id[only_role.id].pings == {f"role:{env.admin.id}"}
    assert by_id[embed_only.id].pings == set()
    assert loud.mention_everyone and [u.id for u in loud.mentions] == [env.bob.id]
    assert quiet.mentions == [] and not quiet.mention_everyone


async def test_missing_send_messages_is_403(env: Env) -> None:
    ch = channel(env, env.locked)
    with pytest.raises(discord.Forbidden) as exc:
        await ch.send("should not post")
    assert exc.value.code == 50013
    assert env.dc.messages(env.locked) == []


async def test_deleted_channel_is_404(env: Env) -> None:
    doomed = env.guild.add_text_channel("doomed")
    await env.dc.wait_until(lambda: env.bot.get_channel(doomed.id) is not None, 5)
    ch = channel(env, doomed)
    await ch.send("before")
    env.guild.delete_channel(doomed)
    with pytest.raises(discord.NotFound) as exc:
        await ch.send("after")
    assert exc.value.code == 10003


async def test_nonce_dedup(env: Env) -> None:
    lb_ch, ch = await fresh_channel(env, "countdowns")
    m1 = await ch.send("countdown: 3 days", nonce="cd-2025-06-06")
    m2 = await ch.send("countdown: 3 days", nonce="cd-2025-06-06")
    assert m1.id == m2.id
    assert len(env.dc.messages(lb_ch)) == 1
    assert env.dc.messages(lb_ch)[-1].nonce == "cd-2025-06-06"
    sent = [r for r in env.dc.requests_to("POST", f"/channels/{lb_ch.id}/messages") if r.json.get("nonce")]
    assert sent[-1].json["enforce_nonce"] is True


async def test_rate_limit_429_then_retry(env: Env) -> None:
    dc = env.dc
    dc.set_rate_limit("message-create", 5, 2.0)  # Discord's is 5 per 5 s; shorter keeps this fast
    spam, _ = await fresh_channel(env, "spam")
    # another client (same token) drains the channel's bucket, so the bot's next send gets a real 429
    url = f"{dc.base_url}/channels/{spam.id}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {dc.token}"}) as s:
        statuses = []
        for i in range(6):
            async with s.post(url, json={"content": f"burst {i}"}) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert resp.headers["Via"] == "1.1 google"
                    body = await resp.json()
                    assert body["global"] is False and body["retry_after"] > 0
                else:
                    assert resp.headers["X-RateLimit-Limit"] == "5"
    assert statuses == [200] * 5 + [429]
    msg = await channel(env, spam).send("after the burst")  # discord.py sleeps retry_after and retries
    assert msg.content == "after the burst"
    got = [r.status for r in dc.requests_to("POST", f"/channels/{spam.id}/messages")]
    assert got[-2:] == [429, 200]
    # injected 429 (with Via) is retried too
    dc.fail_channel(spam, status=429, times=1, retry_after=0.2)
    dc.ratelimiter.reset()
    msg2 = await channel(env, spam).send("after an injected 429")
    assert msg2.content == "after an injected 429"
    dc.clear_faults()
    dc.ratelimiter.overrides.clear()


async def test_gateway_drop_and_resume(env: Env) -> None:
    dc = env.dc
    resumes_before = dc.resume_count
    identifies_before = dc.identify_count
    await dc.drop_gateway(resume=True)
    role = env.guild.add_role("Missed While Away")  # dispatched while the bot is disconnected
    await dc.wait_until(lambda: dc.resume_count > resumes_before and dc.connected, 10)
    g = env.bot.get_guild(env.guild.id)
    await dc.wait_until(lambda: g.get_role(role.id) is not None, 5)  # replayed on RESUME
    assert dc.identify_count == identifies_before
    await dc.wait_until(lambda: env.record.resumed >= 1, 5)
    r = await dc.run_command(env.guild, env.general, env.alice, "release", {"title": "dune"})
    assert r.message.content == "Release: dune"
    # op 7 RECONNECT: the client resumes again
    await dc.reconnect_request()
    await dc.wait_until(lambda: dc.resume_count > resumes_before + 1 and dc.connected, 10)


async def test_invalid_session_reidentifies(env: Env) -> None:
    dc = env.dc
    before = dc.identify_count
    await dc.invalid_session(resumable=False)
    await dc.wait_until(lambda: dc.identify_count > before and dc.connected, 15)
    await dc.wait_until_ready(timeout=10)
    r = await dc.run_command(env.guild, env.general, env.alice, "release", {"title": "cats"})
    assert r.message.content == "Release: cats"


async def test_embed_over_6000_is_400(env: Env) -> None:
    embed = discord.Embed(title="t" * 256, description="d" * 4096)
    for i in range(3):
        embed.add_field(name=f"f{i}", value="v" * 1000)
    with pytest.raises(discord.HTTPException) as exc:
        await channel(env, env.general).send(embed=embed)
    assert exc.value.status == 400 and exc.value.code == 50035
    assert "6000" in str(exc.value)


async def test_openapi_validation_active(env: Env) -> None:
    dc = env.dc
    if not dc.spec_enabled:
        pytest.skip(dc.spec_skip_reason or "no spec")
    assert dc.spec_violations == [], dc.spec_violations
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {dc.token}"}) as s:
        url = f"{dc.base_url}/channels/{env.general.id}/messages"
        async with s.post(url, json={"content": "x", "tts": "yes please"}) as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == 50035
    assert len(dc.spec_violations) == 1 and dc.spec_violations[0].location == "tts"
    dc.spec_violations.clear()


async def test_dm_and_closed_dms(env: Env) -> None:
    dc = env.dc
    bob = env.bot.get_guild(env.guild.id).get_member(env.bob.id) or await env.bot.fetch_user(env.bob.id)
    await bob.send("your reminder")
    assert [m.content for m in dc.dm_messages(env.bob)] == ["your reminder"]
    env.bob.dms_closed = True
    try:
        with pytest.raises(discord.Forbidden) as exc:
            await bob.send("again")
        assert exc.value.code == 50007
    finally:
        env.bob.dms_closed = False


async def test_file_upload_recorded(env: Env) -> None:
    import io

    lb_ch, ch = await fresh_channel(env, "exports")
    await ch.send("export", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), filename="export.csv"))
    msg = env.dc.messages(lb_ch)[-1]
    assert msg.attachments[0].filename == "export.csv" and msg.attachments[0].data == b"a,b\n1,2\n"


async def test_scheduled_events(env: Env) -> None:
    import datetime as dt

    g = env.bot.get_guild(env.guild.id)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    ev = await g.create_scheduled_event(
        name="Ballerina premiere",
        start_time=start,
        end_time=start + dt.timedelta(hours=3),
        entity_type=discord.EntityType.external,
        location="Cinemas",
        privacy_level=discord.PrivacyLevel.guild_only,
    )
    assert [e["name"] for e in env.dc.scheduled_events(env.guild)] == ["Ballerina premiere"]
    await ev.edit(name="Ballerina (2025) premiere")
    assert env.dc.scheduled_events(env.guild)[0]["name"] == "Ballerina (2025) premiere"
    await ev.delete()
    assert env.dc.scheduled_events(env.guild) == []
    assert env.dc.spec_violations == [], env.dc.spec_violations


async def test_modal_context_menu_and_default_permissions(env: Env) -> None:
    dc = env.dc
    r = await dc.run_command(env.guild, env.general, env.bob, "ask")
    assert r.type == 9 and r.modal["title"] == "Ask the bot"
    r2 = await dc.submit_modal(r, {"lb:question": "when is the premiere?"})
    assert r2.type == 4 and r2.ephemeral and r2.message.content == "asked: when is the premiere?"
    r3 = await dc.run_context_menu(env.guild, env.general, env.alice, "Poke", env.bob)
    assert r3.message.content == "poked bob"
    setup = {c["name"]: c for c in dc.commands(env.guild)}["setup"]
    assert setup["default_member_permissions"] == str(Permissions.MANAGE_GUILD)
    with pytest.raises(CommandUnavailable):  # Discord hides the command from bob
        await dc.run_command(env.guild, env.general, env.bob, "setup")
    r4 = await dc.run_command(env.guild, env.general, env.bob, "setup", permission_override=True)
    assert r4.message.content == "configured"
    r5 = await dc.run_command(env.guild, env.general, env.alice, "setup")
    assert r5.payload["member"]["permissions"] == str(env.guild.permissions_for(env.alice, env.general))


async def test_deferred_edit_and_expired_token(env: Env) -> None:
    dc = env.dc
    r = await dc.run_command(env.guild, env.general, env.alice, "edit-later")
    assert r.type == 5 and not r.ephemeral
    assert r.message.content == "edited original" and not r.message.loading
    dc.expire_interaction(r)
    with pytest.raises(discord.HTTPException) as exc:
        await env.bot.http.request(
            discord.http.Route(
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                webhook_id=dc.application_id,
                webhook_token=r.token,
            ),
            json={"content": "too late"},
        )
    assert exc.value.code == 50027
    assert r.error["code"] == 50027


async def test_fault_injection(env: Env) -> None:
    dc = env.dc
    lb_ch, ch = await fresh_channel(env, "faults")
    dc.fail_channel(lb_ch, status=403, code=50013)
    with pytest.raises(discord.Forbidden):
        await ch.send("nope")
    dc.clear_faults()
    dc.fail_channel(lb_ch, status=502, times=1)
    msg = await ch.send("after a 502")  # discord.py retries 5xx itself
    assert msg.content == "after a 502"
    assert [r.status for r in dc.requests_to("POST", f"/channels/{lb_ch.id}/messages")] == [403, 502, 200]
    dc.clear_faults()
    dc.slow("/typing", 0.2)
    t0 = time.monotonic()
    await ch.typing()
    assert time.monotonic() - t0 >= 0.2
    dc.clear_faults()
