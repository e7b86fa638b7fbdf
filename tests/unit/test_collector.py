"""The idle collector: young and middle collections run once no interaction is being handled, never before."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot import collector as collector_module
from bot.collector import IdleCollector


async def test_collects_once_the_last_answer_is_done():
    collector = IdleCollector(young_min=1)
    release = [asyncio.Event(), asyncio.Event()]

    async def answer(k: int) -> list[object]:
        collector.answering()
        garbage = [[] for _ in range(50)]  # new container objects, for the young generation
        await release[k].wait()
        return garbage

    tasks = [asyncio.create_task(answer(k)) for k in range(2)]
    await asyncio.sleep(0)
    assert collector.busy == 2
    release[0].set()
    await tasks[0]
    await asyncio.sleep(0)  # the done callbacks have run
    assert collector.busy == 1
    assert collector.collections == [0, 0, 0]  # the other answer is still being handled: nothing collected
    release[1].set()
    await tasks[1]
    await asyncio.sleep(0)
    assert collector.busy == 0
    assert sum(collector.collections) == 1


async def test_a_failed_answer_still_counts_as_done():
    collector = IdleCollector(young_min=1)

    async def answer() -> None:
        collector.answering()
        raise RuntimeError("boom")

    task = asyncio.create_task(answer())
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert collector.busy == 0


def test_runs_the_middle_generation_when_it_is_due():
    collector = IdleCollector(young_min=10**9)
    gc.collect(1)
    assert collector.collect() is None  # too little in the young generation, middle not due
    for _ in range(gc.get_threshold()[1]):
        gc.collect(0)  # each young collection brings the middle one closer, as CPython counts it
    assert collector.collect() == 1
    assert collector.collections == [0, 1, 0]


def test_runs_a_full_collection_when_it_is_due_but_not_more_often_than_full_every():
    now = [1000.0]
    collector = IdleCollector(young_min=10**9, full_every=60.0, clock=lambda: now[0])
    _, middle, old = gc.get_threshold()

    def make_middle_due() -> None:
        for _ in range(middle):
            gc.collect(0)

    gc.collect()
    for _ in range(old):  # enough middle collections for CPython to count a full one as due
        make_middle_due()
        assert collector.collect() == 1
    make_middle_due()
    assert collector.collect() == 1  # due, but the last full collection (at the start) was under 60 s ago
    now[0] += 61
    make_middle_due()
    assert collector.collect() == 2
    assert collector.collections == [0, old + 1, 1]
    assert gc.get_count()[2] == 0  # CPython counts it as its own full collection


async def test_once_installed_answers_run_without_collections_and_the_threshold_comes_back():
    before = gc.get_threshold()
    collector = IdleCollector(young_threshold=before[0] * 10)
    collector.install()
    collector.install()  # a second READY (a reconnect) changes nothing
    try:
        assert gc.get_threshold() == (before[0] * 10, *before[1:])

        async def answer() -> list[object]:
            collector.answering()
            return [[] for _ in range(before[0] * 3)]  # three times what used to set off a collection

        kept = await asyncio.create_task(answer())
        await asyncio.sleep(0)
        assert len(kept) == before[0] * 3
        assert collector.during == [0, 0, 0]  # none started inside the answer...
        assert collector.collections[0] + collector.collections[1] == 1  # ...one ran once it was done
        gc.collect(0)  # not ours, and not while answering: not counted as "during"
        assert collector.during == [0, 0, 0]
    finally:
        collector.uninstall()
        collector.uninstall()
    assert gc.get_threshold() == before


def test_overlapping_collectors_keep_the_highest_threshold_and_put_it_back_after_the_last():
    before = gc.get_threshold()
    low, high = before[0] * 7, before[0] * 11  # above whatever a bot running elsewhere in the suite asked for
    first, second = IdleCollector(young_threshold=low), IdleCollector(young_threshold=high)
    first.install()
    second.install()
    assert gc.get_threshold()[0] == high
    second.uninstall()
    assert gc.get_threshold()[0] == low  # the first still runs
    first.uninstall()
    assert gc.get_threshold() == before


def test_leaves_a_disabled_collector_alone():
    collector = IdleCollector(young_min=0)
    gc.disable()
    try:
        assert collector.collect() is None
    finally:
        gc.enable()
    assert collector.collections == [0, 0, 0]


async def test_outside_a_task_it_does_nothing():
    collector = IdleCollector()
    called = asyncio.Event()
    asyncio.get_running_loop().call_soon(lambda: (collector.answering(), called.set()))  # a callback, no task
    await called.wait()
    assert collector.busy == 0


def test_collection_pauses_for_overlapping_builds_and_resumes_once_at_the_last_end():
    assert gc.isenabled()
    first, second = collector_module.paused(), collector_module.paused()
    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second build is still under way
    second.__exit__(None, None, None)
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_module.paused():
        raise RuntimeError("a failed build")
    assert gc.isenabled()  # a failed build resumes it too


def test_a_pause_leaves_collection_off_when_it_was_off():
    gc.disable()
    try:
        with collector_module.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
