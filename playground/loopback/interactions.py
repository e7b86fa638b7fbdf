"""Interactions: building INTERACTION_CREATE payloads like Discord's, the callback endpoint, the
webhook endpoints for follow-ups and edits, and what a test gets back (``InteractionResult``)."""

# The public API takes `timeout=` arguments on purpose (tests call dc.wait_*(timeout=...)).
# ruff: noqa: ASYNC109

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .models import Channel, Guild, Member, Message, Role, StoredAttachment, User, _id, find_component
from .rules import DiscordError, validate_autocomplete_choices, validate_message_body, validate_modal

if TYPE_CHECKING:
    from ._http import RequestContext
    from .core import LoopbackDiscord

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
TOKEN_LIFETIME = 15 * 60.0
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

_ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9, 12},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9, 12},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}


class InteractionState:
    """Server-side record of one interaction."""

    def __init__(
        self,
        dc: LoopbackDiscord,
        *,
        itype: int,
        guild: Guild | None,
        channel: Channel,
        user: User,
        member: Member | None,
        data: dict[str, Any],
        source_message: Message | None = None,
        command: dict[str, Any] | None = None,
    ) -> None:
        self.dc = dc
        self.id = dc._snowflakes.next()
        self.token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        self.type = itype
        self.guild = guild
        self.channel = channel
        self.user = user
        self.member = member
        self.data = data
        self.source_message = source_message
        self.command = command
        self.created = time.monotonic()  # real time: the 3-second deadline is about the bot's own speed
        self.deadline = self.created + 3.0
        self.issued = dc.now()  # Discord's clock: the 15-minute token lifetime (dc.advance moves it)
        self.acked_type: int | None = None
        self.ack_data: dict[str, Any] | None = None
        self.deferred_ephemeral = False
        self.original: Message | None = None
        self.followups: list[Message] = []
        self.errors: list[dict[str, Any]] = []
        self.choices: list[dict[str, Any]] | None = None
        self.modal: dict[str, Any] | None = None
        self.settled = False  # a deferred response was completed (original edited or a follow-up sent)
        self.callback_attempts = 0
        self.payload: dict[str, Any] = {}
        self.expired_by_test = False

    @property
    def expired(self) -> bool:
        return self.expired_by_test or self.dc.now() - self.issued > TOKEN_LIFETIME

    def record_error(self, err: DiscordError, where: str) -> None:
        entry = {"status": err.status, "code": err.code, "message": err.message, "where": where}
        if err.errors:
            entry["errors"] = err.errors
        self.errors.append(entry)
        self.dc._notify()


class InteractionResult:
    """What a simulated user sees after an interaction (updated live as the bot edits and follows up)."""

    def __init__(self, dc: LoopbackDiscord, state: InteractionState) -> None:
        self._dc = dc
        self._state = state
        self.timed_out = False

    def __repr__(self) -> str:
        return f"<InteractionResult type={self.type} ephemeral={self.ephemeral} error={self.error}>"

    @property
    def interaction_id(self) -> int:
        return self._state.id

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def payload(self) -> dict[str, Any]:
        """The INTERACTION_CREATE payload that was dispatched."""
        return self._state.payload

    @property
    def type(self) -> int | None:
        """Callback type of the accepted first response (None when there was none)."""
        return self._state.acked_type

    @property
    def ephemeral(self) -> bool:
        msg = self._state.original
        if self._state.acked_type in (6, 7):
            return bool(msg is not None and msg.flags & 64)
        if msg is not None:
            return bool(msg.flags & 64)
        return self._state.deferred_ephemeral

    @property
    def message(self) -> Message | None:
        """The original response (for 6/7 the message the component was on), after any edits."""
        return self._state.original

    @property
    def followups(self) -> list[Message]:
        return list(self._state.followups)

    @property
    def messages(self) -> list[Message]:
        """Original response (if any) followed by follow-ups, without duplicates."""
        out: list[Message] = []
        if self._state.original is not None and self._state.acked_type in (4, 5):
            out.append(self._state.original)
        out += [m for m in self._state.followups if m not in out]
        return out

    @property
    def error(self) -> dict[str, Any] | None:
        """The last Discord error the bot got for this interaction ({"code": ..., "message": ..., ...})."""
        return self._state.errors[-1] if self._state.errors else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self._state.errors)

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        return self._state.choices

    @property
    def modal(self) -> dict[str, Any] | None:
        return self._state.modal

    @property
    def content(self) -> str | None:
        return self._state.original.content if self._state.original is not None else None

    async def wait_for_followups(self, n: int = 1, timeout: float = 5.0) -> list[Message]:
        await self._dc._wait_until(lambda: len(self._state.followups) >= n, timeout)
        return self.followups

    async def wait_until(self, predicate: Callable[[InteractionResult], bool], timeout: float = 5.0) -> None:
        await self._dc._wait_until(lambda: predicate(self), timeout)

    async def wait_for_edit(self, timeout: float = 5.0) -> Message:
        """Wait until the original response has been edited (or finalized after a deferral)."""

        def done() -> bool:
            msg = self._state.original
            return msg is not None and (msg.edited or self._state.settled)

        await self._dc._wait_until(done, timeout)
        assert self._state.original is not None
        return self._state.original


class AutocompleteChoices(list):  # type: ignore[type-arg]
    """The choices a bot answered an autocomplete with (a list), plus ``.error`` and ``.result``."""

    result: InteractionResult | None = None

    @property
    def error(self) -> dict[str, Any] | None:
        return self.result.error if self.result is not None else None


# ---------------------------------------------------------------------------- payload building


def _value_for(option: dict[str, Any], value: Any, path: str) -> Any:
    """Convert a test-supplied option value to what Discord sends, checking what the client would allow."""
    otype = option["type"]
    name = option["name"]
    if otype == 3:
        if not isinstance(value, str):
            value = str(value)
        mn, mx = option.get("min_length"), option.get("max_length")
        if (mn is not None and len(value) < mn) or (mx is not None and len(value) > mx):
            raise ValueError(f"{path}: option {name!r} length must be within [{mn}, {mx}]")
    elif otype == 4:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"{path}: option {name!r} needs an integer, got {value!r}")
        value = int(value)
    elif otype == 10:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{path}: option {name!r} needs a number, got {value!r}")
        value = float(value) if isinstance(value, str) else value
    elif otype == 5:
        if not isinstance(value, bool):
            raise ValueError(f"{path}: option {name!r} needs a bool, got {value!r}")
    if otype in (4, 10):
        mn, mx = option.get("min_value"), option.get("max_value")
        if (mn is not None and value < mn) or (mx is not None and value > mx):
            raise ValueError(f"{path}: option {name!r} must be within [{mn}, {mx}]")
    choices = option.get("choices")
    if choices and otype in (3, 4, 10) and value not in [c["value"] for c in choices]:
        raise ValueError(f"{path}: option {name!r} must be one of {[c['value'] for c in choices]}")
    return value


class _Resolved:
    def __init__(self) -> None:
        self.users: dict[str, Any] = {}
        self.members: dict[str, Any] = {}
        self.roles: dict[str, Any] = {}
        self.channels: dict[str, Any] = {}
        self.attachments: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}

    def payload(self) -> dict[str, Any] | None:
        out = {
            k: v
            for k, v in {
                "users": self.users,
                "members": self.members,
                "roles": self.roles,
                "channels": self.channels,
                "attachments": self.attachments,
                "messages": self.messages,
            }.items()
            if v
        }
        return out or None


class PayloadBuilder:
    def __init__(self, dc: LoopbackDiscord) -> None:
        self.dc = dc

    def resolve_user(self, res: _Resolved, guild: Guild | None, channel: Channel | None, value: Any) -> str:
        dc = self.dc
        uid = _id(value)
        user = dc._users.get(uid)
        if user is None:
            raise ValueError(f"unknown user {uid}")
        res.users[str(uid)] = user.payload()
        if guild is not None and uid in guild.members:
            m = guild.members[uid]
            perms = (
                guild.permissions_for(m, channel) if channel is not None and channel.guild is guild else None
            )
            res.members[str(uid)] = m.payload(with_user=False, permissions=perms)
        return str(uid)

    def resolve_role(self, res: _Resolved, guild: Guild | None, value: Any) -> str:
        if guild is None:
            raise ValueError("role options need a guild")
        rid = _id(value)
        role = guild.roles.get(rid)
        if role is None:
            raise ValueError(f"unknown role {rid} in {guild.name}")
        res.roles[str(rid)] = role.payload()
        return str(rid)

    def resolve_channel(
        self, res: _Resolved, guild: Guild | None, member: Member | None, value: Any, option: dict[str, Any]
    ) -> str:
        dc = self.dc
        cid = _id(value)
        ch = dc._channels.get(cid)
        if ch is None or ch.deleted:
            raise ValueError(f"unknown channel {cid}")
        types = option.get("channel_types")
        if types and ch.type not in types:
            raise ValueError(f"channel option {option['name']!r} only accepts channel types {types}")
        if guild is not None and ch.guild is not guild:
            raise ValueError(f"channel {ch.name} is not in {guild.name}")
        perms = guild.permissions_for(member, ch) if guild is not None and member is not None else 0
        data = {
            "id": str(ch.id),
            "name": ch.name,
            "type": ch.type,
            "permissions": str(perms),
            "parent_id": str(ch.parent_id) if ch.parent_id else None,
            "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            "flags": ch.flags,
            "nsfw": ch.nsfw,
            "topic": ch.topic,
            "position": ch.position,
            "rate_limit_per_user": ch.rate_limit_per_user,
            "guild_id": str(ch.guild.id) if ch.guild else None,
        }
        if ch.is_thread:
            # A picked thread may be archived (the bot's cache does not have those): Discord sends its state.
            for key in ("topic", "position", "nsfw"):
                data.pop(key)
            data.update(thread_metadata=ch.thread_metadata(), owner_id=str(ch.owner_id) if ch.owner_id else None,
                        member_count=min(len(ch.thread_members), 50), message_count=ch.message_count)
        res.channels[str(ch.id)] = data
        return str(ch.id)

    def resolve_attachment(self, res: _Resolved, value: Any) -> str:
        if not isinstance(value, StoredAttachment):
            att = self.dc._attachments.get(_id(value))
            if att is None:
                raise ValueError("attachment options need an attachment made with dc.attachment()")
            value = att
        res.attachments[str(value.id)] = value.payload()
        return str(value.id)

    def build_options(
        self,
        defs: Sequence[dict[str, Any]],
        values: dict[str, Any],
        *,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | None,
        res: _Resolved,
        path: str,
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in defs}
        for name in values:
            if name not in by_name:
                raise ValueError(f"{path}: unknown option {name!r}; the command has {sorted(by_name)}")
        out: list[dict[str, Any]] = []
        for opt in defs:
            name = opt["name"]
            if name not in values or values[name] is None:
                if opt.get("required") and name != focused:
                    raise ValueError(f"{path}: required option {name!r} is missing")
                continue
            value = values[name]
            otype = opt["type"]
            entry: dict[str, Any] = {"name": name, "type": otype}
            if name == focused:
                if not opt.get("autocomplete"):
                    raise ValueError(f"{path}: option {name!r} has no autocomplete")
                entry["value"] = str(value)
                entry["focused"] = True
                out.append(entry)
                continue
            if otype in (3, 4, 5, 10):
                entry["value"] = _value_for(opt, value, path)
            elif otype == 6:
                entry["value"] = self.resolve_user(res, guild, channel, value)
            elif otype == 7:
                entry["value"] = self.resolve_channel(res, guild, member, value, opt)
            elif otype == 8:
                entry["value"] = self.resolve_role(res, guild, value)
            elif otype == 9:
                if isinstance(value, Role) or (guild is not None and _id(value) in guild.roles):
                    entry["value"] = self.resolve_role(res, guild, value)
                else:
                    entry["value"] = self.resolve_user(res, guild, channel, value)
            elif otype == 11:
                entry["value"] = self.resolve_attachment(res, value)
            else:
                raise ValueError(f"{path}: option {name!r} has unsupported type {otype}")
            out.append(entry)
        if focused is not None and focused not in values:
            raise ValueError(f"{path}: the focused option {focused!r} needs a (partial) value")
        return out

    def command_data(
        self,
        command: dict[str, Any],
        path_parts: list[str],
        values: dict[str, Any],
        *,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | None,
        focused: str | None = None,
    ) -> dict[str, Any]:
        res = _Resolved()
        opts = command.get("options") or []
        full = " ".join([command["name"], *path_parts])
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": command.get("type", 1)}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        has_subs = any(o["type"] in (1, 2) for o in opts)
        if not path_parts:
            if has_subs:
                raise ValueError(f"/{full} needs a subcommand: {[o['name'] for o in opts]}")
            options = self.build_options(
                opts, values, guild=guild, channel=channel, member=member, res=res, path=full, focused=focused
            )
        else:
            if not has_subs:
                raise ValueError(f"/{command['name']} has no subcommands")
            first = next((o for o in opts if o["name"] == path_parts[0]), None)
            if first is None:
                raise ValueError(f"/{command['name']} has no subcommand or group {path_parts[0]!r}")
            if first["type"] == 2:
                if len(path_parts) != 2:
                    raise ValueError(f"/{command['name']} {path_parts[0]} is a group: name a subcommand")
                sub = next((o for o in first.get("options") or [] if o["name"] == path_parts[1]), None)
                if sub is None:
                    raise ValueError(f"group {path_parts[0]!r} has no subcommand {path_parts[1]!r}")
                inner = self.build_options(
                    sub.get("options") or [],
                    values,
                    guild=guild,
                    channel=channel,
                    member=member,
                    res=res,
                    path=full,
                    focused=focused,
                )
                options = [
                    {
                        "name": first["name"],
                        "type": 2,
                        "options": [{"name": sub["name"], "type": 1, "options": inner}],
                    }
                ]
            else:
                if len(path_parts) != 1:
                    raise ValueError(f"{path_parts[0]!r} is a subcommand, not a group")
                inner = self.build_options(
                    first.get("options") or [],
                    values,
                    guild=guild,
                    channel=channel,
                    member=member,
                    res=res,
                    path=full,
                    focused=focused,
                )
                options = [{"name": first["name"], "type": 1, "options": inner}]
        if options:
            data["options"] = options
        resolved = res.payload()
        if resolved:
            data["resolved"] = resolved
        return data

    def channel_payload(self, channel: Channel, perms: int | None) -> dict[str, Any]:
        data = channel.payload()
        if perms is not None and channel.type != 1:
            data["permissions"] = str(perms)
        return data

    def interaction_payload(self, state: InteractionState) -> dict[str, Any]:
        dc = self.dc
        guild = state.guild
        ch = state.channel
        payload: dict[str, Any] = {
            "id": str(state.id),
            "application_id": str(dc.application_id),
            "type": state.type,
            "data": state.data,
            "token": state.token,
            "version": 1,
            "locale": state.user.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(ch.id),
        }
        if guild is not None:
            assert state.member is not None
            member_perms = guild.permissions_for(state.member, ch)
            bot_perms = guild.permissions_for(guild.bot_member, ch)
            payload.update(
                guild_id=str(guild.id),
                guild={
                    "id": str(guild.id),
                    "locale": guild.preferred_locale,
                    "features": list(guild.features),
                },
                guild_locale=guild.preferred_locale,
                member=state.member.payload(permissions=member_perms),
                app_permissions=str(bot_perms),
                channel=self.channel_payload(ch, member_perms),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=state.user.payload(),
                app_permissions=str(
                    dc._dm_permissions()  # what a bot may do in a DM
                ),
                channel=self.channel_payload(ch, None),
                authorizing_integration_owners={"0": str(dc.owner_user.id)},
                context=1,
            )
        if state.source_message is not None:
            payload["message"] = dc._message_payload(state.source_message)
        return payload


# ---------------------------------------------------------------------------- endpoints


class InteractionEndpoints:
    """POST /interactions/{id}/{token}/callback and the /webhooks/{app}/{token} routes."""

    def __init__(self, dc: LoopbackDiscord) -> None:
        self.dc = dc

    def _state(self, interaction_id: str, token: str) -> InteractionState:
        try:
            state = self.dc._interactions.get(int(interaction_id))
        except ValueError:
            state = None
        if state is None or state.token != token:
            raise DiscordError(404, 10062, "Unknown interaction")
        return state

    def note_blocked(self, ctx: RequestContext, err: DiscordError) -> None:
        """A request for an interaction was answered before it reached Discord (the IP is banned): the
        interaction records the error, so a waiting simulated user sees it at once."""
        params = ctx.params
        state: InteractionState | None = None
        if "interaction_id" in params:
            with contextlib.suppress(DiscordError):
                state = self._state(params["interaction_id"], params.get("interaction_token", ""))
            where = "callback"
        else:
            state = self.dc._interactions_by_token.get(params.get("webhook_token", ""))
            where = ctx.method + " webhook"
        if state is not None:
            state.record_error(err, where)

    async def callback(self, ctx: RequestContext) -> tuple[int, Any]:
        dc = self.dc
        state = self._state(ctx.params["interaction_id"], ctx.params["interaction_token"])
        state.callback_attempts += 1
        try:
            return await self._callback(ctx, state)
        except DiscordError as err:
            state.record_error(err, "callback")
            raise
        finally:
            dc._notify()

    async def _callback(self, ctx: RequestContext, state: InteractionState) -> tuple[int, Any]:
        dc = self.dc
        if state.acked_type is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if dc.deadline_enforced and time.monotonic() > state.deadline:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = ctx.json
        if not isinstance(body, dict) or "type" not in body:
            raise DiscordError(400, 50035, "Invalid Form Body", errors={"type": {"_errors": [_required()]}})
        ctype = body.get("type")
        if ctype not in _ALLOWED_CALLBACKS.get(state.type, set()):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "type": {
                        "_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid type"}]
                    }
                },
            )
        data = body.get("data") or {}
        if ctype == 7 and state.source_message is None:
            raise DiscordError(400, 50035, "Invalid Form Body", errors={"type": {"_errors": [_required()]}})
        # rule checks first, then the OpenAPI schema
        if ctype in (4, 7):
            try:
                validate_message_body(data, partial=ctype == 7, has_files=bool(ctx.files))
            except DiscordError as err:
                if err.errors:
                    err.errors = {"data": err.errors}
                raise
        elif ctype == 8:
            validate_autocomplete_choices(data.get("choices"))
            self._check_choice_types(state, data.get("choices") or [])
        elif ctype == 9:
            validate_modal(data)
        dc._check_spec(ctx)

        # accepted
        state.acked_type = ctype
        state.ack_data = data
        response_message: Message | None = None
        if ctype == 4:
            msg = dc._build_message(
                channel=state.channel,
                author=dc._bot_user,
                body=data,
                files=ctx.files,
                mtype=20 if state.type == APPLICATION_COMMAND else 0,
                interaction=state,
                allow_ephemeral=True,
            )
            state.original = msg
            dc._store_message(msg)
            response_message = msg
        elif ctype == 5:
            flags = int(data.get("flags") or 0) & 64
            state.deferred_ephemeral = bool(flags)
            msg = dc._build_message(
                channel=state.channel,
                author=dc._bot_user,
                body={"content": "", "flags": flags},
                files=[],
                mtype=20 if state.type == APPLICATION_COMMAND else 0,
                interaction=state,
                allow_ephemeral=True,
            )
            msg.flags |= 128  # LOADING
            state.original = msg
            dc._store_message(msg)
            response_message = msg
        elif ctype == 6:
            state.original = state.source_message
        elif ctype == 7:
            assert state.source_message is not None
            dc._edit_message(state.source_message, data, ctx.files)
            state.original = state.source_message
            state.settled = True
            response_message = state.source_message
        elif ctype == 8:
            state.choices = list(data.get("choices") or [])
        elif ctype == 9:
            state.modal = data
            dc._modals[str(data.get("custom_id"))] = (state, data)

        if not _truthy(ctx.query.get("with_response")):
            return 204, None
        interaction: dict[str, Any] = {"id": str(state.id), "type": state.type}
        if response_message is not None:
            interaction.update(
                response_message_id=str(response_message.id),
                response_message_loading=bool(response_message.flags & 128),
                response_message_ephemeral=bool(response_message.flags & 64),
            )
        out: dict[str, Any] = {"interaction": interaction}
        if ctype in (4, 5, 7) and response_message is not None:
            out["resource"] = {"type": ctype, "message": dc._message_payload(response_message)}
        elif ctype in (6, 8, 9):
            out["resource"] = {"type": ctype}
        return 200, out

    def _check_choice_types(self, state: InteractionState, choices: list[dict[str, Any]]) -> None:
        focused = _focused_option(state.data.get("options") or [])
        if focused is None:
            return
        otype = focused.get("type")
        for i, ch in enumerate(choices):
            val = ch.get("value")
            ok = (
                isinstance(val, str)
                if otype == 3
                else isinstance(val, (int, float)) and not isinstance(val, bool)
            )
            if otype == 4 and isinstance(val, float) and not val.is_integer():
                ok = False
            if not ok:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    errors={
                        "data": {
                            "choices": {
                                str(i): {
                                    "value": {
                                        "_errors": [
                                            {
                                                "code": "AUTOCOMPLETE_CHOICE_VALUE_TYPE_INVALID",
                                                "message": "Choice value does not match the option type",
                                            }
                                        ]
                                    }
                                }
                            }
                        }
                    },
                )

    # ------------------------------------------------------------------ webhooks
    def _webhook_state(self, ctx: RequestContext) -> InteractionState:
        dc = self.dc
        wid, token = ctx.params["webhook_id"], ctx.params["webhook_token"]
        state = dc._interactions_by_token.get(token)
        if state is None or str(dc.application_id) != wid:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if state.expired:
            err = DiscordError(401, 50027, "Invalid Webhook Token")
            state.record_error(err, ctx.method + " webhook")
            raise err
        return state

    def _message_of(self, state: InteractionState, message_id: str) -> Message:
        if message_id == "@original":
            if state.original is None or state.acked_type not in (4, 5, 6, 7):
                raise DiscordError(404, 10008, "Unknown Message")
            msg = state.original
        else:
            msg = None
            try:
                mid = int(message_id)
            except ValueError:
                mid = -1
            for m in [state.original, *state.followups]:
                if m is not None and m.id == mid:
                    msg = m
            if msg is None:
                raise DiscordError(404, 10008, "Unknown Message")
        if msg.deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def execute(self, ctx: RequestContext) -> tuple[int, Any]:
        dc = self.dc
        state = self._webhook_state(ctx)
        try:
            if state.acked_type is None or state.acked_type in (8, 9):
                raise DiscordError(404, 10015, "Unknown Webhook")
            body = ctx.json if isinstance(ctx.json, dict) else {}
            validate_message_body(body, partial=False, has_files=bool(ctx.files))
            dc._check_spec(ctx)
            orig = state.original
            if state.acked_type == 5 and orig is not None and orig.loading and not orig.deleted:
                # the first follow-up after a "thinking" deferral replaces the loading message
                body = dict(body)
                body["flags"] = (int(body.get("flags") or 0) & ~64) | (orig.flags & 64)
                dc._edit_message(orig, body, ctx.files, finalize=True)
                msg = orig
            else:
                msg = dc._build_message(
                    channel=state.channel,
                    author=dc._bot_user,
                    body=body,
                    files=ctx.files,
                    mtype=0,
                    interaction=state,
                    allow_ephemeral=True,
                )
                dc._store_message(msg)
            state.followups.append(msg)
            state.settled = True
        except DiscordError as err:
            state.record_error(err, "followup")
            raise
        finally:
            dc._notify()
        if not _truthy(ctx.query.get("wait")):
            return 204, None
        return 200, dc._message_payload(msg)

    async def get_message(self, ctx: RequestContext) -> tuple[int, Any]:
        state = self._webhook_state(ctx)
        msg = self._message_of(state, ctx.params.get("message_id", "@original"))
        return 200, self.dc._message_payload(msg)

    async def edit_message(self, ctx: RequestContext) -> tuple[int, Any]:
        dc = self.dc
        state = self._webhook_state(ctx)
        try:
            msg = self._message_of(state, ctx.params.get("message_id", "@original"))
            body = ctx.json if isinstance(ctx.json, dict) else {}
            validate_message_body(body, partial=True)
            dc._check_spec(ctx)
            was_loading = msg.loading
            dc._edit_message(msg, body, ctx.files, finalize=was_loading)
            if msg is state.original:
                state.settled = True
        except DiscordError as err:
            state.record_error(err, "edit")
            raise
        finally:
            dc._notify()
        return 200, dc._message_payload(msg)

    async def delete_message(self, ctx: RequestContext) -> tuple[int, Any]:
        dc = self.dc
        state = self._webhook_state(ctx)
        msg = self._message_of(state, ctx.params.get("message_id", "@original"))
        dc._delete_message(msg)
        dc._notify()
        return 204, None


def _required() -> dict[str, str]:
    return {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}


def _truthy(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true", "yes")


def _focused_option(options: list[dict[str, Any]]) -> dict[str, Any] | None:
    for o in options:
        if o.get("focused"):
            return o
        inner = _focused_option(o.get("options") or [])
        if inner is not None:
            return inner
    return None


def modal_submission(modal: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """Build the components of a MODAL_SUBMIT from the modal the bot sent and {custom_id: value}."""
    used: set[str] = set()

    def convert(comp: dict[str, Any]) -> dict[str, Any] | None:
        ctype = comp.get("type")
        if ctype == 1:
            inner = [c for c in (convert(x) for x in comp.get("components") or []) if c is not None]
            return {"type": 1, "components": inner}
        if ctype == 18:
            sub = convert(comp.get("component") or {})
            if sub is None:
                return None
            out18: dict[str, Any] = {"type": 18, "component": sub}
            if "id" in comp:
                out18["id"] = comp["id"]
            return out18
        cid = comp.get("custom_id")
        if cid is None:
            return None
        out: dict[str, Any] = {"type": ctype, "custom_id": cid}
        if "id" in comp:
            out["id"] = comp["id"]
        if ctype == 4:
            val = values.get(cid, comp.get("value") or "")
            if comp.get("required", True) and not val:
                raise ValueError(f"text input {cid!r} is required")
            mx = comp.get("max_length")
            if mx is not None and len(str(val)) > mx:
                raise ValueError(f"text input {cid!r} allows at most {mx} characters")
            out["value"] = str(val)
        else:
            val = values.get(cid, [])
            out["values"] = [
                str(v) if not isinstance(v, (Role, Member, User, Channel)) else str(v.id) for v in val
            ]
        used.add(cid)
        return out

    comps = [c for c in (convert(x) for x in modal.get("components") or []) if c is not None]
    unknown = set(values) - used
    if unknown:
        raise ValueError(f"modal has no inputs {sorted(unknown)}")
    return comps


def find_clickable(message: Message, custom_id: str) -> dict[str, Any]:
    comp = find_component(message.components, custom_id)
    if comp is None:
        raise ValueError(
            f"message {message.id} has no component with custom_id {custom_id!r}; has {message.custom_ids()}"
        )
    if comp.get("disabled"):
        raise ValueError(f"component {custom_id!r} is disabled")
    return comp
