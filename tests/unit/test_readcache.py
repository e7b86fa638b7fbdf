"""ReadCache.remember: an answer's pages made once until the store changes, never kept across a change."""

from __future__ import annotations

from bot import render
from bot.readcache import ReadCache


async def test_pages_are_made_once_until_the_catalog_changes(loaded):
    reads = ReadCache(loaded)
    keanu = await reads.get_person("keanu-reeves", None)
    made = []

    async def pages() -> render.PageList:
        credits = await reads.credits_for_person(keanu, None)
        made.append(len(credits))
        return render.person_pages(keanu, credits, {}, await reads.source_names())

    first = await reads.remember(("person", keanu.id, None), pages)
    again = await reads.remember(("person", keanu.id, None), pages)
    assert again is first and len(made) == 1
    assert "John Wick" in first[0].description
    assert await reads.remember(("person", keanu.id, 1), pages) is not first  # another server: its own pages
    async with loaded.transaction() as conn:  # any catalog change
        await conn.execute("UPDATE people SET bio = ? WHERE slug = ?", ("A new bio.", "keanu-reeves"))
    keanu = await reads.get_person("keanu-reeves", None)
    changed = await reads.remember(("person", keanu.id, None), pages)
    assert changed is not first and changed[0].description.startswith("A new bio.")


async def test_pages_made_while_the_catalog_changed_are_not_kept(loaded):
    reads = ReadCache(loaded)
    calls = 0

    async def pages() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:  # an edit lands while the first answer is being made
            async with loaded.transaction() as conn:
                await conn.execute("UPDATE people SET bio = 'x' WHERE slug = 'keanu-reeves'")
        return f"made {calls}"

    assert await reads.remember(("k",), pages) == "made 1"
    assert await reads.remember(("k",), pages) == "made 2"  # not the one that straddled the change
    assert await reads.remember(("k",), pages) == "made 2"
