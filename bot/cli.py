"""The `marquee` command line: run, sync, db migrate|check|backup|import|export, playground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import settings as settings_module
from bot.settings import Settings, SettingsError
from db.store import Store, StoreError

log = logging.getLogger("marquee")


class RedactingFilter(logging.Filter):
    """Belt and braces: the token never reaches a log line, whatever logs it."""

    def __init__(self, *secrets: str | None) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(secret in message for secret in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, "[redacted token]")
                record.msg = message
                record.args = ()
        return True


class OneLineFilter(logging.Filter):
    """A library's warning about a lost connection (asyncpg's pool while PostgreSQL restarts) as one line: the
    reason, not a traceback that reads like a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.levelno < logging.ERROR:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(*settings.secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level_number)
    # Third-party debug logs are floods (aiosqlite logs every statement); keep them at INFO or above.
    for noisy in ("discord", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(settings.log_level_number, logging.INFO))
    logging.getLogger("asyncpg").addFilter(OneLineFilter())
    logging.getLogger("asyncpg.pool").addFilter(OneLineFilter())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marquee", description="Marquee, a Discord bot for fan communities.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="connect to Discord with DISCORD_TOKEN and serve")
    sync = sub.add_parser("sync", help="register the slash commands now (globally or with one guild)")
    where = sync.add_mutually_exclusive_group()
    where.add_argument("--guild", type=int, metavar="ID", help="sync to this server only (instant)")
    where.add_argument("--global", dest="global_", action="store_true", help="sync globally (the default)")
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("migrate", help="apply pending schema migrations")
    dbsub.add_parser("check", help="integrity check and schema version")
    backup = dbsub.add_parser("backup", help="online backup of the (possibly live) database to PATH")
    backup.add_argument("path", type=Path)
    imp = dbsub.add_parser("import", help="load a data pack (TOML or JSON) as global data")
    imp.add_argument("file", type=Path)
    imp.add_argument("--force", action="store_true", help="reload even if this version is already loaded")
    exp = dbsub.add_parser("export", help="write a loaded data pack as TOML (or JSON)")
    exp.add_argument("--pack", help="the pack slug (needed when several are loaded)")
    exp.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    exp.add_argument("--format", choices=("toml", "json"), default="toml")
    search = dbsub.add_parser("search-tmdb", help="find collections, films and series at TMDB (their ids)")
    search.add_argument("query", nargs="+")
    tmdb = dbsub.add_parser("import-tmdb", help="build global data from a TMDB collection, film or series")
    what = tmdb.add_mutually_exclusive_group(required=True)
    for kind in ("collection", "movie", "tv"):
        what.add_argument(f"--{kind}", type=_tmdb_id, metavar="ID", help=f"a TMDB {kind} id (see search-tmdb)")
    tmdb.add_argument("--franchise", type=_slug, metavar="SLUG",
                      help="the franchise the titles go into (default: from the collection's or title's name)")
    copy = dbsub.add_parser("copy", help="copy every row of this SQLite store into an empty PostgreSQL database")
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    dbsub.add_parser("refresh-tmdb", help="rebuild every TMDB import from TMDB now (moved dates announced)")
    play = sub.add_parser("playground", help="try the bot on a local Discord-compatible server, no token needed")
    play.add_argument("--database", type=Path, help="use this SQLite file instead of a temporary one")
    play.add_argument("--script", help="run commands from FILE ('-' for standard input) and print the transcript")
    return parser


def _tmdb_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"expected a TMDB id (a number, see `marquee db search-tmdb`), not {text!r}")
    return int(text)


def _slug(text: str) -> str:
    from db import validate

    if not validate.SLUG.match(text) or len(text) > validate.SLUG_MAX:
        raise argparse.ArgumentTypeError(f"expected a slug (lowercase letters, digits and '-'), not {text!r}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_module.load()
        setup_logging(settings)
        if args.command == "run":
            settings.require_token()
            return asyncio.run(_run(settings))
        if args.command == "sync":
            settings.require_token()
            return asyncio.run(_sync(settings, args.guild))
        if args.command == "db":
            return asyncio.run(_db(settings, args))
        if args.command == "playground":
            from playground.cli import run_playground

            return run_playground(database=args.database, script=args.script)
    except (SettingsError, StoreError) as exc:
        print(f"marquee: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


async def _prepare_store(store: Store) -> None:
    from bot.clock import SystemClock
    from db import packs

    for report in await packs.load_builtin_packs(store, now=SystemClock().now()):
        log.info("loaded data pack %s version %s: %s", report.pack, report.version, report.counts)


async def _run(settings: Settings) -> int:
    import discord

    from bot.app import Marquee, configure_endpoints
    from bot.clock import SystemClock

    configure_endpoints(settings)
    async with Store.open(settings.database) as store:
        await _prepare_store(store)
        async with Marquee(settings=settings, store=store, clock=SystemClock()) as bot:
            try:
                await bot.start(settings.require_token())
            except discord.LoginFailure:
                print("marquee: Discord refused DISCORD_TOKEN: copy a fresh bot token from the "
                      "Developer Portal (Bot > Reset Token) into .env", file=sys.stderr)
                return 2
            except discord.PrivilegedIntentsRequired:
                print("marquee: Discord refused the gateway intents; Marquee needs no privileged intents, "
                      "so check DISCORD_GATEWAY_URL", file=sys.stderr)
                return 2
    return 0


async def _sync(settings: Settings, guild: int | None) -> int:
    from dataclasses import replace

    from bot.app import Marquee, configure_endpoints
    from bot.clock import SystemClock

    configure_endpoints(settings)
    settings = replace(settings, dev_guilds=(guild,) if guild else ())
    async with Store.open(settings.database) as store, Marquee(
            settings=settings, store=store, clock=SystemClock(), sync_commands=False) as bot:
        await bot.login(settings.require_token())
        outcome = await bot.sync_application_commands(force=True)
        where = f"server {guild}" if guild else "all servers (global; may take a minute to appear)"
        print(f"synced {len(bot.tree.get_commands())} commands to {where} [{outcome}]")
    return 0


async def _db(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from db import packs

    action = args.db_command
    if action.endswith("-tmdb"):
        settings.require_tmdb_token()
    async with Store.open(settings.database, migrate=action != "check") as store:
        if action.endswith("-tmdb"):
            return await _tmdb(settings, store, args)
        if action == "migrate":
            start, end = await store.migrate()
            print(f"{settings.database}: schema version {end}" + (f" (was {start})" if start != end else ""))
            await _prepare_store(store)
            return 0
        if action == "check":
            result = await store.check()
            for problem in result.problems:
                print(f"problem: {problem}")
            print(f"{settings.database}: schema version {result.version} of {result.latest}: "
                  + ("ok" if result.ok else "NOT OK"))
            return 0 if result.ok else 1
        if action == "copy":
            return await _copy(store, args.to)
        if action == "backup":
            await store.backup(args.path)
            print(f"backed up {settings.database} to {args.path}")
            return 0
        if action == "import":
            try:
                pack = packs.read_pack_file(args.file)
            except OSError as exc:
                print(f"marquee: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
                return 2
            except packs.PackError as exc:
                print(f"marquee: {args.file} was not imported (nothing changed):", file=sys.stderr)
                for problem in exc.problems[:20]:
                    print(f"  {problem}", file=sys.stderr)
                return 1
            report = await packs.load_pack(store, pack, now=SystemClock().now(), force=args.force)
            if report.skipped:
                print(f"{report.pack} version {report.version} is already loaded; nothing changed "
                      "(raise [pack].version, or use --force)")
            else:
                print(f"imported {report.pack} version {report.version}: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))
                for moved in report.moved:
                    print(f"  release moved: {moved.title_slug} {moved.region} {moved.medium}: "
                          f"{moved.old.date} -> {moved.new.date}")
            return 0
        if action == "export":
            loaded = await packs.global_pack_slugs(store)
            slug = args.pack or (loaded[0] if len(loaded) == 1 else None)
            if slug is None or slug not in loaded:
                print(f"marquee: choose a pack with --pack ({', '.join(loaded) or 'none loaded'})", file=sys.stderr)
                return 2
            pack = await packs.export_pack(store, slug)
            text = packs.dumps_json(pack) if args.format == "json" else packs.dumps_toml(pack)
            if args.output:
                args.output.write_text(text, encoding="utf-8")
                print(f"exported {slug} to {args.output}")
            else:
                sys.stdout.write(text)
            return 0
    return 2


async def _tmdb(settings: Settings, store: Store, args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.tmdb import Source, TMDBAuthError, TMDBError, TMDBService

    service = TMDBService(store=store, clock=SystemClock(), base_url=settings.tmdb_api_url,
                          token=settings.require_tmdb_token())
    try:
        if args.db_command == "search-tmdb":
            hits = await service.search(" ".join(args.query))
            for hit in hits:
                print(f"{hit.kind:<10} {hit.tmdb_id:<9} {hit.label}")
            if not hits:
                print("nothing found at TMDB")
            else:
                print("import one with: marquee db import-tmdb --collection ID | --movie ID | --tv ID")
            return 0
        if args.db_command == "import-tmdb":
            kind = next(k for k in ("collection", "movie", "tv") if getattr(args, k))
            await _prepare_store(store)  # the shipped packs first: their franchises can be shared
            result = await service.import_source(Source(kind, getattr(args, kind)), franchise=args.franchise)
            counts = result.report.counts
            print(f"imported {result.source} ({result.name}) as global data in franchise {result.franchise}: "
                  f"{result.titles} titles, {counts.get('people_added', 0)} people added, "
                  f"{counts.get('people_updated', 0)} updated")
            _print_moves(result.moved)
            return 0
        outcome = await service.refresh()
        print(f"refreshed {len(outcome.done)} TMDB imports" + (f", {len(outcome.failed)} failed" if outcome.failed
                                                              else ""))
        for link, error in outcome.failed:
            print(f"  failed: {link.pack_name}: {error}", file=sys.stderr)
        _print_moves(outcome.moved)
        return 1 if outcome.failed and not outcome.done else 0
    except TMDBAuthError as exc:
        print(f"marquee: {exc}", file=sys.stderr)
        return 2
    except TMDBError as exc:
        print(f"marquee: {exc} (nothing changed)", file=sys.stderr)
        return 1


def _print_moves(moves: Sequence[Any]) -> None:
    for moved in moves:
        print(f"  release moved: {moved.title_slug} {moved.region} {moved.medium}: "
              f"{moved.old.date or 'TBA'} -> {moved.new.date or 'TBA'}")


async def _copy(store: Store, url: str) -> int:
    from db.copy import copy_store
    from db.store import is_postgres_url

    if not is_postgres_url(url):
        print("marquee: --to must be a postgresql:// URL (the database to copy into)", file=sys.stderr)
        return 2
    async with Store.open(url) as target:
        copied = await copy_store(store, target)
        where = target.path  # the URL without its password
    print(f"copied {sum(copied.values()):,} rows to {where}, every table's count checked:")
    for table, n in copied.items():
        print(f"  {table:<20} {n:>9,}")
    print(f"now set MARQUEE_DATABASE={where} (with its password) and start the bot")
    return 0
