"""Countdown dispatch at scale (a script, not a test).

100,000 subscriptions across 1,000 titles and 10,000 channels (100 servers x 100 channels, 10 titles per
channel), all due in the same minute, posted by a real `marquee run` process against the loopback Discord
with its rate limits on (50 requests/s per bot, 5 messages per 5 s per channel) and Discord's distance
(`--rtt`, default 60 ms on every answer). Prints:

- the time to find the due deliveries (the dispatcher's query, and the next-due look-up),
- posts per second against the allowed rate, global 429s and other 429s the bot caused,
- how late the last post was (from the due instant), and whether any post said "posted late",
- invalid requests caused (401/403/429: Discord bans at 10,000 in 10 minutes),
- the bot process's peak RSS,
- the CPU the bot process uses while nothing is due.

    python bench/countdown_scale.py                                   # the full run (about 4-5 minutes)
    python bench/countdown_scale.py --channels 200 --per-channel 1    # a 200-channel release wave
    python bench/countdown_scale.py --channels 500 --rtt 0            # at zero latency
    python bench/countdown_scale.py --database postgresql://… --processes 3   # three shard processes
    python bench/countdown_scale.py --database throwaway --processes 3 --kill  # a local PostgreSQL server
                                                                              # made for the run; one
                                                                              # process killed mid-wave

With several processes each runs one shard (MARQUEE_SHARD_COUNT = --processes) on the one database, and the
numbers are for the whole bot: they share the token's 50 requests a second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.clock import SystemClock  # noqa: E402
from db import countdowns, packs  # noqa: E402
from db.store import Store  # noqa: E402
from playground.loopback import LoopbackDiscord  # noqa: E402

ALLOWED_PER_SECOND = 50.0
TICKS = os.sysconf("SC_CLK_TCK")


def build_world(dc: LoopbackDiscord, servers: int, channels_per_server: int):
    guilds, channels = [], []
    for g in range(servers):
        guild = dc.add_guild(f"Scale {g}")
        guilds.append(guild)
        for c in range(channels_per_server):
            channels.append((guild.id, guild.add_text_channel(f"news-{c}").id))
    return guilds, channels


async def prepare_database(path: Path, channels: list[tuple[int, int]], titles: int, per_channel: int,
                           due: dt.datetime) -> None:
    async with Store.open(path) as store:
        await packs.load_builtin_packs(store, now=SystemClock().now())
        date = (due + dt.timedelta(days=1)).date().isoformat()
        stamp = countdowns.iso(SystemClock().now())
        async with store.transaction() as conn:
            franchise = (await (await conn.execute("SELECT id FROM franchises LIMIT 1")).fetchone())[0]
            release_ids = []
            for t in range(titles):
                cur = await conn.execute(
                    "INSERT INTO titles (guild_id, franchise_id, slug, name, kind, status) VALUES "
                    "(NULL, ?, ?, ?, 'film', 'announced')", (franchise, f"scale-{t}", f"Scale Title {t}"))
                cur = await conn.execute(
                    "INSERT INTO releases (guild_id, title_id, region, medium, date, precision, status, as_of) "
                    "VALUES (NULL, ?, 'US', 'theatrical', ?, 'day', 'confirmed', ?)", (cur.lastrowid, date, date))
                release_ids.append(cur.lastrowid)
            title_ids = [r[0] for r in await (await conn.execute(
                "SELECT title_id FROM releases WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (str(release_ids),))).fetchall()]
            subs, deliveries = [], []
            sid = 0
            for index, (guild_id, channel_id) in enumerate(channels):
                for k in range(per_channel):
                    t = (index * per_channel + k) % titles
                    sid += 1
                    subs.append((sid, guild_id, channel_id, title_ids[t], stamp))
                    deliveries.append((sid, release_ids[t], f"1d@{date}", countdowns.iso(due), stamp))
            await conn.executemany(
                "INSERT INTO subscriptions (id, guild_id, kind, channel_id, title_id, region, medium, milestones, "
                "created_by, created_at) VALUES (?, ?, 'channel', ?, ?, 'US', 'theatrical', '1d', 1, ?)", subs)
            await conn.executemany(
                "INSERT INTO deliveries (subscription_id, release_id, milestone, due_at, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?)", deliveries)
        if store.dialect == "postgresql":
            # A PostgreSQL store that grew to this size over time has its statistics (autovacuum keeps them); one
            # loaded in a second has none yet, and the planner would take 100,000 due rows for 35. (SQLite keeps
            # none unless told to, and the bot never tells it: its plans do not depend on them.)
            async with store.transaction(catalog=False) as conn:
                await conn.execute("ANALYZE")


async def time_queries(path: Path, due: dt.datetime) -> dict[str, float]:
    async with Store.open(path) as store:
        after = due + dt.timedelta(seconds=1)
        samples_next, samples_batch = [], []
        for _ in range(20):
            start = time.perf_counter()
            await countdowns.next_due(store)
            samples_next.append(time.perf_counter() - start)
            start = time.perf_counter()
            batch = await countdowns.runnable(store, after, 500)
            samples_batch.append(time.perf_counter() - start)
        assert batch
        return {"next_due_ms": statistics.median(samples_next) * 1000,
                "first_500_due_ms": statistics.median(samples_batch) * 1000}


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds used, peak RSS in KiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    return cpu, peak


class Pauses:
    """How long this process (the loopback Discord) stood still during the wave: garbage collections, and the
    event loop's lag (a timer that fires late). A loopback that stands still delays requests and then takes
    them in a bunch, which Discord, on its many machines, does not."""

    def __init__(self) -> None:
        self.gc: list[float] = []
        self.lag: list[float] = []
        self._began = 0.0
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.gc.append(time.perf_counter() - self._began)

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lag.append(time.perf_counter() - before - 0.005)

    def start(self) -> None:
        # No collections in the loopback during the wave: they paused it for up to a tenth of a second (the
        # requests and messages it records), and Discord, on its many machines, does not stand still; the bot's
        # own process collects as always. What the loopback still stands still for is printed.
        gc.disable()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._watch())

    def stop(self) -> str:
        gc.callbacks.remove(self._on_gc)
        gc.enable()
        if self._task is not None:
            self._task.cancel()
        worst = sorted(self.lag)
        if not worst:
            return "not measured"
        p99 = worst[int(len(worst) * 0.99)]
        return (f"{len([g for g in self.gc if g > 0.01])} garbage collections over 10 ms (longest "
                f"{max(self.gc, default=0) * 1000:.0f} ms); event-loop lag p99 {p99 * 1000:.1f} ms, "
                f"longest {worst[-1] * 1000:.0f} ms")


def count_sent(database: str) -> int:
    if database.startswith("postgresql://"):
        import asyncpg

        async def count() -> int:
            conn = await asyncpg.connect(database)
            try:
                return await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'sent'")
            finally:
                await conn.close()
        return asyncio.run(count())
    conn = sqlite3.connect(database, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM deliveries WHERE state = 'sent'").fetchone()[0]
    finally:
        conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--channels", type=int, default=10_000, help="channels in all")
    parser.add_argument("--titles", type=int, default=1_000)
    parser.add_argument("--per-channel", type=int, default=10, help="subscriptions per channel")
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--rtt", type=float, default=0.060, help="seconds Discord is away (default 0.060)")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a temporary file, the default), a postgresql:// URL of an empty database, or "
                             "'throwaway' (start a PostgreSQL server for the run; needs its binaries)")
    parser.add_argument("--processes", type=int, default=1, help="bot processes, one shard each")
    parser.add_argument("--kill", action="store_true", help="SIGKILL one process halfway through, then restart it")
    args = parser.parse_args()
    args.servers = min(args.servers, args.channels)
    per_server = max(1, args.channels // args.servers)

    server = None
    with tempfile.TemporaryDirectory() as tmp:
        database = str(Path(tmp) / "scale.sqlite3")
        if args.database == "throwaway":
            from tests.stores import ThrowawayPostgres

            server = ThrowawayPostgres().start()
            database = server.database_for(Path(tmp) / "scale")
        elif args.database != "sqlite":
            database = args.database
        try:
            await run(args, per_server, database, Path(tmp))
        finally:
            if server is not None:
                server.stop()


async def run(args: argparse.Namespace, per_server: int, database: str, tmp: Path) -> None:
    async with LoopbackDiscord(rtt=args.rtt) as dc:
        dc.rate_limits = True
        dc.max_concurrency = max(1, args.processes)  # each shard its own identify bucket
        guilds, channels = build_world(dc, args.servers, per_server)
        gc.freeze()  # the loopback's world lives as long as the run: out of the garbage collector's way
        due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        t0 = time.perf_counter()
        await prepare_database(database, channels, args.titles, args.per_channel, due)
        total = len(channels) * args.per_channel
        store = "PostgreSQL" if database.startswith("postgresql://") else "SQLite"
        print(f"catalog: {args.titles:,} titles; {total:,} subscriptions in {len(channels):,} channels of "
              f"{len(guilds)} servers, all due at {due:%H:%M:%S} UTC (set up in {time.perf_counter() - t0:.1f} s); "
              f"{store}, {args.processes} process(es)")
        for name, value in (await time_queries(database, due)).items():
            print(f"  {name:<20} {value:8.2f} ms")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MARQUEE_"))}
        env.update({"DISCORD_TOKEN": dc.token, "DISCORD_API_BASE_URL": dc.base_url,
                    "DISCORD_GATEWAY_URL": dc.gateway_url, "MARQUEE_DATABASE": database,
                    "MARQUEE_DEV_GUILD": str(guilds[0].id), "MARQUEE_LOG_LEVEL": "WARNING",
                    "MARQUEE_LEASE_SECONDS": "5"})
        logs = []

        async def launch(shard: int) -> asyncio.subprocess.Process:
            extra = ({"MARQUEE_SHARD_COUNT": str(args.processes), "MARQUEE_SHARD_IDS": str(shard)}
                     if args.processes > 1 else {})
            log = open(tmp / f"bot-{shard}-{len(logs)}.log", "wb")  # noqa: ASYNC230 - before the measurement
            logs.append(log)
            return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env={**env, **extra},
                                                        cwd=tmp, stdout=log, stderr=log)

        bots = [await launch(shard) for shard in range(args.processes)]
        try:
            await dc.wait_until(lambda: len([s for s in dc.sessions if s.connected]) >= args.processes,
                                timeout=120)
            await asyncio.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()))
            started = time.perf_counter()
            pauses = Pauses()
            pauses.start()
            expected = len(channels)  # one message per channel: its ten due posts are combined
            killed = False
            while True:
                await asyncio.sleep(1.0)
                sent = await asyncio.to_thread(count_sent, database)
                if sent >= total:
                    break
                if args.kill and not killed and sent >= total // 2:
                    killed = True
                    victim = bots[0]
                    victim.send_signal(signal.SIGKILL)
                    await victim.wait()
                    print(f"  killed process 0 with {sent:,} of {total:,} deliveries sent; restarting it")
                    bots[0] = await launch(0)
                if time.perf_counter() - started > 1800:
                    print("gave up after 30 minutes")
                    break
            elapsed = time.perf_counter() - started
            paused = pauses.stop()
            posts = [m for _, ch in channels for m in dc.messages(ch, include_interactions=False)]
            stamps = sorted(m.created_at for m in posts)
            span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else elapsed
            rate = (len(posts) - 1) / span if span else float("nan")
            per_second: dict[int, int] = {}
            for stamp in stamps:
                second = int((stamp - stamps[0]).total_seconds())
                per_second[second] = per_second.get(second, 0) + 1
            steady = sorted(per_second.values())[1:-1] or list(per_second.values())
            own_429 = [r for r in dc.requests if r.status == 429]
            global_429 = [r for r in own_429 if (r.response_headers or {}).get("X-RateLimit-Global")]
            last_late = (max(m.created_at for m in posts) - due).total_seconds() if posts else float("nan")
            tagged_late = sum("posted late" in m.content for m in posts)
            invalid = dc.invalid_requests()
            peaks = [proc_stat(bot.pid)[1] for bot in bots]
            cpu_before = [proc_stat(bot.pid)[0] for bot in bots]
            await asyncio.sleep(args.idle_seconds)
            cpu_after = [proc_stat(bot.pid)[0] for bot in bots]
            print(f"posts: {len(posts):,} messages (expected {expected:,}) carrying {sent:,} deliveries, "
                  f"in {elapsed:.1f} s from the due minute")
            print(f"  rate             {rate:8.1f} posts/s = {rate / ALLOWED_PER_SECOND:6.1%} of Discord's "
                  f"{ALLOWED_PER_SECOND:.0f}/s (target >= 90%)")
            print(f"  posts in a second {min(steady)} to {max(steady)}, median {statistics.median(steady):.0f} "
                  "(whole seconds of the wave, its first and last left out)")
            other = len(own_429) - len(global_429)
            print(f"  global 429s      {len(global_429):8d} (target 0); other 429s {other}")
            for hit in global_429[:3]:  # what the bot sent in the second before it
                window = [r for r in dc.requests if r.started is not None and hit.started is not None
                          and hit.started - 1.0 < r.started <= hit.started]
                kinds: dict[str, int] = {}
                for r in window:
                    kinds[f"{r.method} {r.route or r.path}"] = kinds.get(f"{r.method} {r.route or r.path}", 0) + 1
                print(f"    {hit.method} {hit.route}: {len(window)} requests in the second before: {kinds}")
            print(f"  loopback pauses  {paused}")
            print(f"  last post        {last_late:8.1f} s after the due instant, at {args.rtt * 1000:.0f} ms RTT; "
                  f"{tagged_late} posts said 'posted late' (target 0)")
            print(f"  invalid requests {invalid:8d} caused (Discord bans at 10,000 in 10 minutes)")
            print(f"  duplicates       {len(posts) - len({(m.channel_id) for m in posts}):8d}")
            print("  peak RSS         " + ", ".join(f"{k / 1024:.1f}" for k in peaks) + " MB per process "
                  "(target < 200 MB)")
            idle = [(after - before) / args.idle_seconds for before, after in zip(cpu_before, cpu_after,
                                                                                  strict=True)]
            print("  idle CPU         " + ", ".join(f"{i:.2%}" for i in idle) + " of one core per process "
                  f"over {args.idle_seconds:.0f} s with nothing due")
        finally:
            for bot in bots:
                if bot.returncode is None:
                    bot.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(bot.wait(), 60)
            for log in logs:
                log.close()


if __name__ == "__main__":
    asyncio.run(main())
