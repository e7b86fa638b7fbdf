"""The PostgreSQL store (asyncpg): the same interface and the same SQL as the SQLite store.

The query API is written once, in portable SQL with `?` or `:name` parameters; this module translates
each statement once (placeholders to `$n`, `ifnull` to `coalesce`, SQLite's `json_each` to
`json_array_elements_text`) and runs it on a small pool. Dialect differences in the schema live in
db/migrations/postgresql/, numbered like the SQLite files.

Writes keep SQLite's guarantee, one writer at a time: every write transaction takes one transaction-level
advisory lock first (PostgreSQL's stand-in for BEGIN IMMEDIATE), so the read-modify-write logic of the
query API (claims, leases, caps) holds across every process that shares the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from db.store import BUMP_CATALOG_VERSION, CheckResult, Store, StoreError, load_migrations

log = logging.getLogger(__name__)

WRITE_LOCK = 0x4D61727175  # "Marqu": the advisory lock every write transaction holds
MIGRATE_LOCK = WRITE_LOCK + 1
CHANNEL = "marquee"  # LISTEN/NOTIFY: a catalog change (a moved date, a new subscription) in another process
POOL_SIZE = 4
RECONNECT_TRIES = 20  # about 30 s of waiting in all
# What a server restart looks like to a client: the statement may be repeated on a new connection.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.ConnectionDoesNotExistError, asyncpg.AdminShutdownError, asyncpg.CannotConnectNowError,
    asyncpg.ConnectionFailureError, ConnectionError, OSError,
)
# Tables whose rows have an `id` the query API reads back after an INSERT (SQLite's lastrowid).
_ID_TABLES = frozenset({
    "packs", "sources", "franchises", "titles", "title_aliases", "people", "person_aliases", "releases",
    "release_history", "credits", "watch_offers", "audit_log", "release_moves", "subscriptions", "deliveries",
})
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)
_JSON_EACH = re.compile(r"SELECT\s+value\s+FROM\s+json_each\(\s*(\$\d+)\s*\)", re.IGNORECASE)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages (StoreError when it is not a URL at all)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise StoreError("MARQUEE_DATABASE is not a valid PostgreSQL URL: write it as "
                         "postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    host = parts.hostname or "localhost"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str, tuple[str, ...]]:
    """Portable SQL → PostgreSQL: `?` and `:name` become `$n` (outside quotes). Returns the SQL and the
    parameter names in order (empty for positional parameters)."""
    out: list[str] = []
    names: list[str] = []
    index: dict[str, int] = {}
    positional = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":  # a string literal, '' escapes included
            j = i + 1
            while j < n and not (sql[j] == "'" and (j + 1 >= n or sql[j + 1] != "'")):
                j += 2 if sql[j] == "'" else 1
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        if ch == "?":
            positional += 1
            out.append(f"${positional}")
            i += 1
            continue
        if ch == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_") and (i == 0 or sql[i - 1] != ":"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            name = sql[i + 1:j]
            if name not in index:
                names.append(name)
                index[name] = len(names)
            out.append(f"${index[name]}")
            i = j
            continue
        out.append(ch)
        i += 1
    text = "".join(out)
    # ifnull(?, 0): PostgreSQL would type the parameter from the literal (int4); ids are bigint.
    text = re.sub(r"\bifnull\(\s*(\$\d+)\s*,\s*0\s*\)", r"coalesce(\1::bigint, 0)", text, flags=re.IGNORECASE)
    text = re.sub(r"\bifnull\(", "coalesce(", text, flags=re.IGNORECASE)
    text = _JSON_EACH.sub(r"SELECT value::bigint FROM json_array_elements_text(CAST(\1 AS json))", text)
    return text, tuple(names)


def _args(names: tuple[str, ...], params: tuple | dict | list) -> list[Any]:
    if isinstance(params, dict):
        return [params[name] for name in names]
    return list(params)


class _Cursor:
    """What the query API expects of an executed statement (aiosqlite's cursor): awaitable, or used as
    `async with`; fetchone/fetchall; lastrowid; rowcount."""

    def __init__(self, conn: asyncpg.Connection, sql: str, params: tuple | dict) -> None:
        self._conn = conn
        self._sql = sql
        self._params = params
        self._rows: list[asyncpg.Record] = []
        self._done = False
        self.lastrowid: int | None = None
        self.rowcount = -1

    async def _run(self) -> _Cursor:
        if self._done:
            return self
        self._done = True
        sql, names = translate(self._sql)
        args = _args(names, self._params)
        insert = _INSERT_INTO.match(sql)
        if _RETURNS_ROWS.search(sql):
            self._rows = await self._conn.fetch(sql, *args)
            self.rowcount = len(self._rows)
        elif insert and insert.group(1).lower() in _ID_TABLES:
            rows = await self._conn.fetch(sql + " RETURNING id", *args)
            self.rowcount = len(rows)
            self.lastrowid = int(rows[-1]["id"]) if rows else None
        else:
            status = await self._conn.execute(sql, *args)
            last = status.rsplit(" ", 1)[-1]
            self.rowcount = int(last) if last.isdigit() else -1
        return self

    def __await__(self) -> Any:
        return self._run().__await__()

    async def __aenter__(self) -> _Cursor:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetchone(self) -> asyncpg.Record | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[asyncpg.Record]:
        return list(self._rows)


class _Connection:
    """The connection a write transaction yields: `execute` like aiosqlite's."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: tuple | dict = ()) -> _Cursor:
        return _Cursor(self.raw, sql, params)

    async def executemany(self, sql: str, many: Any) -> None:
        text, names = translate(sql)
        await self.raw.executemany(text, [_args(names, params) for params in many])


class PgStore(Store):
    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        super().__init__()
        self.pool = pool
        self.url = url
        self.path = _safe_url(url)  # what messages show: never the password
        self._callbacks: list[Callable[[], None]] = []
        self._listener: asyncio.Task[None] | None = None

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="marquee-pg-listen")

    def _notified(self, *_: object) -> None:
        self._external = (self._external[0], -1.0)  # the next version_token reads the catalog version again
        for callback in self._callbacks:
            callback()

    async def _listen(self) -> None:
        """One connection that LISTENs, reconnecting when the server goes away (and waking everyone then:
        a change may have been missed meanwhile)."""
        while True:
            try:
                conn = await asyncpg.connect(self.url)
            except (*CONNECTION_LOST, asyncpg.PostgresError):
                await asyncio.sleep(1.0)
                continue
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                self._notified()
                await lost.wait()
            except (*CONNECTION_LOST, asyncpg.PostgresError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(0.5)

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, *, migrate: bool = True) -> AsyncIterator[PgStore]:
        shown = _safe_url(url)
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, command_timeout=60)
        except asyncpg.InvalidPasswordError:
            raise StoreError(f"PostgreSQL refused the password in MARQUEE_DATABASE ({shown})") from None
        except asyncpg.InvalidCatalogNameError:
            raise StoreError(f"the database in MARQUEE_DATABASE does not exist ({shown}): create it with "
                             "`createdb`") from None
        except (OSError, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise StoreError(f"cannot connect to MARQUEE_DATABASE ({shown}): {reason}") from None
        try:
            store = cls(pool, url)
            if migrate:
                await store.migrate()
            yield store
        finally:
            if store._listener is not None:
                store._listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await store._listener
            await pool.close()

    # -- transactions ---------------------------------------------------------------------------

    @asynccontextmanager  # type: ignore[override]
    async def transaction(self, *, catalog: bool = True, notify: bool = False,
                          serial: bool = True) -> AsyncIterator[_Connection]:
        """One writer at a time, across every process (the advisory lock), all or nothing. `serial=False`:
        without the lock, for statements whose WHERE guards every row they change (row locks suffice)."""
        async with self._write_lock if serial else contextlib.nullcontext():
            for attempt in range(RECONNECT_TRIES):
                conn = await self._acquire()
                tx = conn.transaction()
                try:
                    await tx.start()
                    if serial:
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                    break
                except (*CONNECTION_LOST, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
                    # Nothing done yet: safe to try again on a new connection (a connection the server dropped
                    # mid-restart can also be left in a state asyncpg refuses to use: InterfaceError).
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self.pool.release(conn))
                    await self._reconnect_wait(attempt, exc)
                except BaseException:  # cancelled while starting: give the connection back, or close() hangs
                    with contextlib.suppress(*CONNECTION_LOST, asyncpg.InterfaceError):
                        await asyncio.shield(tx.rollback())
                    await asyncio.shield(self.pool.release(conn))
                    raise
            else:  # pragma: no cover - _reconnect_wait raises on the last attempt
                raise StoreError("the PostgreSQL server did not come back")
            try:
                yield _Connection(conn)
                if catalog:
                    with contextlib.suppress(asyncpg.UndefinedTableError):
                        async with conn.transaction():  # a savepoint: before migration 0001 there is no meta
                            await conn.execute(translate(BUMP_CATALOG_VERSION)[0])
                if catalog or notify:
                    # Delivered at commit, to every process that listens: their caches and dispatchers wake.
                    await conn.execute("SELECT pg_notify($1, 'changed')", CHANNEL)
            except BaseException:
                with contextlib.suppress(*CONNECTION_LOST, asyncpg.InterfaceError):
                    await asyncio.shield(tx.rollback())
                await asyncio.shield(self.pool.release(conn))
                raise
            else:
                try:
                    await tx.commit()
                finally:
                    await asyncio.shield(self.pool.release(conn))
        if catalog:
            self.generation += 1

    async def _acquire(self) -> asyncpg.Connection:
        for attempt in range(RECONNECT_TRIES):
            try:
                return await self.pool.acquire()
            except CONNECTION_LOST as exc:
                await self._reconnect_wait(attempt, exc)
        raise StoreError("the PostgreSQL server did not come back")  # pragma: no cover

    async def _reconnect_wait(self, attempt: int, exc: BaseException) -> None:
        """The server went away (a restart, a failover): wait and try again, for about half a minute."""
        if isinstance(exc, TimeoutError):  # a statement that took too long (an OSError too): not a lost server
            raise exc
        if attempt + 1 >= RECONNECT_TRIES:
            raise StoreError(f"lost the PostgreSQL server in MARQUEE_DATABASE ({self.path}): {exc}") from None
        if attempt == 0:
            log.warning("lost the connection to PostgreSQL (%s); reconnecting", type(exc).__name__)
        await asyncio.sleep(min(0.1 * 2 ** attempt, 2.0))

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[asyncpg.Record]:
        text, names = translate(sql)
        args = _args(names, params)
        for attempt in range(RECONNECT_TRIES):
            try:
                return list(await self.pool.fetch(text, *args))
            except (*CONNECTION_LOST, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:  # safe to repeat
                await self._reconnect_wait(attempt, exc)
        raise StoreError("the PostgreSQL server did not come back")  # pragma: no cover

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> asyncpg.Record | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    # -- migrations -----------------------------------------------------------------------------

    async def version(self) -> int:
        try:
            row = await self.pool.fetchrow("SELECT max(version) AS v FROM marquee_migrations")
        except asyncpg.UndefinedTableError:
            return 0
        return int(row["v"] or 0)

    async def migrate(self) -> tuple[int, int]:
        """Every pending migration, each in its own transaction; several processes starting at once wait for
        the first (an advisory lock) and then find nothing to do."""
        migrations = load_migrations("postgresql")
        latest = migrations[-1].version if migrations else 0
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS marquee_migrations (version BIGINT PRIMARY KEY, "
                                   "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                start = await self.version()
                if start > latest:
                    raise StoreError(f"the database is at schema version {start}, newer than this Marquee "
                                     f"({latest}); upgrade Marquee or restore a backup")
                for migration in migrations:
                    if migration.version <= start:
                        continue
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute("INSERT INTO marquee_migrations (version, name, applied_at) "
                                           "VALUES ($1, $2, $3)", migration.version, migration.name,
                                           dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
                    log.info("applied migration %s", migration.name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK)
        return start, latest

    async def check(self) -> CheckResult:
        problems: list[str] = []
        version = await self.version()
        latest = load_migrations("postgresql")[-1].version
        if version != latest:
            problems.append(f"schema version {version}, expected {latest} (run `marquee db migrate`)")
        invalid = await self.pool.fetch(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid")
        problems += [f"index {r['relname']} is invalid (REINDEX it)" for r in invalid]
        return CheckResult(ok=not problems, version=version, latest=latest, problems=tuple(problems))

    async def backup(self, destination: str | Path) -> None:
        """pg_dump's custom format (restore with pg_restore), a consistent snapshot while the bot runs."""
        destination = Path(destination)
        if destination.exists():
            raise StoreError(f"{destination} already exists; choose a new file name")
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise StoreError("backing up PostgreSQL needs pg_dump: install the PostgreSQL client tools "
                             "(Debian: `apt-get install postgresql-client`), or use your provider's backups")

        parts = urlsplit(self.url)
        env = dict(os.environ)
        if parts.password:  # through the environment: a password on a command line is visible to `ps`
            env["PGPASSWORD"] = unquote(parts.password)
            netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
            url = urlunsplit(parts._replace(netloc=netloc))
        else:
            url = self.url

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(  # noqa: S603 - pg_dump from PATH, the operator's own database
                [pg_dump, "--format=custom", f"--file={destination}", f"--dbname={url}"],
                capture_output=True, text=True, timeout=3600, check=False, env=env)

        result = await asyncio.to_thread(run)
        if result.returncode != 0:
            destination.unlink(missing_ok=True)
            reason = " ".join(result.stderr.replace(url, self.path).split())[:300]
            raise StoreError(f"pg_dump failed: {reason}")
