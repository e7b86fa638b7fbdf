from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import pytest_asyncio

from db import packs
from db.store import Store

REPO = Path(__file__).resolve().parent.parent
JOHN_WICK = REPO / "db" / "packs" / "john-wick.toml"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


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
