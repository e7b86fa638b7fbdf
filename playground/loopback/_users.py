"""Simulated users of the loopback: slash commands, context menus, autocomplete, buttons, selects,
modals and plain messages, each dispatched as Discord's client would, and waiting for the bot's answer."""

# The public API takes `timeout=` arguments on purpose (tests call dc.wait_*(timeout=...)).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    AutocompleteChoices,
    InteractionResult,
    InteractionState,
    _Resolved,
    find_clickable,
    modal_submission,
)
from .models import Channel, Guild, Member, Message, User, _id
from .permissions import Permissions


class CommandUnavailable(PermissionError, ValueError):
    """The simulated user could not run the command (Discord's client would not offer it): it is hidden by
    ``default_member_permissions``, the member lacks Use Application Commands, or the context is wrong."""


class GuildUnavailable(RuntimeError):
    """The guild is in an outage (``dc.start_outage``): nobody can start an interaction there."""


class UsersMixin:
    """Simulated users of ``LoopbackDiscord`` (a mixin: ``self`` is the loopback)."""

    def send_user_message(
        self,
        channel: Channel,
        member: Member | User,
        content: str,
        *,
        reply_to: Message | None = None,
    ) -> Message:
        """A user posts in a channel (MESSAGE_CREATE; content redacted without the message content intent)."""
        if channel.guild is not None and channel.guild.unavailable:
            raise GuildUnavailable(
                f"{channel.guild.name} is in an outage (dc.start_outage): nobody can post there"
            )
        user = member.user if isinstance(member, Member) else member
        body: dict[str, Any] = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to.id)}
        msg = self._build_message(channel=channel, author=user, body=body, files=[])
        self._store_message(msg)
        return msg

    def _invoker(
        self, guild: Guild | None, channel: Channel | None, member: Member | User | int
    ) -> tuple[Guild | None, Channel, User, Member | None]:
        if guild is not None:
            mid = _id(member)
            m = guild.members.get(mid)
            if m is None:
                raise ValueError(f"{member!r} is not a member of {guild.name}")
            if channel is None:
                raise ValueError("a guild interaction needs a channel")
            ch = channel if isinstance(channel, Channel) else self._channels[_id(channel)]
            if ch.deleted or ch.guild is not guild:
                raise ValueError(f"channel {ch.name} is not in {guild.name}")
            if not guild.permissions_for(m, ch) & Permissions.VIEW_CHANNEL:
                raise ValueError(f"{m.name} cannot see #{ch.name}")
            return guild, ch, m.user, m
        user = member.user if isinstance(member, Member) else self._users[_id(member)]
        ch = self.dm_channel(user) if channel is None else channel
        return None, ch, user, None

    def _find_command(self, guild: Guild | None, name: str, ctype: int = 1) -> dict[str, Any]:
        scopes: list[int | None] = [guild.id, None] if guild is not None else [None]
        for scope in scopes:
            for cmd in self._commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        known = [c["name"] for s in scopes for c in self._commands.get(s, []) if c.get("type", 1) == ctype]
        raise ValueError(f"unknown command {name!r} (type {ctype}); registered: {sorted(known)}")

    def _check_command_available(
        self,
        cmd: dict[str, Any],
        guild: Guild | None,
        channel: Channel,
        member: Member | None,
        override: bool,
    ) -> None:
        contexts = cmd.get("contexts")
        if guild is not None:
            if contexts is not None and 0 not in contexts:
                raise CommandUnavailable(f"/{cmd['name']} is not available in servers (contexts={contexts})")
            if not override and member is not None:
                perms = guild.permissions_for(member, channel)
                if not perms & Permissions.USE_APPLICATION_COMMANDS:
                    raise CommandUnavailable(
                        f"{member.name} lacks Use Application Commands in #{channel.name}"
                    )
                dmp = cmd.get("default_member_permissions")
                if dmp is not None and (int(dmp) & perms) != int(dmp):
                    raise CommandUnavailable(
                        f"/{cmd['name']} is hidden from {member.name}: default_member_permissions={dmp} "
                        "(pass permission_override=True to simulate an admin's override)"
                    )
        else:
            dm_ok = cmd.get("dm_permission", True) is not False if contexts is None else 1 in contexts
            if not dm_ok or cmd.get("guild_id"):
                raise CommandUnavailable(f"/{cmd['name']} is not available in DMs")

    def _start_interaction(
        self,
        *,
        itype: int,
        guild: Guild | None,
        channel: Channel,
        user: User,
        member: Member | None,
        data: dict[str, Any],
        source_message: Message | None = None,
        command: dict[str, Any] | None = None,
    ) -> InteractionState:
        if guild is not None and guild.unavailable:
            raise GuildUnavailable(
                f"{guild.name} is in an outage (dc.start_outage): Discord's clients cannot start interactions "
                "there until dc.end_outage"
            )
        # every session of the shard gets it (two processes on one token both hear it); one must be connected
        gid = guild.id if guild else None
        sessions = [s for s in self.gateway.active_sessions() if s.ready_sent and s.covers(gid)]
        if not any(s.conn is not None for s in sessions):
            raise RuntimeError("the bot is not connected to the loopback gateway")
        state = InteractionState(
            self,
            itype=itype,
            guild=guild,
            channel=channel,
            user=user,
            member=member,
            data=data,
            source_message=source_message,
            command=command,
        )
        state.payload = self._builder.interaction_payload(state)
        self._interactions[state.id] = state
        self._interactions_by_token[state.token] = state
        state.created = time.monotonic()
        state.deadline = state.created + 3.0
        state.issued = self.now()
        for session in sessions:
            session.dispatch("INTERACTION_CREATE", state.payload)
        return state

    async def _await_response(
        self, state: InteractionState, timeout: float, followup_timeout: float
    ) -> InteractionResult:
        result = InteractionResult(self, state)
        loop = asyncio.get_running_loop()
        start = loop.time()
        late_grace = 2.0

        def first_done() -> bool:
            if state.acked_type is not None:
                return True
            if any(e.get("where") == "callback" for e in state.errors):
                return True  # the first response was rejected (late, invalid, ...); r stays live
            if self.deadline_enforced and time.monotonic() > state.deadline + late_grace:
                return True
            return False

        try:
            await self._wait_until(first_done, timeout)
        except TimeoutError:
            result.timed_out = True
        if state.acked_type is None:
            result.timed_out = True
            return result
        if state.acked_type in (5, 6) and not state.settled:
            remaining = max(followup_timeout - (loop.time() - start), 0.1)
            try:
                await self._wait_until(lambda: state.settled, remaining)
            except TimeoutError:
                result.timed_out = True
        return result

    async def run_command(
        self,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | User | int,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
        permission_override: bool = False,
    ) -> InteractionResult:
        """A member runs ``/command`` (``"group sub"`` paths allowed). Returns after the first callback;
        after a deferral, once the original is edited or a follow-up arrives (or ``followup_timeout``)."""
        g, ch, user, m = self._invoker(guild, channel, member)
        parts = command.split()
        if not parts:
            raise ValueError("empty command")
        cmd = self._find_command(g, parts[0], 1)
        self._check_command_available(cmd, g, ch, m, permission_override)
        data = self._builder.command_data(cmd, parts[1:], dict(options or {}), guild=g, channel=ch, member=m)
        state = self._start_interaction(
            itype=APPLICATION_COMMAND, guild=g, channel=ch, user=user, member=m, data=data, command=cmd
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def run_context_menu(
        self,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | User | int,
        name: str,
        target: Member | User | Message,
        *,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
        permission_override: bool = False,
    ) -> InteractionResult:
        """Run a user (target Member/User) or message (target Message) context-menu command."""
        g, ch, user, m = self._invoker(guild, channel, member)
        ctype = 3 if isinstance(target, Message) else 2
        cmd = self._find_command(g, name, ctype)
        self._check_command_available(cmd, g, ch, m, permission_override)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": ctype,
            "target_id": str(target.id),
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if isinstance(target, Message):
            data["resolved"] = {"messages": {str(target.id): self._message_payload(target)}}
        else:
            res = _Resolved()
            self._builder.resolve_user(res, g, ch, target)
            data["resolved"] = res.payload()
        state = self._start_interaction(
            itype=APPLICATION_COMMAND, guild=g, channel=ch, user=user, member=m, data=data, command=cmd
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def autocomplete(
        self,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | User | int,
        command: str,
        options: dict[str, Any],
        *,
        focused: str,
        timeout: float = 5.0,
    ) -> AutocompleteChoices:
        """The user types into an autocomplete option; returns the bot's choices (a list with .error)."""
        g, ch, user, m = self._invoker(guild, channel, member)
        parts = command.split()
        cmd = self._find_command(g, parts[0], 1)
        self._check_command_available(cmd, g, ch, m, True)
        data = self._builder.command_data(
            cmd, parts[1:], dict(options), guild=g, channel=ch, member=m, focused=focused
        )
        state = self._start_interaction(
            itype=AUTOCOMPLETE, guild=g, channel=ch, user=user, member=m, data=data, command=cmd
        )
        result = await self._await_response(state, timeout, 0.1)
        out = AutocompleteChoices(state.choices or [])
        out.result = result
        return out

    def _component_context(
        self, message: Message, member: Member | User | int | None
    ) -> tuple[Guild | None, Channel, User, Member | None]:
        ch = self._channels.get(message.channel_id) or self._dm_channel_by_id(message.channel_id)
        if ch is None or ch.deleted:
            raise ValueError("the message's channel is gone")
        if message.deleted:
            raise ValueError("the message was deleted")
        if member is None:
            if message.interaction_metadata is not None:
                member = int(message.interaction_metadata["user"]["id"])
            else:
                raise ValueError("pass member= (who clicks)")
        g, ch2, user, m = self._invoker(ch.guild, ch, member)
        if message.ephemeral and message.interaction_metadata is not None:
            if int(message.interaction_metadata["user"]["id"]) != user.id:
                raise ValueError("only the user who ran the command can see this ephemeral message")
        return g, ch2, user, m

    async def click(
        self,
        message: Message,
        custom_id: str,
        *,
        member: Member | User | int | None = None,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
    ) -> InteractionResult:
        """Click a button (component type 2) on a message."""
        comp = find_clickable(message, custom_id)
        if comp.get("type") != 2:
            raise ValueError(f"component {custom_id!r} is not a button (type {comp.get('type')})")
        g, ch, user, m = self._component_context(message, member)
        data = {"custom_id": custom_id, "component_type": 2}
        if "id" in comp:
            data["id"] = comp["id"]
        state = self._start_interaction(
            itype=MESSAGE_COMPONENT,
            guild=g,
            channel=ch,
            user=user,
            member=m,
            data=data,
            source_message=message,
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def select(
        self,
        message: Message,
        custom_id: str,
        values: Iterable[Any],
        *,
        member: Member | User | int | None = None,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
    ) -> InteractionResult:
        """Pick values in a select menu (string select: option values; user/role/channel selects:
        objects or ids)."""
        comp = find_clickable(message, custom_id)
        ctype = comp.get("type")
        if ctype not in (3, 5, 6, 7, 8):
            raise ValueError(f"component {custom_id!r} is not a select menu")
        g, ch, user, m = self._component_context(message, member)
        vals = list(values)
        mn, mx = comp.get("min_values", 1), comp.get("max_values", 1)
        if not mn <= len(vals) <= mx:
            raise ValueError(f"select {custom_id!r} takes {mn}..{mx} values, got {len(vals)}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if "id" in comp:
            data["id"] = comp["id"]
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options") or []]
            for v in vals:
                if v not in allowed:
                    raise ValueError(f"{v!r} is not an option of {custom_id!r}: {allowed}")
            data["values"] = [str(v) for v in vals]
        else:
            res = _Resolved()
            ids = []
            for v in vals:
                if ctype == 5 or (ctype == 7 and not (g is not None and _id(v) in g.roles)):
                    ids.append(self._builder.resolve_user(res, g, ch, v))
                elif ctype in (6, 7):
                    ids.append(self._builder.resolve_role(res, g, v))
                else:
                    ids.append(self._builder.resolve_channel(res, g, m, v, {"name": custom_id, **comp}))
            data["values"] = ids
            data["resolved"] = res.payload() or {}
        state = self._start_interaction(
            itype=MESSAGE_COMPONENT,
            guild=g,
            channel=ch,
            user=user,
            member=m,
            data=data,
            source_message=message,
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def submit_modal(
        self,
        result: InteractionResult,
        values: dict[str, Any],
        *,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
    ) -> InteractionResult:
        """Submit the modal the bot answered ``result`` with (type 9), with {custom_id: value}."""
        modal = result.modal
        if modal is None:
            raise ValueError("that interaction was not answered with a modal")
        prev = result._state
        comps = modal_submission(modal, values)
        data = {"custom_id": modal["custom_id"], "components": comps}
        state = self._start_interaction(
            itype=MODAL_SUBMIT,
            guild=prev.guild,
            channel=prev.channel,
            user=prev.user,
            member=prev.member,
            data=data,
            source_message=prev.source_message,
        )
        return await self._await_response(state, timeout, followup_timeout)
