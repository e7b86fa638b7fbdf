"""The operator's TMDB commands as real processes, and the running bot following a date that moves at TMDB."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from playground.loopback import LoopbackDiscord
from playground.session import add_demo_server
from playground.tmdb import LoopbackTMDB
from tests import stores
from tests.e2e.test_crash import start, until

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def tmdb():
    async with LoopbackTMDB(token="operator-read-token") as server:
        yield server


def env_for(tmdb: LoopbackTMDB, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MARQUEE_"))}
    env.update({"MARQUEE_DATABASE": stores.database(tmp_path / "bot.sqlite3"), "MARQUEE_TMDB_TOKEN": tmdb.token,
                "MARQUEE_TMDB_API_URL": tmdb.url, "MARQUEE_LOG_LEVEL": "ERROR", **extra})
    return {k: v for k, v in env.items() if v != ""}


async def marquee(tmdb: LoopbackTMDB, tmp_path: Path, *args: str, **extra: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "db", *args, env=env_for(tmdb, tmp_path, **extra), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


def count(tmp_path: Path, table: str) -> int:
    return stores.rows(tmp_path / "bot.sqlite3", f"SELECT count(*) FROM {table}")[0][0]


async def test_search_import_and_refresh_from_the_command_line(tmdb, tmp_path):
    code, out, err = await marquee(tmdb, tmp_path, "search-tmdb", "dune")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["collection", "726871", "Dune", "Collection"]
    assert any(line.split()[:2] == ["tv", "90228"] for line in lines)
    assert "import-tmdb --collection ID" in lines[-1]

    code, out, err = await marquee(tmdb, tmp_path, "import-tmdb", "--collection", "726871")
    assert code == 0, err
    assert out.startswith("imported TMDB collection 726871 (Dune Collection) as global data in franchise dune: "
                          "3 titles")
    code, out, err = await marquee(tmdb, tmp_path, "import-tmdb", "--tv", "90228", "--franchise", "dune")
    assert code == 0 and "franchise dune: 3 titles" in out, err

    tmdb.set_release(693134, region="GB", type=3, date="2024-03-08")
    code, out, err = await marquee(tmdb, tmp_path, "refresh-tmdb")
    assert code == 0, err
    assert out.splitlines() == ["refreshed 2 TMDB imports",
                                "  release moved: tmdb-movie-693134 GB theatrical: 2024-03-01 -> 2024-03-08"]
    assert tmdb.token not in out + err
    assert all(r.authorization == f"Bearer {tmdb.token}" for r in tmdb.requests)


async def test_bad_input_is_one_line_and_changes_nothing(tmdb, tmp_path):
    code, out, err = await marquee(tmdb, tmp_path, "import-tmdb", "--movie", "4242")
    assert code == 1 and err.strip() == "marquee: movie 4242: not found at TMDB (nothing changed)"
    titles = count(tmp_path, "titles")

    code, out, err = await marquee(tmdb, tmp_path, "import-tmdb", "--movie", "438631",
                                   MARQUEE_TMDB_TOKEN="a-wrong-token")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "MARQUEE_TMDB_TOKEN" in err
    assert "a-wrong-token" not in out + err and "Traceback" not in err

    code, out, err = await marquee(tmdb, tmp_path, "search-tmdb", "dune", MARQUEE_TMDB_TOKEN="")
    assert code == 2 and "MARQUEE_TMDB_TOKEN is not set" in err and "themoviedb.org/settings/api" in err

    tmdb.fail_next(status=503, count=4)
    code, out, err = await marquee(tmdb, tmp_path, "import-tmdb", "--tv", "90228")
    assert code == 1 and "TMDB did not answer" in err and "(nothing changed)" in err

    code, out, err = await marquee(tmdb, tmp_path, "import-tmdb", "--movie", "dune")
    assert code == 2 and "expected a TMDB id" in err
    assert count(tmp_path, "titles") == titles


async def test_the_running_bot_follows_a_date_that_moves_at_tmdb(tmdb, tmp_path):
    """`marquee run` refreshes on its own (every 1.2 s here): the move is posted once, and only once."""
    today = dt.datetime.now(dt.UTC).date()
    tmdb.set_release(1170608, region="US", type=3, date=(today + dt.timedelta(days=20)).isoformat())
    code, _, err = await marquee(tmdb, tmp_path, "import-tmdb", "--collection", "726871")
    assert code == 0, err
    async with LoopbackDiscord() as dc:
        server = add_demo_server(dc, "Dune Fans")
        news = server.channels["release-news"]
        process = await start(dc, tmp_path, server.guild.id, "bot", MARQUEE_TMDB_TOKEN=tmdb.token,
                              MARQUEE_TMDB_API_URL=tmdb.url, MARQUEE_TMDB_REFRESH_MINUTES="0.02")
        try:
            await dc.wait_for_commands(server.guild, timeout=60)
            await dc.wait_until_ready(timeout=60)
            r = await dc.run_command(server.guild, server.general, server.admin, "reminders add",
                                     {"title": "Dune: Part Three", "channel": news, "milestones": "7d"})
            assert "will count down" in r.message.text, r.message.text
            later = today + dt.timedelta(days=40)
            tmdb.set_release(1170608, region="US", type=3, date=later.isoformat())

            def moved():
                return [m for m in dc.messages(news, include_interactions=False) if "has moved" in m.content]

            [post] = await until(moved, 30)
            assert "**Dune: Part Three** has moved" in post.content
            refreshes = tmdb.request_count("/collection/726871")
            await until(lambda: tmdb.request_count("/collection/726871") >= refreshes + 2, 30)
            assert len(moved()) == 1  # later refreshes saw nothing new
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=30)
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log and tmdb.token not in log
    assert "refreshed 1 TMDB imports (0 failed), 1 release dates moved" in log
