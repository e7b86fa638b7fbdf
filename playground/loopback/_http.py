"""The HTTP side of the loopback: the route table, reading bodies, auth, faults, rate limits and the
OpenAPI check around each REST handler, and recording every request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .models import RecordedRequest, StoredAttachment
from .ratelimit import VIA, bucket_for, rate_limited
from .rules import DiscordError
from .spec import SpecViolation

_log = logging.getLogger("playground.loopback")

API_PREFIX = "/api/v10"
INVALID_STATUSES = (401, 403, 429)  # what counts towards the invalid request limit (rate-limits.md)

CLOUDFLARE_BAN_PAGE = """<!DOCTYPE html>
<html><head><title>Access denied | discord.com used Cloudflare to restrict access</title></head>
<body><h1>Access denied</h1>
<p>You are being blocked from accessing our API temporarily due to exceeding our rate limits frequently.
Please read our docs at https://discord.com/developers/docs/topics/rate-limits to prevent this moving
forward.</p></body></html>
"""


@dataclass
class RequestContext:
    method: str
    path: str  # without the API prefix
    template: str | None
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[StoredAttachment] = field(default_factory=list)
    record: RecordedRequest | None = None
    raw_body: bytes = b""


class HttpMixin:
    """Routes and request handling of ``LoopbackDiscord`` (a mixin: ``self`` is the loopback)."""

    def _check_spec(self, ctx: RequestContext) -> None:
        """Validate ctx.json against the OpenAPI request schema (after Discord's own rules passed)."""
        if self._spec is None or ctx.json is None or ctx.template is None:
            return
        problems = self._spec.validate(ctx.method, ctx.template, ctx.json)
        if not problems:
            return
        op = self._spec.find_operation(ctx.method, ctx.template)
        loc, message = problems[0]
        self.spec_violations.append(
            SpecViolation(ctx.method, ctx.path, op.operation_id if op else None, message, loc, ctx.json)
        )
        errors: dict[str, Any] = {}
        node = errors
        for part in [p for p in loc.split(".") if p and p != "<body>"]:
            node = node.setdefault(part, {})
        node["_errors"] = [{"code": "OPENAPI_SCHEMA_MISMATCH", "message": message}]
        raise DiscordError(400, 50035, "Invalid Form Body", errors=errors)

    # ------------------------------------------------------------------ HTTP plumbing
    def _register_routes(self, app: web.Application) -> None:
        rest = self._rest
        ep = self._endpoints
        table: list[tuple[str, str, Callable[[RequestContext], Awaitable[tuple[int, Any]]], bool]] = [
            ("GET", "/gateway", rest.get_gateway, False),
            ("GET", "/gateway/bot", rest.get_gateway_bot, True),
            ("GET", "/users/@me", rest.get_me, True),
            ("PATCH", "/users/@me", rest.get_me, True),
            ("GET", "/oauth2/applications/@me", rest.get_application, True),
            ("GET", "/applications/@me", rest.get_application, True),
            ("POST", "/users/@me/channels", rest.create_dm, True),
            ("GET", "/users/{user_id}", rest.get_user, True),
            # commands
            ("GET", "/applications/{application_id}/commands", rest.list_commands, True),
            ("PUT", "/applications/{application_id}/commands", rest.put_commands, True),
            ("POST", "/applications/{application_id}/commands", rest.post_command, True),
            ("GET", "/applications/{application_id}/commands/{command_id}", rest.get_command, True),
            ("PATCH", "/applications/{application_id}/commands/{command_id}", rest.patch_command, True),
            ("DELETE", "/applications/{application_id}/commands/{command_id}", rest.delete_command, True),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
                rest.command_permissions,
                True,
            ),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", rest.list_commands, True),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", rest.put_commands, True),
            ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", rest.post_command, True),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                rest.get_command,
                True,
            ),
            (
                "PATCH",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                rest.patch_command,
                True,
            ),
            (
                "DELETE",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                rest.delete_command,
                True,
            ),
            # channels and messages
            ("GET", "/channels/{channel_id}", rest.get_channel, True),
            ("GET", "/channels/{channel_id}/messages", rest.list_messages, True),
            ("POST", "/channels/{channel_id}/messages", rest.create_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", rest.get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", rest.edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", rest.delete_message, True),
            ("POST", "/channels/{channel_id}/typing", rest.typing, True),
            ("POST", "/channels/{channel_id}/threads", rest.create_thread, True),
            ("GET", "/channels/{channel_id}/threads/archived/public", rest.archived_public_threads, True),
            ("GET", "/guilds/{guild_id}/threads/active", rest.active_threads, True),
            (
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
                rest.add_reaction,
                True,
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
                rest.remove_reaction,
                True,
            ),
            # guilds
            ("GET", "/guilds/{guild_id}", rest.get_guild, True),
            ("GET", "/guilds/{guild_id}/channels", rest.get_guild_channels, True),
            ("GET", "/guilds/{guild_id}/roles", rest.get_guild_roles, True),
            ("GET", "/guilds/{guild_id}/members/search", rest.search_members, True),
            ("GET", "/guilds/{guild_id}/members", rest.list_members, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", rest.get_member, True),
            ("GET", "/users/@me/guilds", rest.my_guilds, True),
            # scheduled events
            ("GET", "/guilds/{guild_id}/scheduled-events", rest.list_events, True),
            ("POST", "/guilds/{guild_id}/scheduled-events", rest.create_event, True),
            ("GET", "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}", rest.get_event, True),
            (
                "PATCH",
                "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}",
                rest.edit_event,
                True,
            ),
            (
                "DELETE",
                "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}",
                rest.delete_event,
                True,
            ),
            # interactions and their webhooks (no bot auth: the token is the credential)
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", ep.callback, False),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", ep.execute, False),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", ep.get_message, False),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", ep.edit_message, False),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", ep.delete_message, False),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", ep.get_message, False),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", ep.edit_message, False),
            (
                "DELETE",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                ep.delete_message,
                False,
            ),
        ]
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_get(
            "/ephemeral-attachments/{app_id}/{attachment_id}/{filename}", self._serve_attachment
        )
        for method, path, fn, auth in table:
            app.router.add_route(method, API_PREFIX + path, self._wrap(fn, auth, path))
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._wrap(self._rest.not_found, False, None))

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        try:
            att = self._attachments.get(int(request.match_info["attachment_id"]))
        except ValueError:
            att = None
        if att is None or att.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=att.data, content_type=att.content_type or "application/octet-stream")

    def _wrap(
        self,
        fn: Callable[[RequestContext], Awaitable[tuple[int, Any]]],
        auth: bool,
        template: str | None,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, fn, auth, template)

        return handler

    async def _read_body(self, request: web.Request, ctx: RequestContext) -> None:
        ctype = request.content_type
        if ctype == "multipart/form-data":
            reader = await request.multipart()
            files_by_index: dict[int, StoredAttachment] = {}
            async for part in reader:
                if part is None:
                    break
                name = getattr(part, "name", None) or ""
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    ctx.json = json.loads(data.decode("utf-8"))
                    continue
                m = re.fullmatch(r"files\[(\d+)\]", name) or re.fullmatch(r"file(\d*)", name)
                if m is None:
                    continue
                index = int(m.group(1) or 0)
                filename = getattr(part, "filename", None) or f"file{index}"
                content_type = part.headers.get("Content-Type")  # type: ignore[union-attr]
                if not content_type or content_type == "application/octet-stream":
                    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                files_by_index[index] = StoredAttachment(
                    id=self._snowflakes.next(), filename=filename, data=bytes(data), content_type=content_type
                )
            ctx.files = [files_by_index[i] for i in sorted(files_by_index)]
        else:
            raw = await request.read()
            ctx.raw_body = raw
            if raw:
                if ctype != "application/json":
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.")
                try:
                    ctx.json = json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    async def _handle(
        self,
        request: web.Request,
        fn: Callable[[RequestContext], Awaitable[tuple[int, Any]]],
        auth: bool,
        template: str | None,
    ) -> web.StreamResponse:
        rel = request.path[len(API_PREFIX) :]
        ctx = RequestContext(
            method=request.method,
            path=rel,
            template=template,
            params=dict(request.match_info),
            query=dict(request.query),
            headers=dict(request.headers),
        )
        rec = RecordedRequest(
            method=request.method,
            path=rel,
            query=dict(request.query),
            json=None,
            headers=dict(request.headers),
            route=template,
            started=self.now(),
        )
        ctx.record = rec
        self.requests.append(rec)
        try:
            # the network: half the round trip before Discord sees the request, half after it answered
            await self._network_delay()
            if self.banned:
                response = await self._blocked(request, ctx, rec)
            else:
                response = await self._answer(request, ctx, rec, fn, auth)
            await self._network_delay()
        finally:
            rec.finished = self.now()
        return response

    async def _network_delay(self) -> None:
        if self.rtt > 0:
            await asyncio.sleep(self.rtt / 2)

    async def _answer(
        self,
        request: web.Request,
        ctx: RequestContext,
        rec: RecordedRequest,
        fn: Callable[[RequestContext], Awaitable[tuple[int, Any]]],
        auth: bool,
    ) -> web.Response:
        rel, template = ctx.path, ctx.template
        headers: dict[str, str] = {}
        try:
            await self._read_body(request, ctx)
            rec.json = ctx.json
            rec.files = list(ctx.files)
            for route, seconds, after in list(self._slow):
                if not after and (route is None or route in rel):
                    await asyncio.sleep(seconds)
            if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            self._check_outage(ctx)
            self._apply_faults(ctx)
            interaction_route = template is not None and (
                template.startswith("/interactions/") or template.startswith("/webhooks/")
            )
            if self.rate_limits and template is not None:
                if not interaction_route:
                    self.ratelimiter.check_global()
                headers.update(self.ratelimiter.check(bucket_for(ctx.method, template), _major(ctx.params)))
            status, body = await fn(ctx)
            for route, seconds, after in list(self._slow):
                if after and (route is None or route in rel):
                    await asyncio.sleep(seconds)
        except DiscordError as err:
            status, body = err.status, err.body()
            headers.update(err.headers)
        except ConnectionResetError:
            raise  # the client went away mid-request (a killed process): nothing to answer, nothing crashed
        except Exception:
            _log.exception("loopback: handler for %s %s crashed", request.method, rel)
            status, body = 500, {"message": "500: Internal Server Error", "code": 0}
        rec.status = status
        rec.response_json = body
        rec.response_headers = dict(headers)
        if status in INVALID_STATUSES and headers.get("X-RateLimit-Scope") != "shared":
            self._count_invalid_request()
        if status == 204 or body is None:
            return web.Response(status=status if status != 200 else 204, headers=headers)
        return web.Response(
            body=json.dumps(body).encode(), status=status, content_type="application/json", headers=headers
        )

    async def _blocked(self, request: web.Request, ctx: RequestContext, rec: RecordedRequest) -> web.Response:
        """The IP is banned (invalid request limit): Cloudflare answers 403 with an HTML page, before Discord
        sees the request. Such answers do not count as invalid requests themselves."""
        with contextlib.suppress(DiscordError, ValueError):  # the body only for the record
            await self._read_body(request, ctx)
        rec.json = ctx.json
        rec.files = list(ctx.files)
        headers = {"Server": "cloudflare", "CF-RAY": f"{secrets.token_hex(8)}-LBK"}
        rec.status = 403
        rec.response_json = None
        rec.response_headers = dict(headers)
        self._endpoints.note_blocked(ctx, DiscordError(403, 0, "Cloudflare ban (invalid request limit)"))
        return web.Response(status=403, text=CLOUDFLARE_BAN_PAGE, content_type="text/html", headers=headers)

    def _check_outage(self, ctx: RequestContext) -> None:
        """REST calls on a guild in an outage, or on one of its channels, answer 503."""
        guild = None
        gid, cid = ctx.params.get("guild_id"), ctx.params.get("channel_id")
        if gid is not None and gid.isdigit():
            guild = self._guilds.get(int(gid))
        elif cid is not None and cid.isdigit():
            ch = self._channels.get(int(cid))
            guild = ch.guild if ch is not None else None
        if guild is not None and guild.unavailable and not guild.removed:
            raise DiscordError(503, 0, "503: Service Unavailable", headers={"Via": VIA})

    def _apply_faults(self, ctx: RequestContext) -> None:
        for fault in list(self._faults):
            if not fault.matches(ctx.method, ctx.path):
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            fault.hits += 1
            if fault.status == 429:
                raise rate_limited(
                    fault.retry_after, is_global=False, headers={"Via": VIA, "X-RateLimit-Scope": fault.scope}
                )
            err = DiscordError(fault.status, fault.code, fault.message)
            if fault.status >= 500:
                err.headers["Via"] = VIA
            raise err


def _major(params: dict[str, str]) -> str:
    for key in ("channel_id", "guild_id"):
        if key in params:
            return params[key]
    if "webhook_id" in params:
        return params["webhook_id"] + "+" + params.get("webhook_token", "")
    if "interaction_id" in params:
        return params["interaction_id"]
    return ""
