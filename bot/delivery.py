"""The rules of countdown delivery: pure functions over plain data, no I/O (the scheduler does the I/O).

- catch-up: after downtime each subscription posts only its latest missed milestone; older ones are skipped;
- lateness: "posted late" only when nobody was dispatching (the bot was down) or the server was in a Discord
  outage when it was due, never because a big wave took its time;
- batching: what is due for one destination goes out together, split at line boundaries into as many
  messages as Discord's 2000 characters need, each message with its own nonce and marker;
- retries: Discord remembers a nonce for a few minutes only; an attempt older than the safe window is never
  resent blind: the channel's history is checked for the post's marker first;
- failures: which Discord answers pause a countdown, which are retried, which mean "it was sent".
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from db.countdowns import LATE_OFFLINE, LATE_OUTAGE, Delivery, DeliveryRecord

MESSAGE_LIMIT = 2000
LATE_AFTER = dt.timedelta(minutes=5)
# Discord dedupes a nonce "in the past few minutes" (undocumented): about 2 minutes is safe, nothing beyond.
SAFE_NONCE_WINDOW = dt.timedelta(seconds=90)
MARKER_PREFIX = "-# Marquee countdown · "


def nonce_for(delivery_ids: Iterable[int]) -> str:
    """Deterministic, at most 25 characters: the same rows always give the same nonce."""
    ids = sorted(delivery_ids)
    digest = hashlib.sha256(",".join(str(i) for i in ids).encode()).hexdigest()
    return f"mq{ids[0]}-{digest}"[:25]


def marker(nonce: str) -> str:
    """The last line of every countdown post: Discord forgets nonces, so history is searched for this."""
    return MARKER_PREFIX + nonce


def carries_marker(content: str, nonce: str) -> bool:
    return content.rstrip().endswith(marker(nonce))


# -- catch-up and lateness ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatchUp:
    chosen: list[Delivery]
    skipped: list[Delivery]


def catch_up(due: Sequence[Delivery]) -> CatchUp:
    """Per subscription: retries of earlier attempts and "moved" notices all go; of the milestones not yet
    attempted only the latest goes, the older ones are skipped (a channel is never flooded)."""
    by_subscription: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in due:
        by_subscription[delivery.subscription.id].append(delivery)
    chosen: list[Delivery] = []
    skipped: list[Delivery] = []
    for items in by_subscription.values():
        fresh = [d for d in items if d.state == "pending" and not d.batch]
        chosen += [d for d in items if d not in fresh]
        chosen += [d for d in fresh if d.key.is_move]
        milestones = [d for d in fresh if not d.key.is_move]
        if milestones:
            latest = max(milestones, key=lambda d: (d.due_at, d.id))
            chosen.append(latest)
            skipped += [d for d in milestones if d is not latest]
    chosen.sort(key=lambda d: (d.due_at, d.id))
    return CatchUp(chosen, skipped)


@dataclass(frozen=True, slots=True)
class Outage:
    """A server's unavailability as the bot saw it (ended None while it lasts)."""
    started: dt.datetime
    ended: dt.datetime | None = None


def lateness(due_at: dt.datetime, seen_at: dt.datetime, outage: Outage | None) -> int:
    """How late a post is, given when the dispatcher first saw it due (the start of the pass that picked it
    up). 0 when it saw it in time, however long a big wave then takes; LATE_OUTAGE when it fell due while its
    server was unavailable; LATE_OFFLINE when nobody was dispatching (the bot was down)."""
    if seen_at - due_at <= LATE_AFTER:
        return 0
    if outage is not None and outage.started <= due_at and (outage.ended is None or due_at <= outage.ended):
        return LATE_OUTAGE
    return LATE_OFFLINE


# -- batching ---------------------------------------------------------------------------------------------------


def pack_lines(lines: Sequence[tuple[int, str]], *, reserved: int, limit: int = MESSAGE_LIMIT) -> list[list[int]]:
    """Split (delivery id, line) pairs, in order, into messages of at most `limit` characters, `reserved` of
    which go to the ping prefix and the marker. Several lines of one delivery stay together. Returns the
    delivery ids of each message."""
    room = limit - reserved
    grouped: dict[int, list[str]] = {}
    for delivery_id, line in lines:
        grouped.setdefault(delivery_id, []).append(line)
    messages: list[list[int]] = []
    current: list[int] = []
    used = 0
    for delivery_id, parts in grouped.items():
        size = sum(len(p) + 1 for p in parts)
        if current and used + size > room:
            messages.append(current)
            current, used = [], 0
        current.append(delivery_id)
        used += size
    if current:
        messages.append(current)
    return messages


# -- retries and what Discord's answers mean ---------------------------------------------------------------------


class Retry(enum.Enum):
    SEND = "send"  # never attempted, or attempted inside the nonce window: Discord dedupes the nonce
    CHECK_HISTORY = "check"  # attempted longer ago than Discord remembers nonces: look for the marker first


def retry_rule(first_attempt_at: dt.datetime | None, now: dt.datetime,
               window: dt.timedelta = SAFE_NONCE_WINDOW) -> Retry:
    if first_attempt_at is None or now - first_attempt_at <= window:
        return Retry.SEND
    return Retry.CHECK_HISTORY


class Verdict(enum.Enum):
    SENT = "sent"  # the marker is in the channel: record the message, post nothing
    UNCERTAIN = "uncertain"  # the bot cannot read the history: record it uncertain, never post again
    SEND = "send"  # the history shows no such post: the earlier attempt made none


def history_verdict(*, can_read: bool, found: bool) -> Verdict:
    if found:
        return Verdict.SENT
    return Verdict.SEND if can_read else Verdict.UNCERTAIN


class Outcome(enum.Enum):
    SENT_DELETED = "sent-deleted"  # 404 10008 on a retried nonce: it existed, someone deleted it
    PAUSE = "pause"  # the bot lost access to the channel: stop until an admin fixes it
    DMS_CLOSED = "dms-closed"  # the member does not accept DMs: do not try them again for a day
    RETRY = "retry"  # 429, 5xx, a timeout: back off and try again with the same nonce
    GIVE_UP = "give-up"  # Discord refused the message itself (400): retrying cannot help


LOST_ACCESS = {10003: "the channel was deleted", 50001: "I can no longer see the channel",
               50013: "I lost the permission to post there", 160005: "the thread is locked",
               50083: "the thread is archived and locked, and I can't reopen it",
               40067: "the forum now requires a tag on every post"}


def outcome_of(status: int, code: int, *, dm: bool) -> tuple[Outcome, str]:
    """What a failed message create means, and the reason in words."""
    if status == 404 and code == 10008:
        return Outcome.SENT_DELETED, "deleted in Discord before the bot recorded it"
    if dm and (code == 50007 or status == 403):
        return Outcome.DMS_CLOSED, "the member does not accept DMs"
    if status in (403, 404) or code in LOST_ACCESS:
        return Outcome.PAUSE, LOST_ACCESS.get(code) or f"Discord answered {status}"
    if status == 400:
        return Outcome.GIVE_UP, f"Discord refused the message ({code or status})"
    return Outcome.RETRY, f"Discord answered {status}"


def backoff(attempts: int, base: dt.timedelta = dt.timedelta(seconds=30)) -> dt.timedelta:
    """The wait before attempt `attempts + 1`: 30 s, 60 s, 120 s, ..."""
    return base * (2 ** max(attempts - 1, 0))


def late_suffix(late: int) -> str:
    if late == LATE_OUTAGE:
        return " _(posted late: Discord was unavailable when this was due)_"
    if late == LATE_OFFLINE:
        return " _(posted late: the bot was offline when this was due)_"
    return ""


# -- what became of each post (/reminders history) ---------------------------------------------------------

def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def fate_line(record: DeliveryRecord, *, guild_id: int, channel_id: int | None) -> str:
    """One delivery's fate for an admin: what it was, when it was due, and what became of it."""
    what = "the “date moved” notice" if record.key.is_move else f"**{record.key.label}**"
    due = f"<t:{int(record.due_at.timestamp())}:f>"
    note = (record.note or "")[:200]
    error = (record.error or "")[:200]
    if record.state == "sent":
        when = f" <t:{int(record.updated_at.timestamp())}:R>" if record.updated_at else ""
        if record.message_id and channel_id:
            where = f" · [the post]({message_link(guild_id, channel_id, record.message_id)})"
        else:
            where = f" ({note})" if note else " (the post has since been deleted)"
        late = {LATE_OUTAGE: " · late: Discord was unavailable when it was due",
                LATE_OFFLINE: " · late: the bot was offline when it was due"}.get(record.late, "")
        return f"✅ {what}, due {due}: sent{when}{where}{late}"
    if record.state == "skipped":
        return f"⏭️ {what}, due {due}: skipped ({note or 'not posted'})"
    if record.state == "failed":
        return f"❌ {what}, due {due}: failed ({error or note or 'Discord refused it'})"
    if record.state == "uncertain":
        return f"❓ {what}, due {due}: uncertain ({note or 'it may have gone out; not posted again'})"
    if record.state == "cancelled":
        return f"↩️ {what}, due {due}: replaced (the date moved, or the countdown changed)"
    if record.state == "claimed":
        if record.retry_at is not None:
            return (f"🔁 {what}, due {due}: attempt {record.attempts} failed ({error or 'no answer'}); "
                    f"trying again <t:{int(record.retry_at.timestamp())}:R>")
        if record.attempts and error:
            return f"⚠️ {what}, due {due}: gave up after {record.attempts} attempts ({error})"
        return f"📤 {what}, due {due}: being sent"
    return f"🕒 {what}: due {due} (<t:{int(record.due_at.timestamp())}:R>)"
