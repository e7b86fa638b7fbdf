"""Pure functions from catalog dataclasses to embeds, always within Discord's limits.

Long answers become several pages (the cog adds buttons); nothing is cut silently. Text from the
store or from members is escaped for markdown; mentions never ping because the client's
allowed_mentions is none, and the embed text cannot ping at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import overload

import discord
from discord.utils import escape_markdown, escape_mentions

from bot import timemath
from db import models, validate

COLOUR = discord.Colour(0xB22222)
_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
# Letters, digits, single spaces and punctuation that is inert in Discord's markdown.
_PLAIN = re.compile(r"(?:[^\W_]|[.,'()!?:;/&+=%$€£–—-])+(?: (?:[^\W_]|[.,'()!?:;/&+=%$€£–—-])+)*")

# Discord's limits (facts/discord-platform.md).
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
# Pages stay well under the limits so they read on a phone.
PAGE_CHARS = 1800
PAGE_LINES = 15

KIND_LABEL = {"film": "Film", "series": "Series", "special": "Special", "game": "Game"}
STATUS_LABEL = {"announced": "Announced", "filming": "Filming", "post-production": "Post-production",
                "released": "Released", "rumoured": "Rumoured"}
MEDIUM_LABEL = {"theatrical": "Theatrical", "streaming": "Streaming", "digital": "Digital",
                "physical": "Physical", "tv": "TV"}
OFFER_LABEL = {"stream": "Stream", "rent": "Rent", "buy": "Buy"}
TMDB_SOURCE_PREFIX = "tmdb"  # the source keys of TMDB imports: tmdb-movie-<id>, tmdb-tv-<id>


def plain(text: str | None, limit: int = 100) -> str:
    """Text shown where Discord renders no markdown and pings nobody (a thread's name): only cleaned and cut."""
    cleaned = validate.clean_text(text or "").strip() or "Countdown"
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


_MEMO_TEXT_MAX = 200  # texts this short (names, characters, jobs) are escaped once and remembered
_MEMO_SIZE = 1 << 16
_memo: dict[str, str] = {}


def _inert(cleaned: str) -> str:
    return _MENTION.sub("<\\1\u200b\\2>", escape_mentions(escape_markdown(cleaned)))


def _escape(text: str) -> str:
    if _PLAIN.fullmatch(text) is not None:
        return text  # most names: nothing to escape
    return _inert(validate.clean_text(text))


def safe(text: str | None, limit: int = 1000) -> str:
    """Text from the store or a member, made inert: no markdown, no mentions, no control characters."""
    if not text:
        return ""
    size = len(text)
    if size <= _MEMO_TEXT_MAX and size <= limit:
        # The same names are shown again and again (a person's 60 credits are 120 names): remembered, since
        # even the check that there is nothing to escape is a regex match of about a microsecond.
        done = _memo.get(text)
        if done is None:
            if len(_memo) >= _MEMO_SIZE:
                _memo.clear()
            done = _memo[text] = _escape(text)
        return done
    if size <= limit:
        return _escape(text)
    cleaned = validate.clean_text(text)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return _inert(cleaned)


def check_limits(embed: discord.Embed) -> list[str]:
    """Every way this embed breaks Discord's limits (empty when it is fine). Used by tests too."""
    problems = []
    if embed.title and len(embed.title) > TITLE_MAX:
        problems.append("title")
    if embed.description and len(embed.description) > DESCRIPTION_MAX:
        problems.append("description")
    if len(embed.fields) > FIELDS_MAX:
        problems.append("fields")
    for field in embed.fields:
        if len(field.name or "") > FIELD_NAME_MAX or not field.name:
            problems.append("field name")
        if len(field.value or "") > FIELD_VALUE_MAX or not field.value:
            problems.append("field value")
    if embed.footer.text and len(embed.footer.text) > FOOTER_MAX:
        problems.append("footer")
    if len(embed) > EMBED_TOTAL_MAX:
        problems.append("total")
    return problems


# -- time -----------------------------------------------------------------------------------------------


def when(value: models.ReleaseValue, now: dt.datetime, tz: dt.tzinfo) -> str:
    """'<t:…:D> (<t:…:R>) · in 12 days' for a dated release; 'June 2025' or 'TBA' otherwise."""
    instant = timemath.release_instant(value)
    if instant is None:
        return timemath.format_date(value)
    unix = int(instant.timestamp())
    text = f"<t:{unix}:D> (<t:{unix}:R>)"
    if value.time is not None:
        text = f"<t:{unix}:F> (<t:{unix}:R>)"
    days = timemath.days_until(value, now, tz)
    if days is not None and days >= 0:  # Discord's <t:…:R> already says how long ago a past date was
        text += f" · {timemath.describe_days(days)}"
    return text


def day(date: dt.date) -> str:
    return f"{date:%B} {date.day}, {date.year}"


def status_word(value: models.ReleaseValue) -> str:
    if value.date is None or value.precision == "unknown":
        return "TBA"
    return value.status.capitalize()


def release_line(release: models.Release, now: dt.datetime, tz: dt.tzinfo) -> str:
    label = f"{validate.region_name(release.region)} · {MEDIUM_LABEL[release.medium]}"
    if release.provider:
        label += f" ({safe(release.provider, 100)})"
    if release.value.date is None or release.value.precision == "unknown":
        return f"**{label}** — TBA"
    return f"**{label}** — {when(release.value, now, tz)} · {status_word(release.value)}"


# -- paging ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Section:
    """A heading and its lines; becomes an embed field, split across fields/pages when long."""

    name: str
    lines: list[str]


class PageList(Sequence[discord.Embed]):
    """The pages of one answer, laid out at once and made into embeds when shown.

    The layout (which lines and fields go on which page) is decided up front, so the page count is
    known; an embed is built the first time its page is read. A member usually sees the first page
    only: the other pages of a 65-credit /person cost nothing until someone turns to them.
    """

    __slots__ = ("_built", "_footer", "_layout", "_title", "_url")

    def __init__(self, title: str, url: str | None, layout: list[tuple[str | None, list[tuple[str, str]]]],
                 footer: str) -> None:
        self._title, self._url, self._layout, self._footer = title, url, layout, footer
        self._built: list[discord.Embed | None] = [None] * len(layout)

    def __len__(self) -> int:
        return len(self._layout)

    @overload
    def __getitem__(self, index: int) -> discord.Embed: ...

    @overload
    def __getitem__(self, index: slice) -> list[discord.Embed]: ...

    def __getitem__(self, index: int | slice) -> discord.Embed | list[discord.Embed]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        embed = self._built[index]
        if embed is None:
            description, fields = self._layout[index]
            embed = discord.Embed(title=self._title, colour=COLOUR, url=self._url, description=description)
            for name, value in fields:
                embed.add_field(name=name, value=value, inline=False)
            total, footer = len(self._layout), self._footer
            if total > 1:
                footer = f"Page {index % total + 1}/{total}" + (f" · {footer}" if footer else "")
            if footer:
                embed.set_footer(text=footer[:FOOTER_MAX])
            self._built[index] = embed
        return embed


def paginate(title: str, *, description: str = "", sections: Sequence[Section] = (), lines: Sequence[str] = (),
             footer: str = "", url: str | None = None) -> PageList:
    """Lay out a description, plain lines, and sections over as many pages as they need."""
    title = title[:TITLE_MAX]
    layout: list[tuple[str | None, list[tuple[str, str]]]] = []
    body = [description[:DESCRIPTION_MAX]] if description else []
    size = len(body[0]) if body else -1  # the length of "\n".join(body)
    count = 0
    for line in lines:
        line = line[:FIELD_VALUE_MAX]
        if body and (size + len(line) + 1 > PAGE_CHARS or count >= PAGE_LINES):
            layout.append(("\n".join(body), []))
            body, size, count = [], -1, 0
        body.append(line)
        size += len(line) + 1
        count += 1
    fields: list[tuple[str, str]] = []
    layout.append(("\n".join(body) or None, fields))
    # What Discord counts towards an embed's 6,000 characters, for the page being filled (the footer is
    # added at the end, with room for its "Page n/N · ").
    used = len(title) + len(layout[-1][0] or "") + len(footer) + 20
    for section in sections:
        for part, value in enumerate(_chunks(section.lines)):
            name = (section.name if part == 0 else f"{section.name} (continued)")[:FIELD_NAME_MAX]
            if len(fields) >= 6 or used + len(name) + len(value) > PAGE_CHARS:
                fields = []
                layout.append((None, fields))
                used = len(title) + len(footer) + 20
            fields.append((name, value))
            used += len(name) + len(value)
    return PageList(title, url, layout, footer)


def _chunks(lines: Sequence[str]) -> list[str]:
    """Group lines into field values of at most 1024 characters and PAGE_LINES lines."""
    chunks: list[str] = []
    chunk: list[str] = []
    for line in lines:
        line = line[:FIELD_VALUE_MAX]
        if chunk and (sum(len(x) + 1 for x in chunk) + len(line) > FIELD_VALUE_MAX or len(chunk) >= PAGE_LINES):
            chunks.append("\n".join(chunk))
            chunk = []
        chunk.append(line)
    if chunk:
        chunks.append("\n".join(chunk))
    return chunks


def sources_footer(sources: Iterable[str | None], names: dict[str, str]) -> str:
    keys = [key for key in dict.fromkeys(sources) if key]
    if not keys:
        return ""
    return "Sources: " + "; ".join(names.get(k, k) for k in keys)


# -- commands -------------------------------------------------------------------------------------------


def title_heading(title: models.Title, year: int | None = None) -> str:
    return safe(title.name, 200) + (f" ({year})" if year else "")  # embed titles render markdown too


def release_pages(title: models.Title, releases: Sequence[models.Release], now: dt.datetime, tz: dt.tzinfo,
                  source_names: dict[str, str], region: str | None = None) -> PageList:
    heading = f"Release dates · {title_heading(title)}"
    if not releases:
        if region:
            text = (f"No release in {validate.region_name(region)} is recorded. "
                    f"Run the command without a region to see every known release.")
        else:
            text = f"No release date is known yet: **TBA**. Status: {STATUS_LABEL[title.status]}."
        return paginate(heading, description=text)
    sections = []
    for release in releases:
        lines = [f"{when(release.value, now, tz)}", f"Status: {status_word(release.value)}"]
        if release.value.note:
            lines.append(f"Note: {safe(release.value.note, 200)}")
        earlier = release.earlier_values
        if earlier:
            moves = " → ".join([timemath.format_date(v) for v in earlier] + [timemath.format_date(release.value)])
            lines.append(f"Date changes: {moves}")
            for value in earlier:
                said = safe(source_names.get(value.source or "", value.source), 100)
                as_of = f", as of {day(value.as_of)}" if value.as_of else ""
                lines.append(f"• {timemath.format_date(value)}: {said}{as_of}")
        lines.append(f"Source: {safe(source_names.get(release.value.source or '', release.value.source), 200)}"
                     + (f", as of {day(release.value.as_of)}" if release.value.as_of else ""))
        label = f"{validate.region_name(release.region)} · {MEDIUM_LABEL[release.medium]}"
        if release.provider:
            label += f" ({validate.clean_text(release.provider)})"
        sections.append(Section(label, lines))
    tz_name = getattr(tz, "key", "UTC")
    return paginate(heading, sections=sections, footer=f"Days counted in {tz_name}")


def info_pages(title: models.Title, releases: Sequence[models.Release], credits: Sequence[models.Credit],
               story: Sequence[models.Title], now: dt.datetime, tz: dt.tzinfo,
               source_names: dict[str, str]) -> PageList:
    lines = [f"**{KIND_LABEL[title.kind]}** · {STATUS_LABEL[title.status]} · {safe(title.franchise.name, 100)}"]
    release, upcoming = timemath.next_release(releases, now, tz)
    if release is not None:
        label = "Next release" if upcoming else "First release"
        lines.append(f"{label}: {release_line(release, now, tz)}")
    else:
        lines.append("Release: **TBA**")
    if title.runtime:
        lines.append(f"Runtime {runtime_text(title.runtime)}")
    placed = [t for t in story if t.story_order is not None]
    if title.story_order is not None and title in placed:
        i = placed.index(title)
        where = f"{_ordinal(i + 1)} of {len(placed)} in story order"
        if i > 0:
            where += f", after {safe(placed[i - 1].name, 100)}"
        if i + 1 < len(placed):
            where += f", before {safe(placed[i + 1].name, 100)}"
        lines.append(f"Timeline: {where}")
    directors = [c.person.name for c in credits if c.kind == "crew" and c.job and c.job.lower() == "director"]
    if directors:
        lines.append(f"Directed by {', '.join(safe(d, 100) for d in directors)}")
    cast = [c for c in credits if c.kind == "cast"][:5]
    if cast:
        lines.append("Starring " + ", ".join(
            safe(c.person.name, 100) + (f" ({safe(c.character, 100)})" if c.character else "") for c in cast))
    if title.aliases:
        lines.append("Also known as: " + ", ".join(safe(a, 100) for a in title.aliases))
    description = (safe(title.synopsis, 1000) + "\n\n" if title.synopsis else "") + "\n".join(lines)
    return paginate(title_heading(title), description=description,
                    footer=sources_footer([title.source], source_names))


def runtime_text(minutes: int) -> str:
    """'2 h 5 min', '1 h', '45 min'."""
    hours, rest = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{rest} min" if rest or not hours else "")
                    if part)


def _dots(*parts: str) -> str:
    """'65 credits · Sources: …', leaving out the empty parts."""
    return " · ".join(part for part in parts if part)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cast_pages(title: models.Title, credits: Sequence[models.Credit], source_names: dict[str, str],
               ) -> PageList:
    cast = [c for c in credits if c.kind == "cast"]
    heading = f"Cast · {title_heading(title)}"
    if not cast:
        return paginate(heading, description="No cast is known yet.")
    lines = []
    for credit in cast:
        line = f"**{safe(credit.person.name, 100)}**"
        if credit.character:
            line += f" as {safe(credit.character, 100)}"
        if credit.note:
            line += f" — _{safe(credit.note, 200)}_"
        lines.append(line)
    return paginate(heading, lines=lines,
                    footer=_dots(_count(len(cast), "credit"), sources_footer([c.source for c in cast], source_names)))


def crew_pages(title: models.Title, credits: Sequence[models.Credit], source_names: dict[str, str],
               department: str | None = None) -> PageList:
    crew = [c for c in credits if c.kind == "crew" and (department is None or c.department == department)]
    heading = f"Crew · {title_heading(title)}" + (f" · {department.capitalize()}" if department else "")
    if not crew:
        scope = f" in {department}" if department else ""
        return paginate(heading, description=f"No crew{scope} is known yet.")
    by_job: dict[str, list[str]] = {}
    for credit in crew:
        job = validate.clean_text(credit.job or "Crew")
        name = safe(credit.person.name, 100) + (f" — _{safe(credit.note, 200)}_" if credit.note else "")
        by_job.setdefault(job, []).append(name)
    sections = [Section(job, names) for job, names in by_job.items()]
    return paginate(heading, sections=sections, footer=sources_footer([c.source for c in crew], source_names))


def person_pages(person: models.Person, credits: Sequence[models.Credit], years: dict[int, int],
                 source_names: dict[str, str]) -> PageList:
    lines = []
    for credit in credits:  # one f-string a line: a well-known actor has a hundred
        title = credit.title
        year = years.get(title.id)
        when = f" ({year})" if year else ""
        if credit.kind == "cast":
            role = f" — as {safe(credit.character, 100)}" if credit.character else " — cast"
        else:
            role = f" — {safe(credit.job, 100)}"
        note = f" _({safe(credit.note, 200)})_" if credit.note else ""
        lines.append(f"**{safe(title.name, 100)}**{when}{role}{note}")
    description = safe(person.bio, 1000) if person.bio else ""
    if not lines:
        lines = ["No credits in the catalog."]
    footer = _dots(_count(len(credits), "credit"),
                   sources_footer([person.source, *(c.source for c in credits)], source_names))
    return paginate(safe(person.name, 100), description=description, lines=lines, footer=footer)


def watch_pages(title: models.Title, offers: Sequence[models.WatchOffer], releases: Sequence[models.Release],
                now: dt.datetime, tz: dt.tzinfo, source_names: dict[str, str],
                region: str | None = None) -> PageList:
    heading = f"Where to watch · {title_heading(title)}"
    if not offers:
        where = f" in {validate.region_name(region)}" if region else ""
        lines = [f"No streaming, rental or purchase offers are recorded{where}."]
        theatrical = [r for r in releases if r.medium == "theatrical" and r.value.date]
        for release in theatrical:
            lines.append(f"In theaters: {release_line(release, now, tz)}")
        return paginate(heading, lines=lines)
    sections: dict[tuple[str, str], list[str]] = {}
    for offer in offers:
        line = f"**{safe(offer.provider, 100)}**"
        if offer.price:
            line += f" — {offer.price} {offer.currency}"
        line += f" · as of {day(offer.as_of)}"
        if offer.note:
            line += f" · _{safe(offer.note, 200)}_"
        sections.setdefault((offer.region, offer.kind), []).append(line)
    built = [Section(f"{OFFER_LABEL[kind]} · {validate.region_name(reg)}", lines)
             for (reg, kind), lines in sections.items()]
    oldest = min(o.as_of for o in offers)
    years = (now.astimezone(tz).date() - oldest).days // 365
    age = f" ({years} year{'s' if years > 1 else ''} ago: it may well have changed)" if years >= 1 else ""
    footer = (f"Offers change: the oldest was checked on {day(oldest)}{age} · "
              + sources_footer([o.source for o in offers], source_names))
    if any((o.source or "").startswith(TMDB_SOURCE_PREFIX) for o in offers):
        from bot.tmdb.mapping import JUSTWATCH

        footer += " · " + JUSTWATCH  # TMDB's terms: where-to-watch data is JustWatch's
    return paginate(heading, sections=built, footer=footer)


def upcoming_pages(upcoming: Sequence[models.Release], undated: Sequence[models.Title],
                   latest: models.Release | None, now: dt.datetime, tz: dt.tzinfo,
                   franchise: models.Franchise | None = None) -> PageList:
    heading = "Upcoming releases" + (f" · {validate.clean_text(franchise.name)}" if franchise else "")
    sections = []
    description = ""
    if upcoming:
        sections.append(Section("Dated", [f"**{safe(r.title.name, 100)}** — {release_line(r, now, tz)}"
                                          for r in upcoming]))
    else:
        description = "Nothing is dated ahead."
        if latest is not None:
            description += (f" The most recent release: **{safe(latest.title.name, 100)}** — "
                            f"{release_line(latest, now, tz)}")
    if undated:
        sections.append(Section("Announced without a date (TBA)",
                                [f"**{safe(t.name, 100)}** — {STATUS_LABEL[t.status]}" for t in undated]))
    return paginate(heading, description=description, sections=sections,
                    footer=f"Days counted in {getattr(tz, 'key', 'UTC')}")


def timeline_pages(entries: Sequence[tuple[models.Title, models.Release | None]], order: str,
                   franchise: models.Franchise | None = None) -> PageList:
    heading = ("Story order" if order == "story" else "Release order") + (
        f" · {validate.clean_text(franchise.name)}" if franchise else "")
    lines = []
    unplaced = []
    number = 0
    for title, release in entries:
        date = timemath.format_date(release.value) if release else "TBA"
        line = f"**{safe(title.name, 100)}** · {KIND_LABEL[title.kind]} · {date}"
        if order == "story" and title.story_order is None:
            unplaced.append(line)
            continue
        if order == "release" and release is None:
            unplaced.append(line)
            continue
        number += 1
        lines.append(f"{number}. {line}")
    sections = [Section("Not placed yet" if order == "story" else "Not dated yet", unplaced)] if unplaced else []
    if not lines and not unplaced:
        return paginate(heading, description="No titles in the catalog yet.")
    return paginate(heading, lines=lines, sections=sections)


def countdown_pages(title: models.Title, release: models.Release | None, upcoming: bool, now: dt.datetime,
                    tz: dt.tzinfo) -> PageList:
    heading = f"Countdown · {title_heading(title)}"
    if release is None or release.value.date is None:
        return paginate(heading, description=f"**{safe(title.name, 100)}** has no release date yet (TBA).")
    days = timemath.days_until(release.value, now, tz)
    name = f"**{safe(title.name, 100)}**"
    place = f"{validate.region_name(release.region)}, {MEDIUM_LABEL[release.medium].lower()}"
    if days is None:  # month or year precision
        text = f"{name} is expected in {timemath.format_date(release.value)} ({place})."
    elif days > 0:
        text = f"{days:,} {'day' if days == 1 else 'days'} until {name} ({place})."
    elif days == 0:
        text = f"{name} is out today ({place})!"
    else:
        text = f"{name} came out {-days:,} {'day' if days == -1 else 'days'} ago ({place})."
    text += f"\n{when(release.value, now, tz)}"
    if not upcoming and days is not None and days < 0:
        text += "\nNo later release is known."
    return paginate(heading, description=text, footer=f"Days counted in {getattr(tz, 'key', 'UTC')}")
