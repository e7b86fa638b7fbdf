"""Discord-style rate limits: per-route buckets with X-RateLimit-* headers and a global limit."""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass

from .rules import DiscordError

VIA = "1.1 google"


@dataclass
class BucketSpec:
    name: str
    limit: int
    window: float

    @property
    def hash(self) -> str:
        return hashlib.sha1(self.name.encode(), usedforsecurity=False).hexdigest()[:32]


# (method, route template) -> bucket
ROUTE_BUCKETS: dict[tuple[str, str], BucketSpec] = {
    ("POST", "/channels/{channel_id}/messages"): BucketSpec("message-create", 5, 5.0),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): BucketSpec("message-edit", 5, 5.0),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"): BucketSpec("message-delete", 5, 1.0),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"): BucketSpec("webhook", 5, 2.0),
}


def bucket_for(method: str, template: str | None) -> BucketSpec:
    if template is None:
        return BucketSpec("unknown", 50, 1.0)
    spec = ROUTE_BUCKETS.get((method, template))
    if spec is not None:
        return spec
    if template.startswith("/webhooks/{webhook_id}/{webhook_token}"):
        return BucketSpec("webhook-messages", 5, 2.0)
    return BucketSpec(f"{method} {template}", 50, 1.0)


class _Window:
    __slots__ = ("remaining", "reset_at")

    def __init__(self, limit: int, window: float, now: float) -> None:
        self.remaining = limit
        self.reset_at = now + window


def rate_limited(
    retry_after: float, *, is_global: bool, headers: dict[str, str] | None = None
) -> DiscordError:
    retry_after = round(max(retry_after, 0.001), 3)
    h = {"Retry-After": str(max(1, math.ceil(retry_after))), "Via": VIA}
    if is_global:
        h["X-RateLimit-Global"] = "true"
        h["X-RateLimit-Scope"] = "global"
    else:
        h["X-RateLimit-Scope"] = "user"
    h.update(headers or {})
    err = DiscordError(429, 0, "You are being rate limited.", headers=h)
    err.extra = {"retry_after": retry_after, "global": is_global}
    return err


class RateLimiter:
    def __init__(self, *, global_limit: int = 50) -> None:
        self.global_limit = global_limit
        self.overrides: dict[str, tuple[int, float]] = {}  # bucket name -> (limit, window seconds)
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global: deque[float] = deque()
        self.hits_429 = 0

    def reset(self) -> None:
        self._windows.clear()
        self._global.clear()

    def check_global(self) -> None:
        now = time.monotonic()
        while self._global and now - self._global[0] >= 1.0:
            self._global.popleft()
        if len(self._global) >= self.global_limit:
            self.hits_429 += 1
            raise rate_limited(self._global[0] + 1.0 - now, is_global=True)
        self._global.append(now)

    def check(self, spec: BucketSpec, major: str) -> dict[str, str]:
        """Take one request from the bucket; returns the X-RateLimit-* headers or raises a 429."""
        if spec.name in self.overrides:
            limit, window = self.overrides[spec.name]
            spec = BucketSpec(spec.name, limit, window)
        now = time.monotonic()
        key = (spec.name, major)
        win = self._windows.get(key)
        if win is None or now >= win.reset_at:
            win = _Window(spec.limit, spec.window, now)
            self._windows[key] = win
        reset_after = max(win.reset_at - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(spec.limit),
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Bucket": spec.hash,
        }
        if win.remaining <= 0:
            self.hits_429 += 1
            headers["X-RateLimit-Remaining"] = "0"
            raise rate_limited(reset_after, is_global=False, headers=headers)
        win.remaining -= 1
        headers["X-RateLimit-Remaining"] = str(win.remaining)
        return headers
