"""The dispatcher's cursor over release moves: a move is never hidden behind it."""

from __future__ import annotations

import datetime as dt

from db import countdowns, edits, queries
from db.store import Store

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
GUILD = 42


async def move(store: Store, name: str, first: dt.date, second: dt.date) -> None:
    editor = edits.Editor(store, GUILD, 1, NOW)
    slug = await editor.add_title(name=name, kind="film", franchise="Cursor Films")
    title = await queries.get_title(store, slug, GUILD)
    assert title is not None
    await editor.set_release(title, region="US", medium="theatrical", date=first)
    await editor.set_release(title, region="US", medium="theatrical", date=second)


async def test_a_move_after_the_newest_moves_were_deleted_is_still_seen(tmp_path):
    async with Store.open(tmp_path / "moves.sqlite3") as store:
        await move(store, "Gone Film", dt.date(2027, 1, 1), dt.date(2027, 2, 1))
        [seen] = await countdowns.unseen_moves(store)
        await countdowns.mark_moves_seen(store, seen.id)
        # A server removes its own title: its moves go with it (they were the newest).
        title = await queries.get_title(store, "gone-film", GUILD)
        assert title is not None and await edits.Editor(store, GUILD, 1, NOW).remove_title(title) == "deleted"
        await move(store, "Next Film", dt.date(2027, 3, 1), dt.date(2027, 4, 1))
        [fresh] = await countdowns.unseen_moves(store)
        assert fresh.id > seen.id and fresh.new.date == dt.date(2027, 4, 1)
