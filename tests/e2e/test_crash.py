"""A real bot process is killed with SIGKILL after Discord created its countdown post but before the bot
recorded it. After a restart, the post is not lost and not duplicated."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import pytest

from playground.loopback import LoopbackDiscord
from playground.session import add_demo_server
from tests import stores


def start(dc: LoopbackDiscord, tmp_path: Path, guild_id: int, name: str, **extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MARQUEE_"))}
    env.update({"DISCORD_TOKEN": dc.token, "DISCORD_API_BASE_URL": dc.base_url,
                "DISCORD_GATEWAY_URL": dc.gateway_url, "MARQUEE_DATABASE": stores.database(tmp_path / "bot.sqlite3"),
                "MARQUEE_DEV_GUILD": str(guild_id), "MARQUEE_LOG_LEVEL": "INFO", **extra})
    log = open(tmp_path / f"{name}.log", "wb")
    return asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                          stdout=log, stderr=log)


def rows(tmp_path: Path, sql: str, params=()) -> list[tuple]:
    return stores.rows(tmp_path / "bot.sqlite3", sql, params)


async def until(check, seconds: float = 30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def subscribe_in_ten_days(dc: LoopbackDiscord, server, title: str, channels, milestones: str = "3d") -> None:
    """As the server's admin: a title released in ten days, and countdowns in `channels`."""
    slug = title.lower().replace(" ", "-")
    today = dt.datetime.now(dt.UTC).date()
    steps = [("catalog add-title", {"title": title}),
             ("catalog set-release", {"title": slug, "date": (today + dt.timedelta(days=10)).isoformat(),
                                      "region": "US"})]
    steps += [("reminders add", {"title": slug, "channel": ch, "milestones": milestones}) for ch in channels]
    for command, options in steps:
        r = await dc.run_command(server.guild, server.general, server.admin, command, options)
        assert r.error is None, r.error
        if command == "reminders add":
            assert "will count down" in r.message.text, r.message.text


@pytest.mark.asyncio(loop_scope="session")
async def test_sigkill_between_sending_and_recording_loses_nothing_and_posts_once(tmp_path):
    async with LoopbackDiscord() as dc:
        server = add_demo_server(dc, "Crash Fans")
        news = server.channels["release-news"]

        # 1. A first run: an admin subscribes #release-news to a title due in ten days.
        first = await start(dc, tmp_path, server.guild.id, "first")
        await dc.wait_for_commands(server.guild, timeout=60)
        await dc.wait_until_ready(timeout=60)

        await subscribe_in_ten_days(dc, server, "Crash Test", [news])
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) is not None

        # 2. Time passes while it is down: the delivery is due now.
        due = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).isoformat(timespec="seconds")
        stores.execute(tmp_path / "bot.sqlite3", "UPDATE deliveries SET due_at = ? WHERE state = 'pending'", (due,))

        # 3. A second run posts it, but Discord's answer is held back and the process is killed hard.
        dc.slow(f"/channels/{news.id}/messages", 60, after=True)
        second = await start(dc, tmp_path, server.guild.id, "second")
        await until(lambda: dc.messages(news, include_interactions=False), seconds=60)
        second.send_signal(signal.SIGKILL)
        await asyncio.wait_for(second.wait(), 30)
        [(state, message_id, batch)] = rows(tmp_path, "SELECT state, message_id, batch FROM deliveries")
        assert (state, message_id) == ("claimed", None) and batch  # sent, never recorded
        dc.clear_faults()

        # 4. A third run finishes the job: same nonce, so Discord returns the first message.
        third = await start(dc, tmp_path, server.guild.id, "third")
        try:
            await until(lambda: rows(tmp_path, "SELECT 1 FROM deliveries WHERE state = 'sent'"), seconds=60)
        finally:
            third.send_signal(signal.SIGTERM)
            await asyncio.wait_for(third.wait(), 30)
        posts = dc.messages(news, include_interactions=False)
        assert len(posts) == 1, [p.content for p in posts]
        assert "**3 days** until **Crash Test**" in posts[0].content
        [(state, message_id, _)] = rows(tmp_path, "SELECT state, message_id, batch FROM deliveries")
        assert (state, message_id) == ("sent", posts[0].id)
        attempts = dc.requests_to("POST", f"/channels/{news.id}/messages")
        assert len(attempts) == 2 and attempts[0].json["nonce"] == attempts[1].json["nonce"] == batch
        assert attempts[1].json.get("enforce_nonce") is True
