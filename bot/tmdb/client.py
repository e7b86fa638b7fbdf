"""A small TMDB v3 client on aiohttp: the four reads Marquee needs, with TMDB's faults handled once.

Why not a TMDB library: the maintained async one (`themoviedb`) sends the v3 API key as a query
parameter (the key then sits in every URL, and in every error that prints one), cannot send the
read access token as a Bearer header, and neither retries 429/5xx nor lets a caller count requests
(the per-server daily cap). Marquee reads five endpoints; this is that, and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

MOVIE_APPEND = "release_dates,credits,watch/providers"
TV_APPEND = "aggregate_credits,credits,watch/providers"


class TMDBError(Exception):
    """A TMDB request failed; the message is fit for an operator or a member (no token, no traceback)."""


class TMDBAuthError(TMDBError):
    """TMDB refused the token (401)."""


class TMDBNotFound(TMDBError):
    """The id is not at TMDB (404)."""


class TMDBUnavailable(TMDBError):
    """TMDB kept failing (429, 5xx, timeouts) after the retries."""


class TMDBCapReached(TMDBError):
    """The caller's request budget (a server's daily cap) is spent."""


AUTH_HELP = ("TMDB refused MARQUEE_TMDB_TOKEN: copy the \"API Read Access Token\" (not the short API key) "
             "from https://www.themoviedb.org/settings/api into .env")


class TMDBClient:
    """`async with TMDBClient(base_url, token) as tmdb: await tmdb.movie(438631)`.

    `before_request` runs before every HTTP attempt (retries included) and may raise TMDBCapReached.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 15.0, attempts: int = 4,
                 backoff: float = 0.5, max_wait: float = 10.0, concurrency: int = 4,
                 before_request: Callable[[], Awaitable[None]] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.before_request = before_request
        self._limit = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the token stays out of every repr
        return f"TMDBClient({self.base_url!r})"

    async def __aenter__(self) -> TMDBClient:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the reads ------------------------------------------------------------------------------

    async def search(self, kind: str, query: str, page: int = 1) -> list[dict[str, Any]]:
        """`kind`: collection, movie, tv or multi."""
        data = await self.get(f"/search/{kind}", query=query, page=str(page), include_adult="false")
        results = data.get("results")
        return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []

    async def collection(self, collection_id: int) -> dict[str, Any]:
        return await self.get(f"/collection/{collection_id:d}")

    async def movie(self, movie_id: int) -> dict[str, Any]:
        return await self.get(f"/movie/{movie_id:d}", append_to_response=MOVIE_APPEND)

    async def tv(self, tv_id: int) -> dict[str, Any]:
        return await self.get(f"/tv/{tv_id:d}", append_to_response=TV_APPEND)

    async def season(self, tv_id: int, number: int) -> dict[str, Any]:
        return await self.get(f"/tv/{tv_id:d}/season/{number:d}")

    # -- the one request path -------------------------------------------------------------------

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("use `async with TMDBClient(...)`")
        what = path.strip("/").replace("/", " ")
        problem = "no answer"
        for attempt in range(self.attempts):
            if self.before_request is not None:
                await self.before_request()
            wait = self.backoff * 2 ** attempt
            try:
                async with self._limit, self._session.get(self.base_url + path, params=params) as resp:
                    if resp.status == 200:
                        data = await resp.json(content_type=None)
                        if not isinstance(data, dict):
                            raise TMDBError(f"TMDB answered {what} with something that is not a JSON object")
                        return data
                    message = await _status_message(resp)
                    if resp.status == 401:
                        raise TMDBAuthError(AUTH_HELP)
                    if resp.status == 404:
                        raise TMDBNotFound(f"{what}: not found at TMDB")
                    if resp.status != 429 and resp.status < 500:
                        raise TMDBError(f"TMDB refused {what}: {resp.status} {message}")
                    problem = f"{resp.status} {message}".strip()
                    if resp.status == 429:
                        wait = max(wait, _seconds(resp.headers.get("Retry-After")))
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = "timed out" if isinstance(exc, TimeoutError) else f"connection failed ({type(exc).__name__})"
            if attempt + 1 < self.attempts:
                log.warning("TMDB %s: %s; retrying in %.1f s (attempt %d of %d)", what, problem,
                            min(wait, self.max_wait), attempt + 1, self.attempts)
                await asyncio.sleep(min(wait, self.max_wait))
        raise TMDBUnavailable(f"TMDB did not answer {what} after {self.attempts} tries ({problem}); "
                              "nothing was changed, try again later")


async def _status_message(resp: aiohttp.ClientResponse) -> str:
    try:
        body = await resp.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return ""
    message = body.get("status_message") if isinstance(body, dict) else None
    return " ".join(str(message).split())[:200] if message else ""


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0
