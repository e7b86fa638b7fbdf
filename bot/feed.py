"""The releases a server follows, as a calendar: the `/calendar` file and the web feed `marquee run` serves.

The feed (on when MARQUEE_WEB_PORT is set) answers GET /calendar/<guild id>/<token>.ics with the same bytes
`/calendar` attaches, as text/calendar with an ETag (calendar apps poll; an unchanged calendar costs a 304).
A wrong token, an unknown server, or any other path gets the same bare 404: nothing tells a guesser which
part was wrong. The token is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot import calendar
from bot.clock import Clock
from bot.settings import Settings
from db import countdowns, feeds
from db.models import Release
from db.store import Store

log = logging.getLogger(__name__)


class CalendarFeed:
    def __init__(self, *, store: Store, reads: Any, clock: Clock, settings: Settings,
                 guild_name: Callable[[int], str | None]) -> None:
        self.store = store
        self.reads = reads
        self.clock = clock
        self.settings = settings
        self.guild_name = guild_name
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the bound port once started (a test may ask for port 0)

    async def releases(self, guild_id: int, franchise: str | None = None) -> list[Release]:
        """The releases this server's countdowns follow (paused ones too), each once."""
        found: dict[tuple[str, str, str], Release] = {}
        for sub in await countdowns.subscriptions(self.store, guild_id):
            key = (sub.title_slug, sub.region, sub.medium)
            if key in found:
                continue
            release = await self.reads.release_of(sub.title_slug, guild_id, sub.region, sub.medium)
            if release is not None and (franchise is None or release.title.franchise.slug == franchise):
                found[key] = release
        return list(found.values())

    async def ics(self, guild_id: int, releases: list[Release]) -> bytes:
        name = self.guild_name(guild_id) or "Discord server"
        return calendar.build(f"{name} · releases", guild_id, releases, fallback=self.clock.now())

    @property
    def enabled(self) -> bool:
        """Whether `marquee run` serves the feed (MARQUEE_WEB_PORT is set)."""
        return self.settings.web_port is not None

    async def link(self, guild_id: int, franchise: str | None = None, *, actor_id: int | None = None,
                   rotate: bool = False) -> str:
        """The server's feed URL (its token made on first use; `rotate`: a new one, the old URL stops working)."""
        token = await feeds.issue(self.store, guild_id, self.clock.now(), actor_id, rotate=rotate)
        base = self.settings.public_url or f"http://{self.settings.web_host}:{self.port or self.settings.web_port}"
        return f"{base}/calendar/{guild_id}/{token}.ics" + (f"?franchise={franchise}" if franchise else "")

    # -- the web feed ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.settings.web_port is None:
            return
        app = web.Application()
        app.router.add_get("/calendar/{guild_id}/{token}.ics", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.web_host, self.settings.web_port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.web_port
        log.info("serving calendar feeds on %s:%s", self.settings.web_host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        guild_text, given = request.match_info["guild_id"], request.match_info["token"]
        if not guild_text.isdigit() or len(guild_text) > 20:
            raise web.HTTPNotFound()
        guild_id = int(guild_text)
        expected = await feeds.token(self.store, guild_id)
        if expected is None or not hmac.compare_digest(expected.encode(), given.encode()):
            raise web.HTTPNotFound()
        franchise = (request.query.get("franchise") or "")[:100] or None
        body = await self.ics(guild_id, await self.releases(guild_id, franchise))
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
        if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers=headers)
