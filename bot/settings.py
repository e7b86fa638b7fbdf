"""Settings: read once from the environment (after loading .env), frozen, validated, explained.

A missing or malformed value stops start-up with one sentence saying what to set and where. The
token is kept out of repr() so it can never end up in a log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_DATABASE = "./marquee.sqlite3"
DISCORD_API_BASE_URL = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
TMDB_API_URL = "https://api.themoviedb.org/3"
TMDB_HELP = (
    "MARQUEE_TMDB_TOKEN is not set: create a free TMDB account, open https://www.themoviedb.org/settings/api, "
    "and copy the \"API Read Access Token\" into .env as MARQUEE_TMDB_TOKEN=..."
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGIN_HELP = (
    "DISCORD_TOKEN is not set: create an application at https://discord.com/developers/applications, "
    "copy its bot token (Bot > Reset Token) into .env as DISCORD_TOKEN=..., or try the bot without a "
    "token with `marquee playground`"
)


class SettingsError(Exception):
    """A setting is missing or malformed; the message says what to set."""


@dataclass(frozen=True, slots=True)
class Settings:
    token: str | None = field(default=None, repr=False)
    database: str = DEFAULT_DATABASE
    dev_guilds: tuple[int, ...] = ()
    api_base_url: str = DISCORD_API_BASE_URL
    gateway_url: str = DISCORD_GATEWAY_URL
    log_level: str = "INFO"
    # Advanced: Discord's nonce memory the bot relies on, and the dispatcher lease (tests shorten both).
    nonce_window_seconds: float = 90.0
    lease_seconds: float = 30.0
    # TMDB as a data source: off without a token. The refresh interval 0 turns the refresh off.
    tmdb_token: str | None = field(default=None, repr=False)
    tmdb_api_url: str = TMDB_API_URL
    tmdb_refresh_minutes: float = 720.0
    tmdb_daily_cap: int = 500  # TMDB requests one server's admins may cause per UTC day
    # Sharding: None, None = every shard Discord recommends, in this process.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # The calendar feed (`marquee run` serves each server's .ics): off unless the port is set.
    web_host: str = "127.0.0.1"
    web_port: int | None = None
    public_url: str | None = None  # what members see, e.g. https://marquee.example.org (behind a proxy)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        guilds: list[int] = []
        for part in (get("MARQUEE_DEV_GUILD") or "").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 2**64:
                raise SettingsError(
                    f"MARQUEE_DEV_GUILD must be a server id (a number, or several separated by commas), "
                    f"not {part[:40]!r}: in Discord, right-click the server > Copy Server ID")
            guilds.append(int(part))
        level = (get("MARQUEE_LOG_LEVEL") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise SettingsError(f"MARQUEE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level[:40]!r}")
        urls = {}
        for name, default, schemes in (("DISCORD_API_BASE_URL", DISCORD_API_BASE_URL, ("http://", "https://")),
                                       ("MARQUEE_TMDB_API_URL", TMDB_API_URL, ("http://", "https://")),
                                       ("DISCORD_GATEWAY_URL", DISCORD_GATEWAY_URL, ("ws://", "wss://"))):
            value = get(name) or default
            if not value.startswith(schemes):
                raise SettingsError(f"{name} must start with {' or '.join(schemes)}, not {value[:60]!r}")
            urls[name] = value if name == "DISCORD_GATEWAY_URL" else value.rstrip("/")
        numbers = {}
        for name, default, low, high in (("MARQUEE_NONCE_WINDOW_SECONDS", 90.0, 1.0, 120.0),
                                         ("MARQUEE_LEASE_SECONDS", 30.0, 1.0, 600.0)):
            numbers[name] = _number(get(name), name, default, low, high, "a number of seconds")
        refresh = _number(get("MARQUEE_TMDB_REFRESH_MINUTES"), "MARQUEE_TMDB_REFRESH_MINUTES", 720.0, 0.0,
                          10_080.0, "a number of minutes (0 turns the refresh off)")
        cap = _number(get("MARQUEE_TMDB_DAILY_CAP"), "MARQUEE_TMDB_DAILY_CAP", 500, 1, 100_000,
                      "a whole number of requests")
        shard_count, shard_ids = _shards(get("MARQUEE_SHARD_COUNT"), get("MARQUEE_SHARD_IDS"))
        web_port = get("MARQUEE_WEB_PORT")
        port = None if web_port is None else int(_number(web_port, "MARQUEE_WEB_PORT", 0, 1, 65535,
                                                         "a TCP port number (1-65535)"))
        public_url = get("MARQUEE_PUBLIC_URL")
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise SettingsError(f"MARQUEE_PUBLIC_URL must start with http:// or https://, not {public_url[:60]!r}")
        tmdb_token = get("MARQUEE_TMDB_TOKEN")
        if tmdb_token is not None and (any(ch.isspace() for ch in tmdb_token)
                                       or tmdb_token.lower().startswith("bearer")):
            raise SettingsError("MARQUEE_TMDB_TOKEN must be the bare API Read Access Token (no 'Bearer ' prefix, "
                                "no spaces): https://www.themoviedb.org/settings/api")
        token = get("DISCORD_TOKEN")
        if token is not None and (any(ch.isspace() for ch in token) or token.lower().startswith("bot ")):
            raise SettingsError("DISCORD_TOKEN must be the bare token (no 'Bot ' prefix, no spaces)")
        return cls(
            token=token,
            database=get("MARQUEE_DATABASE") or DEFAULT_DATABASE,
            dev_guilds=tuple(guilds),
            api_base_url=urls["DISCORD_API_BASE_URL"],
            gateway_url=urls["DISCORD_GATEWAY_URL"],
            log_level=level,
            nonce_window_seconds=numbers["MARQUEE_NONCE_WINDOW_SECONDS"],
            lease_seconds=numbers["MARQUEE_LEASE_SECONDS"],
            tmdb_token=tmdb_token,
            tmdb_api_url=urls["MARQUEE_TMDB_API_URL"],
            tmdb_refresh_minutes=refresh,
            tmdb_daily_cap=int(cap),
            shard_count=shard_count,
            shard_ids=shard_ids,
            web_host=get("MARQUEE_WEB_HOST") or "127.0.0.1",
            web_port=port,
            public_url=public_url.rstrip("/") if public_url else None,
        )

    def require_token(self) -> str:
        if not self.token:
            raise SettingsError(LOGIN_HELP)
        return self.token

    def require_tmdb_token(self) -> str:
        if not self.tmdb_token:
            raise SettingsError(TMDB_HELP)
        return self.tmdb_token

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never reach a log line."""
        return tuple(s for s in (self.token, self.tmdb_token) if s)

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


def _shards(count: str | None, ids: str | None) -> tuple[int | None, tuple[int, ...] | None]:
    """MARQUEE_SHARD_COUNT and MARQUEE_SHARD_IDS ('0,1', '0-3', '0-3,8')."""
    if count is None:
        if ids is not None:
            raise SettingsError("MARQUEE_SHARD_IDS needs MARQUEE_SHARD_COUNT (how many shards the whole bot runs)")
        return None, None
    if not count.isdigit() or not 1 <= int(count) <= 100_000:
        raise SettingsError(f"MARQUEE_SHARD_COUNT must be a whole number of shards (1 or more), not {count[:40]!r}")
    total = int(count)
    if ids is None:
        return total, tuple(range(total))
    chosen: list[int] = []
    for part in ids.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()) or (high and int(high) < int(low)):
            raise SettingsError(f"MARQUEE_SHARD_IDS must list shard ids like 0,1 or 0-3, not {ids[:40]!r}")
        chosen.extend(range(int(low), int(high or low) + 1))
    if not chosen or max(chosen) >= total or len(set(chosen)) != len(chosen):
        raise SettingsError(f"MARQUEE_SHARD_IDS must name distinct shards from 0 to {total - 1} "
                            f"(MARQUEE_SHARD_COUNT is {total}), not {ids[:40]!r}")
    return total, tuple(sorted(chosen))


def _number(raw: str | None, name: str, default: float, low: float, high: float, what: str) -> float:
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise SettingsError(f"{name} must be {what} from {low:g} to {high:g}, not {(raw or '')[:40]!r}")
    return value


def load(env_file: str | Path = ".env") -> Settings:
    """Load .env from the working directory (the environment wins), then build Settings."""
    load_dotenv(env_file, override=False)
    return Settings.from_env()
