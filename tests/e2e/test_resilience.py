"""The bot keeps answering when its gateway connection drops or Discord asks it to reconnect."""

from __future__ import annotations

import asyncio


async def test_commands_work_after_the_gateway_drops_and_resumes(world):
    resumes = world.dc.resume_count
    await world.dc.drop_gateway(resume=True)
    for _ in range(200):
        await asyncio.sleep(0.05)
        if world.dc.resume_count > resumes and world.dc.connected:
            break
    assert world.dc.resume_count > resumes
    r = await world.run("release", {"title": "ballerina"})
    assert r.error is None and "Ballerina" in r.message.text


async def test_commands_work_after_a_reconnect_request(world):
    resumes = world.dc.resume_count
    await world.dc.reconnect_request()
    for _ in range(200):
        await asyncio.sleep(0.05)
        if world.dc.resume_count > resumes and world.dc.connected:
            break
    r = await world.run("cast", {"title": "jw4"})
    assert r.error is None and "Keanu Reeves" in r.message.text
