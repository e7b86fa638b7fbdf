import copy
import datetime as dt

import pytest

from db import packs, queries
from tests.conftest import JOHN_WICK, NOW


def test_john_wick_pack_is_complete(john_wick_pack):
    titles = {t["slug"]: t for t in john_wick_pack["titles"]}
    assert set(titles) == {"john-wick", "john-wick-chapter-2", "john-wick-chapter-3-parabellum",
                           "john-wick-chapter-4", "the-continental", "ballerina", "john-wick-video-game",
                           "john-wick-chapter-5", "john-wick-animated-prequel", "caine-spin-off",
                           "john-wick-under-the-high-table"}
    ballerina = titles["ballerina"]["releases"][0]
    assert (ballerina["region"], ballerina["date"]) == ("US", dt.date(2025, 6, 6))
    assert [h["date"] for h in ballerina["history"]] == [dt.date(2024, 6, 7)]
    [game] = titles["john-wick-video-game"]["releases"]
    assert game["precision"] == "unknown" and "date" not in game  # announced, TBA
    story = sorted((t for t in titles.values() if "story_order" in t), key=lambda t: t["story_order"])
    assert [t["slug"] for t in story] == [
        "the-continental", "john-wick-video-game", "john-wick-animated-prequel", "john-wick",
        "john-wick-chapter-2", "john-wick-chapter-3-parabellum", "ballerina", "john-wick-chapter-4",
        "john-wick-under-the-high-table", "john-wick-chapter-5", "caine-spin-off"]
    every_source = set(john_wick_pack["sources"])
    for title in titles.values():
        assert title["source"] in every_source
        for item in title["releases"] + title["cast"] + title["crew"] + title["watch"]:
            assert item["source"] in every_source


async def test_round_trip_is_exact(loaded, john_wick_pack):
    exported = await packs.export_pack(loaded, "john-wick")
    assert exported == john_wick_pack
    text = packs.dumps_toml(exported)
    assert packs.read_pack_bytes(text.encode(), "x.toml") == john_wick_pack
    as_json = packs.dumps_json(exported)
    assert packs.read_pack_bytes(as_json.encode(), "x.json") == john_wick_pack
    # And the text itself is stable: export, import elsewhere, export again gives the same bytes.
    assert packs.dumps_toml(packs.read_pack_bytes(text.encode())) == text


async def test_loading_twice_changes_nothing(loaded, john_wick_pack):
    before = await loaded.fetchall("SELECT count(*) FROM release_history")
    report = await packs.load_pack(loaded, john_wick_pack, now=NOW)
    assert report.skipped
    report = await packs.load_pack(loaded, john_wick_pack, now=NOW, force=True)
    assert not report.skipped and report.moved == []
    assert await loaded.fetchall("SELECT count(*) FROM release_history") == before
    assert await packs.export_pack(loaded, "john-wick") == john_wick_pack


async def test_newer_version_updates_global_rows_and_keeps_history(loaded, john_wick_pack):
    newer = copy.deepcopy(john_wick_pack)
    newer["pack"]["version"] = john_wick_pack["pack"]["version"] + 1
    ballerina = next(t for t in newer["titles"] if t["slug"] == "ballerina")
    ballerina["releases"][0]["date"] = dt.date(2025, 6, 13)
    newer["titles"] = [t for t in newer["titles"] if t["slug"] != "john-wick-video-game"]
    release_id = (await loaded.fetchone("SELECT r.id FROM releases r JOIN titles t ON t.id = r.title_id "
                                        "WHERE t.slug = 'ballerina' AND r.region = 'US'"))[0]
    # A server's own title must survive the global update untouched.
    async with loaded.transaction() as conn:
        await conn.execute(
            "INSERT INTO titles (guild_id, franchise_id, slug, name, kind, status) SELECT 42, id, 'fan-film', "
            "'Fan Film', 'film', 'announced' FROM franchises WHERE slug = 'john-wick'")
    report = await packs.load_pack(loaded, newer, now=NOW)
    assert [(m.title_slug, m.old.date, m.new.date, m.release_id) for m in report.moved] == [
        ("ballerina", dt.date(2025, 6, 6), dt.date(2025, 6, 13), release_id)]
    title = await queries.get_title(loaded, "ballerina", None)
    [release] = await queries.releases_for_title(loaded, title, None, region="US")
    assert release.id == release_id
    assert [h.value.date for h in release.history] == [dt.date(2024, 6, 7), dt.date(2025, 6, 6),
                                                       dt.date(2025, 6, 13)]
    assert await queries.get_title(loaded, "john-wick-video-game", None) is None
    assert await queries.get_title(loaded, "fan-film", 42) is not None
    assert await queries.get_title(loaded, "fan-film", None) is None


def _bad(pack, path, mutate):
    broken = copy.deepcopy(pack)
    mutate(broken)
    with pytest.raises(packs.PackError) as caught:
        packs.normalise(broken)
    wheres = [p.where for p in caught.value.problems]
    assert path in wheres, wheres
    return caught.value


def test_validation_names_the_place(john_wick_pack):
    def release(p):
        return p["titles"][5]["releases"][0]

    _bad(john_wick_pack, "titles[5].releases[0].date", lambda p: release(p).update(date="2025-02-30"))
    _bad(john_wick_pack, "titles[5].releases[0].region", lambda p: release(p).update(region="XX"))
    _bad(john_wick_pack, "titles[5].releases[0].timezone",
         lambda p: release(p).update(time="19:00", timezone="Mars/Olympus"))
    _bad(john_wick_pack, "titles[5].releases[0].time",
         lambda p: release(p).update(time="25:00", timezone="UTC"))
    _bad(john_wick_pack, "titles[0].cast[0].person", lambda p: p["titles"][0]["cast"][0].update(person="nobody"))
    _bad(john_wick_pack, "titles[0].kind", lambda p: p["titles"][0].update(kind="opera"))
    _bad(john_wick_pack, "titles[0].synopsis", lambda p: p["titles"][0].update(synopsis="x" * 6000))
    _bad(john_wick_pack, "titles[1].slug", lambda p: p["titles"][1].update(slug="john-wick"))
    _bad(john_wick_pack, "titles[0].source", lambda p: p["titles"][0].update(source="rumour-mill"))
    _bad(john_wick_pack, "titles[0].watch[1].price", lambda p: p["titles"][0]["watch"][1].update(price="cheap"))


def test_unreadable_files_are_explained():
    with pytest.raises(packs.PackError, match="not valid TOML"):
        packs.read_pack_bytes(b"[pack\nslug=", "x.toml")
    with pytest.raises(packs.PackError, match="not valid JSON"):
        packs.read_pack_bytes(b"{nope", "x.json")
    with pytest.raises(packs.PackError, match="not UTF-8"):
        packs.read_pack_bytes(b"\xff\xfe", "x.toml")
    with pytest.raises(packs.PackError, match="larger than"):
        packs.read_pack_bytes(b"#" * (packs.MAX_PACK_BYTES + 1), "x.toml")


async def test_a_bad_pack_changes_nothing(loaded, john_wick_pack):
    before = await packs.export_pack(loaded, "john-wick")
    version = john_wick_pack["pack"]["version"]
    text = JOHN_WICK.read_text().replace(f"version = {version}", "version = 99", 1).replace('kind = "game"',
                                                                                          'kind = "toy"')
    with pytest.raises(packs.PackError):
        await packs.load_pack(loaded, packs.read_pack_bytes(text.encode()), now=NOW)
    assert await packs.export_pack(loaded, "john-wick") == before
