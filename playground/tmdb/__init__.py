"""A loopback TMDB: a TMDB API v3 server on 127.0.0.1 that answers from bundled fixtures (the Dune
films and collection, Dune: Prophecy, and a hostile-text movie), so tests drive the real client.

    async with LoopbackTMDB(token="loopback-tmdb-token") as tmdb:
        client = TMDBClient(base_url=tmdb.url, token=tmdb.token)
        tmdb.set_release(1170608, region="US", type=3, date="2027-01-15")
        tmdb.fail_next(status=429, count=1, retry_after=1)
        ...
        assert tmdb.request_count("/movie/1170608") == 2
"""

from .server import PAGE_SIZE, Fixtures, LoopbackTMDB, TMDBRequest, load_fixtures

__all__ = ["PAGE_SIZE", "Fixtures", "LoopbackTMDB", "TMDBRequest", "load_fixtures"]
