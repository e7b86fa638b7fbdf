"""The TMDB client and the import/refresh service against the loopback TMDB, with a real SQLite store."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_asyncio

from bot.clock import ManualClock
from bot.tmdb import (
    Source,
    TMDBAuthError,
    TMDBClient,
    TMDBError,
    TMDBNotFound,
    TMDBService,
    TMDBUnavailable,
)
from db import packs, queries
from db.store import Store
from playground.tmdb import LoopbackTMDB

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
QUICK = {"backoff": 0.01, "timeout": 1.0}


@pytest_asyncio.fixture(loop_scope="session")
async def tmdb():
    async with LoopbackTMDB(token="read-token") as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def service(tmdb, tmp_path):
    async with Store.open(tmp_path / "m.sqlite3") as store:
        await packs.load_builtin_packs(store, now=NOW)
        yield TMDBService(store=store, clock=ManualClock(NOW), base_url=tmdb.url, token=tmdb.token,
                          client_options=QUICK)


async def counts(store):
    out = {}
    for table in ("titles", "people", "releases", "release_history", "credits", "watch_offers", "tmdb_links",
                  "release_moves", "packs"):
        out[table] = (await store.fetchone(f"SELECT count(*) AS n FROM {table}"))["n"]
    return out


async def test_the_token_goes_in_a_bearer_header_never_in_a_url(tmdb):
    async with TMDBClient(tmdb.url, tmdb.token, **QUICK) as client:
        movie = await client.movie(438631)
    assert movie["title"] == "Dune" and {"release_dates", "credits", "watch/providers"} <= set(movie)
    [request] = tmdb.requests
    assert request.authorization == f"Bearer {tmdb.token}"
    assert tmdb.token not in request.path and tmdb.token not in str(request.query)
    assert request.query["append_to_response"] == "release_dates,credits,watch/providers"
    assert tmdb.token not in repr(client)


async def test_tmdb_errors_become_clear_errors(tmdb):
    async with TMDBClient(tmdb.url, "wrong-token", **QUICK) as client:
        with pytest.raises(TMDBAuthError, match="MARQUEE_TMDB_TOKEN"):
            await client.movie(438631)
    async with TMDBClient(tmdb.url, tmdb.token, **QUICK) as client:
        with pytest.raises(TMDBNotFound, match="not found at TMDB"):
            await client.movie(4242)
        assert tmdb.request_count() == 2  # neither is retried


async def test_429_and_5xx_back_off_and_retry_then_fail_clearly(tmdb):
    async with TMDBClient(tmdb.url, tmdb.token, **QUICK) as client:
        tmdb.fail_next(status=429, count=2, retry_after=0.05)
        assert (await client.collection(726871))["name"] == "Dune Collection"
        assert tmdb.request_count("/collection/726871") == 3
        tmdb.fail_next(status=503, count=4)
        with pytest.raises(TMDBUnavailable, match=r"after 4 tries \(503"):
            await client.tv(90228)
        assert tmdb.request_count("/tv/90228") == 4


async def test_a_hung_request_times_out_and_is_retried(tmdb):
    async with TMDBClient(tmdb.url, tmdb.token, backoff=0.01, timeout=0.3) as client:
        tmdb.hang_next(count=1, seconds=5)
        assert (await client.season(90228, 1))["season_number"] == 1
        assert tmdb.request_count("/tv/90228/season/1") == 2


async def test_an_import_is_global_data_and_a_reimport_changes_nothing(service, tmdb):
    store = service.store
    result = await service.import_source(Source("collection", 726871))
    assert (result.name, result.franchise, result.titles) == ("Dune Collection", "dune", 3)
    first = await counts(store)
    release = await queries.release_of(store, "tmdb-movie-1170608", None, "US", "theatrical")
    assert release.value.date == dt.date(2026, 12, 18)
    again = await service.import_source(Source("collection", 726871))
    assert again.moved == [] and await counts(store) == first
    assert (await queries.release_of(store, "tmdb-movie-1170608", None, "US", "theatrical")).id == release.id


async def test_a_refresh_records_a_move_once_and_keeps_the_old_date(service, tmdb):
    store = service.store
    await service.import_source(Source("collection", 726871))
    tmdb.set_release(1170608, region="US", type=3, date="2027-01-15")
    outcome = await service.refresh()
    assert [(m.title_slug, m.region, m.medium, m.old.date, m.new.date) for m in outcome.moved] == [
        ("tmdb-movie-1170608", "US", "theatrical", dt.date(2026, 12, 18), dt.date(2027, 1, 15))]
    history = await store.fetchall(
        "SELECT h.date FROM release_history h JOIN releases r ON r.id = h.release_id JOIN titles t "
        "ON t.id = r.title_id WHERE t.slug = 'tmdb-movie-1170608' AND r.region = 'US' AND r.medium = 'theatrical' "
        "ORDER BY h.id")
    assert [h["date"] for h in history] == ["2026-12-18", "2027-01-15"]
    before = await counts(store)
    assert (await service.refresh()).moved == []
    assert await counts(store) == before  # nothing new: no move, no history row


async def test_a_failed_fetch_writes_nothing(service, tmdb):
    store = service.store
    before = await counts(store)
    tmdb.fail_next(status=500, count=4)
    with pytest.raises(TMDBUnavailable):
        await service.import_source(Source("collection", 726871))
    with pytest.raises(TMDBNotFound):
        await service.import_source(Source("movie", 4242))
    assert await counts(store) == before


async def test_two_imports_share_their_people_and_a_film_is_imported_once(service, tmdb):
    store = service.store
    await service.import_source(Source("collection", 726871))
    await service.import_source(Source("tv", 90228), franchise="dune")
    people = (await counts(store))["people"]
    outcome = await service.refresh()
    assert outcome.failed == [] and len(outcome.done) == 2
    assert (await counts(store))["people"] == people
    assert (await store.check()).ok
    with pytest.raises(TMDBError, match="already in the catalog through TMDB collection 726871"):
        await service.import_source(Source("movie", 438631))
    franchise = await store.fetchone("SELECT count(*) AS n FROM titles t JOIN franchises f ON f.id = t.franchise_id "
                                     "WHERE f.slug = 'dune'")
    assert franchise["n"] == 6  # three films, the series and its two seasons


async def test_a_refresh_that_fails_for_one_import_keeps_the_others(service, tmdb):
    await service.import_source(Source("collection", 726871))
    await service.import_source(Source("tv", 90228))
    tmdb.fail_next(status=404, count=1)  # the collection's first request
    outcome = await service.refresh()
    assert [link.kind for link, _ in outcome.failed] == ["collection"] and len(outcome.done) == 1
    row = await service.store.fetchone("SELECT last_error FROM tmdb_links WHERE kind = 'collection'")
    assert "not found at TMDB" in row["last_error"]
