"""The token's request schedule: reserved slots, late requests, exempt routes, a store that is away."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from bot.budget import Pacer

API = "https://discord.test/api/v10"


async def test_a_reserved_slot_is_the_one_the_request_goes_out_on(tmp_path):
    pacer = Pacer(50.0, None, api_base=API)
    first = await pacer.reserve()
    second = await pacer.reserve()
    assert abs(second - first - 0.02) < 1e-6
    with pacer.using(second):
        await pacer.before_request(f"{API}/channels/1/messages")
        sent = time.time()
        await pacer.before_request(f"{API}/channels/1/messages")  # a retry in the same call: a fresh slot
    assert second <= sent < second + 0.01
    assert time.time() >= second + 0.02 - 1e-3 and pacer.paced == 2 and pacer.retaken == 0


async def test_a_request_too_late_for_its_slot_takes_a_fresh_one():
    pacer = Pacer(50.0, None, api_base=API)
    slot = await pacer.reserve()
    await asyncio.sleep(0.05)  # the sender was slow: its slot has gone by
    with pacer.using(slot):
        await pacer.before_request(f"{API}/channels/1/messages")
    assert pacer.retaken == 1


async def test_interaction_answers_and_other_hosts_are_not_paced():
    pacer = Pacer(1.0, None, api_base=API)  # one a second: a paced request would show
    began = time.monotonic()
    for url in (f"{API}/interactions/1/token/callback", f"{API}/webhooks/2/token/messages/@original",
                "wss://gateway.discord.test/?v=10", "https://api.themoviedb.org/3/movie/1"):
        await pacer.before_request(url)
    await pacer.before_request(f"{API}/users/@me")
    await pacer.before_request(f"{API}/users/@me")
    assert pacer.paced == 2 and time.monotonic() - began >= 0.95


async def test_the_lead_follows_the_slowest_recent_claim():
    pacer = Pacer(50.0, None)
    pacer.took(0.001)
    assert pacer.lead == 0.02
    pacer.took(0.2)
    assert 0.25 < pacer.lead <= 0.5
    for _ in range(64):
        pacer.took(0.001)
    assert pacer.lead == 0.02  # the slow one has left the window


class _AwayStore:
    def transaction(self, **_: object):
        raise ConnectionRefusedError("the store is away")


async def test_without_the_store_a_process_paces_itself_at_a_quarter_of_the_rate(caplog):
    pacer = Pacer(50.0, _AwayStore(), batch=4)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        slots = [await pacer.reserve() for _ in range(8)]
    gaps = {round(b - a, 4) for a, b in itertools.pairwise(slots)}
    assert gaps == {0.08}
    assert len([r for r in caplog.records if "request slots" in r.message]) == 1  # said once
