"""The loopback TMDB, driven by a plain aiohttp client: auth, errors, appended blocks, faults, search."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import pytest_asyncio

from playground.tmdb import LoopbackTMDB, TMDBRequest, load_fixtures

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "loopback-tmdb-token"
DUNE, PART_TWO, PART_THREE, HOSTILE = 438631, 693134, 1170608, 990001
DUNE_COLLECTION, HOSTILE_COLLECTION, PROPHECY = 726871, 990000, 90228
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest_asyncio.fixture
async def tmdb():
    async with LoopbackTMDB(token=TOKEN) as server:
        yield server


@pytest_asyncio.fixture
async def http():
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def get(http, tmdb, path, **params):
    async with http.get(tmdb.url + path, params=params) as resp:
        return resp.status, await resp.json(), resp.headers


# ------------------------------------------------------------------ auth and errors
async def test_url_and_token(tmdb):
    assert tmdb.url.startswith("http://127.0.0.1:")
    assert tmdb.url.endswith("/3")
    assert tmdb.token == TOKEN


async def test_bearer_token_is_required(tmdb):
    invalid = {
        "success": False,
        "status_code": 7,
        "status_message": "Invalid API key: You must be granted a valid key.",
    }
    async with aiohttp.ClientSession() as anonymous:
        for headers, params in [
            ({}, {}),
            ({"Authorization": "Bearer wrong"}, {}),
            ({"Authorization": TOKEN}, {}),  # no scheme
            ({}, {"api_key": TOKEN}),  # the v3 query key is not accepted
        ]:
            async with anonymous.get(f"{tmdb.url}/movie/{DUNE}", headers=headers, params=params) as resp:
                assert resp.status == 401
                assert await resp.json() == invalid
    assert [r.authorization for r in tmdb.requests] == [None, "Bearer wrong", TOKEN, None]


async def test_unknown_ids_and_paths_are_tmdb_404s(tmdb, http):
    not_found = {
        "success": False,
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
    }
    for path in ["/movie/1", "/movie/dune", "/tv/1", "/collection/1", f"/tv/{PROPHECY}/season/9", "/nope"]:
        status, body, _ = await get(http, tmdb, path)
        assert (path, status, body) == (path, 404, not_found)
    async with http.post(f"{tmdb.url}/movie/{DUNE}") as resp:
        assert resp.status == 404


# ------------------------------------------------------------------ details and append_to_response
async def test_movie_details_carry_only_the_appended_blocks(tmdb, http):
    status, plain, _ = await get(http, tmdb, f"/movie/{DUNE}")
    assert status == 200
    assert plain["title"] == "Dune"
    assert plain["status"] == "Released"
    assert plain["release_date"] == "2021-10-22"
    assert plain["runtime"] == 155
    assert plain["belongs_to_collection"]["id"] == DUNE_COLLECTION
    assert not {"release_dates", "credits", "watch/providers"} & plain.keys()

    _, one, _ = await get(http, tmdb, f"/movie/{DUNE}", append_to_response="release_dates")
    assert "release_dates" in one
    assert not {"credits", "watch/providers"} & one.keys()

    _, full, _ = await get(http, tmdb, f"/movie/{DUNE}", append_to_response="release_dates,credits,watch/providers")
    regions = {r["iso_3166_1"]: r["release_dates"] for r in full["release_dates"]["results"]}
    us = {e["type"]: e for e in regions["US"]}
    assert us[3]["release_date"] == "2021-10-22T00:00:00.000Z"
    assert us[3]["certification"] == "PG-13"
    assert us[4]["note"] == "HBO Max"
    assert us[5]["release_date"].startswith("2022-01-11")
    assert {e["type"]: e["note"] for e in regions["IT"]}[1] == "Venice Film Festival"
    assert regions["GB"][0]["release_date"].startswith("2021-10-21")

    cast = full["credits"]["cast"]
    assert [c["order"] for c in cast] == list(range(len(cast)))
    assert (cast[0]["id"], cast[0]["name"], cast[0]["character"]) == (1190668, "Timothée Chalamet", "Paul Atreides")
    assert {"adult", "gender", "known_for_department", "original_name", "cast_id", "credit_id"} <= cast[0].keys()
    jobs = {(c["name"], c["department"], c["job"]) for c in full["credits"]["crew"]}
    assert ("Denis Villeneuve", "Directing", "Director") in jobs
    assert ("Hans Zimmer", "Sound", "Original Music Composer") in jobs

    us_watch = full["watch/providers"]["results"]["US"]
    assert us_watch["link"] == "https://www.themoviedb.org/movie/438631-dune/watch?locale=US"
    assert [p["provider_id"] for p in us_watch["flatrate"]] == [1899]
    assert {p["provider_name"] for p in us_watch["rent"]} == {"Apple TV", "Amazon Video", "Google Play Movies"}


async def test_unreleased_film_and_slug_ids(tmdb, http):
    _, three, _ = await get(http, tmdb, f"/movie/{PART_THREE}-dune-part-three", append_to_response="watch/providers")
    assert three["id"] == PART_THREE
    assert three["status"] == "Post Production"
    assert three["release_date"] == "2026-12-18"
    assert three["runtime"] == 0
    assert three["watch/providers"] == {"results": {}}
    _, block, _ = await get(http, tmdb, f"/movie/{PART_TWO}/credits")
    assert block["id"] == PART_TWO
    assert [c["name"] for c in block["cast"][:2]] == ["Timothée Chalamet", "Zendaya"]


async def test_tv_details_and_aggregate_credits(tmdb, http):
    _, show, _ = await get(http, tmdb, f"/tv/{PROPHECY}", append_to_response="aggregate_credits")
    assert show["name"] == "Dune: Prophecy"
    assert show["status"] == "Returning Series"
    assert show["first_air_date"] == "2024-11-17"
    assert show["networks"][0]["name"] == "HBO"
    assert [c["name"] for c in show["created_by"]] == ["Diane Ademu-John", "Alison Schapker"]
    assert show["next_episode_to_air"] is None
    assert [(s["season_number"], s["episode_count"], s["air_date"]) for s in show["seasons"]] == [
        (1, 6, "2024-11-17"),
        (2, 0, None),
    ]
    assert "credits" not in show
    assert "watch/providers" not in show
    valya = show["aggregate_credits"]["cast"][0]
    assert valya["name"] == "Emily Watson"
    assert valya["roles"][0]["character"] == "Valya Harkonnen"
    assert valya["total_episode_count"] == 6


async def test_season_endpoint(tmdb, http):
    _, one, _ = await get(http, tmdb, f"/tv/{PROPHECY}/season/1")
    assert one["season_number"] == 1
    assert "_id" in one
    assert [e["air_date"] for e in one["episodes"]] == [
        "2024-11-17",
        "2024-11-24",
        "2024-12-01",
        "2024-12-08",
        "2024-12-15",
        "2024-12-22",
    ]
    assert {e["show_id"] for e in one["episodes"]} == {PROPHECY}
    assert one["episodes"][-1]["episode_type"] == "finale"
    _, two, _ = await get(http, tmdb, f"/tv/{PROPHECY}/season/2")
    assert (two["air_date"], two["episodes"]) == (None, [])


async def test_set_air_date_announces_a_season(tmdb, http):
    tmdb.set_air_date(PROPHECY, season=2, date="2027-02-01")
    _, two, _ = await get(http, tmdb, f"/tv/{PROPHECY}/season/2")
    assert two["air_date"] == "2027-02-01"
    tmdb.set_air_date(PROPHECY, season=2, episode=1, date="2027-02-08")
    _, two, _ = await get(http, tmdb, f"/tv/{PROPHECY}/season/2")
    assert [(e["episode_number"], e["air_date"]) for e in two["episodes"]] == [(1, "2027-02-08")]
    assert two["air_date"] == "2027-02-08"
    _, show, _ = await get(http, tmdb, f"/tv/{PROPHECY}")
    assert show["seasons"][1]["air_date"] == "2027-02-08"
    assert show["seasons"][1]["episode_count"] == 1
    assert show["number_of_episodes"] == 7
    assert show["first_air_date"] == "2024-11-17"
    with pytest.raises(TypeError):
        tmdb.set_air_date(PROPHECY, season=2)


# ------------------------------------------------------------------ mutation
async def test_set_release_changes_the_next_response(tmdb, http):
    tmdb.set_release(PART_THREE, region="US", type=3, date="2027-01-15")
    _, three, _ = await get(http, tmdb, f"/movie/{PART_THREE}", append_to_response="release_dates")
    assert three["release_date"] == "2027-01-15"
    regions = {r["iso_3166_1"]: r["release_dates"] for r in three["release_dates"]["results"]}
    assert [(e["type"], e["release_date"]) for e in regions["US"]] == [(3, "2027-01-15T00:00:00.000Z")]
    assert regions["GB"][0]["release_date"] == "2026-12-18T00:00:00.000Z"
    _, collection, _ = await get(http, tmdb, f"/collection/{DUNE_COLLECTION}")
    assert {p["id"]: p["release_date"] for p in collection["parts"]}[PART_THREE] == "2027-01-15"

    # a GB date does not move the top-level date while a US theatrical date exists ...
    tmdb.set_release(PART_THREE, region="GB", type=3, date="2026-11-01", note="IMAX")
    assert tmdb.movie(PART_THREE)["release_date"] == "2027-01-15"
    # ... but becomes it once the US date is withdrawn
    tmdb.set_release(PART_THREE, region="US", type=3, date=None)
    assert tmdb.movie(PART_THREE)["release_date"] == "2026-11-01"
    # a digital date never touches it; the certification of a replaced entry is kept
    tmdb.set_release(DUNE, region="US", type=4, date="2021-12-03")
    _, dune, _ = await get(http, tmdb, f"/movie/{DUNE}", append_to_response="release_dates")
    us = {e["type"]: e for r in dune["release_dates"]["results"] if r["iso_3166_1"] == "US" for e in r["release_dates"]}
    assert (us[4]["release_date"], us[4]["certification"], us[4]["note"]) == ("2021-12-03T00:00:00.000Z", "PG-13", "")
    assert dune["release_date"] == "2021-10-22"
    with pytest.raises(TypeError):
        tmdb.set_release(DUNE, region="US", type=3)


async def test_instances_are_independent_and_accept_overrides():
    extra = {"movies": {"1": {**load_fixtures()["movies"][DUNE], "id": 1, "title": "Extra"}}}
    async with LoopbackTMDB(token="a", fixtures=extra) as first, LoopbackTMDB(token="b") as second:
        first.movie(DUNE)["title"] = "Changed"
        assert second.movie(DUNE)["title"] == "Dune"
        assert first.movie(1)["title"] == "Extra"
        with pytest.raises(KeyError):
            second.movie(1)
    assert LoopbackTMDB().movie(DUNE)["title"] == "Dune"
    assert LoopbackTMDB(fixtures={"movies": {}}, include_bundled=False).request_count() == 0
    with pytest.raises(ValueError, match="unknown fixture kinds"):
        LoopbackTMDB(fixtures={"film": {}})


# ------------------------------------------------------------------ faults
async def test_fail_next_429_then_success(tmdb, http):
    tmdb.fail_next(status=429, count=2, retry_after=1)
    for _ in range(2):
        status, body, headers = await get(http, tmdb, f"/movie/{DUNE}")
        assert status == 429
        assert headers["Retry-After"] == "1"
        assert body == {
            "success": False,
            "status_code": 25,
            "status_message": "Your request count (#) is over the allowed limit of (40).",
        }
    status, body, _ = await get(http, tmdb, f"/movie/{DUNE}")
    assert (status, body["id"]) == (200, DUNE)
    assert tmdb.request_count(f"/movie/{DUNE}") == 3


async def test_fail_next_5xx_bodies(tmdb, http):
    expected = {500: 11, 502: 24, 503: 9, 504: 24}
    for status in expected:
        tmdb.fail_next(status=status)
    for status, code in expected.items():
        got, body, headers = await get(http, tmdb, "/search/movie", query="dune")
        assert (got, body["success"], body["status_code"]) == (status, False, code)
        assert "Retry-After" not in headers
    assert (await get(http, tmdb, "/search/movie", query="dune"))[0] == 200
    with pytest.raises(ValueError):
        tmdb.fail_next(status=418)


async def test_hang_next_trips_a_client_timeout(tmdb, http):
    tmdb.hang_next(count=1, seconds=0.5)
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(f"{tmdb.url}/movie/{DUNE}", timeout=aiohttp.ClientTimeout(total=0.1)):
            pass
    status, _, _ = await get(http, tmdb, f"/movie/{DUNE}")
    assert status == 200
    assert tmdb.request_count() == 2


async def test_close_does_not_wait_out_a_hang(http):
    server = LoopbackTMDB(token=TOKEN)
    await server.start()
    server.hang_next(seconds=30.0)
    pending = asyncio.create_task(http.get(f"{server.url}/movie/{DUNE}"))
    for _ in range(200):  # until the request is in (and hanging)
        if server.requests:
            break
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await server.close()
    assert time.monotonic() - started < 1.5
    result = (await asyncio.gather(pending, return_exceptions=True))[0]
    if isinstance(result, aiohttp.ClientResponse):
        result.release()


# ------------------------------------------------------------------ search
def ids(body):
    return [r["id"] for r in body["results"]]


async def test_search_finds_the_dune_franchise(tmdb, http):
    _, collections, _ = await get(http, tmdb, "/search/collection", query="dune", page="1")
    assert ids(collections) == [DUNE_COLLECTION]
    assert set(collections["results"][0]) == {
        "adult",
        "backdrop_path",
        "id",
        "name",
        "original_language",
        "original_name",
        "overview",
        "poster_path",
    }
    assert (collections["page"], collections["total_pages"], collections["total_results"]) == (1, 1, 1)

    _, movies, _ = await get(http, tmdb, "/search/movie", query="DUNE")
    assert ids(movies)[0] == DUNE  # the exact title first
    assert set(ids(movies)) == {DUNE, PART_TWO, PART_THREE}
    first = movies["results"][0]
    assert {"title", "original_title", "overview", "release_date", "genre_ids", "popularity"} <= first.keys()
    assert "media_type" not in first

    _, shows, _ = await get(http, tmdb, "/search/tv", query="dune")
    assert ids(shows) == [PROPHECY]
    assert {"name", "original_name", "first_air_date", "overview"} <= shows["results"][0].keys()

    _, multi, _ = await get(http, tmdb, "/search/multi", query="dune")
    kinds = {(r["media_type"], r["id"]) for r in multi["results"]}
    assert kinds == {("movie", DUNE), ("movie", PART_TWO), ("movie", PART_THREE), ("tv", PROPHECY)}

    _, by_words, _ = await get(http, tmdb, "/search/movie", query="dune part two")
    assert ids(by_words) == [PART_TWO]


async def test_search_hostile_unknown_and_paging(tmdb, http):
    assert ids((await get(http, tmdb, "/search/collection", query="hostile"))[1]) == [HOSTILE_COLLECTION]
    assert ids((await get(http, tmdb, "/search/movie", query="nitro"))[1]) == [HOSTILE]
    assert ids((await get(http, tmdb, "/search/movie", query="Hostile"))[1]) == [HOSTILE]  # via original_title
    status, empty, _ = await get(http, tmdb, "/search/multi", query="zzz-not-a-title")
    assert (status, empty) == (200, {"page": 1, "results": [], "total_pages": 1, "total_results": 0})
    _, later, _ = await get(http, tmdb, "/search/movie", query="dune", page="2")
    assert (later["page"], later["results"], later["total_results"]) == (2, [], 3)
    status, bad, _ = await get(http, tmdb, "/search/movie", query="dune", page="0")
    assert (status, bad["status_code"]) == (400, 22)
    _, people, _ = await get(http, tmdb, "/search/multi", query="villeneuve")
    assert [(r["media_type"], r["id"]) for r in people["results"]] == [("person", 137427)]
    assert {k["id"] for k in people["results"][0]["known_for"]} == {DUNE, PART_TWO, PART_THREE}


async def test_hostile_fixture_is_hostile(tmdb, http):
    _, movie, _ = await get(http, tmdb, f"/movie/{HOSTILE}", append_to_response="credits,release_dates")
    assert movie["title"] == "@everyone **Free Nitro**"
    assert movie["belongs_to_collection"] is None
    overview = movie["overview"]
    assert len(overview) >= 5000
    for needle in ["<@&123>", "@here", "\u0000", "\u0007", "\u202e", "**"]:
        assert needle in overview
    cast = movie["credits"]["cast"]
    assert max(len(c["character"]) for c in cast) == 300
    assert any("\n" in c["name"] and "@everyone" in c["name"] for c in cast)
    us = movie["release_dates"]["results"][0]
    assert {e["type"]: e["release_date"][:10] for e in us["release_dates"]}[3] == "2027-05-01"
    _, collection, _ = await get(http, tmdb, f"/collection/{HOSTILE_COLLECTION}")
    assert [p["id"] for p in collection["parts"]] == [HOSTILE]


# ------------------------------------------------------------------ recording and fixture consistency
async def test_requests_are_recorded_in_order(tmdb, http):
    await get(http, tmdb, "/search/movie", query="dune", page="1")
    await get(http, tmdb, f"/movie/{DUNE}", append_to_response="credits")
    await get(http, tmdb, f"/tv/{PROPHECY}/season/1")
    assert tmdb.requests[0] == TMDBRequest(
        method="GET", path="/3/search/movie", query={"query": "dune", "page": "1"}, authorization=f"Bearer {TOKEN}"
    )
    assert [r.path for r in tmdb.requests] == ["/3/search/movie", f"/3/movie/{DUNE}", f"/3/tv/{PROPHECY}/season/1"]
    assert tmdb.requests[1].query == {"append_to_response": "credits"}
    assert tmdb.request_count() == 3
    assert tmdb.request_count("/movie") == tmdb.request_count("/3/movie") == 1
    assert tmdb.request_count("/tv/") == 1
    assert tmdb.request_count("/collection") == 0


async def test_bundled_fixtures_agree_with_themselves():
    data = load_fixtures()
    for (tv_id, number), season in data["seasons"].items():
        summary = next(s for s in data["tv"][tv_id]["seasons"] if s["season_number"] == number)
        assert summary["episode_count"] == len(season["episodes"])
        assert summary["air_date"] == season["air_date"] == (season["episodes"] or [{"air_date": None}])[0]["air_date"]
    for collection in data["collections"].values():
        for part in collection["parts"]:
            movie = data["movies"][part["id"]]
            assert (part["title"], part["release_date"], part["media_type"]) == (
                movie["title"],
                movie["release_date"],
                "movie",
            )
    chalamet = {c["name"] for m in data["movies"].values() for c in m["credits"]["cast"] if c["id"] == 1190668}
    assert chalamet == {"Timothée Chalamet"}
