"""An overlapping deploy: two real bot processes on one token and one database. Discord sends every event to
both; commands are answered once (the twin's 40060 is ignored quietly), countdowns are dispatched by the
lease holder only, and when it is killed the other process takes over within the lease."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal

import pytest

from playground.loopback import LoopbackDiscord
from playground.session import add_demo_server
from tests import stores
from tests.e2e.test_crash import rows, start, subscribe_in_ten_days, until


def make_due(tmp_path, channel_id: int) -> None:
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat(timespec="seconds")
    stores.execute(tmp_path / "bot.sqlite3", "UPDATE deliveries SET due_at = ? WHERE state = 'pending' AND "
                   "subscription_id IN (SELECT id FROM subscriptions WHERE channel_id = ?)", (due, channel_id))


@pytest.mark.asyncio(loop_scope="session")
async def test_two_processes_post_each_countdown_once_and_hand_over(tmp_path):
    async with LoopbackDiscord() as dc:
        server = add_demo_server(dc, "Deploy Fans")
        news, general = server.channels["release-news"], server.general
        first = await start(dc, tmp_path, server.guild.id, "first", MARQUEE_LEASE_SECONDS="2")
        await dc.wait_for_commands(server.guild, timeout=60)
        await dc.wait_until_ready(timeout=60)

        await subscribe_in_ten_days(dc, server, "Deploy Test", [news, general])

        second = await start(dc, tmp_path, server.guild.id, "second", MARQUEE_LEASE_SECONDS="2")
        try:
            await dc.wait_until(lambda: len([s for s in dc.sessions if s.connected]) == 2, timeout=60)
            # Both processes hear the command; the member gets one answer, the twin's 40060 is not an error.
            r = await dc.run_command(server.guild, general, server.member, "release", {"title": "ballerina"})
            assert "Ballerina" in r.message.text
            assert {e["code"] for e in r.errors} <= {40060}  # at most the twin's "already answered"
            await asyncio.sleep(0.5)
            callbacks = [q for q in dc.requests_to("POST", f"/interactions/{r.payload['id']}/")]
            assert sorted(q.status for q in callbacks) == [200, 400]

            # Due now: only the lease holder posts it.
            make_due(tmp_path, news.id)
            await until(lambda: rows(tmp_path, "SELECT 1 FROM deliveries d JOIN subscriptions s ON s.id = "
                                               "d.subscription_id WHERE s.channel_id = ? AND d.state = 'sent'",
                                     (news.id,)), seconds=30)
            await asyncio.sleep(1.0)
            assert len(dc.messages(news, include_interactions=False)) == 1

            # The holder dies without a word; the other takes over within the lease and posts the next one.
            first.send_signal(signal.SIGKILL)
            await asyncio.wait_for(first.wait(), 30)
            make_due(tmp_path, general.id)
            [post] = await dc.wait_for_messages(general, 1, timeout=30, include_interactions=False)
            assert "Deploy Test" in post.content
            await asyncio.sleep(1.0)
            assert len(dc.messages(general, include_interactions=False)) == 1
            assert len(dc.messages(news, include_interactions=False)) == 1
        finally:
            for process in (first, second):
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 30)
        log = (tmp_path / "second.log").read_text()
        assert "Traceback" not in log and "40060" not in log
        assert "now dispatches countdowns" in log


@pytest.mark.asyncio(loop_scope="session")
async def test_a_restart_during_a_discord_outage_waits_for_the_server_then_posts_once(tmp_path):
    async with LoopbackDiscord() as dc:
        server = add_demo_server(dc, "Outage Fans")
        news = server.channels["release-news"]
        first = await start(dc, tmp_path, server.guild.id, "first")
        await dc.wait_for_commands(server.guild, timeout=60)
        await dc.wait_until_ready(timeout=60)
        await subscribe_in_ten_days(dc, server, "Outage Test", [news])
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.wait(), 30)

        # Discord has an outage; the bot restarts into it with its post due.
        dc.start_outage(server.guild)
        make_due(tmp_path, news.id)
        second = await start(dc, tmp_path, server.guild.id, "second")
        try:
            await until(lambda: "now dispatches countdowns" in (tmp_path / "second.log").read_text(), seconds=60)
            await asyncio.sleep(2.0)
            assert dc.messages(news, include_interactions=False) == []  # unknown, not gone: it waits
            assert rows(tmp_path, "SELECT paused_reason FROM subscriptions") == [(None,)]
            dc.end_outage(server.guild)
            [post] = await dc.wait_for_messages(news, 1, timeout=30, include_interactions=False)
            assert "**3 days** until **Outage Test**" in post.content
            await asyncio.sleep(1.0)
            assert len(dc.messages(news, include_interactions=False)) == 1
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 30)
