"""Data packs: parse and validate (pure), load into the store, export back out.

A pack is normalised into plain dicts with every default filled in, so that
`normalise(parse(export(load(pack)))) == normalise(parse(pack))` — the round trip is exact.
See db/packs/FORMAT.md (and the README) for the format.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from db import models, validate
from db.store import Store

FORMAT_VERSION = 1
MAX_PACK_BYTES = 1_000_000
RUNTIME_MAX = 10_000  # minutes; a whole series' running time fits

JOB_DEPARTMENTS = {
    "director": "directing",
    "co-director": "directing",
    "writer": "writing",
    "screenplay": "writing",
    "story": "writing",
    "creator": "writing",
    "producer": "production",
    "executive producer": "production",
    "cinematographer": "camera",
    "director of photography": "camera",
    "editor": "editing",
    "composer": "music",
    "stunt coordinator": "stunts",
}


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class PackError(ValueError):
    """The pack is invalid; nothing was written. `problems` lists what and where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"invalid data pack: {shown}{more}")


@dataclass(slots=True)
class MovedRelease:
    release_id: int
    title_slug: str
    region: str
    medium: str
    old: models.ReleaseValue
    new: models.ReleaseValue


@dataclass(slots=True)
class ImportReport:
    pack: str
    version: int
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    moved: list[MovedRelease] = field(default_factory=list)


# -- reading ----------------------------------------------------------------------------------------


def read_pack_bytes(data: bytes, filename: str = "pack.toml", **shared: frozenset[str]) -> dict[str, Any]:
    """Parse TOML or JSON bytes into a normalised pack, or raise PackError."""
    if len(data) > MAX_PACK_BYTES:
        raise PackError([Problem("", f"the file is larger than {MAX_PACK_BYTES // 1_000_000} MB")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError([Problem("", f"the file is not UTF-8 text (byte {exc.start})")]) from None
    is_json = filename.lower().endswith(".json") or text.lstrip().startswith("{")
    try:
        raw = json.loads(text) if is_json else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise PackError([Problem(f"line {exc.lineno}", f"not valid JSON: {exc.msg}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise PackError([Problem("", f"not valid TOML: {exc}")]) from None
    return normalise(raw, **shared)


def read_pack_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    return read_pack_bytes(path.read_bytes(), path.name)


def builtin_pack_paths() -> list[Path]:
    folder = resources.files("db").joinpath("packs")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml"))


async def load_builtin_packs(store: Store, *, now: dt.datetime) -> list[ImportReport]:
    """Load (or update to a newer version) every shipped pack; a no-op when they are current."""
    reports = []
    for path in builtin_pack_paths():
        report = await load_pack(store, read_pack_file(path), now=now)
        if not report.skipped:
            reports.append(report)
    return reports


# -- validation and normalisation ------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def table(self, raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(where, "expected a table")
            return {}
        return raw

    def array(self, raw: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list):
            self.fail(f"{where}{key}", "expected an array of tables")
            return []
        return [self.table(item, f"{where}{key}[{i}]") for i, item in enumerate(value)]

    def unknown(self, raw: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in raw:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else key, "unknown key")

    def text(self, raw: dict[str, Any], key: str, where: str, *, limit: int, required: bool = False,
             ) -> str | None:
        value = raw.get(key)
        if value is None:
            if required:
                self.fail(f"{where}.{key}", "is required")
            return None
        if not isinstance(value, str):
            self.fail(f"{where}.{key}", "expected text")
            return None
        cleaned = validate.clean_text(value)
        if required and not cleaned:
            self.fail(f"{where}.{key}", "must not be empty")
            return None
        if len(cleaned) > limit:
            self.fail(f"{where}.{key}", f"is {len(cleaned)} characters; at most {limit}")
            return None
        return cleaned or None

    def slug(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not validate.SLUG.match(value) or len(value) > validate.SLUG_MAX:
            self.fail(f"{where}.{key}", "expected a slug: lowercase letters, digits and '-', like 'john-wick'")
            return ""
        return value

    def choice(self, raw: dict[str, Any], key: str, where: str, options: tuple[str, ...],
               default: str | None = None) -> str:
        value = raw.get(key, default)
        if value not in options:
            self.fail(f"{where}.{key}", f"expected one of {', '.join(options)}")
            return options[0]
        return value

    def date(self, raw: dict[str, Any], key: str, where: str, *, required: bool) -> dt.date | None:
        value = raw.get(key)
        if value is None:
            if required:
                self.fail(f"{where}.{key}", "is required (a date like 2025-06-06)")
            return None
        try:
            return validate.parse_date(value)
        except ValueError as exc:
            self.fail(f"{where}.{key}", str(exc))
            return None

    def strings(self, raw: dict[str, Any], key: str, where: str) -> list[str]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{where}.{key}", "expected an array of text")
            return []
        out: list[str] = []
        for i, item in enumerate(value):
            cleaned = validate.clean_text(item)
            if not cleaned or len(cleaned) > validate.NAME_MAX:
                self.fail(f"{where}.{key}[{i}]", f"must be 1–{validate.NAME_MAX} characters")
            elif cleaned not in out:
                out.append(cleaned)
        return out

    def source(self, raw: dict[str, Any], where: str, sources: dict[str, Any]) -> str:
        value = raw.get("source")
        if not isinstance(value, str) or value not in sources:
            known = ", ".join(sorted(sources)) or "none defined"
            self.fail(f"{where}.source", f"must name a key of [sources] ({known})")
            return ""
        return value


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def normalise(raw: Any, *, shared_franchises: frozenset[str] = frozenset(),
              shared_people: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Validate a parsed pack and return it with defaults filled in. Raises PackError.

    A server's pack may also refer to global franchises and people by slug (`shared_*`).
    """
    c = _Checker()
    raw = c.table(raw, "")
    c.unknown(raw, {"pack", "sources", "franchises", "people", "titles"}, "")
    head = c.table(raw.get("pack"), "pack")
    c.unknown(head, {"slug", "name", "version", "format"}, "pack")
    pack: dict[str, Any] = {"slug": c.slug(head, "slug", "pack"),
                            "name": c.text(head, "name", "pack", limit=validate.NAME_MAX, required=True)}
    for key in ("version", "format"):
        value = head.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            c.fail(f"pack.{key}", "expected a whole number >= 1")
        pack[key] = value
    if pack.get("format") not in (None, FORMAT_VERSION) and isinstance(pack.get("format"), int):
        c.fail("pack.format", f"this Marquee reads format {FORMAT_VERSION}")

    sources: dict[str, Any] = {}
    for key, entry in c.table(raw.get("sources", {}), "sources").items():
        where = f"sources.{key}"
        entry = c.table(entry, where)
        c.unknown(entry, {"name", "detail"}, where)
        item: dict[str, Any] = {"name": c.text(entry, "name", where, limit=200, required=True)}
        _put(item, "detail", c.text(entry, "detail", where, limit=validate.SYNOPSIS_MAX))
        sources[key] = item
    if not sources:
        c.fail("sources", "define at least one source, e.g. [sources.public-record]")

    def unique(items: list[dict[str, Any]], kind: str) -> set[str]:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item["slug"] in seen and item["slug"]:
                c.fail(f"{kind}[{i}].slug", f"'{item['slug']}' is used twice")
            seen.add(item["slug"])
        return seen

    franchises = []
    for i, entry in enumerate(c.array(raw, "franchises", "")):
        where = f"franchises[{i}]"
        c.unknown(entry, {"slug", "name"}, where)
        franchises.append({"slug": c.slug(entry, "slug", where),
                           "name": c.text(entry, "name", where, limit=validate.NAME_MAX, required=True)})
    franchise_slugs = unique(franchises, "franchises") | shared_franchises

    people = []
    for i, entry in enumerate(c.array(raw, "people", "")):
        where = f"people[{i}]"
        c.unknown(entry, {"slug", "name", "aliases", "bio", "source"}, where)
        person: dict[str, Any] = {
            "slug": c.slug(entry, "slug", where),
            "name": c.text(entry, "name", where, limit=validate.NAME_MAX, required=True),
            "aliases": c.strings(entry, "aliases", where),
        }
        _put(person, "bio", c.text(entry, "bio", where, limit=validate.BIO_MAX))
        person["source"] = c.source(entry, where, sources)
        people.append(person)
    people_slugs = unique(people, "people") | shared_people

    titles = []
    for i, entry in enumerate(c.array(raw, "titles", "")):
        where = f"titles[{i}]"
        c.unknown(entry, {"slug", "franchise", "name", "kind", "status", "story_order", "synopsis",
                          "aliases", "source", "releases", "cast", "crew", "watch", "runtime"}, where)
        title: dict[str, Any] = {"slug": c.slug(entry, "slug", where)}
        franchise = entry.get("franchise")
        if franchise not in franchise_slugs:
            c.fail(f"{where}.franchise", "must name a franchise slug defined in [[franchises]]")
        title["franchise"] = franchise
        title["name"] = c.text(entry, "name", where, limit=validate.NAME_MAX, required=True)
        title["kind"] = c.choice(entry, "kind", where, models.KINDS)
        title["status"] = c.choice(entry, "status", where, models.STATUSES)
        order = entry.get("story_order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
            c.fail(f"{where}.story_order", "expected a number")
            order = None
        _put(title, "story_order", order)
        runtime = entry.get("runtime")
        if runtime is not None and (isinstance(runtime, bool) or not isinstance(runtime, int)
                                    or not 0 < runtime <= RUNTIME_MAX):
            c.fail(f"{where}.runtime", f"expected minutes, a whole number from 1 to {RUNTIME_MAX}")
            runtime = None
        _put(title, "runtime", runtime)
        _put(title, "synopsis", c.text(entry, "synopsis", where, limit=validate.SYNOPSIS_MAX))
        title["aliases"] = c.strings(entry, "aliases", where)
        title["source"] = c.source(entry, where, sources)
        title["releases"] = _releases(c, entry, where, sources)
        title["cast"] = _credits(c, entry, "cast", where, sources, people_slugs)
        title["crew"] = _credits(c, entry, "crew", where, sources, people_slugs)
        title["watch"] = _offers(c, entry, where, sources)
        titles.append(title)
    unique(titles, "titles")

    if c.problems:
        raise PackError(c.problems)
    return {"pack": pack, "sources": sources, "franchises": franchises, "people": people, "titles": titles}


def _release_value(c: _Checker, entry: dict[str, Any], where: str, sources: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    precision = c.choice(entry, "precision", where, models.PRECISIONS, "day")
    date = c.date(entry, "date", where, required=precision != "unknown")
    if precision == "unknown" and date is not None:
        c.fail(f"{where}.date", "leave the date out when precision is 'unknown'")
    _put(value, "date", date)
    if "time" in entry or "timezone" in entry:
        try:
            _put(value, "time", validate.parse_time(entry.get("time")))
        except ValueError as exc:
            c.fail(f"{where}.time", str(exc))
        zone = entry.get("timezone")
        if not isinstance(zone, str) or not validate.is_time_zone(zone):
            c.fail(f"{where}.timezone", "expected an IANA time zone like America/New_York (required with time)")
        value["timezone"] = zone
        if precision != "day":
            c.fail(f"{where}.time", "a time of day needs precision 'day'")
    value["precision"] = precision
    value["status"] = c.choice(entry, "status", where, models.RELEASE_STATUSES, "confirmed")
    _put(value, "note", c.text(entry, "note", where, limit=validate.NOTE_MAX))
    value["source"] = c.source(entry, where, sources)
    value["as_of"] = c.date(entry, "as_of", where, required=True)
    return value


_VALUE_KEYS = {"date", "time", "timezone", "precision", "status", "note", "source", "as_of"}


def _releases(c: _Checker, title: dict[str, Any], where: str, sources: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(c.array(title, "releases", f"{where}.")):
        here = f"{where}.releases[{i}]"
        c.unknown(entry, _VALUE_KEYS | {"region", "medium", "provider", "history"}, here)
        region = entry.get("region")
        if not isinstance(region, str) or not validate.is_region(region):
            c.fail(f"{here}.region", "expected an ISO 3166-1 alpha-2 country code like US or GB")
        release: dict[str, Any] = {"region": region,
                                   "medium": c.choice(entry, "medium", here, models.MEDIA)}
        if (release["region"], release["medium"]) in seen:
            c.fail(here, f"a second {release['medium']} release in {region}; edit the first one")
        seen.add((release["region"], release["medium"]))
        _put(release, "provider", c.text(entry, "provider", here, limit=validate.NAME_MAX))
        release.update(_release_value(c, entry, here, sources))
        history = []
        for j, past in enumerate(c.array(entry, "history", f"{here}.")):
            c.unknown(past, _VALUE_KEYS, f"{here}.history[{j}]")
            history.append(_release_value(c, past, f"{here}.history[{j}]", sources))
        release["history"] = history
        out.append(release)
    return out


def _credits(c: _Checker, title: dict[str, Any], kind: str, where: str, sources: dict[str, Any],
             people: set[str]) -> list[dict[str, Any]]:
    out = []
    for i, entry in enumerate(c.array(title, kind, f"{where}.")):
        here = f"{where}.{kind}[{i}]"
        allowed = {"person", "billing", "note", "source"} | ({"character"} if kind == "cast" else {"job", "department"})
        c.unknown(entry, allowed, here)
        credit: dict[str, Any] = {"person": entry.get("person")}
        if credit["person"] not in people:
            c.fail(f"{here}.person", "must name a person slug defined in [[people]]")
        if kind == "cast":
            _put(credit, "character", c.text(entry, "character", here, limit=validate.NAME_MAX))
        else:
            job = c.text(entry, "job", here, limit=validate.NAME_MAX, required=True)
            credit["job"] = job
            default = JOB_DEPARTMENTS.get((job or "").lower(), "other")
            credit["department"] = c.choice(entry, "department", here, models.DEPARTMENTS, default)
        billing = entry.get("billing")
        if billing is not None and (not isinstance(billing, int) or isinstance(billing, bool) or billing < 0):
            c.fail(f"{here}.billing", "expected a whole number")
            billing = None
        _put(credit, "billing", billing)
        _put(credit, "note", c.text(entry, "note", here, limit=validate.NOTE_MAX))
        credit["source"] = c.source(entry, here, sources)
        out.append(credit)
    return out


def _offers(c: _Checker, title: dict[str, Any], where: str, sources: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, entry in enumerate(c.array(title, "watch", f"{where}.")):
        here = f"{where}.watch[{i}]"
        c.unknown(entry, {"region", "provider", "kind", "price", "currency", "note", "source", "as_of"}, here)
        region = entry.get("region")
        if not isinstance(region, str) or not validate.is_region(region):
            c.fail(f"{here}.region", "expected an ISO 3166-1 alpha-2 country code like US or GB")
        offer: dict[str, Any] = {"region": region,
                                 "provider": c.text(entry, "provider", here, limit=validate.NAME_MAX, required=True),
                                 "kind": c.choice(entry, "kind", here, models.OFFER_KINDS)}
        price = entry.get("price")
        if price is not None:
            try:
                if not isinstance(price, str) or Decimal(price) < 0 or not Decimal(price).is_finite():
                    raise InvalidOperation
                offer["price"] = price
            except InvalidOperation:
                c.fail(f"{here}.price", "expected a decimal number as text, like \"3.99\"")
            currency = entry.get("currency")
            if not isinstance(currency, str) or not validate.is_currency(currency):
                c.fail(f"{here}.currency", "expected an ISO 4217 currency code like USD (required with price)")
            offer["currency"] = currency
        elif "currency" in entry:
            c.fail(f"{here}.currency", "give a price with the currency")
        _put(offer, "note", c.text(entry, "note", here, limit=validate.NOTE_MAX))
        offer["source"] = c.source(entry, here, sources)
        offer["as_of"] = c.date(entry, "as_of", here, required=True)
        out.append(offer)
    return out


# -- writing into the store ------------------------------------------------------------------------


def value_from_row(row: Any) -> models.ReleaseValue:
    return models.ReleaseValue(
        date=dt.date.fromisoformat(row["date"]) if row["date"] else None,
        precision=row["precision"],
        status=row["status"],
        time=dt.time.fromisoformat(row["time"]) if row["time"] else None,
        timezone=row["timezone"],
        note=row["note"],
        source=row["source"],
        as_of=dt.date.fromisoformat(row["as_of"]),
    )


def _value_from_pack(value: dict[str, Any]) -> models.ReleaseValue:
    return models.ReleaseValue(
        date=value.get("date"), precision=value["precision"], status=value["status"],
        time=value.get("time"), timezone=value.get("timezone"), note=value.get("note"),
        source=value["source"], as_of=value["as_of"],
    )


def moved(old: models.ReleaseValue, new: models.ReleaseValue) -> bool:
    """Did the release's date (or time) change? Status and notes alone are not a move."""
    return (old.date, old.time, old.timezone, old.precision) != (new.date, new.time, new.timezone, new.precision)


async def record_move(conn: Any, release_id: int, guild_id: int | None, old: models.ReleaseValue,
                      new: models.ReleaseValue, stamp: str) -> None:
    """A durable "release moved" event, consumed by the countdown scheduler."""
    old_params, new_params = value_params(old), value_params(new)
    await conn.execute(
        "INSERT INTO release_moves (release_id, guild_id, old_date, old_time, old_tz, new_date, new_time, new_tz, "
        "moved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (release_id, guild_id, *old_params[:3], *new_params[:3], stamp))


def value_params(value: models.ReleaseValue) -> tuple[Any, ...]:
    return (
        value.date.isoformat() if value.date else None,
        value.time.strftime("%H:%M") if value.time else None,
        value.timezone, value.precision, value.status, value.note, value.source, value.as_of.isoformat(),
    )


async def load_pack(store: Store, pack: dict[str, Any], *, now: dt.datetime, guild_id: int | None = None,
                    force: bool = False, also: Callable[[Any, ImportReport], Awaitable[None]] | None = None,
                    keep_server_edits: bool = False) -> ImportReport:
    """Load a normalised pack in one transaction. Same or older version: nothing changes.

    Rows are keyed by slug, so loading is idempotent; a newer version updates the pack's rows,
    removes the ones it dropped, and never touches another owner's rows. Release ids survive
    updates, and a changed date is appended to the release's history and reported as moved.

    `keep_server_edits` (a server's TMDB import refreshed): rows the server's moderators wrote
    (source 'server': a date they set, a credit or an offer they added) are left as they are.
    """
    head = pack["pack"]
    report = ImportReport(pack=head["slug"], version=head["version"])
    owner = guild_id
    recorded_by = f"pack:{head['slug']}@{head['version']}"
    stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    counts = report.counts
    async with store.transaction() as conn:

        async def one(sql: str, params: tuple[Any, ...]) -> Any:
            async with conn.execute(sql, params) as cur:
                return await cur.fetchone()

        existing = await one("SELECT id, version FROM packs WHERE ifnull(guild_id, 0) = ifnull(?, 0) AND slug = ?",
                             (owner, head["slug"]))
        if existing and existing["version"] >= head["version"] and not force:
            report.skipped = True
            return report
        if existing:
            pack_id = existing["id"]
            await conn.execute("UPDATE packs SET name = ?, version = ?, format = ?, loaded_at = ? WHERE id = ?",
                               (head["name"], head["version"], head["format"], stamp, pack_id))
        else:
            cur = await conn.execute(
                "INSERT INTO packs (guild_id, slug, name, version, format, loaded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (owner, head["slug"], head["name"], head["version"], head["format"], stamp))
            pack_id = cur.lastrowid
        await conn.execute("DELETE FROM sources WHERE pack_id = ?", (pack_id,))
        for key, source in pack["sources"].items():
            await conn.execute("INSERT INTO sources (pack_id, key, name, detail) VALUES (?, ?, ?, ?)",
                               (pack_id, key, source["name"], source.get("detail")))

        async def upsert(table: str, slug: str, columns: dict[str, Any]) -> int:
            row = await one(f"SELECT id FROM {table} WHERE ifnull(guild_id, 0) = ifnull(?, 0) AND slug = ?",
                            (owner, slug))
            names = list(columns)
            if row:
                assignments = ", ".join(f"{n} = ?" for n in names)
                await conn.execute(f"UPDATE {table} SET {assignments}, pack_id = ? WHERE id = ?",
                                   (*columns.values(), pack_id, row["id"]))
                counts[f"{table}_updated"] = counts.get(f"{table}_updated", 0) + 1
                return int(row["id"])
            placeholders = ", ".join("?" for _ in names)
            cur = await conn.execute(
                f"INSERT INTO {table} (guild_id, pack_id, slug, {', '.join(names)}) "
                f"VALUES (?, ?, ?, {placeholders})", (owner, pack_id, slug, *columns.values()))
            counts[f"{table}_added"] = counts.get(f"{table}_added", 0) + 1
            return int(cur.lastrowid)

        async def drop_missing(table: str, keep: list[str]) -> None:
            marks = ", ".join("?" for _ in keep) or "''"
            cur = await conn.execute(
                f"DELETE FROM {table} WHERE pack_id = ? AND slug NOT IN ({marks})", (pack_id, *keep))
            if cur.rowcount:
                counts[f"{table}_removed"] = cur.rowcount

        async def replace_children(table: str, parent: str, parent_id: int, rows: list[tuple[Any, ...]],
                                   columns: str) -> None:
            """The owner's child rows of one parent (aliases, credits, offers) become exactly `rows`."""
            has_source = table in ("credits", "watch_offers")
            kept = " AND ifnull(source, '') <> 'server'" if keep_server_edits and has_source else ""
            await conn.execute(f"DELETE FROM {table} WHERE {parent} = ? AND ifnull(guild_id, 0) = ifnull(?, 0)"
                               f"{kept}", (parent_id, owner))
            marks = ", ".join("?" for _ in range(columns.count(",") + 4))
            for position, row in enumerate(rows):
                await conn.execute(f"INSERT INTO {table} (guild_id, {parent}, {columns}, position) VALUES ({marks})",
                                   (owner, parent_id, *row, position))

        franchise_ids = {}
        for franchise in pack["franchises"]:
            franchise_ids[franchise["slug"]] = await upsert("franchises", franchise["slug"],
                                                            {"name": franchise["name"]})
        person_ids = {}
        for pos, person in enumerate(pack["people"]):
            pid = await upsert("people", person["slug"], {"name": person["name"], "bio": person.get("bio"),
                                                          "source": person["source"], "position": pos})
            person_ids[person["slug"]] = pid
            await replace_children("person_aliases", "person_id", pid, [(a,) for a in person["aliases"]], "alias")

        async def shared_id(table: str, slug: str, known: dict[str, int]) -> int:
            if slug not in known:  # a pack may point at a global franchise or person, or one its owner has
                row = await one(f"SELECT id FROM {table} WHERE ifnull(guild_id, 0) IN (0, ifnull(?, 0)) "
                                "AND slug = ? ORDER BY guild_id IS NULL LIMIT 1", (owner, slug))
                known[slug] = int(row["id"])
            return known[slug]

        for pos, title in enumerate(pack["titles"]):
            await shared_id("franchises", title["franchise"], franchise_ids)
            for credit in title["cast"] + title["crew"]:
                await shared_id("people", credit["person"], person_ids)
            tid = await upsert("titles", title["slug"], {
                "franchise_id": franchise_ids[title["franchise"]], "name": title["name"], "kind": title["kind"],
                "status": title["status"], "story_order": title.get("story_order"),
                "synopsis": title.get("synopsis"), "source": title["source"], "position": pos,
                "runtime": title.get("runtime")})
            await replace_children("title_aliases", "title_id", tid, [(a,) for a in title["aliases"]], "alias")
            credits = [(person_ids[c["person"]], kind, c.get("character"), c.get("department"), c.get("job"),
                        c.get("billing"), c.get("note"), c["source"])
                       for kind in ("cast", "crew") for c in title[kind]]
            await replace_children("credits", "title_id", tid, credits,
                                   "person_id, kind, character, department, job, billing, note, source")
            offers = [(o["region"], o["provider"], o["kind"], o.get("price"), o.get("currency"), o.get("note"),
                       o["source"], o["as_of"].isoformat()) for o in title["watch"]]
            await replace_children("watch_offers", "title_id", tid, offers,
                                   "region, provider, kind, price, currency, note, source, as_of")
            await _load_releases(conn, title, tid, owner, stamp, recorded_by, report, keep_server_edits)

        await drop_missing("titles", [t["slug"] for t in pack["titles"]])
        await drop_missing("people", [p["slug"] for p in pack["people"]])
        await drop_missing("franchises", [f["slug"] for f in pack["franchises"]])
        if also is not None:  # e.g. the audit row of a server's import, in the same transaction
            await also(conn, report)
    return report


async def _load_releases(conn: Any, title: dict[str, Any], tid: int, owner: int | None, stamp: str,
                         recorded_by: str, report: ImportReport, keep_server_edits: bool = False) -> None:
    """The title's releases become the pack's, and each release's history is merged (see _merge_history)."""
    keep: list[int] = []
    for release in title["releases"]:
        wanted = [_value_from_pack(v) for v in release["history"]] + [_value_from_pack(release)]
        async with conn.execute(
            "SELECT * FROM releases WHERE ifnull(guild_id, 0) = ifnull(?, 0) AND title_id = ? AND region = ? "
            "AND medium = ?", (owner, tid, release["region"], release["medium"])) as cur:
            row = await cur.fetchone()
        current = wanted[-1]
        if row is not None and keep_server_edits and row["source"] == "server":
            keep.append(int(row["id"]))  # the server's moderators set this date: theirs wins
            continue
        if row is None:
            cur = await conn.execute(
                "INSERT INTO releases (guild_id, title_id, region, medium, provider, date, time, timezone, "
                "precision, status, note, source, as_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (owner, tid, release["region"], release["medium"], release.get("provider"),
                 *value_params(current)))
            release_id = int(cur.lastrowid)
            stored: list[_HistoryRow] = []
        else:
            release_id = int(row["id"])
            async with conn.execute("SELECT * FROM release_history WHERE release_id = ? ORDER BY id",
                                    (release_id,)) as cur:
                stored = [_HistoryRow(value_from_row(r), r["recorded_at"], r["recorded_by"], int(r["id"]))
                          for r in await cur.fetchall()]
            old = value_from_row(row)
            await conn.execute(
                "UPDATE releases SET provider = ?, date = ?, time = ?, timezone = ?, precision = ?, status = ?, "
                "note = ?, source = ?, as_of = ? WHERE id = ?",
                (release.get("provider"), *value_params(current), release_id))
            if moved(old, current):  # a corrected note or as_of alone is not a move
                report.moved.append(MovedRelease(release_id, title["slug"], release["region"],
                                                 release["medium"], old, current))
                await record_move(conn, release_id, owner, old, current, stamp)
        mine = recorded_by.split("@", 1)[0] + "@"  # 'pack:<slug>@', whatever the version
        merged = _merge_history(stored, wanted, mine, stamp, recorded_by)
        await _write_history(conn, release_id, stored, merged)
        keep.append(release_id)
    marks = ", ".join("?" for _ in keep) or "0"
    await conn.execute(
        f"DELETE FROM releases WHERE title_id = ? AND ifnull(guild_id, 0) = ifnull(?, 0) AND id NOT IN ({marks})",
        (tid, owner, *keep))


@dataclass(frozen=True, slots=True)
class _HistoryRow:
    value: models.ReleaseValue
    recorded_at: str
    recorded_by: str
    id: int | None = None  # None: not stored yet


def _when(value: models.ReleaseValue) -> tuple[Any, ...]:
    return (value.date, value.time, value.timezone, value.precision)


def _aligned(old: list[tuple[Any, ...]], new: list[tuple[Any, ...]]) -> dict[int, int]:
    """The longest in-order matching of equal items (index in `new` -> index in `old`)."""
    best = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(len(old) - 1, -1, -1):
        for j in range(len(new) - 1, -1, -1):
            best[i][j] = best[i + 1][j + 1] + 1 if old[i] == new[j] else max(best[i + 1][j], best[i][j + 1])
    pairs: dict[int, int] = {}
    i = j = 0
    while i < len(old) and j < len(new):
        if old[i] == new[j]:
            pairs[j] = i
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _merge_history(stored: list[_HistoryRow], wanted: list[models.ReleaseValue], mine: str, stamp: str,
                   recorded_by: str) -> list[_HistoryRow]:
    """A release's history after loading a pack whose history of it is `wanted` (current value last).

    The stored rows are matched, in order and by date, to the values the pack lists. A matched row
    this pack recorded (any version of it: `recorded_by` starts with `mine`) is the pack's to rewrite:
    it takes the value listed now (a corrected as_of, source or note replaces it instead of adding a
    row). A matched row anyone else recorded (`user:<id>`, another pack) is kept as it is, and so is
    every unmatched row: a date given once and no longer listed stays, since members saw it and it
    moved. Listed values with no stored row are added. So loading a pack over its older version gives
    the history a fresh load gives, plus the dates that really moved.
    """
    *earlier, current = wanted
    tail = None  # the stored row that holds the current value: the last one, if the pack may rewrite it
    if stored and _when(stored[-1].value) == _when(current) and (
            stored[-1].recorded_by.startswith(mine) or stored[-1].value == current):
        tail = stored[-1]
    body = stored[:-1] if tail is not None else stored
    pairs = _aligned([_when(row.value) for row in body], [_when(v) for v in earlier])
    match = {k: j for j, k in pairs.items()}  # index in body -> index in earlier

    def take(row: _HistoryRow | None, value: models.ReleaseValue) -> _HistoryRow:
        if row is not None and (row.value == value or not row.recorded_by.startswith(mine)):
            return row  # unchanged, or not the pack's: it keeps when and by whom it was recorded
        return _HistoryRow(value, stamp, recorded_by, row.id if row is not None else None)

    out: list[_HistoryRow] = []
    done = 0  # values of `earlier` placed so far
    for k, row in enumerate(body):
        if k in match:
            j = match[k]
            out += [take(None, v) for v in earlier[done:j]]  # new values the pack puts before this one
            out.append(take(row, earlier[j]))
            done = j + 1
        else:
            out.append(row)
    out += [take(None, v) for v in earlier[done:]]
    out.append(take(tail, current))
    return out


async def _write_history(conn: Any, release_id: int, stored: list[_HistoryRow], merged: list[_HistoryRow]) -> None:
    """Store `merged` (which keeps every stored row, in order): rewrite changed rows in place and append
    new ones, or renumber the whole history when a new row comes before a stored one (it is read in id
    order)."""
    if merged == stored:
        return
    first_new = next((k for k, row in enumerate(merged) if row.id is None), len(merged))
    appended = merged[first_new:]
    if all(row.id is None for row in appended):
        before = {row.id: row for row in stored}
        for row in merged[:first_new]:
            if row != before[row.id]:
                await conn.execute(
                    "UPDATE release_history SET date = ?, time = ?, timezone = ?, precision = ?, status = ?, "
                    "note = ?, source = ?, as_of = ?, recorded_at = ?, recorded_by = ? WHERE id = ?",
                    (*value_params(row.value), row.recorded_at, row.recorded_by, row.id))
    else:
        await conn.execute("DELETE FROM release_history WHERE release_id = ?", (release_id,))
        appended = merged
    for row in appended:
        await conn.execute(
            "INSERT INTO release_history (release_id, date, time, timezone, precision, status, note, source, "
            "as_of, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (release_id, *value_params(row.value), row.recorded_at, row.recorded_by))


# -- export -----------------------------------------------------------------------------------------


async def global_pack_slugs(store: Store) -> list[str]:
    return [r["slug"] for r in await store.fetchall("SELECT slug FROM packs WHERE guild_id IS NULL ORDER BY id")]


async def export_pack(store: Store, slug: str) -> dict[str, Any]:
    """A global pack as stored: what `load_pack` would need to rebuild it exactly."""
    head = await store.fetchone("SELECT * FROM packs WHERE guild_id IS NULL AND slug = ?", (slug,))
    if head is None:
        raise KeyError(slug)
    sources = {}
    for row in await store.fetchall("SELECT * FROM sources WHERE pack_id = ? ORDER BY id", (head["id"],)):
        source = {"name": row["name"]}
        _put(source, "detail", row["detail"])
        sources[row["key"]] = source
    pack = {"slug": head["slug"], "name": head["name"], "version": head["version"], "format": head["format"]}
    return await _export(store, pack, sources, "pack_id = :scope", head["id"], None)


SERVER_SOURCE = {"name": "This server's moderators", "detail": "Added or corrected with /catalog."}


async def export_server(store: Store, guild_id: int, name: str) -> dict[str, Any]:
    """Everything a server owns (its titles, people, franchises), as a pack it can edit and import."""
    used = {r["source"] for table in ("titles", "people", "releases", "credits", "watch_offers")
            for r in await store.fetchall(f"SELECT DISTINCT source FROM {table} WHERE guild_id = ?", (guild_id,))}
    sources: dict[str, Any] = {}
    for key in sorted(k for k in used if k):
        row = await store.fetchone("SELECT name, detail FROM sources WHERE key = ? ORDER BY id LIMIT 1", (key,))
        source = dict(SERVER_SOURCE) if row is None else {"name": row["name"]}
        if row is not None:
            _put(source, "detail", row["detail"])
        sources[key] = source
    if not sources:
        sources["server"] = dict(SERVER_SOURCE)
    pack = {"slug": f"server-{guild_id}", "name": validate.clean_text(name)[:validate.NAME_MAX] or "Server pack",
            "version": 1, "format": FORMAT_VERSION}
    return await _export(store, pack, sources, "guild_id = :scope", guild_id, guild_id)


async def _export(store: Store, head: dict[str, Any], sources: dict[str, Any], scope: str, scope_id: int,
                  guild_id: int | None) -> dict[str, Any]:
    params = {"scope": scope_id}
    out: dict[str, Any] = {"pack": head, "sources": sources}
    out["franchises"] = [{"slug": r["slug"], "name": r["name"]} for r in await store.fetchall(
        f"SELECT slug, name FROM franchises WHERE {scope} ORDER BY id", params)]
    people = []
    for row in await store.fetchall(f"SELECT * FROM people WHERE {scope} ORDER BY position, id", params):
        person: dict[str, Any] = {"slug": row["slug"], "name": row["name"], "aliases": [
            r["alias"] for r in await store.fetchall(
                "SELECT alias FROM person_aliases WHERE person_id = ? AND ifnull(guild_id, 0) = ifnull(?, 0) "
                "ORDER BY position, id", (row["id"], guild_id))]}
        _put(person, "bio", row["bio"])
        person["source"] = row["source"]
        people.append(person)
    out["people"] = people
    titles = []
    for row in await store.fetchall(
            "SELECT t.*, f.slug AS franchise_slug FROM titles t JOIN franchises f ON f.id = t.franchise_id "
            f"WHERE t.{scope} ORDER BY t.position, t.id", params):
        tid = row["id"]
        title: dict[str, Any] = {"slug": row["slug"], "franchise": row["franchise_slug"], "name": row["name"],
                                 "kind": row["kind"], "status": row["status"]}
        if row["story_order"] is not None:
            order = row["story_order"]
            title["story_order"] = int(order) if float(order).is_integer() else order
        _put(title, "runtime", row["runtime"])
        _put(title, "synopsis", row["synopsis"])
        mine = (tid, guild_id)
        title["aliases"] = [r["alias"] for r in await store.fetchall(
            "SELECT alias FROM title_aliases WHERE title_id = ? AND ifnull(guild_id, 0) = ifnull(?, 0) "
            "ORDER BY position, id", mine)]
        title["source"] = row["source"]
        releases = []
        for rel in await store.fetchall(
                "SELECT * FROM releases WHERE title_id = ? AND ifnull(guild_id, 0) = ifnull(?, 0) ORDER BY id", mine):
            release: dict[str, Any] = {"region": rel["region"], "medium": rel["medium"]}
            _put(release, "provider", rel["provider"])
            release.update(_value_dict(value_from_row(rel)))
            history = [_value_dict(value_from_row(h)) for h in await store.fetchall(
                "SELECT * FROM release_history WHERE release_id = ? ORDER BY id", (rel["id"],))]
            release["history"] = history[:-1]
            releases.append(release)
        title["releases"] = releases
        credits = await store.fetchall(
            "SELECT c.*, p.slug AS person_slug FROM credits c JOIN people p ON p.id = c.person_id "
            "WHERE c.title_id = ? AND ifnull(c.guild_id, 0) = ifnull(?, 0) ORDER BY c.position, c.id", mine)
        for kind in ("cast", "crew"):
            items = []
            for cr in credits:
                if cr["kind"] != kind:
                    continue
                credit: dict[str, Any] = {"person": cr["person_slug"]}
                if kind == "cast":
                    _put(credit, "character", cr["character"])
                else:
                    credit["job"] = cr["job"]
                    credit["department"] = cr["department"]
                _put(credit, "billing", cr["billing"])
                _put(credit, "note", cr["note"])
                credit["source"] = cr["source"]
                items.append(credit)
            title[kind] = items
        watch = []
        for off in await store.fetchall(
                "SELECT * FROM watch_offers WHERE title_id = ? AND ifnull(guild_id, 0) = ifnull(?, 0) "
                "ORDER BY position, id", mine):
            offer: dict[str, Any] = {"region": off["region"], "provider": off["provider"], "kind": off["kind"]}
            _put(offer, "price", off["price"])
            _put(offer, "currency", off["currency"])
            _put(offer, "note", off["note"])
            offer["source"] = off["source"]
            offer["as_of"] = dt.date.fromisoformat(off["as_of"])
            watch.append(offer)
        title["watch"] = watch
        titles.append(title)
    out["titles"] = titles
    return out


def _value_dict(value: models.ReleaseValue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "date", value.date)
    _put(out, "time", value.time)
    _put(out, "timezone", value.timezone)
    out["precision"] = value.precision
    out["status"] = value.status
    _put(out, "note", value.note)
    out["source"] = value.source
    out["as_of"] = value.as_of
    return out


def dumps_toml(pack: dict[str, Any]) -> str:
    header = "# Marquee data pack (format 1). See the README, section 'Data packs'.\n"
    return header + tomli_w.dumps(pack, multiline_strings=False)


def dumps_json(pack: dict[str, Any]) -> str:
    def default(value: Any) -> str:
        if isinstance(value, dt.time):
            return value.strftime("%H:%M")
        if isinstance(value, dt.date):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return json.dumps(pack, indent=2, ensure_ascii=False, default=default) + "\n"
