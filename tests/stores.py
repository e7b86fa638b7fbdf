"""The stores the suite runs on: SQLite files (the default), or databases on a throwaway PostgreSQL server
(`python -m pytest --store=postgresql`, or MARQUEE_TEST_STORE=postgresql).

The server is started once per test session: `initdb` into a temporary folder (as the `postgres` user when
the tests run as root: initdb refuses root), `pg_ctl start` on a free port on 127.0.0.1, trust
authentication for that loopback port only; it is stopped and deleted at the end. Every SQLite path a test
uses maps to its own PostgreSQL database, created on first use, so each test still starts from nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import asyncpg

from db.postgres import translate

HOW_TO_ENABLE = ("PostgreSQL tests need the server binaries (Debian: `apt-get install postgresql`); "
                 "run them with `python -m pytest --store=postgresql`")


def server_binaries() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL server for one test session."""

    def __init__(self) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError(HOW_TO_ENABLE)
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="marquee-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        self._created: set[str] = set()
        self._lock = threading.Lock()

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> ThrowawayPostgres:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        # Trust on the loopback for the tests' own user; one user that must give its password (the
        # wrong-password test).
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all secured 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")
        _in_thread(self._admin("CREATE ROLE secured LOGIN PASSWORD 'right-password'"))
        return self

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start the server (fast): clients see their connections drop."""
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database_for(self, path: str | Path) -> str:
        """The database standing in for this SQLite path (created, empty, on first use)."""
        name = "t_" + hashlib.sha256(str(Path(path).absolute()).encode()).hexdigest()[:20]
        with self._lock:
            if name not in self._created:
                _in_thread(self._create(name))
                self._created.add(name)
        return self.url(name)

    async def _create(self, name: str) -> None:
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()


def _in_thread(coroutine: object) -> object:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["value"] = asyncio.run(coroutine)  # type: ignore[arg-type]
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


SERVER: ThrowawayPostgres | None = None  # set by tests/conftest.py in --store=postgresql runs


def database(path: str | Path) -> str:
    """What a test hands the bot as MARQUEE_DATABASE: the path itself, or its PostgreSQL stand-in."""
    return SERVER.database_for(path) if SERVER is not None else str(path)


def rows(target: str | Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read a store from outside the bot (another process's view), on either backend."""
    target = str(target)
    if SERVER is not None and not target.startswith("postgresql://"):
        target = SERVER.database_for(target)
    if target.startswith("postgresql://"):
        async def fetch() -> list[tuple]:
            conn = await asyncpg.connect(target)
            try:
                text, _ = translate(sql)
                return [tuple(r) for r in await conn.fetch(text, *params)]
            finally:
                await conn.close()
        return _in_thread(fetch())  # type: ignore[return-value]
    import sqlite3

    conn = sqlite3.connect(target, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def execute(target: str | Path, sql: str, params: tuple = ()) -> None:
    """Change a store from outside the bot (as an operator's tool would), on either backend."""
    target = str(target)
    if SERVER is not None and not target.startswith("postgresql://"):
        target = SERVER.database_for(target)
    if target.startswith("postgresql://"):
        async def run() -> None:
            conn = await asyncpg.connect(target)
            try:
                await conn.execute(translate(sql)[0], *params)
            finally:
                await conn.close()
        _in_thread(run())
        return
    import sqlite3

    conn = sqlite3.connect(target, timeout=10)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()
