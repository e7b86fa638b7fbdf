"""TMDB answers → a data pack: pure, over the loopback TMDB's fixtures (TMDB's documented v3 shapes)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from bot.tmdb.mapping import Bundle, Source, build_pack, franchise_of
from db import validate
from playground.tmdb import load_fixtures

TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def fixtures():
    return load_fixtures()


def collection_pack(fixtures, **changes):
    movies = [copy.deepcopy(fixtures["movies"][i]) for i in (438631, 693134, 1170608)]
    for movie_id, change in changes.items():
        change(next(m for m in movies if m["id"] == int(movie_id.removeprefix("m"))))
    bundle = Bundle(Source("collection", 726871), collection=fixtures["collections"][726871], movies=movies)
    return build_pack(bundle, today=TODAY, franchise=franchise_of(bundle))


def title(pack, slug):
    return next(t for t in pack["titles"] if t["slug"] == slug)


def release(t, region, medium):
    return next(r for r in t["releases"] if (r["region"], r["medium"]) == (region, medium))


def test_a_collection_becomes_a_franchise_of_films_keyed_by_tmdb_ids(fixtures):
    pack = collection_pack(fixtures)
    assert pack["pack"]["slug"] == "tmdb-collection-726871"
    assert pack["franchises"] == [{"slug": "dune", "name": "Dune"}]
    assert [t["slug"] for t in pack["titles"]] == ["tmdb-movie-438631", "tmdb-movie-693134", "tmdb-movie-1170608"]
    dune = title(pack, "tmdb-movie-438631")
    assert (dune["name"], dune["kind"], dune["status"], dune["runtime"]) == ("Dune", "film", "released", 155)
    three = title(pack, "tmdb-movie-1170608")
    assert three["status"] == "post-production" and "runtime" not in three  # TMDB says 0: unknown
    assert pack["sources"]["tmdb-movie-438631"]["detail"].startswith("https://www.themoviedb.org/movie/438631")
    assert {c["source"] for c in dune["cast"] + dune["crew"]} == {"tmdb-movie-438631"}


def test_release_types_become_media_with_premieres_in_the_note(fixtures):
    dune = title(collection_pack(fixtures), "tmdb-movie-438631")
    us = {r["medium"]: r for r in dune["releases"] if r["region"] == "US"}
    assert {m: r["date"] for m, r in us.items()} == {"theatrical": dt.date(2021, 10, 22),
                                                       "digital": dt.date(2021, 10, 22),
                                                       "physical": dt.date(2022, 1, 11)}
    assert us["digital"]["note"] == "HBO Max"
    assert all(r["as_of"] == TODAY and r["source"] == "tmdb-movie-438631" for r in dune["releases"])
    italy = release(dune, "IT", "theatrical")  # the wide release, with the festival premiere noted
    assert italy["date"] == dt.date(2021, 9, 16)
    assert italy["note"] == "Premiere 2021-09-03 (Venice Film Festival)"
    assert release(dune, "GB", "theatrical")["date"] == dt.date(2021, 10, 21)


def test_a_premiere_alone_is_the_theatrical_date_and_says_so(fixtures):
    def premiere_only(movie):
        movie["release_dates"]["results"] = [{"iso_3166_1": "FR", "release_dates": [
            {"type": 1, "release_date": "2027-05-20T00:00:00.000Z", "note": "Cannes"}]}]

    three = title(collection_pack(fixtures, m1170608=premiere_only), "tmdb-movie-1170608")
    [only] = three["releases"]
    assert (only["region"], only["medium"], only["date"], only["note"]) == ("FR", "theatrical",
                                                                          dt.date(2027, 5, 20), "Premiere; Cannes")


def test_a_film_with_no_dates_yet_is_tba(fixtures):
    def undated(movie):
        movie["release_dates"]["results"] = []
        movie["release_date"] = ""

    three = title(collection_pack(fixtures, m1170608=undated), "tmdb-movie-1170608")
    [tba] = three["releases"]
    assert tba["precision"] == "unknown" and "date" not in tba


def test_cast_in_tmdb_order_and_crew_by_department_and_job(fixtures):
    dune = title(collection_pack(fixtures), "tmdb-movie-438631")
    pack = collection_pack(fixtures)
    names = {p["slug"]: p["name"] for p in pack["people"]}
    assert [(names[c["person"]], c["character"], c["billing"]) for c in dune["cast"][:2]] == [
        ("Timothée Chalamet", "Paul Atreides", 1), ("Rebecca Ferguson", "Lady Jessica Atreides", 2)]
    crew = {(names[c["person"]], c["job"]): c["department"] for c in dune["crew"]}
    assert crew[("Denis Villeneuve", "Director")] == "directing"
    assert crew[("Denis Villeneuve", "Screenplay")] == "writing"
    assert crew[("Denis Villeneuve", "Producer")] == "production"
    assert crew[("Hans Zimmer", "Original Music Composer")] == "music"
    assert crew[("Greig Fraser", "Director of Photography")] == "camera"
    # One person, one row, across the films.
    assert sum(1 for p in pack["people"] if p["name"] == "Timothée Chalamet") == 1


def test_where_to_watch_per_region_with_todays_as_of(fixtures):
    dune = title(collection_pack(fixtures), "tmdb-movie-438631")
    us = {(o["provider"], o["kind"]) for o in dune["watch"] if o["region"] == "US"}
    assert ("Max", "stream") in us and ("Apple TV", "rent") in us and ("Apple TV", "buy") in us
    assert all(o["as_of"] == TODAY and "price" not in o for o in dune["watch"])
    assert "JustWatch" in collection_pack(fixtures)["sources"]["tmdb-movie-438631"]["detail"]


def test_a_series_and_each_season_with_episode_air_dates(fixtures):
    bundle = Bundle(Source("tv", 90228), tv=fixtures["tv"][90228],
                    seasons=[fixtures["seasons"][(90228, 1)], fixtures["seasons"][(90228, 2)]])
    pack = build_pack(bundle, today=TODAY, franchise=franchise_of(bundle, "dune"))
    assert [t["slug"] for t in pack["titles"]] == ["tmdb-tv-90228", "tmdb-tv-90228-s1", "tmdb-tv-90228-s2"]
    series, first, second = pack["titles"]
    assert series["kind"] == "series" and series["franchise"] == "dune"
    assert release(series, "US", "tv")["date"] == dt.date(2024, 11, 17)
    assert release(series, "US", "tv")["provider"] == "HBO"
    assert first["name"] == "Dune: Prophecy – Season 1" and first["status"] == "released"
    note = release(first, "US", "tv")["note"]
    assert note.startswith("Episodes 1: 2024-11-17, 2: 2024-11-24") and note.endswith("6: 2024-12-22")
    assert second["status"] == "announced" and release(second, "US", "tv")["precision"] == "unknown"
    assert "Dune: Prophecy Season 2" in second["aliases"]
    creators = {p["slug"] for p in pack["people"]}
    assert any(c["job"] == "Creator" for c in series["crew"]) and len(creators) > 4


def test_tmdb_text_is_cleaned_and_cut_like_a_members(fixtures):
    bundle = Bundle(Source("collection", 990000), collection=fixtures["collections"][990000],
                    movies=[fixtures["movies"][990001]])
    pack = build_pack(bundle, today=TODAY, franchise=franchise_of(bundle))
    [hostile] = pack["titles"]
    assert hostile["name"] == "@everyone **Free Nitro**"  # kept as text; rendering makes it inert
    assert len(hostile["synopsis"]) <= validate.SYNOPSIS_MAX and hostile["synopsis"].endswith("…")
    for text in [hostile["synopsis"], *(p["name"] for p in pack["people"]),
                 *(c.get("character", "") for c in hostile["cast"])]:
        assert validate.clean_text(text) == text  # no control characters, no bidi overrides, no newlines
        assert len(text) <= validate.SYNOPSIS_MAX
    assert all(len(c.get("character", "")) <= validate.NAME_MAX for c in hostile["cast"])
    assert "Mallory @everyone" in {p["name"] for p in pack["people"]}


def test_people_already_in_the_catalog_are_referred_to_not_defined_again(fixtures):
    bundle = Bundle(Source("movie", 438631), movies=[fixtures["movies"][438631]])
    pack = build_pack(bundle, today=TODAY, franchise={"slug": "dune", "name": "Dune"}, define_franchise=False,
                      shared_franchises=frozenset({"dune"}), shared_people=frozenset({"tmdb-person-1190668"}))
    assert pack["franchises"] == []
    assert "tmdb-person-1190668" not in {p["slug"] for p in pack["people"]}
    assert pack["titles"][0]["cast"][0]["person"] == "tmdb-person-1190668"


def test_a_region_listed_twice_is_one_region_with_its_earliest_dates(fixtures):
    def twice(movie):
        movie["release_dates"]["results"] = [
            {"iso_3166_1": "US", "release_dates": [{"type": 3, "release_date": "2026-12-18T00:00:00.000Z"}]},
            {"iso_3166_1": "US", "release_dates": [{"type": 3, "release_date": "2026-12-11T00:00:00.000Z"},
                                                   {"type": 4, "release_date": "not a date"}]},
            {"iso_3166_1": "XX", "release_dates": [{"type": 3, "release_date": "2026-12-01T00:00:00.000Z"}]}]

    three = title(collection_pack(fixtures, m1170608=twice), "tmdb-movie-1170608")
    assert [(r["region"], r["medium"], r["date"]) for r in three["releases"]] == [
        ("US", "theatrical", dt.date(2026, 12, 11))]
