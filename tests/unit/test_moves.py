"""The dispatcher's cursor over release moves: a move is never hidden behind it."""

from __future__ import annotations

import datetime as dt

from db import countdowns, edits, packs, queries
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


async def test_a_removed_countdowns_delivery_ids_are_not_given_to_the_next_one(tmp_path):
    """A post's nonce is made from its deliveries' ids: a new countdown must never get ids already used."""
    async with Store.open(tmp_path / "ids.sqlite3") as store:
        await packs.load_builtin_packs(store, now=NOW)
        async with store.transaction(catalog=False) as conn:
            await conn.execute("INSERT INTO subscriptions (id, guild_id, kind, channel_id, title_id, region, medium, "
                               "milestones, created_by, created_at) SELECT 1, 1, 'channel', 1, id, 'US', "
                               "'theatrical', '1d', 1, 'x' FROM titles LIMIT 1")
            await conn.execute("INSERT INTO deliveries (subscription_id, release_id, milestone, due_at, state) "
                               "SELECT 1, id, '1d@x', 'x', 'sent' FROM releases LIMIT 1")
            used = (await (await conn.execute("SELECT max(id) FROM deliveries")).fetchone())[0]
            await conn.execute("DELETE FROM subscriptions WHERE id = 1")  # its deliveries go with it
            await conn.execute("INSERT INTO subscriptions (id, guild_id, kind, channel_id, title_id, region, medium, "
                               "milestones, created_by, created_at) SELECT 2, 1, 'channel', 1, id, 'US', "
                               "'theatrical', '1d', 1, 'x' FROM titles LIMIT 1")
            cur = await conn.execute("INSERT INTO deliveries (subscription_id, release_id, milestone, due_at, state) "
                                     "SELECT 2, id, '1d@x', 'x', 'pending' FROM releases LIMIT 1")
            assert cur.lastrowid > used
