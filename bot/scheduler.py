"""The countdown dispatcher: one task, in one process per store, that posts every due delivery exactly once.

It never scans every row on a timer: it asks the store for the earliest due instant (an index look-up),
sleeps until then (capped), and is woken early when subscriptions or dates change, a server comes back
from an outage, or the injected clock jumps. Per pass: release moves become recomputed plans and one
"moved" notice per subscription; then due deliveries are batched per destination (bot.delivery), and the
messages go out concurrently under one global pacer, each claimed right before it is sent (the nonce and
the instant of the first attempt stored with its rows), bounded by the bot's own timeout, and recorded.

Only the holder of the store's dispatcher lease runs passes: during an overlapping deploy both processes
serve commands, and the second takes over within the lease's lifetime when the first stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import discord

from bot import countdown, delivery, render
from bot.budget import Pacer, RequestBudget
from bot.clock import Clock
from bot.delivery import Outage, Outcome, Retry, Verdict
from bot.shards import ShardScope, shard_of
from db import countdowns, leases
from db.countdowns import Claim, Delivery, Subscription
from db.models import GuildSettings, Release
from db.store import Store

log = logging.getLogger(__name__)

# Well under asyncio's ~48-day limit. The look every 15 minutes costs one index look-up, and picks up
# what another process changed (an operator's `marquee db import` that moved a date).
MAX_SLEEP = dt.timedelta(minutes=15)
CHUNK = 500
# Destinations being posted to at once. Each one holds a reserved slot of the token's schedule: at 60 ms
# a round trip, 47 a second needs about 3 in flight; more only reserve further ahead (and, with several
# processes, push every other request of the token, a command's too, behind them).
IN_FLIGHT = 16
HISTORY_LIMIT = 100  # the newest messages searched for a post's marker
DM_BLOCK = dt.timedelta(hours=24)


@dataclass(slots=True)
class Outgoing:
    """One message: its nonce, the deliveries it carries (its lines), and the text (None: compose at send)."""
    nonce: str
    items: list[Delivery]
    content: str | None = None
    mentions: discord.AllowedMentions | None = None
    late: dict[int, int] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return [d.id for d in self.items]

    @property
    def sub(self) -> Subscription:
        return self.items[0].subscription

    @property
    def first_attempt_at(self) -> dt.datetime | None:
        stamps = [d.first_attempt_at for d in self.items if d.first_attempt_at]
        return min(stamps) if stamps else None


class _Unavailable(Exception):
    """The destination's server is in a Discord outage: wait for it, it is not gone."""


class Scheduler:
    def __init__(self, *, store: Store, clock: Clock, client: discord.Client, reads: Any,
                 settings_of: Callable[[int], GuildSettings], budget: RequestBudget | None = None,
                 owner: str | None = None, lease_ttl: dt.timedelta = dt.timedelta(seconds=30),
                 nonce_window: dt.timedelta = delivery.SAFE_NONCE_WINDOW, send_timeout: float = 10.0,
                 shards: ShardScope | None = None, pacer: Pacer) -> None:
        self.store = store
        self.clock = clock
        self.client = client
        self.reads = reads
        self.settings_of = settings_of
        self.budget = budget or RequestBudget()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_ttl = lease_ttl
        self.nonce_window = nonce_window
        self.send_timeout = send_timeout
        self.pacer = pacer  # the token's request schedule; the HTTP layer waits for its slots
        self.wake_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self.passes = 0  # for tests and the benchmark: how often it woke up
        self.sleeping = False  # between passes (tests wait for this after moving the clock)
        self.checked_at: dt.datetime | None = None  # the clock reading of the last "nothing more is due"
        self.scope = shards or ShardScope()  # the servers this process looks after
        self.held: set[str] = set()  # the dispatcher leases this process holds (one per shard it dispatches)
        self.pass_started: dt.datetime | None = None
        self.outages: dict[int, Outage] = {}
        self._busy: set[int] = set()
        # One lock per destination while it is being posted to (gone with its last user): its messages in order.
        self._destinations: weakref.WeakValueDictionary[tuple[str, int], asyncio.Lock] = weakref.WeakValueDictionary()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        # Told which server's followed releases moved (its Scheduled Events follow: bot.events).
        self.followed_changed: Callable[[int], None] = lambda guild_id: None

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:  # once: another process moved a date or added a countdown: look now
            self.store.on_change(self.wake)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="marquee-scheduler")

    async def stop(self) -> None:
        for task in (self._renewer, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for name in sorted(self.held):
            with contextlib.suppress(Exception):
                await leases.release(self.store, name, self.owner)
        self.held.clear()

    @property
    def leader(self) -> bool:
        """Whether this process dispatches anything now (holds at least one dispatcher lease)."""
        return bool(self.held)

    def dispatching(self) -> tuple[int, list[int]]:
        """(shard count, shard ids) of the servers this process posts for now; (0, []) means every server."""
        names = self.scope.lease_names()
        narrowed = self.scope.narrowed({names[name] for name in self.held if name in names})
        if narrowed is None or narrowed.everything:
            return 0, []
        return narrowed.count, list(narrowed.ids)

    def wake(self) -> None:
        self.wake_event.set()

    async def _run(self) -> None:
        await self.client.wait_until_ready()
        while True:
            self.wake_event.clear()
            try:
                if not await self._hold_lease():
                    await self._sleep_until(self.clock.now() + self.lease_ttl / 3)
                    continue
                await self.run_once()
                next_due = await countdowns.next_due(self.store, held_guilds=self.held_guilds(),
                                                     shards=self.dispatching())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("countdown pass failed; retrying in a minute")
                next_due = self.clock.now() + dt.timedelta(minutes=1)
            await self._sleep_until(next_due)

    async def _hold_lease(self) -> bool:
        """Take or renew the dispatcher leases of this process's shards (one lease when it runs every shard);
        only a lease's holder dispatches that shard's servers. A holder that died on this machine (a crash,
        then a restart) is taken over at once instead of after the lease runs out."""
        before = set(self.held)
        for name in self.scope.lease_names():
            take_from = None
            if name not in self.held:
                current = await leases.current(self.store, name)
                if current is not None and current.owner != self.owner and self.died_here(current.owner):
                    take_from = current.owner
            if await leases.acquire(self.store, name, self.owner, self.clock.now(), self.lease_ttl,
                                    take_from=take_from):
                self.held.add(name)
            else:
                self.held.discard(name)
        if self.held - before:
            log.info("this process now dispatches countdowns (%s; lease owner %s)",
                     ", ".join(sorted(self.held - before)), self.owner)
            if self._renewer is None or self._renewer.done():
                self._renewer = asyncio.create_task(self._renew(), name="marquee-lease")
        if before - self.held:
            log.warning("another process took over countdown dispatch (%s)", ", ".join(sorted(before - self.held)))
        return self.leader

    def died_here(self, owner: str) -> bool:
        """Whether a lease owner ('host:pid:token') was a process on this machine that is gone."""
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != socket.gethostname() or not pid_text.isdigit():
            return False  # another machine: only the lease's expiry can tell
        pid = int(pid_text)
        if pid == os.getpid():
            return True  # an earlier run with our pid (a restarted container): certainly not running
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, someone else's
        return False

    async def _renew(self) -> None:
        """Keep the lease while passes run long (a big wave): renew every third of its lifetime."""
        while self.leader:
            await asyncio.sleep(self.lease_ttl.total_seconds() / 3)
            for name in sorted(self.held):
                try:
                    if not await leases.acquire(self.store, name, self.owner, self.clock.now(), self.lease_ttl):
                        self.held.discard(name)
                except Exception:
                    log.exception("could not renew the dispatcher lease %s", name)
        self.wake()

    async def _sleep_until(self, instant: dt.datetime | None) -> None:
        now = self.clock.now()
        limit = now + min(MAX_SLEEP, self.lease_ttl / 3)
        target = min(instant, limit) if instant else limit
        if target <= now:
            return
        self.sleeping = True
        waits = [asyncio.ensure_future(self.wake_event.wait())]
        changed = getattr(self.clock, "changed", None)
        if isinstance(changed, asyncio.Event):  # a held clock (tests, playground): wake when it moves
            waits.append(asyncio.ensure_future(changed.wait()))
        try:
            await asyncio.wait(waits, timeout=(target - now).total_seconds(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.sleeping = False
            for waiter in waits:
                waiter.cancel()

    # -- outages ------------------------------------------------------------------------------------------

    def held_guilds(self) -> list[int]:
        """Servers in a Discord outage: their channels are unknown, not gone; their posts wait."""
        return [g.id for g in self.client.guilds if g.unavailable]

    def guild_unavailable(self, guild_id: int) -> None:
        self.outages[guild_id] = Outage(self.clock.now())

    def guild_available(self, guild_id: int) -> None:
        outage = self.outages.get(guild_id)
        if outage is not None and outage.ended is None:
            self.outages[guild_id] = replace(outage, ended=self.clock.now())
        self.wake()

    # -- one pass ---------------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Handle moves, then send everything due. Returns how many messages were sent."""
        self.passes += 1
        self.pass_started = self.clock.now()
        await self._handle_moves()
        sent: list[int] = []
        tasks: list[asyncio.Task[None]] = []
        while True:
            now = self.clock.now()
            held = self.held_guilds()
            for guild_id in held:
                self.outages.setdefault(guild_id, Outage(now))
            due = await countdowns.runnable(self.store, now, CHUNK, held_guilds=held, busy=self._busy,
                                            shards=self.dispatching())
            if not due:
                break
            more = len(due) == CHUNK  # (checked before the cut below: a cut chunk is not the last one)
            if more:  # keep a destination's rows together: the last one may be cut off
                last = due[-1].subscription.destination
                whole = [d for d in due if d.subscription.destination != last]
                due = whole or due
            tasks += await self._dispatch(due, now, sent)
            if not more:
                break
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.checked_at = now
        return len(sent)

    async def _dispatch(self, due: list[Delivery], now: dt.datetime, sent: list[int]) -> list[asyncio.Task[None]]:
        plan = delivery.catch_up(due)
        await countdowns.skip(self.store, [d.id for d in plan.skipped], now,
                              "missed while the bot was offline; only the latest milestone is posted")
        by_destination: dict[tuple[str, int], list[Delivery]] = defaultdict(list)
        for item in plan.chosen:
            by_destination[item.subscription.destination].append(item)
        tasks = []
        for destination, items in by_destination.items():
            outgoing = await self._messages(items, now)
            for out in outgoing:
                self._busy.update(out.ids)
            await self._slots.acquire()
            tasks.append(asyncio.create_task(self._deliver(destination, outgoing, sent)))
        return tasks

    def _seen_due(self, due_at: dt.datetime, now: dt.datetime) -> dt.datetime:
        """When this pass first saw a row due: at its start, unless the row fell due after that, in which case when
        the pass's query found it (`now`). A clock that jumped mid-pass (a host suspended for an hour) then counts
        as the time nobody was dispatching, not as a post seen in time."""
        started = self.pass_started
        return started if started is not None and started >= due_at else now

    async def _messages(self, items: list[Delivery], now: dt.datetime) -> list[Outgoing]:
        """The messages for one destination: retries keep their nonce; the rest are composed and split at line
        boundaries into as many messages as Discord's limit needs, each with its own nonce."""
        retries: dict[str, list[Delivery]] = defaultdict(list)
        fresh: list[Delivery] = []
        for item in items:
            if item.batch:
                retries[item.batch].append(item)
            else:
                fresh.append(item)
        out = [Outgoing(nonce, group, late={d.id: d.late for d in group}) for nonce, group in retries.items()]
        if not fresh:
            return out
        outages = self.outages
        late = {d.id: delivery.lateness(d.due_at, self._seen_due(d.due_at, now), outages.get(d.subscription.guild_id))
                for d in fresh}
        fresh = [replace(d, late=late[d.id]) for d in fresh]
        lines = await self._lines(fresh)
        by_id = {d.id: d for d in fresh}
        prefix, _ = self._pings(fresh)
        reserved = len(prefix) + 1 + len("\n" + delivery.marker(delivery.nonce_for([0]))) + 8
        for ids in delivery.pack_lines(lines, reserved=reserved):
            group = [by_id[i] for i in ids]
            nonce = delivery.nonce_for(ids)
            members = set(ids)
            body = [line for i, line in lines if i in members]
            content, mentions = self._assemble(group, body, nonce)
            out.append(Outgoing(nonce, group, content, mentions, {i: late[i] for i in ids}))
        # Deliveries with nothing to say (their release is gone) are recorded without a post.
        spoken = {i for i, _ in lines}
        silent = [d.id for d in fresh if d.id not in spoken]
        if silent:
            await countdowns.skip(self.store, silent, now, "its release no longer exists")
        return out

    async def _lines(self, items: Sequence[Delivery]) -> list[tuple[int, str]]:
        lines: list[tuple[int, str]] = []
        for item in items:
            sub = item.subscription
            title = render.safe(sub.title_name, 100)
            release = await self._release(sub)
            if release is None:
                continue
            if item.key.is_move:
                assert item.key.move_id is not None
                old = await countdowns.moved_from(self.store, item.key.move_id)
                if old is not None:
                    lines.append((item.id, countdown.moved_line(title, old, release.value)))
                continue
            milestone = countdown.Milestone.parse(item.key.label)
            lines.append((item.id, countdown.milestone_line(title, milestone, release.value, late=item.late)))
        return lines

    @staticmethod
    def _pings(items: Sequence[Delivery]) -> tuple[str, discord.AllowedMentions]:
        roles: list[int] = []
        everyone = False
        for item in items:
            sub = item.subscription
            if sub.role_id == sub.guild_id:
                everyone = True
            elif sub.role_id and sub.role_id not in roles:
                roles.append(sub.role_id)
        prefix = " ".join(["@everyone"] * everyone + [f"<@&{r}>" for r in roles])
        mentions = discord.AllowedMentions(everyone=everyone, users=False, replied_user=False,
                                           roles=[discord.Object(r) for r in roles])
        return prefix, mentions

    def _assemble(self, items: Sequence[Delivery], lines: Sequence[str],
                  nonce: str) -> tuple[str, discord.AllowedMentions]:
        prefix, mentions = self._pings(items)
        body = "\n".join(lines) or "(nothing to announce)"
        tail = "\n" + delivery.marker(nonce)
        head = prefix + "\n" if prefix else ""
        room = delivery.MESSAGE_LIMIT - len(head) - len(tail)
        return head + body[:room] + tail, mentions

    async def _release(self, sub: Subscription) -> Release | None:
        return await self.reads.release_of(sub.title_slug, sub.guild_id, sub.region, sub.medium)

    # -- sending ------------------------------------------------------------------------------------------

    async def _deliver(self, destination: tuple[str, int], outgoing: list[Outgoing], sent: list[int]) -> None:
        """One destination's messages, in order (its own task: other destinations never wait for it)."""
        lock = self._destinations.get(destination)
        if lock is None:
            lock = self._destinations[destination] = asyncio.Lock()
        try:
            async with lock:
                for out in outgoing:
                    try:
                        if await self._send(out):
                            sent.append(out.ids[0])
                    except Exception:
                        log.exception("countdown post for guild %s failed unexpectedly", out.sub.guild_id)
                        # Claimed rows back off with their nonce; rows that failed before their claim wait as
                        # long (not due again at once: that would be a busy loop).
                        await countdowns.back_off(self.store, out.ids, "internal error",
                                                  self.clock.now() + delivery.backoff(1), self.clock.now())
                    finally:
                        self._busy.difference_update(out.ids)
        finally:
            self._slots.release()

    async def _send(self, out: Outgoing) -> bool:
        """Claim, send (bounded), record. True when a message went out (or was found already out)."""
        sub = out.sub
        now = self.clock.now()
        if sub.kind == "dm":
            blocked = await countdowns.dm_block(self.store, sub.user_id or 0, now)
            if blocked:
                await countdowns.mark_failed(self.store, out.ids, blocked, now, count_attempt=False)
                return False
        if sub.forum:  # its post as the store has it now: an earlier message may have just made it
            sub = replace(sub, post_id=await countdowns.post_of(self.store, sub.id))
        opening = sub.forum and sub.post_id is None  # this message makes a forum countdown's post
        if opening and out.first_attempt_at is not None:
            # Making a post takes no nonce: any earlier attempt may have made it, however recent.
            verdict, post = await self._check_posts(out)
            note = ("an earlier attempt may have made the forum post, and I cannot read the forum's posts "
                    "(Read Message History) to check; not posted again")
            done = await self._settle_earlier(out, verdict, post, "found in the forum", note,
                                              post=(sub.id, post) if post else None)
            if done is not None:
                return done
        elif delivery.retry_rule(out.first_attempt_at, now, self.nonce_window) is Retry.CHECK_HISTORY:
            verdict, found = await self._check_history(out, sub)
            note = ("the first attempt is older than Discord remembers nonces and I cannot read the "
                    "channel's history (Read Message History) to check; not posted again")
            done = await self._settle_earlier(out, verdict, found, "found in the channel's history", note)
            if done is not None:
                return done
            await countdowns.restart_window(self.store, out.ids, now)
        try:
            target = await self._destination(sub)
        except _Unavailable:
            return False  # held: the next pass after GUILD_CREATE sends it
        except discord.HTTPException as exc:  # looking up the forum or the DM channel failed: nothing was sent
            if exc.status in (403, 404):
                return await self._failed(out, exc, sub)
            later = now + delivery.backoff(1)
            log.warning("could not reach the destination of a countdown post for guild %s (%s); trying again at %s",
                        sub.guild_id, exc, later.isoformat())
            await countdowns.back_off(self.store, out.ids, f"Discord answered {exc.status}", later, now)
            return False
        # The post's slot of the token's schedule is reserved first; shortly before it comes, the post is claimed
        # (the claim marks the moment its nonce is first used) and composed; the request then goes out on the
        # slot itself (the HTTP layer waits for it), so a slow store never bunches posts into one second.
        await self.budget.wait()
        slot = await self.pacer.reserve()
        await self.pacer.until_lead(slot)
        began = time.perf_counter()
        claimed = await countdowns.claim(self.store, [Claim(out.nonce, tuple(out.ids), out.late)], now)
        if not claimed:
            return False
        if out.content is None:
            lines = await self._lines(out.items)
            out.content, out.mentions = self._assemble(out.items, [line for _, line in lines], out.nonce)
        self.pacer.took(time.perf_counter() - began)
        post = None
        try:
            with self.pacer.using(slot):
                if opening:
                    # One post per title, named after it; its first message is this one. Later ones answer in it.
                    made = await asyncio.wait_for(target.create_thread(  # type: ignore[attr-defined]
                        name=render.plain(sub.title_name, 100), content=out.content,
                        allowed_mentions=out.mentions), self.send_timeout)
                    message, post = made.message, (sub.id, made.thread.id)
                else:
                    message = await asyncio.wait_for(
                        target.send(out.content, allowed_mentions=out.mentions, nonce=out.nonce), self.send_timeout)
        except TimeoutError:
            await self._retry(out, f"no answer from Discord within {self.send_timeout:g} s")
            return False
        except discord.HTTPException as exc:
            return await self._failed(out, exc, sub)
        await countdowns.mark_sent(self.store, out.ids, message.id, self.clock.now(), post=post)
        log.info("posted %s for guild %s (%s)", ", ".join(d.key.label or "moved" for d in out.items),
                 sub.guild_id, out.nonce)
        return True

    async def _settle_earlier(self, out: Outgoing, verdict: Verdict, found: int | None, where: str,
                              uncertain: str, *, post: tuple[int, int] | None = None) -> bool | None:
        """An earlier attempt's message looked for: found (recorded sent: True), not checkable (recorded
        uncertain: False), or not there (None: send it)."""
        now = self.clock.now()
        if verdict is Verdict.SENT:
            assert found is not None
            await countdowns.mark_sent(self.store, out.ids, found, now, where, post=post)
            log.info("countdown post %s was already there (%s)", out.nonce, where)
            return True
        if verdict is Verdict.UNCERTAIN:
            await countdowns.mark_uncertain(self.store, out.ids, uncertain, now)
            log.warning("countdown post %s in guild %s is uncertain: %s", out.nonce, out.sub.guild_id, uncertain)
            return False
        return None

    async def _destination(self, sub: Subscription) -> discord.abc.Messageable:
        if sub.kind == "dm":
            assert sub.user_id is not None
            user = self.client.get_user(sub.user_id)
            if user is not None and user.dm_channel is not None:
                return user.dm_channel
            user = user or await self.client.fetch_user(sub.user_id)
            return user.dm_channel or await user.create_dm()
        assert sub.channel_id is not None
        guild = self.client.get_guild(sub.guild_id)
        if guild is not None and guild.unavailable:
            raise _Unavailable()
        if sub.forum and sub.post_id is None:
            forum = self.client.get_channel(sub.channel_id)
            if isinstance(forum, discord.ForumChannel):
                return forum  # type: ignore[return-value]
            # Not cached: Discord says whether it is gone (404) or out of reach (403), as for any channel.
            return await self.client.fetch_channel(sub.channel_id)  # type: ignore[return-value]
        where = sub.posts_in or sub.channel_id
        channel = self.client.get_channel(where)
        # Not in the cache (an archived thread, for one): only Discord can say whether it is gone (404 10003)
        # or the bot lost access (403); sending into an archived thread reopens it.
        return channel or self.client.get_partial_messageable(where, guild_id=sub.guild_id)  # type: ignore[return-value]

    async def _check_posts(self, out: Outgoing) -> tuple[Verdict, int | None]:
        """Search the forum for a post an earlier attempt made: the bot's own, named after the title, whose
        first message carries this post's marker (unique: nonces are made of delivery ids, which never repeat)."""
        sub = out.sub
        guild = self.client.get_guild(sub.guild_id)
        me = self.client.user.id if self.client.user else 0
        name = render.plain(sub.title_name, 100)
        try:
            forum = await self._destination(sub)
            if guild is None or not isinstance(forum, discord.ForumChannel):
                return Verdict.UNCERTAIN, None
            threads = [t for t in await guild.active_threads() if t.parent_id == forum.id]
            threads += [t async for t in forum.archived_threads(limit=50)]
            for thread in threads:
                if thread.owner_id != me or thread.name != name:
                    continue
                try:
                    first = await thread.fetch_message(thread.id)  # a post's first message has the post's id
                except discord.NotFound:
                    continue
                if delivery.carries_marker(first.content, out.nonce):
                    return Verdict.SENT, thread.id
        except (discord.HTTPException, _Unavailable) as exc:
            log.warning("could not read the posts of forum %s: %s", sub.channel_id, exc)
            return Verdict.UNCERTAIN, None
        return Verdict.SEND, None

    async def _check_history(self, out: Outgoing, sub: Subscription) -> tuple[Verdict, int | None]:
        """Search the channel's newest messages for this post's marker (Discord forgets nonces)."""
        channel = await self._readable(sub)
        found = None
        if channel is not None:
            try:
                found = await self._find_marker(channel, out.nonce)
            except discord.HTTPException as exc:
                log.warning("could not read the history of channel %s: %s", out.sub.channel_id, exc)
                channel = None
        return delivery.history_verdict(can_read=channel is not None, found=found is not None), found

    async def _readable(self, sub: Subscription) -> Any:
        """The destination, if the bot may read its history (a DM always; a channel with View Channel and
        Read Message History), else None."""
        if sub.kind == "dm":
            try:
                return await self._destination(sub)
            except discord.HTTPException:
                return None
        guild = self.client.get_guild(sub.guild_id)
        if guild is None or guild.me is None:
            return None
        channel: Any = self.client.get_channel(sub.posts_in or 0)
        if channel is None and (sub.forum or sub.channel_type in countdowns.THREAD_TYPES):
            try:  # an archived thread is not cached
                channel = await self.client.fetch_channel(sub.posts_in or 0)
            except discord.HTTPException:
                return None
        if channel is None:
            return None
        perms = channel.permissions_for(guild.me)
        return channel if perms.view_channel and perms.read_message_history else None

    async def _find_marker(self, channel: Any, nonce: str) -> int | None:
        me_id = self.client.user.id if self.client.user else 0
        async for message in channel.history(limit=HISTORY_LIMIT):
            if message.author.id == me_id and delivery.carries_marker(message.content, nonce):
                return message.id
        return None

    # -- failures ---------------------------------------------------------------------------------------

    async def _failed(self, out: Outgoing, exc: discord.HTTPException, sub: Subscription) -> bool:
        now = self.clock.now()
        outcome, reason = delivery.outcome_of(exc.status, getattr(exc, "code", 0) or 0, dm=sub.kind == "dm")
        if outcome is Outcome.SENT_DELETED:
            await countdowns.mark_sent(self.store, out.ids, None, now, reason)
            log.info("countdown post %s for guild %s existed and was deleted in Discord", out.nonce, sub.guild_id)
            return True
        if outcome is Outcome.DMS_CLOSED:
            await countdowns.block_dms(self.store, sub.user_id or 0, now + DM_BLOCK, reason)
            await countdowns.mark_failed(self.store, out.ids, reason, now)
            log.info("DM to %s not delivered: %s; not trying them again for 24 h", sub.user_id, reason)
            return False
        if outcome is Outcome.PAUSE:
            if sub.forum and sub.post_id and getattr(exc, "code", 0) == 10003:
                # The countdown's post is gone (the forum may be too): the next post, after a resume, makes one.
                await countdowns.forget_post(self.store, sub.id, sub.post_id)
                reason = "its forum post was deleted"
            await self._lost_access(out, reason)
            return False
        if outcome is Outcome.GIVE_UP:
            await countdowns.mark_failed(self.store, out.ids, f"{reason}: {exc.text[:200]}", now)
            log.error("Discord refused a countdown post for guild %s: %s", sub.guild_id, exc)
            return False
        await self._retry(out, f"{reason} ({exc.text[:100] if exc.text else 'no detail'})")
        return False

    async def _retry(self, out: Outgoing, error: str) -> None:
        """429/5xx after discord.py's own retries, or no answer in time: back off, a bounded number of times.
        The retry keeps the nonce; if it comes after Discord forgot it, the history is checked first."""
        attempts = max(d.attempts for d in out.items) + 1
        now = self.clock.now()
        sub = out.sub
        if attempts >= countdowns.MAX_ATTEMPTS:
            await countdowns.mark_retry(self.store, out.ids, error, None, now)
            log.warning("gave up on a countdown post for guild %s after %d attempts: %s", sub.guild_id, attempts,
                        error)
            await self.alert(sub, f"A countdown post for **{render.safe(sub.title_name)}** could not be delivered "
                                  f"after {attempts} attempts ({error}).")
            return
        retry_at = now + delivery.backoff(attempts)
        await countdowns.mark_retry(self.store, out.ids, error, retry_at, now)
        log.warning("countdown post for guild %s failed (%s); retrying at %s", sub.guild_id, error,
                    retry_at.isoformat())

    async def _lost_access(self, out: Outgoing, reason: str) -> None:
        """403/404: pause the subscription (no more attempts), put the rows back, tell the server once."""
        now = self.clock.now()
        subs = {d.subscription.id: d.subscription for d in out.items}
        await countdowns.release_claims(self.store, [d.id for d in out.items if d.attempts == 0], now)
        newly = await countdowns.pause(self.store, subs, reason, now)
        for sid in newly:
            sub = subs[sid]
            log.warning("paused countdown subscription %s in guild %s: %s", sid, sub.guild_id, reason)
            await self.alert(sub, f"Countdown posts for **{render.safe(sub.title_name)}** in <#{sub.channel_id}> "
                                  f"are paused: {reason}. Fix it, then run /reminders resume id:{sid}.")

    async def pause_where(self, subs: Sequence[Subscription], reason: str) -> None:
        """Pause after a channel/role deletion or the bot leaving a server (gateway events)."""
        newly = await countdowns.pause(self.store, [s.id for s in subs], reason, self.clock.now())
        for sub in subs:
            if sub.id in newly:
                log.warning("paused countdown subscription %s in guild %s: %s", sub.id, sub.guild_id, reason)
                await self.alert(sub, f"Countdown posts for **{render.safe(sub.title_name)}** are paused: {reason}. "
                                      f"Run /reminders resume id:{sub.id} when it is fixed.")

    async def post_gone(self, subs: Sequence[Subscription]) -> None:
        """Forum countdowns whose post was deleted (THREAD_DELETE): forgotten and paused."""
        for sub in subs:
            if sub.post_id:
                await countdowns.forget_post(self.store, sub.id, sub.post_id)
        await self.pause_where(subs, "its forum post was deleted")

    async def alert(self, sub: Subscription, text: str) -> None:
        """Tell the server in its alerts channel, if it has one the bot can post in now (never retried)."""
        settings = self.settings_of(sub.guild_id)
        guild = self.client.get_guild(sub.guild_id)
        if guild is None or guild.unavailable or not settings.alerts_channel_id:
            return
        channel = guild.get_channel(settings.alerts_channel_id)
        if channel is None or channel.id == sub.channel_id:
            return
        try:
            await channel.send(text[:2000], allowed_mentions=discord.AllowedMentions.none())  # type: ignore[union-attr]
        except discord.HTTPException as exc:
            log.warning("could not post an alert in guild %s: %s", sub.guild_id, exc)

    # -- moves ------------------------------------------------------------------------------------------

    async def _handle_moves(self) -> None:
        """Each dispatcher lease reads the moves with its own cursor, for its own shard's servers."""
        names = self.scope.lease_names()
        for name in sorted(self.held):
            await self._handle_moves_for(name, names.get(name))

    async def _handle_moves_for(self, lease: str, shard: int | None) -> None:
        cursor = countdowns.MOVES_SEEN if shard is None else f"{countdowns.MOVES_SEEN}:{lease}"
        for move in await countdowns.unseen_moves(self.store, cursor):
            for sub in await countdowns.subscriptions_for(self.store, move.title_id,
                                                          move.guild_id if move.guild_id else None):
                if (sub.region, sub.medium) != (move.region, move.medium):
                    continue
                if shard is not None and shard_of(sub.guild_id, self.scope.count) != shard:
                    continue  # another shard's server: its dispatcher re-plans it
                release = await self._release(sub)
                if release is None or release.id != move.release_id:
                    continue  # this server follows its own row for that release, which did not move
                await self.replan(sub, release, notice=countdowns.DeliveryKey.move(move.id))
                self.followed_changed(sub.guild_id)
            await countdowns.mark_moves_seen(self.store, move.id, cursor)

    async def replan(self, sub: Subscription, release: Release, *,
                     notice: countdowns.DeliveryKey | None = None) -> None:
        planned = countdown.plan_for(release.value, sub.milestones, self.settings_of(sub.guild_id))
        await countdowns.replan(self.store, sub, release.id, planned, self.clock.now(), notice)
