"""The shipped John Wick pack says what the facts sheet (revised 2026-12-01) says, and upgrading a
database that holds the first version of the pack gives the answers of a fresh load."""

import copy
import datetime as dt
from pathlib import Path

import pytest

from db import packs, queries
from db.store import Store
from tests.conftest import NOW

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_AS_OF = dt.date(2023, 4, 4)  # the article reports the date Lionsgate announced that day
CHECKED = dt.date(2026, 12, 1)  # the day the public record was checked for this revision

ANNOUNCED = {"john-wick-chapter-5", "john-wick-animated-prequel", "caine-spin-off",
             "john-wick-under-the-high-table", "john-wick-video-game"}


@pytest.fixture(scope="module")
def titles(john_wick_pack):
    return {t["slug"]: t for t in john_wick_pack["titles"]}


def billed(title):
    """(billing order, the rest in file order): person slugs."""
    with_number = sorted((c for c in title["cast"] if "billing" in c), key=lambda c: c["billing"])
    return [c["person"] for c in with_number], [c["person"] for c in title["cast"] if "billing" not in c]


def facts(pack):
    """Every item that names a source and an as_of, with where it is."""
    for t in pack["titles"]:
        for i, release in enumerate(t["releases"]):
            yield f"{t['slug']}.releases[{i}]", release
            for j, past in enumerate(release["history"]):
                yield f"{t['slug']}.releases[{i}].history[{j}]", past
        for i, offer in enumerate(t["watch"]):
            yield f"{t['slug']}.watch[{i}]", offer


# -- the corrections ---------------------------------------------------------------------------------


def test_catalina_sandino_moreno_plays_lena(titles):
    cast = {c["person"]: c for c in titles["ballerina"]["cast"]}
    lena = cast["catalina-sandino-moreno"]
    assert lena["character"] == "Lena"
    assert "Eve's sister" in lena["note"]
    assert lena["source"] == "public-record"  # the character is public record (the casting is the seed's)
    assert cast["sharon-duncan-brewster"]["character"] == "Nogi"
    assert [p for p, c in cast.items() if c.get("character") == "Nogi"] == ["sharon-duncan-brewster"]


@pytest.mark.parametrize(("slug", "billing", "after"), [
    ("john-wick", ["keanu-reeves", "michael-nyqvist", "alfie-allen", "adrianne-palicki", "bridget-moynahan",
                   "dean-winters", "ian-mcshane", "john-leguizamo", "willem-dafoe"], ["lance-reddick"]),
    ("john-wick-chapter-2", ["keanu-reeves", "common", "laurence-fishburne", "riccardo-scamarcio", "ruby-rose",
                             "lance-reddick", "peter-stormare", "bridget-moynahan", "franco-nero",
                             "john-leguizamo", "ian-mcshane"], []),
    ("john-wick-chapter-3-parabellum", ["keanu-reeves", "halle-berry", "ian-mcshane", "laurence-fishburne",
                                        "mark-dacascos", "asia-kate-dillon", "lance-reddick", "anjelica-huston"],
     []),
    ("john-wick-chapter-4", ["keanu-reeves", "donnie-yen", "bill-skarsgard", "laurence-fishburne",
                             "hiroyuki-sanada", "shamier-anderson", "lance-reddick", "rina-sawayama",
                             "scott-adkins", "ian-mcshane"], ["clancy-brown"]),
    ("ballerina", ["ana-de-armas", "anjelica-huston", "gabriel-byrne", "lance-reddick", "catalina-sandino-moreno",
                   "norman-reedus", "ian-mcshane", "keanu-reeves"],
     ["sharon-duncan-brewster", "david-castaneda", "choi-soo-young"]),
])
def test_billing_orders(titles, slug, billing, after):
    title = titles[slug]
    assert billed(title) == (billing, after)
    numbers = [c["billing"] for c in title["cast"] if "billing" in c]
    assert sorted(numbers) == list(range(1, len(numbers) + 1))  # one billed block, no gaps
    # Those after the billed block are written after it, so /cast lists them there either way.
    assert [c["person"] for c in title["cast"]] == billing + after


def test_added_characters(titles):
    def character(slug, person):
        return next(c["character"] for c in titles[slug]["cast"] if c["person"] == person)

    assert character("john-wick", "dean-winters") == "Avi"
    assert character("john-wick-chapter-2", "bridget-moynahan") == "Helen"
    assert character("john-wick-chapter-2", "franco-nero") == "Julius"
    assert character("john-wick-chapter-4", "clancy-brown") == "The Harbinger"
    assert character("ballerina", "david-castaneda") == "Javier"
    assert character("ballerina", "choi-soo-young") == "Katla Park"
    continental = {c["person"]: c.get("character") for c in titles["the-continental"]["cast"]}
    assert continental == {"colin-woodell": "Winston Scott", "mel-gibson": "Cormac", "mishel-prada": "KD",
                           "ben-robson": "Frankie", "hubert-point-du-jour": "Miles", "jessica-allain": "Lou",
                           "ayomide-adegun": "Charon"}


def test_emerald_fennell_is_uncredited_and_shay_hatten_the_credited_writer(titles):
    crew = titles["ballerina"]["crew"]
    [fennell] = [c for c in crew if c["person"] == "emerald-fennell"]
    assert "uncredited" in (fennell["job"] + " " + fennell.get("note", "")).lower()
    assert "assisted" in fennell["note"]  # the article's word
    [hatten] = [c for c in crew if c["person"] == "shay-hatten"]
    assert hatten["job"] == "Writer" and "uncredited" not in (hatten["job"] + hatten.get("note", "")).lower()


def test_the_video_game_is_announced(titles):
    game = titles["john-wick-video-game"]
    assert (game["kind"], game["status"], game["source"]) == ("game", "announced", "public-record")
    for detail in ("Saber Interactive", "PS5", "Xbox Series X/S", "PC", "February 12, 2026",
                   "Keanu Reeves voices John Wick", "years before the films", "talk of a new John Wick video game"):
        assert detail in game["synopsis"], detail
    [release] = game["releases"]
    assert release["precision"] == "unknown" and "date" not in release
    assert (release["source"], release["as_of"]) == ("public-record", CHECKED)
    [talk] = release["history"]  # the article's "talk of a new video game" is its history
    assert (talk["source"], talk["as_of"], talk["precision"]) == ("seed", SEED_AS_OF, "unknown")
    assert "talk of a new" in talk["note"]
    assert [(c["person"], c["character"]) for c in game["cast"]] == [("keanu-reeves", "John Wick")]


def test_chad_stahelskis_bio(john_wick_pack):
    person = next(p for p in john_wick_pack["people"] if p["slug"] == "chad-stahelski")
    assert "all four" not in person["bio"]
    assert "David Leitch co-directed, uncredited" in person["bio"]
    assert "Chapters 2–4" in person["bio"] and "attached to direct John Wick: Chapter 5" in person["bio"]
    assert person["source"] == "public-record"


def test_the_continental_is_public_record_with_its_three_episodes(titles):
    continental = titles["the-continental"]
    assert continental["source"] == "public-record"
    assert "three episodes" in continental["synopsis"] and "1975" in continental["synopsis"]
    assert "September 22, September 29 and October 6, 2023" in continental["synopsis"]
    [release] = continental["releases"]
    assert (release["date"], release["provider"], release["source"]) == (dt.date(2023, 9, 22), "Peacock",
                                                                         "public-record")
    assert "episode 1 on September 22, episode 2 on September 29, episode 3 on October 6, 2023" in release["note"]
    [seed] = release["history"]  # the article: "coming to Peacock, also in 2023"
    assert (seed["precision"], seed["date"].year, seed["source"], seed["as_of"]) == ("year", 2023, "seed",
                                                                                     SEED_AS_OF)
    jobs = {(c["person"], c["job"], c.get("note")) for c in continental["crew"]}
    assert jobs == {("albert-hughes", "Director", "Episodes 1 and 3"),
                    ("charlotte-brandstrom", "Director", "Episode 2"),
                    ("greg-coolidge", "Developer", None), ("kirk-ward", "Developer", None),
                    ("shawn-simmons", "Developer", None)}


# -- dates of checks and sources -----------------------------------------------------------------------


def test_seed_facts_carry_2023_04_04_and_public_record_the_day_checked(john_wick_pack):
    seen = {"seed": 0, "public-record": 0}
    for where, fact in facts(john_wick_pack):
        assert fact["as_of"] != dt.date(2023, 3, 24), where
        seen[fact["source"]] += 1
        if fact["source"] == "seed":
            assert fact["as_of"] == SEED_AS_OF, where
        elif where == "the-continental.watch[0]":  # "as of its 2023-09-22 premiere; not rechecked since"
            assert fact["as_of"] == dt.date(2023, 9, 22) and "not rechecked" in fact["note"]
        else:
            assert fact["as_of"] == CHECKED, where
    assert seen["seed"] > 20 and seen["public-record"] > 10
    detail = john_wick_pack["sources"]["seed"]["detail"]
    assert "as_of 2023-04-04" in detail and "2023-03-24" not in detail


def test_every_source_key_is_defined(john_wick_pack):
    keys = set(john_wick_pack["sources"])
    assert keys == {"seed", "public-record"}
    items = [*john_wick_pack["people"], *john_wick_pack["titles"]]
    for title in john_wick_pack["titles"]:
        items += title["cast"] + title["crew"] + title["watch"] + title["releases"]
        items += [past for release in title["releases"] for past in release["history"]]
    assert all(item["source"] in keys for item in items)


def test_mixed_rows_cite_public_record(titles):
    # The casting is the article's, the character's name is public record.
    for person in ("ana-de-armas", "gabriel-byrne", "catalina-sandino-moreno", "norman-reedus"):
        credit = next(c for c in titles["ballerina"]["cast"] if c["person"] == person)
        assert credit["source"] == "public-record", person
        assert "2023 article" in credit["note"], person
    # Names and characters both in the article: its source.
    for person in ("anjelica-huston", "lance-reddick", "ian-mcshane", "keanu-reeves"):
        credit = next(c for c in titles["ballerina"]["cast"] if c["person"] == person)
        assert credit["source"] == "seed", person
    assert titles["ballerina"]["source"] == "public-record"
    chapter_4 = titles["john-wick-chapter-4"]["releases"]
    assert [(r["medium"], r["source"]) for r in chapter_4] == [
        ("theatrical", "seed"), ("digital", "public-record"), ("physical", "public-record")]


# -- what a fan expects ----------------------------------------------------------------------------------


def test_releases(titles):
    def dates(slug):
        return [(r["region"], r["medium"], r.get("date")) for r in titles[slug]["releases"]]

    assert dates("john-wick-chapter-4") == [("US", "theatrical", dt.date(2023, 3, 24)),
                                            ("US", "digital", dt.date(2023, 5, 23)),
                                            ("US", "physical", dt.date(2023, 6, 13))]
    assert dates("ballerina") == [("US", "theatrical", dt.date(2025, 6, 6)), ("GB", "theatrical", dt.date(2025, 6, 6))]
    first = titles["ballerina"]["releases"][0]["history"]
    assert [(h["date"], h["source"], h["as_of"]) for h in first] == [(dt.date(2024, 6, 7), "seed", SEED_AS_OF)]


def test_announced_titles_are_tba(titles):
    assert {slug for slug, t in titles.items() if t["status"] != "released"} == ANNOUNCED
    for slug in ANNOUNCED:
        title = titles[slug]
        assert title["status"] == "announced"
        [release] = title["releases"]
        assert release["precision"] == "unknown" and "date" not in release, slug
        assert title["source"] == "public-record"
    assert titles["john-wick-under-the-high-table"]["kind"] == "series"


def test_known_people_of_the_announced_titles(titles):
    def credits(slug):
        return {(c["person"], c.get("job") or c.get("character")) for c in titles[slug]["cast"] + titles[slug]["crew"]}

    assert credits("john-wick-chapter-5") == {("keanu-reeves", "John Wick"), ("chad-stahelski", "Director")}
    assert credits("john-wick-animated-prequel") == {("keanu-reeves", "John Wick"), ("shannon-tindle", "Director"),
                                                     ("vanessa-taylor", "Writer")}
    assert credits("caine-spin-off") == {("donnie-yen", "Caine"), ("donnie-yen", "Director")}
    assert credits("john-wick-under-the-high-table") == {("keanu-reeves", "Executive Producer")}


def test_story_order_follows_the_timeline(titles):
    story = sorted(titles.values(), key=lambda t: t["story_order"])
    assert [t["slug"] for t in story] == [
        "the-continental", "john-wick-video-game", "john-wick-animated-prequel", "john-wick",
        "john-wick-chapter-2", "john-wick-chapter-3-parabellum", "ballerina", "john-wick-chapter-4",
        "john-wick-under-the-high-table", "john-wick-chapter-5", "caine-spin-off"]
    assert len({t["story_order"] for t in story}) == len(story)


def test_runtimes(titles):
    assert {slug: t["runtime"] for slug, t in titles.items() if "runtime" in t} == {
        "john-wick": 101, "john-wick-chapter-2": 122, "john-wick-chapter-4": 169, "ballerina": 125}


@pytest.mark.parametrize(("slug", "expected"), [
    ("john-wick", [("chad-stahelski", "Director"), ("david-leitch", "Co-director"), ("derek-kolstad", "Writer"),
                   ("basil-iwanyk", "Producer"), ("david-leitch", "Producer"), ("eva-longoria", "Producer"),
                   ("michael-witherill", "Producer"), ("tyler-bates", "Music"), ("joel-j-richard", "Music")]),
    ("john-wick-chapter-2", [("chad-stahelski", "Director"), ("derek-kolstad", "Writer"),
                             ("basil-iwanyk", "Producer"), ("erica-lee", "Producer")]),
    ("john-wick-chapter-3-parabellum", [
        ("chad-stahelski", "Director"), ("derek-kolstad", "Screenplay"), ("shay-hatten", "Screenplay"),
        ("chris-collins", "Screenplay"), ("marc-abrams", "Screenplay"), ("derek-kolstad", "Story"),
        ("basil-iwanyk", "Producer"), ("erica-lee", "Producer")]),
    ("john-wick-chapter-4", [("chad-stahelski", "Director"), ("shay-hatten", "Writer"), ("michael-finch", "Writer"),
                             ("basil-iwanyk", "Producer"), ("erica-lee", "Producer"), ("chad-stahelski", "Producer"),
                             ("nathan-orloff", "Editor")]),
    ("ballerina", [("len-wiseman", "Director"), ("shay-hatten", "Writer"), ("emerald-fennell", "Writer"),
                   ("chad-stahelski", "Producer"), ("basil-iwanyk", "Producer"), ("erica-lee", "Producer"),
                   ("keanu-reeves", "Executive Producer"), ("romain-lacourbas", "Cinematographer"),
                   ("tyler-bates", "Music"), ("joel-j-richard", "Music")]),
])
def test_crew(titles, slug, expected):
    assert [(c["person"], c["job"]) for c in titles[slug]["crew"]] == expected


def test_david_leitch_co_directed_john_wick_uncredited(titles):
    [leitch] = [c for c in titles["john-wick"]["crew"] if c["job"] == "Co-director"]
    assert (leitch["person"], leitch["department"], leitch["note"]) == ("david-leitch", "directing", "Uncredited")


def test_the_version_is_raised_over_the_first_pack(john_wick_pack):
    first = packs.read_pack_file(FIXTURES / "john-wick-v1.toml")
    assert first["pack"]["version"] == 1
    assert john_wick_pack["pack"]["version"] > first["pack"]["version"]


# -- upgrading a database that holds version 1 ---------------------------------------------------------


async def _answers(store: Store) -> dict:
    """What members are told: every title's releases (with history), credits and offers."""
    out = {}
    for title in await queries.titles(store, None):
        releases = await queries.releases_for_title(store, title, None)
        out[title.slug] = {
            "title": (title.name, title.kind, title.status, title.story_order, title.runtime, title.synopsis,
                      title.aliases, title.source),
            "releases": [(r.region, r.medium, r.provider, r.value, [h.value for h in r.history], r.earlier_values)
                         for r in releases],
            "credits": [(c.person.slug, c.kind, c.character, c.job, c.billing, c.note, c.source)
                        for c in await queries.credits_for_title(store, title, None)],
            "watch": [(o.provider, o.kind, o.price, o.as_of, o.source)
                      for o in await queries.watch_offers(store, title, None)],
        }
    return out


BEFORE = NOW - dt.timedelta(days=400)  # when the database first loaded version 1


def stamp(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


@pytest.fixture
async def upgraded(tmp_path, john_wick_pack):
    """A database that loaded version 1 a while ago, then the shipped pack (as on start-up)."""
    async with Store.open(tmp_path / "upgraded.sqlite3") as store:
        await packs.load_pack(store, packs.read_pack_file(FIXTURES / "john-wick-v1.toml"), now=BEFORE)
        report = await packs.load_pack(store, john_wick_pack, now=NOW)
        assert not report.skipped
        yield store, report


async def test_upgrade_gives_the_answers_of_a_fresh_load(upgraded, loaded, john_wick_pack):
    upgraded, _ = upgraded
    assert await packs.export_pack(upgraded, "john-wick") == john_wick_pack
    assert await packs.export_pack(upgraded, "john-wick") == await packs.export_pack(loaded, "john-wick")
    assert await _answers(upgraded) == await _answers(loaded)
    count = "SELECT count(*) FROM release_history"
    assert (await upgraded.fetchone(count))[0] == (await loaded.fetchone(count))[0]


async def test_upgrade_rewrites_the_packs_history_without_duplicates(upgraded):
    upgraded, _ = upgraded
    # No date twice in one release's history (the video game's two TBA values are its two sources).
    rows = await upgraded.fetchall(
        "SELECT release_id, date, count(*) AS n FROM release_history WHERE date IS NOT NULL "
        "GROUP BY release_id, date HAVING count(*) > 1")
    assert rows == []
    title = await queries.get_title(upgraded, "ballerina", None)
    [us] = await queries.releases_for_title(upgraded, title, None, region="US")
    assert [(h.value.date, h.value.source, h.value.as_of) for h in us.history] == [
        (dt.date(2024, 6, 7), "seed", SEED_AS_OF), (dt.date(2025, 6, 6), "public-record", CHECKED)]
    assert [v.date for v in us.earlier_values] == [dt.date(2024, 6, 7)]  # the moved date is kept
    assert all(h.recorded_by == "pack:john-wick@2" for h in us.history)  # rewritten by this version
    old = await upgraded.fetchone("SELECT count(*) FROM release_history WHERE as_of = '2023-03-24'")
    assert old[0] == 0


async def test_upgrade_records_no_move_for_releases_whose_date_did_not_change(upgraded):
    upgraded, report = upgraded
    assert report.moved == []
    assert await upgraded.fetchall("SELECT * FROM release_moves") == []


async def test_upgrade_keeps_history_rows_recorded_by_others(tmp_path, john_wick_pack):
    async with Store.open(tmp_path / "edited.sqlite3") as store:
        await packs.load_pack(store, packs.read_pack_file(FIXTURES / "john-wick-v1.toml"), now=BEFORE)
        [release_id] = (await store.fetchone(
            "SELECT r.id FROM releases r JOIN titles t ON t.id = r.title_id WHERE t.slug = 'ballerina'"))
        # Someone else moved the date meanwhile (as a moderator's correction records it).
        async with store.transaction() as conn:
            await conn.execute(
                "UPDATE releases SET date = '2025-06-13', source = 'public-record', as_of = '2025-01-01' "
                "WHERE id = ?", (release_id,))
            await conn.execute(
                "INSERT INTO release_history (release_id, date, precision, status, source, as_of, recorded_at, "
                "recorded_by) VALUES (?, '2025-06-13', 'day', 'confirmed', 'public-record', '2025-01-01', "
                "'2025-01-01T00:00:00+00:00', 'user:42')", (release_id,))
        report = await packs.load_pack(store, john_wick_pack, now=NOW)
        rows = await store.fetchall("SELECT date, as_of, recorded_at, recorded_by FROM release_history "
                                    "WHERE release_id = ? ORDER BY id", (release_id,))
        assert [tuple(r) for r in rows] == [
            ("2024-06-07", "2023-04-04", stamp(NOW), "pack:john-wick@2"),  # corrected in place
            ("2025-06-06", "2025-06-06", stamp(BEFORE), "pack:john-wick@1"),  # what members saw then
            ("2025-06-13", "2025-01-01", "2025-01-01T00:00:00+00:00", "user:42"),  # kept as it is
            ("2025-06-06", "2026-12-01", stamp(NOW), "pack:john-wick@2")]  # the current value
        # The pack set the date back: that is a real move.
        assert [(m.old.date, m.new.date) for m in report.moved] == [(dt.date(2025, 6, 13), dt.date(2025, 6, 6))]


async def test_a_value_added_before_the_current_one_keeps_the_history_in_order(loaded, john_wick_pack, tmp_path):
    newer = copy.deepcopy(john_wick_pack)
    newer["pack"]["version"] += 1
    jw1 = next(t for t in newer["titles"] if t["slug"] == "john-wick")
    jw1["releases"][0]["history"] = [{"date": dt.date(2014, 10, 17), "precision": "day", "status": "tentative",
                                      "source": "public-record", "as_of": CHECKED}]
    report = await packs.load_pack(loaded, newer, now=NOW)
    assert report.moved == []
    async with Store.open(tmp_path / "fresh.sqlite3") as fresh:
        await packs.load_pack(fresh, newer, now=NOW)
        assert await packs.export_pack(loaded, "john-wick") == await packs.export_pack(fresh, "john-wick")
        assert await _answers(loaded) == await _answers(fresh)
    # And loading it again changes nothing.
    before = [tuple(r) for r in await loaded.fetchall("SELECT * FROM release_history ORDER BY id")]
    await packs.load_pack(loaded, newer, now=NOW + dt.timedelta(days=1), force=True)
    assert [tuple(r) for r in await loaded.fetchall("SELECT * FROM release_history ORDER BY id")] == before
