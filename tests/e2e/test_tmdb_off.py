"""A bot whose operator set no TMDB token: the TMDB command says how to get one and changes nothing.

(Its own module: the TMDB module runs a second bot, and discord.py's endpoints are process-wide.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_without_a_token_the_command_says_how_to_get_one(world):
    before = await world.bot.store.fetchall("SELECT count(*) AS n FROM titles")
    r = await world.admin("catalog import-tmdb", {"query": "collection:726871"})
    assert r.ephemeral and "TMDB is not set up" in r.message.text and "MARQUEE_TMDB_TOKEN" in r.message.text
    assert await world.bot.store.fetchall("SELECT count(*) AS n FROM titles") == before


async def test_help_carries_tmdbs_attribution(world):
    r = await world.run("help")
    assert "This product uses the TMDB API but is not endorsed or certified by TMDB." in r.message.text
    assert "JustWatch" in r.message.text
