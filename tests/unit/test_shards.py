"""Which servers a process looks after, and the posting schedule the processes share."""

from __future__ import annotations

import asyncio
import time

from bot.budget import Pacer
from bot.shards import ShardScope, shard_of
from db import leases
from db.store import Store


def test_discords_shard_rule():
    guild = 197038439483310086  # (id >> 22) is the snowflake's millisecond timestamp
    assert shard_of(guild, 1) == 0
    assert shard_of(guild, 4) == (guild >> 22) % 4
    assert {shard_of((ms << 22) | 12345, 4) for ms in range(8)} == {0, 1, 2, 3}


def test_a_process_that_runs_every_shard_has_one_lease():
    for scope in (ShardScope.of(None, None), ShardScope.of(4, (0, 1, 2, 3))):
        assert scope.everything and scope.owns(123 << 22)
        assert scope.lease_names() == {leases.DISPATCHER: None}
        assert scope.narrowed({None}) == scope and scope.narrowed(set()) is None


def test_a_range_of_shards_has_a_lease_per_shard_and_owns_only_its_servers():
    scope = ShardScope.of(4, (3, 1))
    assert (scope.count, scope.ids) == (4, (1, 3))
    assert scope.lease_names() == {f"{leases.DISPATCHER}:1/4": 1, f"{leases.DISPATCHER}:3/4": 3}
    assert [scope.owns(ms << 22) for ms in range(4)] == [False, True, False, True]
    assert scope.narrowed({3}) == ShardScope(4, (3,))
    assert scope.narrowed({0, 2}) is None


async def test_processes_share_one_posting_schedule(tmp_path):
    """Two processes' pacers on one store never hand out the same moment: 20 requests at 50/s take 0.4 s
    whoever sends them."""
    path = tmp_path / "pacer.sqlite3"
    async with Store.open(path) as first, Store.open(path) as second:
        pacers = [Pacer(50.0, first), Pacer(50.0, second)]
        starts: list[float] = []

        async def send(pacer: Pacer) -> None:
            for _ in range(10):
                await pacer.wait()
                starts.append(time.time())

        began = time.time()
        await asyncio.gather(*(send(p) for p in pacers))
        # 20 slots 20 ms apart, the first one at once: never faster than the budget, however loaded.
        assert max(starts) - began >= 0.36
        assert len(starts) == 20


async def test_slots_are_taken_in_turn_across_stores(tmp_path):
    path = tmp_path / "slots.sqlite3"
    async with Store.open(path) as first, Store.open(path) as second:
        now = time.time()
        a = await leases.claim_slots(first, 4, 0.02, now)
        b = await leases.claim_slots(second, 4, 0.02, now)
        c = await leases.claim_slots(first, 4, 0.02, now + 10)  # after a quiet spell: from now, not the past
        assert a == now and abs(b - (now + 0.08)) < 1e-9 and c == now + 10
