"""The store: SQLite (one aiosqlite connection, WAL) or PostgreSQL (asyncpg, db/postgres.py), behind one
interface: numbered migrations, explicit write transactions, fetchall/fetchone. `Store.open(target)` picks
the backend: a file path is SQLite, a `postgresql://` URL is PostgreSQL.

Nothing here imports discord. Cogs never see SQL: they call the query API in `db.queries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    version: int
    latest: int
    problems: tuple[str, ...]


class StoreError(Exception):
    """A problem with the database file that the operator must fix (message says how)."""


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def load_migrations(dialect: str = "sqlite") -> list[Migration]:
    """The numbered migrations shipped in db/migrations (PostgreSQL: db/migrations/postgresql), in order,
    without gaps."""
    found: list[Migration] = []
    folder = resources.files("db").joinpath("migrations")
    if dialect == "postgresql":
        folder = folder.joinpath("postgresql")
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"migration {migration.name} is out of sequence (expected {expected:04d}_...)")
    return found


class Store:
    """What the rest of Marquee sees of the database, whichever backend holds it."""

    dialect = "sqlite"

    def __init__(self) -> None:
        self._write_lock = asyncio.Lock()
        # Bumped after every committed write, so in-memory caches (the search index) know to rebuild.
        self.generation = 0
        self._external = (0, -1.0)  # (the catalog version in meta, when it was read)

    @classmethod
    @asynccontextmanager
    async def open(cls, target: str | Path, *, migrate: bool = True) -> AsyncIterator[Store]:
        """SQLite for a file path (or ':memory:'), PostgreSQL for a postgresql:// URL."""
        if is_postgres_url(str(target)):
            from db.postgres import PgStore

            async with PgStore.connect(str(target), migrate=migrate) as store:
                yield store
        else:
            async with SqliteStore.connect(target, migrate=migrate) as store:
                yield store

    def transaction(self, *, catalog: bool = True, notify: bool = False,
                    serial: bool = True) -> contextlib.AbstractAsyncContextManager[Any]:
        """A write transaction. `catalog` (the default) moves the catalog version; `notify` (implied by
        `catalog`) tells the other processes on the store (PostgreSQL's NOTIFY) so their dispatchers look now.
        `serial=False`: the transaction's statements guard every row they change in their WHERE (a delivery's
        state), so it need not wait for other writers where the store can tell (PostgreSQL's row locks)."""
        raise NotImplementedError

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[Any]:
        raise NotImplementedError

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> Any:
        raise NotImplementedError

    async def migrate(self) -> tuple[int, int]:
        raise NotImplementedError

    async def version(self) -> int:
        raise NotImplementedError

    async def check(self) -> CheckResult:
        raise NotImplementedError

    async def backup(self, destination: str | Path) -> None:
        raise NotImplementedError

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` when another process changes the catalog (PostgreSQL: LISTEN/NOTIFY, sent in the
        changing transaction). SQLite has no such signal: its readers poll the catalog version instead."""

    async def version_token(self, max_age: float = 2.0) -> tuple[int, int]:
        """Catalog changes by this process (generation) and by any process (the catalog version in meta,
        moved by every catalog transaction, e.g. `marquee db import` while the bot runs; read at most every
        `max_age` seconds)."""
        now = asyncio.get_running_loop().time()
        version, read_at = self._external
        if now - read_at > max_age:
            try:
                row = await self.fetchone("SELECT value FROM meta WHERE key = 'catalog.version'")
            except Exception:  # before migration 0001: no meta table yet
                row = None
            version = int(row[0]) if row else 0
            self._external = (version, now)
        return self.generation, version

    # -- meta -----------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        async with self.transaction(catalog=False) as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


BUMP_CATALOG_VERSION = ("INSERT INTO meta (key, value) VALUES ('catalog.version', '1') ON CONFLICT (key) "
                        "DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)")


class SqliteStore(Store):
    """One connection shared by the whole bot. Writes are serialised and run in BEGIN IMMEDIATE."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        super().__init__()
        self.conn = conn
        self.path = path

    @classmethod
    @asynccontextmanager
    async def connect(cls, path: str | Path, *, migrate: bool = True) -> AsyncIterator[SqliteStore]:
        path = str(path)
        if path != ":memory:" and not _parent_exists(path):
            raise StoreError(f"the folder for MARQUEE_DATABASE does not exist: {Path(path).parent}")
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = NORMAL")
            store = cls(conn, path)
            if migrate:
                await store.migrate()
            yield store
        finally:
            await conn.close()

    # -- transactions -------------------------------------------------------------------------

    @asynccontextmanager  # type: ignore[override]
    async def transaction(self, *, catalog: bool = True, notify: bool = False,
                          serial: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE): all or nothing, one at a time (SQLite has one writer:
        `serial` changes nothing).

        `catalog=False` marks bookkeeping (countdown deliveries, leases, meta) that no cache depends on:
        it does not move the catalog version, so search indexes and the read cache are not rebuilt at
        every countdown post or lease renewal, here or in another process."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                if catalog:
                    with contextlib.suppress(sqlite3.OperationalError):  # before migration 0001: no meta yet
                        await self.conn.execute(BUMP_CATALOG_VERSION)
            except BaseException:
                # Also when the task was cancelled while BEGIN ran on aiosqlite's thread: the statement still
                # ran there, so roll back in any case (shielded: a second cancel must not leave it open).
                with contextlib.suppress(sqlite3.OperationalError):  # "no transaction is active"
                    await asyncio.shield(self.conn.execute("ROLLBACK"))
                raise
            else:
                await self.conn.execute("COMMIT")
                if catalog:
                    self.generation += 1

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[aiosqlite.Row]:
        """One round trip to the database thread (execute, fetch and close together)."""
        return list(await self.conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> aiosqlite.Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    # -- migrations ---------------------------------------------------------------------------

    async def version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> tuple[int, int]:
        """Apply every pending migration, each in its own transaction. Returns (from, to)."""
        migrations = load_migrations()
        latest = migrations[-1].version if migrations else 0
        start = await self.version()
        if start > latest:
            raise StoreError(
                f"the database is at schema version {start}, newer than this Marquee ({latest}); "
                "upgrade Marquee or restore a backup"
            )
        for migration in migrations:
            if migration.version <= start:
                continue
            async with self.transaction() as conn:
                # executescript would COMMIT first; run the statements one by one instead.
                for statement in _split_sql(migration.sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {migration.version:d}")
            log.info("applied migration %s", migration.name)
        return start, latest

    async def check(self) -> CheckResult:
        rows = await self.fetchall("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        fk = await self.fetchall("PRAGMA foreign_key_check")
        problems += [f"foreign key violation in {r[0]} row {r[1]} -> {r[2]}" for r in fk]
        version = await self.version()
        latest = load_migrations()[-1].version
        if version != latest:
            problems.append(f"schema version {version}, expected {latest} (run `marquee db migrate`)")
        return CheckResult(ok=not problems, version=version, latest=latest, problems=tuple(problems))

    async def backup(self, destination: str | Path) -> None:
        """An online backup (SQLite's backup API): safe while the bot is running."""
        destination = Path(destination)
        if destination.exists():
            raise StoreError(f"{destination} already exists; choose a new file name")
        async with aiosqlite.connect(str(destination)) as target:
            await self.conn.backup(target)



def _parent_exists(path: str) -> bool:
    return Path(path).expanduser().absolute().parent.is_dir()


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (comments dropped; no semicolons inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    statements, current = [], []
    for line in lines:
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            text = "\n".join(current).strip()
            if text.rstrip(";").strip():
                statements.append(text)
            current = []
    if "\n".join(current).strip():
        raise StoreError("a migration ends with an incomplete statement")
    return statements
