"""TMDB's answers → a Marquee data pack. Pure: plain dicts in, a normalised pack out (db/packs.py format).

One mechanism for every source: a TMDB import is a data pack built from TMDB and loaded like any
other, so a re-import (the refresh) updates the same rows (slugs come from TMDB ids), keeps each
release's history, and records a moved date exactly as a pack update or a moderator's move does.

TMDB text is untrusted, like a member's: control characters dropped, whitespace collapsed, cut to
the pack's limits; markdown and mentions are made inert when rendered (bot/render.safe).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from db import packs, validate

SITE = "https://www.themoviedb.org"
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."
JUSTWATCH = "Where-to-watch data from JustWatch, via TMDB."

MOVIE_STATUS = {"Released": "released", "Post Production": "post-production", "In Production": "filming",
                "Planned": "announced", "Rumored": "rumoured", "Canceled": "announced"}
TV_STATUS = {"In Production": "filming", "Planned": "announced", "Pilot": "announced"}

# TMDB department → Marquee department, and the crew jobs worth a fan's /crew (TMDB lists hundreds).
DEPARTMENT = {"Directing": "directing", "Writing": "writing", "Production": "production", "Camera": "camera",
              "Editing": "editing", "Sound": "sound", "Art": "art", "Costume & Make-Up": "costume"}
JOB_DEPARTMENT = {"Original Music Composer": "music", "Music": "music", "Stunt Coordinator": "stunts"}
KEY_JOBS = {
    "Director", "Co-Director", "Screenplay", "Writer", "Story", "Novel", "Characters", "Creator", "Teleplay",
    "Producer", "Executive Producer", "Co-Producer", "Director of Photography", "Editor",
    "Original Music Composer", "Music", "Casting", "Production Design", "Costume Design", "Stunt Coordinator",
}
MAX_CAST = 40
MAX_CREW = 40


@dataclass(frozen=True, slots=True)
class Source:
    """What to import: ('collection' | 'movie' | 'tv', id)."""
    kind: str
    tmdb_id: int

    @property
    def pack_slug(self) -> str:
        return f"tmdb-{self.kind}-{self.tmdb_id}"

    def __str__(self) -> str:
        return f"TMDB {self.kind} {self.tmdb_id}"


@dataclass(slots=True)
class Bundle:
    """Everything fetched for one import: the collection (if any), its films, or a series and its seasons."""
    source: Source
    collection: dict[str, Any] | None = None
    movies: list[dict[str, Any]] = field(default_factory=list)
    tv: dict[str, Any] | None = None
    seasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.collection is not None:
            return _name(self.collection.get("name")) or str(self.source)
        if self.tv is not None:
            return _name(self.tv.get("name")) or str(self.source)
        return _name(self.movies[0].get("title")) if self.movies else str(self.source)


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = validate.clean_text(value)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned or None


def _name(value: Any) -> str | None:
    return _text(value, validate.NAME_MAX)


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def franchise_of(bundle: Bundle, slug: str | None = None) -> dict[str, str]:
    """The franchise the titles go into: the collection's name without " Collection", or the title."""
    name = bundle.name
    if bundle.collection is not None and name.lower().endswith(" collection"):
        name = name[: -len(" collection")].strip() or name
    elif bundle.movies and isinstance(bundle.movies[0].get("belongs_to_collection"), dict):
        collection = _name(bundle.movies[0]["belongs_to_collection"].get("name")) or name
        name = collection[: -len(" Collection")] if collection.endswith(" Collection") else collection
    return {"slug": slug or validate.slugify(name) or bundle.source.pack_slug, "name": name}


def build_pack(bundle: Bundle, *, today: dt.date, franchise: dict[str, str], define_franchise: bool = True,
               shared_franchises: frozenset[str] = frozenset(), shared_people: frozenset[str] = frozenset(),
               ) -> dict[str, Any]:
    """The pack for this bundle, validated by db/packs.normalise (raises PackError if TMDB sent nonsense).

    People in `shared_people` (already in the catalog through another pack) are referred to, not defined."""
    builder = _Builder(today, franchise["slug"])
    for movie in bundle.movies:
        builder.movie(movie)
    if bundle.tv is not None:
        builder.series(bundle.tv, bundle.seasons)
    raw = {
        "pack": {"slug": bundle.source.pack_slug, "name": _name(f"TMDB: {bundle.name}") or "TMDB", "version": 1,
                 "format": packs.FORMAT_VERSION},
        "sources": builder.sources,
        "franchises": [franchise] if define_franchise else [],
        "people": [p for p in builder.people.values() if p["slug"] not in shared_people],
        "titles": builder.titles,
    }
    return packs.normalise(raw, shared_franchises=shared_franchises | {franchise["slug"]},
                           shared_people=shared_people)


class _Builder:
    def __init__(self, today: dt.date, franchise: str) -> None:
        self.today = today
        self.franchise = franchise
        self.sources: dict[str, dict[str, str]] = {
            "tmdb": {"name": "TMDB", "detail": f"{SITE}: people and credits, by TMDB id. {ATTRIBUTION}"}}
        self.people: dict[str, dict[str, Any]] = {}
        self.titles: list[dict[str, Any]] = []

    def _source(self, kind: str, tmdb_id: int, name: str, *, watch: bool) -> str:
        key = f"tmdb-{kind}-{tmdb_id}"
        detail = f"{SITE}/{kind}/{tmdb_id}"
        if watch:
            detail += f". {JUSTWATCH}"
        self.sources[key] = {"name": _name(f"TMDB {kind} {tmdb_id}: {name}") or key, "detail": detail}
        return key

    def _person(self, entry: dict[str, Any]) -> str | None:
        pid, name = _id(entry.get("id")), _name(entry.get("name"))
        if pid is None or name is None:
            return None
        slug = f"tmdb-person-{pid}"
        if slug not in self.people:
            person: dict[str, Any] = {"slug": slug, "name": name, "source": "tmdb"}
            original = _name(entry.get("original_name"))
            if original and original != name:
                person["aliases"] = [original]
            self.people[slug] = person
        return slug

    def _credits(self, cast: list[Any], crew: list[Any], source: str) -> tuple[list[dict[str, Any]],
                                                                                 list[dict[str, Any]]]:
        out_cast: list[dict[str, Any]] = []
        ordered = sorted((c for c in cast if isinstance(c, dict)),
                         key=lambda c: c.get("order") if isinstance(c.get("order"), int) else 10_000)
        for entry in ordered[:MAX_CAST]:
            person = self._person(entry)
            if person is None:
                continue
            character = entry.get("character")
            if not character and isinstance(entry.get("roles"), list) and entry["roles"]:
                character = entry["roles"][0].get("character") if isinstance(entry["roles"][0], dict) else None
            credit: dict[str, Any] = {"person": person, "billing": len(out_cast) + 1, "source": source}
            if _name(character):
                credit["character"] = _name(character)
            out_cast.append(credit)
        out_crew: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for entry in crew:
            if not isinstance(entry, dict):
                continue
            jobs = [entry.get("job")] if entry.get("job") else [
                j.get("job") for j in entry.get("jobs") or [] if isinstance(j, dict)]
            for job in jobs:
                if job not in KEY_JOBS or len(out_crew) >= MAX_CREW:
                    continue
                person = self._person(entry)
                if person is None or (person, job) in seen:
                    continue
                seen.add((person, job))
                department = JOB_DEPARTMENT.get(job) or DEPARTMENT.get(entry.get("department") or "", "other")
                out_crew.append({"person": person, "job": job, "department": department, "source": source})
        return out_cast, out_crew

    def _watch(self, block: Any, source: str) -> list[dict[str, Any]]:
        results = block.get("results") if isinstance(block, dict) else None
        offers: list[dict[str, Any]] = []
        if not isinstance(results, dict):
            return offers
        for region in sorted(results):
            options = results[region]
            if not isinstance(options, dict) or not isinstance(region, str) or not validate.is_region(region):
                continue
            seen: set[tuple[str, str]] = set()
            for tmdb_kind, kind in (("flatrate", "stream"), ("free", "stream"), ("ads", "stream"),
                                    ("rent", "rent"), ("buy", "buy")):
                for provider in options.get(tmdb_kind) or []:
                    name = _name(provider.get("provider_name")) if isinstance(provider, dict) else None
                    if name and (name, kind) not in seen:
                        seen.add((name, kind))
                        offers.append({"region": region, "provider": name, "kind": kind, "source": source,
                                       "as_of": self.today})
        return offers

    def movie(self, movie: dict[str, Any]) -> None:
        mid = _id(movie.get("id"))
        name = _name(movie.get("title")) or _name(movie.get("original_title"))
        if mid is None or name is None:
            return
        watch = movie.get("watch/providers")
        source = self._source("movie", mid, name, watch=bool(self._watch(watch, "")))
        title = self._title(f"tmdb-movie-{mid}", name, "film", MOVIE_STATUS.get(movie.get("status") or "", "announced"),
                            movie.get("overview"), source)
        original = _name(movie.get("original_title"))
        if original and original != name:
            title["aliases"] = [original]
        runtime = movie.get("runtime")
        if isinstance(runtime, int) and 0 < runtime <= packs.RUNTIME_MAX:
            title["runtime"] = runtime
        title["releases"] = self._movie_releases(movie, source)
        credits = movie.get("credits") if isinstance(movie.get("credits"), dict) else {}
        title["cast"], title["crew"] = self._credits(credits.get("cast") or [], credits.get("crew") or [], source)
        title["watch"] = self._watch(watch, source)
        self.titles.append(title)

    def _title(self, slug: str, name: str, kind: str, status: str, overview: Any, source: str) -> dict[str, Any]:
        title: dict[str, Any] = {"slug": slug, "franchise": self.franchise, "name": name, "kind": kind,
                                 "status": status, "source": source}
        synopsis = _text(overview, validate.SYNOPSIS_MAX)
        if synopsis:
            title["synopsis"] = synopsis
        return title

    def _release(self, region: str, medium: str, date: dt.date | None, source: str, note: str | None = None,
                 provider: str | None = None) -> dict[str, Any]:
        release: dict[str, Any] = {"region": region, "medium": medium, "source": source, "as_of": self.today,
                                   "precision": "day" if date else "unknown"}
        if date:
            release["date"] = date
        if note:
            release["note"] = _text(note, validate.NOTE_MAX)
        if provider:
            release["provider"] = provider
        return release

    def _movie_releases(self, movie: dict[str, Any], source: str) -> list[dict[str, Any]]:
        """Per region: theatrical (TMDB types 1–3: the wide release, with the premiere or limited run in
        its note), digital (4), physical (5), tv (6)."""
        block = movie.get("release_dates")
        results = block.get("results") if isinstance(block, dict) else None
        out: list[dict[str, Any]] = []
        regions: dict[str, list[Any]] = {}  # a region listed twice is one region
        for entry in results if isinstance(results, list) else []:
            region = entry.get("iso_3166_1") if isinstance(entry, dict) else None
            if isinstance(region, str) and validate.is_region(region) and isinstance(entry.get("release_dates"), list):
                regions.setdefault(region, []).extend(entry["release_dates"])
        for region, items in regions.items():
            by_type: dict[int, tuple[dt.date, str | None]] = {}
            for item in items:
                if not isinstance(item, dict) or item.get("type") not in range(1, 7):
                    continue
                date = _date(item.get("release_date"))
                if date is None:
                    continue
                note = _text(item.get("note"), 80)
                if item["type"] not in by_type or date < by_type[item["type"]][0]:
                    by_type[item["type"]] = (date, note)
            theatrical = [t for t in (3, 2, 1) if t in by_type]
            if theatrical:
                date, note = by_type[theatrical[0]]
                words = {3: None, 2: "Limited release", 1: "Premiere"}[theatrical[0]]
                notes = [n for n in (words, note) if n]
                for earlier, label in ((1, "Premiere"), (2, "Limited release")):
                    if earlier != theatrical[0] and earlier in by_type and by_type[earlier][0] < date:
                        when, where = by_type[earlier]
                        notes.append(f"{label} {when.isoformat()}" + (f" ({where})" if where else ""))
                out.append(self._release(region, "theatrical", date, source, "; ".join(notes) or None))
            for tmdb_type, medium in ((4, "digital"), (5, "physical"), (6, "tv")):
                if tmdb_type in by_type:
                    date, note = by_type[tmdb_type]
                    out.append(self._release(region, medium, date, source, note))
        if not out:  # nothing dated at TMDB yet: a TBA release, so /upcoming lists it
            when = _date(movie.get("release_date"))
            region = next((c.get("iso_3166_1") for c in movie.get("production_countries") or []
                           if isinstance(c, dict) and validate.is_region(str(c.get("iso_3166_1")))), "US")
            out.append(self._release(region, "theatrical", when, source))
        return out

    def series(self, tv: dict[str, Any], seasons: list[dict[str, Any]]) -> None:
        """The series as one title (first air date), and each season as a title of its own with its
        air date, so a fan can follow "season 2" and count down to it."""
        tid = _id(tv.get("id"))
        name = _name(tv.get("name")) or _name(tv.get("original_name"))
        if tid is None or name is None:
            return
        watch = tv.get("watch/providers")
        source = self._source("tv", tid, name, watch=bool(self._watch(watch, "")))
        first = _date(tv.get("first_air_date"))
        status = TV_STATUS.get(tv.get("status") or "") or (
            "released" if first and first <= self.today else "announced")
        title = self._title(f"tmdb-tv-{tid}", name, "series", status, tv.get("overview"), source)
        region = next((c for c in tv.get("origin_country") or [] if isinstance(c, str) and validate.is_region(c)),
                      "US")
        network = next((_name(n.get("name")) for n in tv.get("networks") or [] if isinstance(n, dict)), None)
        counts = f"{tv['number_of_seasons']} seasons, {tv['number_of_episodes']} episodes" if all(
            isinstance(tv.get(k), int) for k in ("number_of_seasons", "number_of_episodes")) else None
        title["releases"] = [self._release(region, "tv", first, source, counts, network)]
        credits = tv.get("aggregate_credits") if isinstance(tv.get("aggregate_credits"), dict) else (
            tv.get("credits") if isinstance(tv.get("credits"), dict) else {})
        creators = [{"id": c.get("id"), "name": c.get("name"), "job": "Creator", "department": "Writing"}
                    for c in tv.get("created_by") or [] if isinstance(c, dict)]
        title["cast"], title["crew"] = self._credits(credits.get("cast") or [],
                                                     creators + list(credits.get("crew") or []), source)
        title["watch"] = self._watch(watch, source)
        self.titles.append(title)
        details = {s.get("season_number"): s for s in seasons if isinstance(s, dict)}
        for summary in tv.get("seasons") or []:
            number = summary.get("season_number") if isinstance(summary, dict) else None
            if not isinstance(number, int) or number < 1:
                continue  # season 0 is "Specials"
            season = details.get(number, summary)
            label = f"Season {number}"
            season_title = self._title(f"tmdb-tv-{tid}-s{number}", _name(f"{name} – {label}") or label, "series",
                                       "announced", season.get("overview") or summary.get("overview"), source)
            air = _date(season.get("air_date")) or _date(summary.get("air_date"))
            season_title["status"] = "released" if air and air <= self.today else "announced"
            season_title["story_order"] = number
            season_title["aliases"] = [a for a in (_name(f"{name} {label}"), _name(f"{name} S{number}")) if a]
            episodes = [e for e in season.get("episodes") or [] if isinstance(e, dict)]
            dates = [f"{e.get('episode_number')}: {d.isoformat()}" for e in episodes
                     if (d := _date(e.get("air_date"))) is not None]
            note = f"Episodes {', '.join(dates)}" if dates else None
            season_title["releases"] = [self._release(region, "tv", air, source, note, network)]
            self.titles.append(season_title)
