"""``LoopbackTMDB``: a TMDB API v3 server on 127.0.0.1, so tests exercise the real HTTP client
(auth header, query strings, error bodies, retries, timeouts) without the network.

Fixtures are plain dicts in TMDB's own response shapes. The structure (``Fixtures``) is::

    {
        "movies":      {438631: <GET /movie/438631 body with every appendable block present>},
        "tv":          {90228: <GET /tv/90228 body with every appendable block present>},
        "seasons":     {(90228, 1): <GET /tv/90228/season/1 body>},
        "collections": {726871: <GET /collection/726871 body, "parts" included>},
    }

Appendable blocks ("release_dates", "credits", "watch/providers"; for TV also "aggregate_credits")
live inside the movie/series dict under TMDB's own keys; a response carries only the blocks named
in ``append_to_response``. The bundled JSON files (``fixtures/*.json``) use the same structure with
string keys (``"438631"``, seasons ``"90228/1"``); top-level keys starting with ``_`` are comments.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import enum
import functools
import json
import math
import re
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypedDict

from aiohttp import web

__all__ = ["PAGE_SIZE", "Fixtures", "LoopbackTMDB", "TMDBRequest", "load_fixtures"]

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/3"
PAGE_SIZE = 20  # TMDB's fixed search page size
MAX_PAGE = 500

# status -> (TMDB status_code, status_message), as TMDB v3 answers them
_ERRORS: dict[int, tuple[int, str]] = {
    401: (7, "Invalid API key: You must be granted a valid key."),
    404: (34, "The resource you requested could not be found."),
    429: (25, "Your request count (#) is over the allowed limit of (40)."),
    500: (11, "Internal error: Something went wrong, contact TMDB."),
    502: (24, "Your request to the backend server timed out. Try again."),
    503: (9, "Service offline."),
    504: (24, "Your request to the backend server timed out. Try again."),
}
_INVALID_PAGE = (22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.")

# What append_to_response may name; a fixture key in these sets is hidden unless asked for.
MOVIE_APPENDABLE = frozenset(
    {
        "account_states",
        "alternative_titles",
        "changes",
        "credits",
        "external_ids",
        "images",
        "keywords",
        "lists",
        "recommendations",
        "release_dates",
        "reviews",
        "similar",
        "translations",
        "videos",
        "watch/providers",
    }
)
TV_APPENDABLE = frozenset(
    {
        "account_states",
        "aggregate_credits",
        "alternative_titles",
        "changes",
        "content_ratings",
        "credits",
        "episode_groups",
        "external_ids",
        "images",
        "keywords",
        "lists",
        "recommendations",
        "reviews",
        "screened_theatrically",
        "similar",
        "translations",
        "videos",
        "watch/providers",
    }
)
# What TMDB answers for a block the title has no data for (instead of leaving it out).
_EMPTY_BLOCKS: dict[str, JSON] = {
    "release_dates": {"results": []},
    "credits": {"cast": [], "crew": []},
    "aggregate_credits": {"cast": [], "crew": []},
    "watch/providers": {"results": {}},
}
THEATRICAL_TYPES = (2, 3)  # release_dates types: 1 premiere, 2 limited, 3 theatrical, 4 digital, 5 physical, 6 TV

_ID_SEGMENT = re.compile(r"^(\d+)(?:-[^/]*)?$")  # TMDB accepts "438631" and slugs like "438631-dune"
_FIXTURE_KINDS = ("movies", "tv", "seasons", "collections")


class Fixtures(TypedDict, total=False):
    """The fixture structure (see the module docstring); every kind is optional in an override."""

    movies: dict[int, JSON]
    tv: dict[int, JSON]
    seasons: dict[tuple[int, int], JSON]
    collections: dict[int, JSON]


@dataclass(frozen=True)
class TMDBRequest:
    """One request as the loopback received it (recorded before auth and faults, so every try counts)."""

    method: str
    path: str  # e.g. "/3/movie/438631"
    query: dict[str, str]
    authorization: str | None  # the raw Authorization header


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: float


class _Unset(enum.Enum):
    """Marks a ``date`` argument that was not passed (``None`` is a meaningful value: "no date")."""

    UNSET = enum.auto()


_UNSET = _Unset.UNSET


class _NotFound(Exception):
    """Raised by handlers for an unknown id; the middleware turns it into TMDB's 404 body."""


# ---------------------------------------------------------------------- fixtures
def _int_key(key: Any) -> int:
    return int(key)


def _season_key(key: Any) -> tuple[int, int]:
    if isinstance(key, tuple):
        tv_id, number = key
        return int(tv_id), int(number)
    tv_id, _, number = str(key).partition("/")
    return int(tv_id), int(number)


def _normalise(raw: Mapping[str, Any]) -> Fixtures:
    """Turn JSON-style keys ("438631", "90228/1") into the ints and tuples the server looks up."""
    unknown = {k for k in raw if not k.startswith("_")} - set(_FIXTURE_KINDS)
    if unknown:
        raise ValueError(f"unknown fixture kinds {sorted(unknown)}; expected some of {_FIXTURE_KINDS}")
    return Fixtures(
        movies={_int_key(k): v for k, v in raw.get("movies", {}).items()},
        tv={_int_key(k): v for k, v in raw.get("tv", {}).items()},
        seasons={_season_key(k): v for k, v in raw.get("seasons", {}).items()},
        collections={_int_key(k): v for k, v in raw.get("collections", {}).items()},
    )


def _merge(base: Fixtures, extra: Fixtures) -> Fixtures:
    """Entries of ``extra`` replace or add to ``base``, whole entry by whole entry."""
    merged = Fixtures(movies={}, tv={}, seasons={}, collections={})
    for kind in _FIXTURE_KINDS:
        merged[kind].update(base.get(kind, {}))  # type: ignore[literal-required]
        merged[kind].update(extra.get(kind, {}))  # type: ignore[literal-required]
    return merged


@functools.cache
def _bundled() -> Fixtures:
    folder = resources.files("playground.tmdb") / "fixtures"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    merged = Fixtures(movies={}, tv={}, seasons={}, collections={})
    for f in files:
        merged = _merge(merged, _normalise(json.loads(f.read_text(encoding="utf-8"))))
    return merged


def load_fixtures(directory: str | Path | None = None) -> Fixtures:
    """A fresh copy of the fixtures in ``directory`` (default: the bundled ones), merged file by file."""
    if directory is None:
        return copy.deepcopy(_bundled())
    merged = Fixtures(movies={}, tv={}, seasons={}, collections={})
    for path in sorted(Path(directory).glob("*.json")):
        merged = _merge(merged, _normalise(json.loads(path.read_text(encoding="utf-8"))))
    return merged


# ---------------------------------------------------------------------- helpers
def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _error(status: int, code: int | None = None, message: str | None = None) -> web.Response:
    """TMDB's error body: {"success": false, "status_code": <TMDB code>, "status_message": ...}."""
    default_code, default_message = _ERRORS.get(status, (0, ""))
    body = {"success": False, "status_code": code or default_code, "status_message": message or default_message}
    return _json(body, status=status)


def _parse_id(segment: str) -> int:
    match = _ID_SEGMENT.match(segment)
    if match is None:
        raise _NotFound(segment)
    return int(match.group(1))


def _day(date: str) -> str:
    """Validate a date ("YYYY-MM-DD" or a longer ISO string) and return its "YYYY-MM-DD" part."""
    day = date[:10]
    dt.date.fromisoformat(day)  # raises ValueError on nonsense
    return day


def _fold(text: str) -> str:
    """Search normalisation: case, accents and punctuation do not matter ("timothee" finds "Timothée")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def _rank(query: str, names: Iterable[str | None]) -> int | None:
    """0 exact, 1 prefix, 2 substring, None no match: exact titles come first, as on TMDB."""
    best: int | None = None
    for name in names:
        if not name:
            continue
        folded = _fold(name)
        if folded == query:
            rank = 0
        elif folded.startswith(query):
            rank = 1
        elif query in folded:
            rank = 2
        else:
            continue
        best = rank if best is None else min(best, rank)
    return best


def _movie_item(movie: JSON, *, media_type: bool = False) -> JSON:
    item: JSON = {
        "adult": movie.get("adult", False),
        "backdrop_path": movie.get("backdrop_path"),
        "id": movie["id"],
        "title": movie.get("title", ""),
        "original_language": movie.get("original_language", "en"),
        "original_title": movie.get("original_title", movie.get("title", "")),
        "overview": movie.get("overview", ""),
        "poster_path": movie.get("poster_path"),
    }
    if media_type:
        item["media_type"] = "movie"
    item.update(
        {
            "genre_ids": [g["id"] for g in movie.get("genres", [])],
            "popularity": movie.get("popularity", 0.0),
            "release_date": movie.get("release_date", ""),
            "video": movie.get("video", False),
            "vote_average": movie.get("vote_average", 0.0),
            "vote_count": movie.get("vote_count", 0),
        }
    )
    return item


def _tv_item(show: JSON, *, media_type: bool = False) -> JSON:
    item: JSON = {
        "adult": show.get("adult", False),
        "backdrop_path": show.get("backdrop_path"),
        "id": show["id"],
        "name": show.get("name", ""),
        "original_language": show.get("original_language", "en"),
        "original_name": show.get("original_name", show.get("name", "")),
        "overview": show.get("overview", ""),
        "poster_path": show.get("poster_path"),
    }
    if media_type:
        item["media_type"] = "tv"
    item.update(
        {
            "genre_ids": [g["id"] for g in show.get("genres", [])],
            "popularity": show.get("popularity", 0.0),
            "first_air_date": show.get("first_air_date", ""),
            "vote_average": show.get("vote_average", 0.0),
            "vote_count": show.get("vote_count", 0),
            "origin_country": list(show.get("origin_country", [])),
        }
    )
    return item


def _collection_item(collection: JSON) -> JSON:
    return {
        "adult": False,
        "backdrop_path": collection.get("backdrop_path"),
        "id": collection["id"],
        "name": collection.get("name", ""),
        "original_language": collection.get("original_language", "en"),
        "original_name": collection.get("original_name", collection.get("name", "")),
        "overview": collection.get("overview", ""),
        "poster_path": collection.get("poster_path"),
    }


def _with_appended(entity: JSON, appendable: frozenset[str], append: str | None) -> JSON:
    """The details body: the entity without its appendable blocks, plus the ones ``append`` names."""
    body = {k: v for k, v in entity.items() if k not in appendable}
    for name in (part.strip() for part in (append or "").split(",")):
        if name in appendable and name in entity:
            body[name] = entity[name]
        elif name in _EMPTY_BLOCKS and name in appendable:
            body[name] = copy.deepcopy(_EMPTY_BLOCKS[name])
        # anything else is ignored, as TMDB ignores unknown append names
    return body


# ---------------------------------------------------------------------- the server
class LoopbackTMDB:
    """A TMDB v3 server on 127.0.0.1 that answers from fixtures, with knobs for TMDB's bad days.

    ``async with LoopbackTMDB(token="t") as tmdb:`` then point the client at ``tmdb.url`` with
    ``Authorization: Bearer t``. ``fixtures`` adds to or replaces bundled entries (whole entries);
    ``include_bundled=False`` starts from nothing but ``fixtures``. Each instance works on its own deep
    copy, so tests may mutate ``tmdb.movie(id)`` and friends freely.
    """

    def __init__(
        self,
        token: str = "loopback-tmdb-token",  # noqa: S107 - a loopback token, not a secret
        fixtures: Mapping[str, Any] | None = None,
        *,
        include_bundled: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.port: int | None = None
        base = load_fixtures() if include_bundled else Fixtures(movies={}, tv={}, seasons={}, collections={})
        data = _merge(base, _normalise(copy.deepcopy(dict(fixtures)))) if fixtures else base
        self._movies: dict[int, JSON] = data["movies"]
        self._tv: dict[int, JSON] = data["tv"]
        self._seasons: dict[tuple[int, int], JSON] = data["seasons"]
        self._collections: dict[int, JSON] = data["collections"]
        self.requests: list[TMDBRequest] = []
        self._failures: deque[_Fault] = deque()
        self._hangs: deque[float] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> LoopbackTMDB:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        self._register_routes(app)
        # handler_cancellation: a client that timed out on a hung request must not leave it running
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def close(self) -> None:
        self._closing.set()  # releases hung requests at once, so close() never waits them out
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The v3 base URL, e.g. "http://127.0.0.1:8123/3"; clients append "/movie/438631"."""
        if self.port is None:
            raise RuntimeError("LoopbackTMDB is not running (use `async with` or await start())")
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    # ------------------------------------------------------------------ fixtures, live
    def movie(self, movie_id: int) -> JSON:
        """The live movie fixture (mutations show in the next response)."""
        return self._movies[movie_id]

    def tv(self, tv_id: int) -> JSON:
        """The live series fixture."""
        return self._tv[tv_id]

    def season(self, tv_id: int, season: int) -> JSON:
        """The live season fixture (the GET /tv/{id}/season/{n} body)."""
        return self._seasons[(tv_id, season)]

    def collection(self, collection_id: int) -> JSON:
        """The live collection fixture, "parts" included."""
        return self._collections[collection_id]

    def set_release(
        self,
        movie_id: int,
        region: str = "US",
        type: int = 3,
        date: str | Literal[_Unset.UNSET] | None = _UNSET,
        note: str | None = None,
        *,
        certification: str | None = None,
    ) -> None:
        """Replace (or add) the ``type`` release of ``movie_id`` in ``region``; ``date=None`` removes it.

        The certification of a replaced entry is kept unless given (a date moving does not change the
        rating); the note is the one passed ("" for None). For a theatrical type (2 or 3) the top-level
        "release_date" follows: the US type-3 date if there is one, else the earliest theatrical date
        anywhere, else "". Collection parts listing the movie get the new "release_date" too.
        """
        if date is _UNSET:
            raise TypeError("set_release() needs date= ('YYYY-MM-DD', or None to remove the release)")
        if type not in range(1, 7):
            raise ValueError(f"release type must be 1..6, not {type}")
        movie = self.movie(movie_id)
        region = region.upper()
        results: list[JSON] = movie.setdefault("release_dates", {"results": []}).setdefault("results", [])
        country = next((r for r in results if r.get("iso_3166_1") == region), None)
        if country is None:
            if date is None:
                return
            country = {"iso_3166_1": region, "release_dates": []}
            results.append(country)
        entries: list[JSON] = country.setdefault("release_dates", [])
        replaced = next((e for e in entries if e.get("type") == type), {})
        kept = [e for e in entries if e.get("type") != type]
        if date is not None:
            kept.append(
                {
                    "certification": replaced.get("certification", "") if certification is None else certification,
                    "descriptors": list(replaced.get("descriptors", [])),
                    "iso_639_1": replaced.get("iso_639_1", ""),
                    "note": note or "",
                    "release_date": f"{_day(date)}T00:00:00.000Z",
                    "type": type,
                }
            )
            kept.sort(key=lambda e: (e["release_date"], e["type"]))
        country["release_dates"] = kept
        if not kept:
            results.remove(country)
        if type in THEATRICAL_TYPES:
            movie["release_date"] = self._primary_release_date(movie)
            for collection in self._collections.values():
                for part in collection.get("parts", []):
                    if part.get("id") == movie_id:
                        part["release_date"] = movie["release_date"]

    @staticmethod
    def _primary_release_date(movie: JSON) -> str:
        us: list[str] = []
        theatrical: list[str] = []
        for country in movie.get("release_dates", {}).get("results", []):
            for entry in country.get("release_dates", []):
                if entry.get("type") in THEATRICAL_TYPES:
                    theatrical.append(entry["release_date"][:10])
                    if country.get("iso_3166_1") == "US" and entry.get("type") == 3:
                        us.append(entry["release_date"][:10])
        return min(us or theatrical or [""])

    def set_air_date(
        self,
        tv_id: int,
        season: int = 1,
        episode: int | None = None,
        date: str | Literal[_Unset.UNSET] | None = _UNSET,
    ) -> None:
        """Set a season's air date (and its first episode's), or one episode's; ``None`` means "not announced".

        A missing season or episode is created (so a test can announce season 3 or episode 7). The
        season's date follows its first episode, the series' "first_air_date" follows its first season,
        and "number_of_seasons"/"number_of_episodes" and the season's "episode_count" are recounted.
        "last_air_date", "next_episode_to_air" and "status" depend on "today", so they are left alone:
        set them on ``tmdb.tv(id)`` when a test needs them.
        """
        if date is _UNSET:
            raise TypeError("set_air_date() needs date= ('YYYY-MM-DD', or None for not announced)")
        day = None if date is None else _day(date)
        show = self.tv(tv_id)
        summary = self._season_summary(show, season)
        detail = self._seasons.get((tv_id, season))
        if detail is None:
            detail = {
                "_id": f"{tv_id:012x}{season:012x}",
                "air_date": None,
                "episodes": [],
                "name": summary["name"],
                "overview": summary.get("overview", ""),
                "id": summary["id"],
                "poster_path": summary.get("poster_path"),
                "season_number": season,
                "vote_average": 0.0,
            }
            self._seasons[(tv_id, season)] = detail
        episodes: list[JSON] = detail.setdefault("episodes", [])
        if episode is None:
            detail["air_date"] = day
            if episodes:
                min(episodes, key=lambda e: e["episode_number"])["air_date"] = day
        else:
            target = next((e for e in episodes if e.get("episode_number") == episode), None)
            if target is None:
                target = self._new_episode(tv_id, season, episode)
                episodes.append(target)
                episodes.sort(key=lambda e: e["episode_number"])
            target["air_date"] = day
            if episodes[0] is target:
                detail["air_date"] = day
        summary["air_date"] = detail["air_date"]
        summary["episode_count"] = len(episodes)
        regular = [s for s in show["seasons"] if s.get("season_number", 0) > 0]
        show["number_of_seasons"] = len(regular)
        show["number_of_episodes"] = sum(s.get("episode_count", 0) for s in regular)
        if regular and min(regular, key=lambda s: s["season_number"]) is summary:
            show["first_air_date"] = summary["air_date"] or ""

    @staticmethod
    def _season_summary(show: JSON, season: int) -> JSON:
        seasons: list[JSON] = show.setdefault("seasons", [])
        summary = next((s for s in seasons if s.get("season_number") == season), None)
        if summary is None:
            summary = {
                "air_date": None,
                "episode_count": 0,
                "id": show["id"] * 1000 + season,
                "name": "Specials" if season == 0 else f"Season {season}",
                "overview": "",
                "poster_path": None,
                "season_number": season,
                "vote_average": 0.0,
            }
            seasons.append(summary)
            seasons.sort(key=lambda s: s["season_number"])
        return summary

    @staticmethod
    def _new_episode(tv_id: int, season: int, episode: int) -> JSON:
        return {
            "air_date": None,
            "episode_number": episode,
            "episode_type": "standard",
            "id": tv_id * 100_000 + season * 1000 + episode,
            "name": f"Episode {episode}",
            "overview": "",
            "production_code": "",
            "runtime": None,
            "season_number": season,
            "show_id": tv_id,
            "still_path": None,
            "vote_average": 0.0,
            "vote_count": 0,
            "crew": [],
            "guest_stars": [],
        }

    # ------------------------------------------------------------------ faults and observation
    def fail_next(self, status: int = 429, count: int = 1, retry_after: float = 1) -> None:
        """The next ``count`` requests get ``status`` with TMDB's body (429 also sends Retry-After).

        Supported: 401, 404, 429, 500, 502, 503, 504. Calls queue up behind each other.
        """
        if status not in _ERRORS:
            raise ValueError(f"fail_next supports {sorted(_ERRORS)}, not {status}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._failures.extend(_Fault(status, retry_after) for _ in range(count))

    def hang_next(self, count: int = 1, seconds: float = 30.0) -> None:
        """The next ``count`` requests wait ``seconds`` before being answered (to trip client timeouts)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._hangs.extend([seconds] * count)

    def request_count(self, path_prefix: str | None = None) -> int:
        """Requests received so far, optionally those whose path starts with ``path_prefix``.

        The prefix may include the "/3" or not: "/movie/438631" and "/3/movie/438631" are the same.
        """
        if path_prefix is None:
            return len(self.requests)
        prefix = path_prefix if path_prefix.startswith("/") else "/" + path_prefix
        if not (prefix == API_PREFIX or prefix.startswith(API_PREFIX + "/")):
            prefix = API_PREFIX + prefix
        return sum(1 for r in self.requests if r.path.startswith(prefix))

    # ------------------------------------------------------------------ HTTP plumbing
    def _register_routes(self, app: web.Application) -> None:
        p = API_PREFIX
        routes: list[tuple[str, Handler]] = [
            (p + "/search/{kind}", self._search),
            (p + "/collection/{collection_id}", self._get_collection),
            (p + "/movie/{movie_id}", self._get_movie),
            (p + "/movie/{movie_id}/release_dates", self._movie_block("release_dates")),
            (p + "/movie/{movie_id}/credits", self._movie_block("credits")),
            (p + "/movie/{movie_id}/watch/providers", self._movie_block("watch/providers")),
            (p + "/tv/{tv_id}", self._get_tv),
            (p + "/tv/{tv_id}/aggregate_credits", self._tv_block("aggregate_credits")),
            (p + "/tv/{tv_id}/credits", self._tv_block("credits")),
            (p + "/tv/{tv_id}/watch/providers", self._tv_block("watch/providers")),
            (p + "/tv/{tv_id}/season/{season}", self._get_season),
            (p + "/tv/{tv_id}/season/{season}/episode/{episode}", self._get_episode),
        ]
        for path, handler in routes:
            app.router.add_get(path, handler)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record, then hang, then fail, then check auth, then answer: TMDB-shaped errors throughout."""
        self.requests.append(
            TMDBRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                authorization=request.headers.get("Authorization"),
            )
        )
        if self._hangs:
            seconds = self._hangs.popleft()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._closing.wait()
        if self._failures:
            fault = self._failures.popleft()
            response = _error(fault.status)
            if fault.status == 429:
                seconds = fault.retry_after
                response.headers["Retry-After"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
            return response
        if not self._authorised(request.headers.get("Authorization")):
            return _error(401)
        try:
            return await handler(request)
        except (_NotFound, web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return _error(404)  # TMDB answers unknown ids, paths and methods alike

    def _authorised(self, header: str | None) -> bool:
        if header is None:
            return False
        scheme, _, credentials = header.partition(" ")
        return scheme.lower() == "bearer" and credentials.strip() == self.token

    # ------------------------------------------------------------------ handlers
    async def _get_movie(self, request: web.Request) -> web.Response:
        movie = self._movies.get(_parse_id(request.match_info["movie_id"]))
        if movie is None:
            raise _NotFound
        return _json(_with_appended(movie, MOVIE_APPENDABLE, request.query.get("append_to_response")))

    async def _get_tv(self, request: web.Request) -> web.Response:
        show = self._tv.get(_parse_id(request.match_info["tv_id"]))
        if show is None:
            raise _NotFound
        return _json(_with_appended(show, TV_APPENDABLE, request.query.get("append_to_response")))

    def _movie_block(self, name: str) -> Handler:
        """GET /movie/{id}/<block>: the same block append_to_response gives, with the "id" in front."""

        async def handler(request: web.Request) -> web.Response:
            movie_id = _parse_id(request.match_info["movie_id"])
            movie = self._movies.get(movie_id)
            if movie is None:
                raise _NotFound
            block = movie.get(name, _EMPTY_BLOCKS[name])
            return _json({"id": movie_id, **block})

        return handler

    def _tv_block(self, name: str) -> Handler:
        """GET /tv/{id}/<block>, as ``_movie_block``."""

        async def handler(request: web.Request) -> web.Response:
            tv_id = _parse_id(request.match_info["tv_id"])
            show = self._tv.get(tv_id)
            if show is None:
                raise _NotFound
            block = show.get(name, _EMPTY_BLOCKS[name])
            return _json({"id": tv_id, **block})

        return handler

    def _season_of(self, request: web.Request) -> JSON:
        tv_id = _parse_id(request.match_info["tv_id"])
        number = _parse_id(request.match_info["season"])
        season = self._seasons.get((tv_id, number))
        if tv_id not in self._tv or season is None:
            raise _NotFound
        return season

    async def _get_season(self, request: web.Request) -> web.Response:
        return _json(self._season_of(request))

    async def _get_episode(self, request: web.Request) -> web.Response:
        number = _parse_id(request.match_info["episode"])
        for episode in self._season_of(request).get("episodes", []):
            if episode.get("episode_number") == number:
                return _json(episode)
        raise _NotFound

    async def _get_collection(self, request: web.Request) -> web.Response:
        collection = self._collections.get(_parse_id(request.match_info["collection_id"]))
        if collection is None:
            raise _NotFound
        return _json(collection)

    async def _search(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in {"movie", "tv", "collection", "multi", "person"}:
            raise _NotFound
        raw_page = request.query.get("page", "1")
        try:
            page = int(raw_page)
        except ValueError:
            page = 0
        if not 1 <= page <= MAX_PAGE:
            return _error(400, *_INVALID_PAGE)
        query = _fold(request.query.get("query", ""))
        hits = self._search_hits(kind, query, request.query) if query else []
        hits.sort(key=lambda h: (h[0], -float(h[1].get("popularity") or 0.0), h[1]["id"]))
        results = [item for _, item in hits]
        start = (page - 1) * PAGE_SIZE
        return _json(
            {
                "page": page,
                "results": results[start : start + PAGE_SIZE],
                "total_pages": max(1, math.ceil(len(results) / PAGE_SIZE)),
                "total_results": len(results),
            }
        )

    def _search_hits(self, kind: str, query: str, params: Mapping[str, str]) -> list[tuple[int, JSON]]:
        """(rank, result item) for everything of ``kind`` that matches; multi is movies + tv + people."""
        multi = kind == "multi"
        hits: list[tuple[int, JSON]] = []
        if kind in ("movie", "multi"):
            year = params.get("primary_release_year") or params.get("year")
            for movie in self._movies.values():
                rank = _rank(query, (movie.get("title"), movie.get("original_title")))
                if rank is not None and (not year or str(movie.get("release_date", "")).startswith(year)):
                    hits.append((rank, _movie_item(movie, media_type=multi)))
        if kind in ("tv", "multi"):
            year = params.get("first_air_date_year") or params.get("year")
            for show in self._tv.values():
                rank = _rank(query, (show.get("name"), show.get("original_name")))
                if rank is not None and (not year or str(show.get("first_air_date") or "").startswith(year)):
                    hits.append((rank, _tv_item(show, media_type=multi)))
        if kind == "collection":  # TMDB's /search/multi does not return collections
            for collection in self._collections.values():
                rank = _rank(query, (collection.get("name"), collection.get("original_name")))
                if rank is not None:
                    hits.append((rank, _collection_item(collection)))
        if kind in ("person", "multi"):
            for person in self._people():
                rank = _rank(query, (person.get("name"), person.get("original_name")))
                if rank is not None:
                    hits.append((rank, {**person, "media_type": "person"} if multi else person))
        return hits

    def _people(self) -> list[JSON]:
        """People as /search/person lists them, gathered from the credits of every fixture."""
        people: dict[int, JSON] = {}
        known_for: dict[int, list[JSON]] = {}
        titles: list[tuple[JSON, JSON]] = [(m, _movie_item(m, media_type=True)) for m in self._movies.values()]
        titles += [(s, _tv_item(s, media_type=True)) for s in self._tv.values()]
        for entity, item in titles:
            credits = entity.get("credits", {})
            for credit in [*credits.get("cast", []), *credits.get("crew", [])]:
                pid = credit["id"]
                people.setdefault(
                    pid,
                    {
                        "adult": credit.get("adult", False),
                        "gender": credit.get("gender", 0),
                        "id": pid,
                        "known_for_department": credit.get("known_for_department", ""),
                        "name": credit.get("name", ""),
                        "original_name": credit.get("original_name", credit.get("name", "")),
                        "popularity": credit.get("popularity", 0.0),
                        "profile_path": credit.get("profile_path"),
                    },
                )
                seen = known_for.setdefault(pid, [])
                if all(k["id"] != item["id"] or k["media_type"] != item["media_type"] for k in seen):
                    seen.append(item)
        for pid, person in people.items():
            ranked = sorted(known_for[pid], key=lambda k: -float(k.get("popularity") or 0.0))
            person["known_for"] = ranked[:3]
        return list(people.values())
