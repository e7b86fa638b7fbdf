"""Readable text for what the bot sends: content, embeds and buttons, as a person would read them.

Discord timestamps (`<t:1749211200:D>`) become dates, relative ones measured from the bot's clock
(so they move when the playground moves time); mentions become `@name` / `#name`; bold and italic
markers are dropped. Pure functions: the playground and tests call them with plain data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# kind ("user", "role", "channel"), id -> a display name, or None when unknown
NameLookup = Callable[[str, int], str | None]

TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
CHANNEL_MENTION = re.compile(r"<#(\d+)>")
SLASH_MENTION = re.compile(r"</([^:<>]+):\d+>")
CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")
MASKED_LINK = re.compile(r"\[([^\]\n]+)\]\(<?(https?://[^)\s>]+)>?\)")
ESCAPED = re.compile(r"\\([*_~`|>#\-\[\]()\\.])")
BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
UNDERLINE = re.compile(r"__(.+?)__", re.S)
ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
HEADING = re.compile(r"^(?:#{1,3}|-#) +", re.M)

BUTTON_STYLES = {1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link", 6: "premium"}
SELECT_TYPES = {3: "choose", 5: "choose a member", 6: "choose a role", 7: "choose a member or role",
                8: "choose a channel"}
INDENT = "  "


def _no_names(kind: str, ident: int) -> str | None:
    return None


# ---------------------------------------------------------------------------- time


def relative_time(then: dt.datetime, now: dt.datetime) -> str:
    """`in 7 days`, `3 hours ago`, `1 year ago`: the way Discord words `<t:…:R>`."""
    seconds = (then - now).total_seconds()
    future = seconds > 0
    s = abs(seconds)
    minutes, hours, days = s / 60, s / 3600, s / 86400
    if s < 45:
        amount = "a few seconds"
    elif s < 90:
        amount = "1 minute"
    elif minutes < 45:
        amount = _plural(round(minutes), "minute")
    elif minutes < 90:
        amount = "1 hour"
    elif hours < 22:
        amount = _plural(round(hours), "hour")
    elif hours < 36:
        amount = "1 day"
    elif days < 26:
        amount = _plural(round(days), "day")
    elif days < 45:
        amount = "1 month"
    elif days < 320:
        amount = _plural(round(days / 30.44), "month")
    elif days < 548:
        amount = "1 year"
    else:
        amount = _plural(round(days / 365.25), "year")
    return f"in {amount}" if future else f"{amount} ago"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def long_date(when: dt.datetime) -> str:
    return f"{when:%B} {when.day}, {when.year}"


def clock_time(when: dt.datetime) -> str:
    """`Tuesday, November 24, 2026 09:00 UTC`: how the playground shows its clock."""
    when = when.astimezone(dt.UTC)
    return f"{when:%A}, {long_date(when)} {when:%H:%M} UTC"


def format_timestamp(unix: int, style: str | None, now: dt.datetime) -> str:
    """A Discord timestamp as a reader in UTC sees it (Discord shows the reader's own time zone)."""
    try:
        when = dt.datetime.fromtimestamp(unix, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"<t:{unix}:{style or 'f'}>"
    style = style or "f"
    if style == "R":
        return relative_time(when, now)
    if style == "t":
        return f"{when:%H:%M} UTC"
    if style == "T":
        return f"{when:%H:%M:%S} UTC"
    if style == "d":
        return f"{when:%m/%d/%Y}"
    if style == "D":
        return long_date(when)
    if style == "F":
        return f"{when:%A}, {long_date(when)} {when:%H:%M} UTC"
    return f"{long_date(when)} {when:%H:%M} UTC"


# ---------------------------------------------------------------------------- text


def readable(text: str, now: dt.datetime, names: NameLookup = _no_names) -> str:
    """Message text without Discord's markup: timestamps as dates, mentions as names, no ** or _."""
    if not text:
        return ""
    text = TIMESTAMP.sub(lambda m: format_timestamp(int(m.group(1)), m.group(2), now), text)
    text = ROLE_MENTION.sub(lambda m: "@" + (names("role", int(m.group(1))) or f"role {m.group(1)}"), text)
    text = USER_MENTION.sub(lambda m: "@" + (names("user", int(m.group(1))) or f"user {m.group(1)}"), text)
    text = CHANNEL_MENTION.sub(lambda m: "#" + (names("channel", int(m.group(1))) or f"channel {m.group(1)}"), text)
    text = SLASH_MENTION.sub(lambda m: "/" + m.group(1), text)
    text = CUSTOM_EMOJI.sub(lambda m: f":{m.group(1)}:", text)
    text = MASKED_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    # Escaped characters are literal: park them while the markers are removed.
    parked: list[str] = []

    def park(m: re.Match[str]) -> str:
        parked.append(m.group(1))
        return f"\x00{len(parked) - 1}\x00"

    text = ESCAPED.sub(park, text)
    text = BOLD.sub(r"\1", text)
    text = UNDERLINE.sub(r"\1", text)
    text = ITALIC_STAR.sub(r"\1", text)
    text = ITALIC_UNDERSCORE.sub(r"\1", text)
    text = HEADING.sub("", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: parked[int(m.group(1))], text)


def _indented(text: str, prefix: str) -> list[str]:
    return [prefix + line if line else prefix.rstrip() for line in text.split("\n")]


# ---------------------------------------------------------------------------- messages


def render_embed(embed: Mapping[str, Any], now: dt.datetime, names: NameLookup = _no_names) -> list[str]:
    lines: list[str] = []
    author = (embed.get("author") or {}).get("name")
    if author:
        lines.append(readable(author, now, names))
    title = readable(str(embed.get("title") or ""), now, names)
    if title:
        url = embed.get("url")
        lines.append(title + (f" <{url}>" if url else ""))
        lines.append("─" * min(len(title), 60))
    heading = len(lines)  # no blank line between the title's rule and what follows it
    description = readable(str(embed.get("description") or ""), now, names)
    if description:
        lines += description.split("\n")
    for field in embed.get("fields") or []:
        if len(lines) > heading and lines[-1] != "":
            lines.append("")
        lines.append(readable(str(field.get("name") or ""), now, names))
        lines += _indented(readable(str(field.get("value") or ""), now, names), INDENT * 2)
    for key in ("image", "thumbnail"):
        url = (embed.get(key) or {}).get("url")
        if url:
            lines.append(f"[{key}: {url}]")
    footer = readable(str((embed.get("footer") or {}).get("text") or ""), now, names)
    stamp = embed.get("timestamp")
    if stamp:
        try:
            when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            footer = " · ".join(p for p in (footer, format_timestamp(int(when.timestamp()), "f", now)) if p)
        except ValueError:
            pass
    if footer:
        if lines:
            lines.append("")
        lines.append(f"— {footer}")
    return lines


def _component_labels(components: Iterable[Mapping[str, Any]], now: dt.datetime, names: NameLookup) -> list[str]:
    """One entry per row: `[Previous (disabled)] [1/3 (disabled)] [Next]`; text displays as their text."""
    rows: list[str] = []
    for comp in components:
        ctype = comp.get("type")
        if ctype == 1:  # action row
            parts = [_control(c) for c in comp.get("components") or []]
            if parts:
                rows.append(" ".join(parts))
        elif ctype == 10:  # text display (components v2)
            rows += readable(str(comp.get("content") or ""), now, names).split("\n")
        elif ctype == 9:  # section: text plus an accessory
            rows += _component_labels(comp.get("components") or [], now, names)
            if isinstance(comp.get("accessory"), dict):
                rows.append(_control(comp["accessory"]))
        elif ctype in (17, 18):  # container, label
            inner = [comp["component"]] if isinstance(comp.get("component"), dict) else comp.get("components") or []
            rows += _component_labels(inner, now, names)
        elif ctype == 14:  # separator
            rows.append("")
        else:
            rows.append(_control(comp))
    return rows


def _control(comp: Mapping[str, Any]) -> str:
    ctype = comp.get("type")
    disabled = " (disabled)" if comp.get("disabled") else ""
    if ctype == 2:
        emoji = (comp.get("emoji") or {}).get("name")
        label = " ".join(str(p) for p in (emoji, comp.get("label")) if p) or "button"
        if comp.get("style") == 5 and comp.get("url"):
            return f"[{label} ↗ {comp['url']}]{disabled}"
        return f"[{label}{disabled}]"
    if ctype in SELECT_TYPES:
        placeholder = comp.get("placeholder") or SELECT_TYPES[ctype]
        options = [str(o.get("label")) for o in comp.get("options") or []]
        listed = f": {' | '.join(options)}" if options else ""
        return f"<{placeholder}{listed}>{disabled}"
    return f"<component type {ctype}>"


def buttons(components: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every button (type 2) of a message, in reading order."""
    found: list[dict[str, Any]] = []

    def walk(items: Iterable[Mapping[str, Any]]) -> None:
        for c in items:
            if c.get("type") == 2:
                found.append(dict(c))
            walk(c.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(c.get(key), dict):
                    walk([c[key]])

    walk(components)
    return found


def render_message(message: Any, now: dt.datetime, names: NameLookup = _no_names) -> list[str]:
    """The body of a bot message (content, embeds, attachments, buttons), indented under its header."""
    lines: list[str] = []
    content = readable(message.content or "", now, names)
    if content:
        lines += content.split("\n")
    for embed in message.embeds or []:
        if lines:
            lines.append("")
        lines += render_embed(embed, now, names)
    for attachment in message.attachments or []:
        lines.append(f"[attached file: {attachment.filename}, {attachment.size:,} bytes]")
    rows = _component_labels(message.components or [], now, names)
    if rows:
        if lines:
            lines.append("")
        lines += rows
    if not lines:
        lines.append("(an empty message)")
    return [INDENT + line if line else "" for line in lines]


def describe_pings(pings: Iterable[str], names: NameLookup = _no_names) -> str:
    """`@Release pings, @everyone`: who the message notified."""
    out = []
    for ping in sorted(pings):
        kind, _, ident = ping.partition(":")
        if not ident:
            out.append(f"@{kind}")
        else:
            out.append("@" + (names(kind, int(ident)) or ping))
    return ", ".join(out)
