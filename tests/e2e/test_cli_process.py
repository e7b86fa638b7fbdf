"""The real command line, as an operator runs it, against a loopback Discord in this process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from playground.loopback import LoopbackDiscord
from playground.session import add_demo_server, running_bot
from tests import stores

REPO = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture(loop_scope="session")
async def loopback():
    async with LoopbackDiscord() as dc:
        yield dc


def env_for(dc: LoopbackDiscord, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MARQUEE_"))}
    env.update({"DISCORD_TOKEN": dc.token, "DISCORD_API_BASE_URL": dc.base_url,
                "DISCORD_GATEWAY_URL": dc.gateway_url, "MARQUEE_DATABASE": stores.database(tmp_path / "bot.sqlite3"),
                **extra})
    return env


async def marquee(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def drained(process: asyncio.subprocess.Process) -> asyncio.Task:
    """Read the process's output as it comes, so a chatty process never blocks on a full pipe."""
    return asyncio.create_task(process.communicate())


@pytest.mark.asyncio(loop_scope="session")
async def test_marquee_run_serves_commands_and_never_logs_the_token(loopback, tmp_path):
    server = add_demo_server(loopback)
    env = env_for(loopback, tmp_path, MARQUEE_DEV_GUILD=str(server.guild.id), MARQUEE_LOG_LEVEL="DEBUG")
    process = await marquee("run", env=env, cwd=tmp_path)
    output = await drained(process)
    try:
        await loopback.wait_for_commands(server.guild, timeout=60)
        await loopback.wait_until_ready(timeout=60)
        r = await loopback.run_command(server.guild, server.general, server.member, "release",
                                       {"title": "balerina"})
        assert r.error is None and "Ballerina" in r.message.text
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(output, timeout=30)
    log = (out + err).decode()
    assert "loaded data pack john-wick" in log
    assert loopback.token not in log
    assert "Traceback" not in log


@pytest.mark.asyncio(loop_scope="session")
async def test_global_sync_happens_only_when_commands_change(loopback, tmp_path):
    database = tmp_path / "sync.sqlite3"

    def global_puts() -> int:
        return len([r for r in loopback.requests if r.method == "PUT" and r.path.endswith("/commands")
                    and "/guilds/" not in r.path])

    async with running_bot(loopback, database=database):
        pass
    assert global_puts() == 1
    async with running_bot(loopback, database=database):
        pass
    assert global_puts() == 1  # unchanged: no second bulk overwrite
    assert {c["name"] for c in loopback.commands()} >= {"release", "cast", "timeline"}
    # `marquee sync` forces it.
    env = env_for(loopback, tmp_path, MARQUEE_DATABASE=stores.database(database))
    process = await marquee("sync", env=env, cwd=tmp_path)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert "synced" in out.decode()
    assert global_puts() == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_marquee_sync_to_one_guild(loopback, tmp_path):
    server = add_demo_server(loopback, "Sync Test")
    process = await marquee("sync", "--guild", str(server.guild.id), env=env_for(loopback, tmp_path), cwd=tmp_path)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert f"server {server.guild.id}" in out.decode()
    assert "countdown" in {c["name"] for c in loopback.commands(server.guild)}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_refused_token_is_explained(loopback, tmp_path):
    env = env_for(loopback, tmp_path, DISCORD_TOKEN="not.the.right-token")
    process = await marquee("run", env=env, cwd=tmp_path)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "Discord refused DISCORD_TOKEN" in err.decode()
    assert "not.the.right-token" not in (out + err).decode()
