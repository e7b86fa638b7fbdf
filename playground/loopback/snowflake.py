"""Real-looking, strictly increasing Discord snowflakes."""

from __future__ import annotations

import datetime as dt
import threading
import time

DISCORD_EPOCH_MS = 1420070400000


class SnowflakeGenerator:
    def __init__(self, worker_id: int = 1, process_id: int = 0) -> None:
        self._worker = worker_id & 0x1F
        self._process = process_id & 0x1F
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            candidate = (ms << 22) | (self._worker << 17) | (self._process << 12)
            if candidate <= self._last:
                candidate = self._last + 1
            self._last = candidate
            return candidate


def snowflake_time(snowflake: int) -> dt.datetime:
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso(ts: dt.datetime | None) -> str | None:
    """Discord's timestamp format (ISO 8601 with +00:00)."""
    if ts is None:
        return None
    return ts.astimezone(dt.UTC).isoformat()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
