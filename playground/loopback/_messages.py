"""The message pipeline of the loopback: building a message from a request body (flags, embeds,
attachments, replies, pings), storing, editing and deleting it, its payloads and its gateway events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .interactions import APPLICATION_COMMAND, InteractionState
from .mentions import compute_pings
from .models import Channel, Message, StoredAttachment, User
from .permissions import Permissions
from .snowflake import utcnow


class MessagesMixin:
    """Messages of ``LoopbackDiscord`` (a mixin: ``self`` is the loopback)."""

    def _dispatch_message_event(self, event: str, msg: Message) -> None:
        if msg.ephemeral:
            return
        ch = self._channels.get(msg.channel_id)
        guild = ch.guild if ch is not None else None
        if guild is not None and (guild.removed or not guild._announced or guild.unavailable):
            return  # no events from a guild in an outage
        for session in self.gateway.active_sessions():
            if not session.ready_sent or not session.wants(event, guild_id=msg.guild_id):
                continue
            if event == "MESSAGE_DELETE":
                data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
                if msg.guild_id:
                    data["guild_id"] = str(msg.guild_id)
            else:
                data = self._message_payload(msg, with_member=True, with_nonce=event == "MESSAGE_CREATE")
                redact = (
                    not session.intents & (1 << 15)
                    and msg.author.id != self.bot_user_id
                    and msg.guild_id is not None
                    and self.bot_user_id not in msg.mention_user_ids
                )
                if redact:
                    data.update(content="", embeds=[], attachments=[], components=[])
                    data.pop("poll", None)
            session.dispatch(event, data)

    def _message_payload(
        self, msg: Message, *, with_member: bool = False, with_nonce: bool = False
    ) -> dict[str, Any]:
        """The message object as Discord sends it. Only the create response and MESSAGE_CREATE carry the
        nonce (``with_nonce``): Discord does not store it, so fetched messages have none."""
        member = None
        if with_member and msg.guild_id is not None:
            guild = self._guilds.get(msg.guild_id)
            if guild is not None and msg.author.id in guild.members:
                member = guild.members[msg.author.id].payload(with_user=False)
        data = msg.payload(author_member=member, with_nonce=with_nonce)
        data["mentions"] = [self._users[u].payload() for u in msg.mention_user_ids if u in self._users]
        if msg.message_reference is not None:
            ref = self._messages.get(int(msg.message_reference.get("message_id") or 0))
            data["referenced_message"] = ref.payload() if ref is not None and not ref.deleted else None
        return data

    def _compute_pings(self, channel: Channel, author: User, body: dict[str, Any], msg: Message) -> None:
        guild = channel.guild
        if msg.ephemeral:
            msg.pings, msg.mention_user_ids, msg.mention_role_ids, msg.mention_everyone = set(), [], [], False
            return
        replied_user = None
        if msg.message_reference:
            ref = self._messages.get(int(msg.message_reference.get("message_id") or 0))
            if ref is not None and ref.author.id != author.id:
                replied_user = ref.author.id
        if guild is not None and author.id in guild.members:
            perms = guild.permissions_for(guild.members[author.id], channel)
        else:
            perms = 0
        result = compute_pings(
            msg.content,
            msg.allowed_mentions if "allowed_mentions" in body or msg.allowed_mentions is not None else None,
            replied_user_id=replied_user,
            can_mention_everyone=bool(perms & Permissions.MENTION_EVERYONE),
            role_exists=lambda rid: guild is not None and rid in guild.roles,
            role_mentionable=lambda rid: guild is not None and guild.roles[rid].mentionable,
            user_exists=lambda uid: uid in self._users,
            in_guild=guild is not None,
        )
        msg.pings = result.pings
        msg.mention_user_ids = result.user_ids
        msg.mention_role_ids = result.role_ids
        msg.mention_everyone = result.everyone

    def _attachments_from(
        self,
        channel: Channel,
        body: dict[str, Any],
        files: Sequence[StoredAttachment],
        keep: Sequence[StoredAttachment],
    ) -> list[StoredAttachment]:
        """Resolve ``attachments`` (kept ones by id, new ones by file index) against uploaded files."""
        by_index = {str(i): f for i, f in enumerate(files)}
        out: list[StoredAttachment] = []
        used: set[int] = set()
        if "attachments" in body and body["attachments"] is not None:
            kept = {str(a.id): a for a in keep}
            for entry in body["attachments"]:
                key = str(entry.get("id"))
                if key in kept:
                    out.append(kept[key])
                elif key in by_index:
                    f = by_index[key]
                    used.add(id(f))
                    if entry.get("filename"):
                        f.filename = entry["filename"]
                    if entry.get("description") is not None:
                        f.description = entry["description"]
                    if entry.get("title") is not None:
                        f.title = entry["title"]
                    out.append(f)
            new = [f for f in files if id(f) not in used]
        else:
            out = list(keep)
            new = list(files)
        out += new
        for f in out:
            if not f.url:
                f.url = f"{self.http_url}/attachments/{channel.id}/{f.id}/{f.filename}"
                self._attachments[f.id] = f
        return out

    def _build_message(
        self,
        *,
        channel: Channel,
        author: User,
        body: dict[str, Any],
        files: Sequence[StoredAttachment],
        mtype: int = 0,
        interaction: InteractionState | None = None,
        allow_ephemeral: bool = False,
    ) -> Message:
        flags = int(body.get("flags") or 0)
        allowed_flags = 4 | 4096 | 8192 | (1 << 15) | (64 if allow_ephemeral else 0)
        flags &= allowed_flags
        embeds = [_normalize_embed(e) for e in body.get("embeds") or []]
        msg = Message(
            id=self._snowflakes.next(),
            channel_id=channel.id,
            guild_id=channel.guild.id if channel.guild else None,
            author=author,
            content=body.get("content") or "",
            embeds=embeds if not flags & 4 else [],
            components=list(body.get("components") or []),
            flags=flags,
            nonce=body.get("nonce"),
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=_normalize_reference(body.get("message_reference"), channel),
            tts=bool(body.get("tts")),
            type=mtype if not body.get("message_reference") or mtype else 19,
            poll=body.get("poll"),
            sticker_ids=[int(s) for s in body.get("sticker_ids") or []],
        )
        if msg.message_reference is not None and msg.type == 0:
            msg.type = 19
        msg.attachments = self._attachments_from(channel, body, files, [])
        if interaction is not None:
            msg.interaction_id = interaction.id
            msg.webhook_id = self.application_id
            msg.application_id = self.application_id
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": {
                    "0": str(interaction.guild.id) if interaction.guild else "0"
                },
            }
            if interaction.type == APPLICATION_COMMAND:
                meta["name"] = interaction.data.get("name")
                meta["command_type"] = interaction.data.get("type", 1)
            if interaction.source_message is not None:
                meta["interacted_message_id"] = str(interaction.source_message.id)
            msg.interaction_metadata = meta
        self._compute_pings(channel, author, body, msg)
        return msg

    def _store_message(self, msg: Message) -> None:
        self._messages[msg.id] = msg
        self._channel_messages.setdefault(msg.channel_id, []).append(msg)
        ch = self._channels.get(msg.channel_id)
        if ch is not None and not msg.ephemeral:
            ch.last_message_id = msg.id
            if ch.is_thread:
                ch.message_count += 1
                ch.total_message_sent += 1
        self._dispatch_message_event("MESSAGE_CREATE", msg)
        self._notify()

    def _edit_message(
        self,
        msg: Message,
        body: dict[str, Any],
        files: Sequence[StoredAttachment],
        *,
        finalize: bool = False,
    ) -> None:
        msg.history.append(msg.snapshot())
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = [_normalize_embed(e) for e in body["embeds"] or []]
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if "flags" in body and body["flags"] is not None:
            new_flags = int(body["flags"])
            keep = msg.flags & (64 | (1 << 15))
            msg.flags = keep | (new_flags & (4 | 4096 | (1 << 15)))
            if msg.flags & 4:
                msg.embeds = []
        if "poll" in body:
            msg.poll = body["poll"]
        ch = self._channels.get(msg.channel_id) or self._dm_channel_by_id(msg.channel_id)
        if ch is not None and ("attachments" in body or files):
            msg.attachments = self._attachments_from(ch, body, files, msg.attachments)
        was_loading = msg.loading
        msg.flags &= ~128
        if finalize or was_loading:
            # a deferred response getting its content behaves like a new message (it notifies)
            if ch is not None:
                self._compute_pings(ch, msg.author, body, msg)
            msg.created_at = utcnow()
        else:
            msg.edited_at = utcnow()
            if ch is not None:
                pings_before = msg.pings
                self._compute_pings(ch, msg.author, body, msg)
                msg.pings = pings_before  # an edit does not notify anyone new
        self._dispatch_message_event("MESSAGE_UPDATE", msg)
        self._notify()

    def _delete_message(self, msg: Message) -> None:
        msg.deleted = True
        self._dispatch_message_event("MESSAGE_DELETE", msg)
        self._notify()

    def _dm_channel_by_id(self, channel_id: int) -> Channel | None:
        for ch in self._dm_channels.values():
            if ch.id == channel_id:
                return ch
        return None


def _normalize_embed(e: dict[str, Any]) -> dict[str, Any]:
    out = dict(e)
    out.setdefault("type", "rich")
    out.setdefault("content_scan_version", 0)
    return out


def _normalize_reference(ref: dict[str, Any] | None, channel: Channel) -> dict[str, Any] | None:
    if not ref:
        return None
    out = {
        "type": int(ref.get("type") or 0),
        "message_id": str(ref.get("message_id")) if ref.get("message_id") is not None else None,
        "channel_id": str(ref.get("channel_id") or channel.id),
    }
    if channel.guild is not None:
        out["guild_id"] = str(ref.get("guild_id") or channel.guild.id)
    return out
