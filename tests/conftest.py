from __future__ import annotations

import datetime as dt
import os
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from db import packs
from db.store import Store, is_postgres_url
from tests import stores

REPO = Path(__file__).resolve().parent.parent
JOHN_WICK = REPO / "db" / "packs" / "john-wick.toml"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def pytest_addoption(parser):
    parser.addoption("--store", choices=("sqlite", "postgresql"),
                     default=os.environ.get("MARQUEE_TEST_STORE", "sqlite"),
                     help="run the suite on SQLite files (default) or on a throwaway PostgreSQL server")


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: SQLite's own behaviour (its file, PRAGMAs); skipped on PostgreSQL")
    config.addinivalue_line("markers", "postgresql: needs a PostgreSQL server; skipped unless --store=postgresql")
    if config.getoption("--store") != "postgresql":
        return
    stores.SERVER = stores.ThrowawayPostgres().start()
    original = Store.__dict__["open"].__func__

    @asynccontextmanager
    async def open_mapped(cls, target, *, migrate=True):
        target = str(target)
        if target != ":memory:" and not is_postgres_url(target):
            target = stores.SERVER.database_for(target)  # each SQLite path a test uses: its own database
        async with original(cls, target, migrate=migrate) as store:
            yield store

    Store.open = classmethod(open_mapped)


def pytest_unconfigure(config):
    if stores.SERVER is not None:
        stores.SERVER.stop()
        stores.SERVER = None


def pytest_report_header(config):
    if stores.SERVER is not None:
        return f"store: PostgreSQL (throwaway server on 127.0.0.1:{stores.SERVER.port})"
    return "store: SQLite (add --store=postgresql to run the suite on PostgreSQL)"


def pytest_collection_modifyitems(config, items):
    on_postgres = config.getoption("--store") == "postgresql"
    for item in items:
        if on_postgres and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite's own behaviour"))
        if not on_postgres and item.get_closest_marker("postgresql"):
            item.add_marker(pytest.mark.skip(reason=stores.HOW_TO_ENABLE))


@pytest.fixture(scope="session")
def john_wick_pack() -> dict:
    return packs.read_pack_file(JOHN_WICK)


@pytest_asyncio.fixture
async def store(tmp_path):
    async with Store.open(tmp_path / "test.sqlite3") as opened:
        yield opened


@pytest_asyncio.fixture
async def loaded(store, john_wick_pack):
    await packs.load_pack(store, john_wick_pack, now=NOW)
    return store
