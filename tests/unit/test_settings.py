import logging
import subprocess
import sys

import pytest

from bot.cli import RedactingFilter
from bot.settings import DEFAULT_DATABASE, Settings, SettingsError
from db import packs
from tests.conftest import JOHN_WICK

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_defaults():
    s = Settings.from_env({})
    assert s.database == DEFAULT_DATABASE
    assert s.dev_guilds == ()
    assert s.api_base_url == "https://discord.com/api/v10"
    assert s.log_level == "INFO"
    assert s.token is None


def test_values_are_parsed():
    s = Settings.from_env({"DISCORD_TOKEN": TOKEN, "MARQUEE_DEV_GUILD": "123, 456", "MARQUEE_LOG_LEVEL": "debug",
                           "DISCORD_API_BASE_URL": "http://127.0.0.1:1234/api/v10/",
                           "DISCORD_GATEWAY_URL": "ws://127.0.0.1:1234/gateway"})
    assert s.dev_guilds == (123, 456)
    assert s.log_level == "DEBUG"
    assert s.api_base_url == "http://127.0.0.1:1234/api/v10"
    assert s.require_token() == TOKEN


@pytest.mark.parametrize(("env", "names"), [
    ({"MARQUEE_DEV_GUILD": "my-server"}, "MARQUEE_DEV_GUILD"),
    ({"MARQUEE_LOG_LEVEL": "LOUD"}, "MARQUEE_LOG_LEVEL"),
    ({"DISCORD_API_BASE_URL": "ftp://x"}, "DISCORD_API_BASE_URL"),
    ({"DISCORD_GATEWAY_URL": "http://x"}, "DISCORD_GATEWAY_URL"),
    ({"DISCORD_TOKEN": "Bot abc"}, "DISCORD_TOKEN"),
    ({"MARQUEE_WEB_PORT": "http"}, "MARQUEE_WEB_PORT"),
    ({"MARQUEE_WEB_PORT": "70000"}, "MARQUEE_WEB_PORT"),
    ({"MARQUEE_PUBLIC_URL": "marquee.example.org"}, "MARQUEE_PUBLIC_URL"),
])
def test_malformed_values_name_the_setting(env, names):
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)


def test_missing_token_explains_itself():
    with pytest.raises(SettingsError, match="DISCORD_TOKEN") as caught:
        Settings.from_env({}).require_token()
    assert "developers/applications" in str(caught.value)


def test_token_is_not_in_repr():
    assert TOKEN not in repr(Settings.from_env({"DISCORD_TOKEN": TOKEN}))


def test_redacting_filter_removes_the_token():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sending %s", (f"Bot {TOKEN}",), None)
    RedactingFilter(TOKEN).filter(record)
    assert TOKEN not in record.getMessage()


TMDB_TOKEN = "eyJhbGciOiJIUzI1NiJ9.loopback-read-access-token.signature"


def test_tmdb_settings():
    s = Settings.from_env({})
    assert (s.tmdb_token, s.tmdb_api_url, s.tmdb_refresh_minutes, s.tmdb_daily_cap) == (
        None, "https://api.themoviedb.org/3", 720.0, 500)
    with pytest.raises(SettingsError, match="MARQUEE_TMDB_TOKEN is not set") as caught:
        s.require_tmdb_token()
    assert "themoviedb.org/settings/api" in str(caught.value)
    s = Settings.from_env({"MARQUEE_TMDB_TOKEN": TMDB_TOKEN, "MARQUEE_TMDB_API_URL": "http://127.0.0.1:9/3/",
                           "MARQUEE_TMDB_REFRESH_MINUTES": "0.5", "MARQUEE_TMDB_DAILY_CAP": "20"})
    assert (s.require_tmdb_token(), s.tmdb_api_url, s.tmdb_refresh_minutes, s.tmdb_daily_cap) == (
        TMDB_TOKEN, "http://127.0.0.1:9/3", 0.5, 20)
    assert TMDB_TOKEN not in repr(s)
    assert TMDB_TOKEN in s.secrets


@pytest.mark.parametrize("env", [
    {"MARQUEE_TMDB_TOKEN": f"Bearer {TMDB_TOKEN}"},
    {"MARQUEE_TMDB_API_URL": "api.themoviedb.org/3"},
    {"MARQUEE_TMDB_REFRESH_MINUTES": "often"},
    {"MARQUEE_TMDB_REFRESH_MINUTES": "-1"},
    {"MARQUEE_TMDB_DAILY_CAP": "0"},
])
def test_malformed_tmdb_settings_name_the_setting(env):
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


@pytest.mark.parametrize(("env", "count", "ids"), [
    ({}, None, None),
    ({"MARQUEE_SHARD_COUNT": "4"}, 4, (0, 1, 2, 3)),
    ({"MARQUEE_SHARD_COUNT": "4", "MARQUEE_SHARD_IDS": "0,1"}, 4, (0, 1)),
    ({"MARQUEE_SHARD_COUNT": "8", "MARQUEE_SHARD_IDS": "4-7"}, 8, (4, 5, 6, 7)),
    ({"MARQUEE_SHARD_COUNT": "8", "MARQUEE_SHARD_IDS": "0-1, 6"}, 8, (0, 1, 6)),
])
def test_shard_settings(env, count, ids):
    s = Settings.from_env(env)
    assert (s.shard_count, s.shard_ids) == (count, ids)


@pytest.mark.parametrize("env", [
    {"MARQUEE_SHARD_IDS": "0,1"},
    {"MARQUEE_SHARD_COUNT": "0"},
    {"MARQUEE_SHARD_COUNT": "two"},
    {"MARQUEE_SHARD_COUNT": "2", "MARQUEE_SHARD_IDS": "2"},
    {"MARQUEE_SHARD_COUNT": "4", "MARQUEE_SHARD_IDS": "3-1"},
    {"MARQUEE_SHARD_COUNT": "4", "MARQUEE_SHARD_IDS": "1,1"},
    {"MARQUEE_SHARD_COUNT": "4", "MARQUEE_SHARD_IDS": "a-b"},
])
def test_malformed_shard_settings_name_the_setting(env):
    with pytest.raises(SettingsError, match="MARQUEE_SHARD_"):
        Settings.from_env(env)


def test_redacting_filter_removes_every_secret():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s and %s", (TOKEN, f"Bearer {TMDB_TOKEN}"), None)
    RedactingFilter(TOKEN, TMDB_TOKEN).filter(record)
    assert TOKEN not in record.getMessage() and TMDB_TOKEN not in record.getMessage()


def _run(args, tmp_path, env=None):
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60, check=False)


def test_run_without_token_exits_with_one_line(tmp_path):
    result = _run(["run"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0] and "Traceback" not in result.stderr


def test_env_file_is_read_and_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("MARQUEE_DEV_GUILD=not-a-number\n")
    result = _run(["run"], tmp_path)
    assert result.returncode == 2 and "MARQUEE_DEV_GUILD" in result.stderr
    result = _run(["run"], tmp_path, {"MARQUEE_DEV_GUILD": "42"})
    assert "DISCORD_TOKEN" in result.stderr


def test_help_lists_the_subcommands(tmp_path):
    result = _run(["--help"], tmp_path)
    for word in ("run", "sync", "db", "playground"):
        assert word in result.stdout
    db_help = _run(["db", "--help"], tmp_path).stdout
    for word in ("migrate", "check", "backup", "import", "export"):
        assert word in db_help


@pytest.mark.sqlite_only
def test_db_commands_round_trip_a_pack(tmp_path):
    env = {"MARQUEE_DATABASE": str(tmp_path / "m.sqlite3")}
    assert _run(["db", "migrate"], tmp_path, env).returncode == 0
    check = _run(["db", "check"], tmp_path, env)
    assert check.returncode == 0 and "ok" in check.stdout
    assert _run(["db", "export", "-o", "jw.toml"], tmp_path, env).returncode == 0
    original = (tmp_path / "jw.toml").read_text()
    again = _run(["db", "import", "jw.toml"], tmp_path, env)
    assert "already loaded; nothing changed" in again.stdout
    shipped = packs.read_pack_file(JOHN_WICK)["pack"]["version"]
    moved = original.replace(f"version = {shipped}", "version = 99", 1)
    moved = moved.replace("date = 2025-06-06", "date = 2025-06-20", 1)
    (tmp_path / "jw2.toml").write_text(moved)
    result = _run(["db", "import", "jw2.toml"], tmp_path, env)
    assert result.returncode == 0
    assert "release moved: ballerina US theatrical: 2025-06-06 -> 2025-06-20" in result.stdout
    exported = _run(["db", "export"], tmp_path, env).stdout
    assert "version = 99" in exported and "date = 2025-06-20" in exported
    assert _run(["db", "backup", "copy.sqlite3"], tmp_path, env).returncode == 0
    assert _run(["db", "check"], tmp_path, {"MARQUEE_DATABASE": str(tmp_path / "copy.sqlite3")}).returncode == 0
    (tmp_path / "bad.toml").write_text(original.replace('kind = "film"', 'kind = "opera"', 1))
    bad = _run(["db", "import", "bad.toml"], tmp_path, env)
    assert bad.returncode == 1 and "nothing changed" in bad.stderr and "titles[0].kind" in bad.stderr


def test_the_calendar_feed_is_off_unless_its_port_is_set():
    assert Settings.from_env({}).web_port is None
    s = Settings.from_env({"MARQUEE_WEB_PORT": "8080", "MARQUEE_PUBLIC_URL": "https://marquee.example.org/"})
    assert (s.web_host, s.web_port, s.public_url) == ("127.0.0.1", 8080, "https://marquee.example.org")
