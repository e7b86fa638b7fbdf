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
                                       ("DISCORD_GATEWAY_URL", DISCORD_GATEWAY_URL, ("ws://", "wss://"))):
            value = get(name) or default
            if not value.startswith(schemes):
                raise SettingsError(f"{name} must start with {' or '.join(schemes)}, not {value[:60]!r}")
            urls[name] = value.rstrip("/") if name == "DISCORD_API_BASE_URL" else value
        numbers = {}
        for name, default, low, high in (("MARQUEE_NONCE_WINDOW_SECONDS", 90.0, 1.0, 120.0),
                                         ("MARQUEE_LEASE_SECONDS", 30.0, 1.0, 600.0)):
            raw = get(name)
            try:
                value = float(raw) if raw is not None else default
            except ValueError:
                value = float("nan")
            if not low <= value <= high:
                raise SettingsError(f"{name} must be a number of seconds from {low:g} to {high:g}, "
                                    f"not {(raw or '')[:40]!r}")
            numbers[name] = value
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
        )

    def require_token(self) -> str:
        if not self.token:
            raise SettingsError(LOGIN_HELP)
        return self.token

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


def load(env_file: str | Path = ".env") -> Settings:
    """Load .env from the working directory (the environment wins), then build Settings."""
    load_dotenv(env_file, override=False)
    return Settings.from_env()
