"""Validators shared by data packs and (later) moderator edits. Pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo

import pycountry

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 64
NAME_MAX = 100
SYNOPSIS_MAX = 1000
NOTE_MAX = 200
BIO_MAX = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_region(code: str) -> bool:
    """ISO 3166-1 alpha-2 (upper case)."""
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def region_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", None) or (country.name if country else code)


def is_currency(code: str) -> bool:
    return len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None


def is_time_zone(name: str) -> bool:
    return name in time_zones()


def slugify(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters, collapse whitespace."""
    return " ".join(_CONTROL.sub("", text).split())


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date without a time, like 2025-06-06")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()) if len(value.strip()) == 10 else _bad_date()
        except ValueError:
            _bad_date()
    _bad_date()
    raise AssertionError  # unreachable


def _bad_date() -> dt.date:
    raise ValueError("expected a date as YYYY-MM-DD that exists, like 2025-06-06")


def parse_time(value: object) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}(:00)?", value.strip()):
        hours, minutes = (int(x) for x in value.strip().split(":")[:2])
        if hours < 24 and minutes < 60:
            return dt.time(hours, minutes)
    raise ValueError("expected a time of day as HH:MM (24-hour), like 19:00")
