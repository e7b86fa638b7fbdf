"""The search indexes alone: start-up cost, memory, per-query cost, and the alternative they beat.

    python bench/search_index.py --database bench/synthetic.sqlite3
    python bench/search_index.py --database bench/synthetic.sqlite3 --compare   # + rapidfuzz batch scorers

Opens the catalog as `marquee run` does (Store.open, then Catalog.warm, with the bot's modules imported),
and prints the time to build the global indexes and the process's RSS before and after. Then it times
each query (microseconds per call, median of --repeat calls) through the index: resolve (what a typed
option costs) and search(limit 25) (what an autocomplete keystroke costs).

--sizes times typo queries on indexes of 25 to 1,999 titles from the database, both ways: rapidfuzz's scan of
every name (what an index under search.WORD_INDEX_MIN does) and the word index, and counts how often the two
resolve a typo alike: where the one overtakes the other, which is where WORD_INDEX_MIN belongs.

--compare also times typo candidates found the other way: rapidfuzz's batch scorers over precomputed
arrays of every normalised name (process.extract with a score cut-off, and process.cdist on all cores),
which is what a typo query costs when no index narrows the names first. The database is copied to a
temporary folder first (the bot's migrations run on the copy), so the original is never changed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.app  # noqa: F401  (the bot's modules, so the RSS is the bot's)
from bot import search
from bot.catalog import Catalog
from db.store import Store

TITLE_QUERIES = ["ballerina", "balerina", "parabelum", "jhon wick", "johnwick", "contnental from the world",
                 "the continetal", "chaptr 4", "secret shadow", "xyzzy"]
PERSON_QUERIES = ["lance-reddick", "lance redick", "reddik", "keanu reves", "ian mcshan", "ryan chen"]
KEYSTROKES = ["b", "ba", "bal", "ball", "balle", "baller", "balleri", "ballerin", "ballerina", "bale", "balerin",
              "j", "jo", "joh", "john", "john w", "john wi", "jhon wi", "l", "la", "lance", "lance r", "lance redd"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def per_call_us(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="marquee-bench-") as tmp:
        copy = Path(tmp) / "marquee.sqlite3"
        shutil.copyfile(args.database, copy)
        await measure(args, copy)


async def measure(args: argparse.Namespace, database: Path) -> None:
    gc.collect()
    before = rss_mb()
    async with Store.open(database) as store:
        catalog = Catalog(store)
        started = time.perf_counter()
        await catalog.warm()
        took = time.perf_counter() - started
        gc.collect()
        after = rss_mb()
        titles, people = catalog._titles.global_, catalog._people.global_
        assert titles.index is not None and people.index is not None
        print(f"database: {args.database}")
        print(f"indexes built in {took:.2f} s: {len(titles.index):,} titles in {titles.build_seconds:.2f} s, "
              f"{len(people.index):,} people in {people.build_seconds:.2f} s (each: load, then build)")
        print(f"RSS: {before:.0f} MB with the bot's modules imported, {after:.0f} MB with the indexes "
              f"(+{after - before:.0f} MB)\n")
        print(f"{'query':32} {'resolve us':>11} {'search25 us':>12}  answer")
        for index, queries_ in ((titles.index, TITLE_QUERIES), (people.index, PERSON_QUERIES)):
            for q in queries_:
                found = index.resolve(q)
                print(f"{q:32} {per_call_us(lambda q=q, ix=index: ix.resolve(q), args.repeat):11.1f} "
                      f"{per_call_us(lambda q=q, ix=index: ix.search(q, 25), args.repeat):12.1f}  "
                      f"{found.slug if found else '-'}")
        print("\nautocomplete keystrokes (search, limit 25):")
        worst = 0.0
        for q in KEYSTROKES:
            index = people.index if q.startswith("l") else titles.index
            us = per_call_us(lambda q=q, ix=index: ix.search(q, 25), args.repeat)
            worst = max(worst, us)
            print(f"  {q!r:14} {us:8.1f} us  {[h.entry.slug for h in index.search(q, 3)]}")
        print(f"  slowest keystroke: {worst:.1f} us")
        if args.compare:
            compare(titles.index, people.index, args.repeat)
        if args.sizes:
            sizes(titles.index, args.repeat)


def sizes(titles: search.SearchIndex, repeat: int) -> None:
    """The scan of every name against the word index, by index size, on one-letter typos of the names."""
    import random

    rng = random.Random(3)
    entries = [e for e in titles._entries if e is not None and len(e.name) > 4]
    rng.shuffle(entries)
    print(f"\ntypos by index size (us per query, median of {max(3, repeat // 40)} rounds; scan below "
          f"WORD_INDEX_MIN = {search.WORD_INDEX_MIN}):")
    print(f"  {'names':>6} {'scan resolve':>13} {'scan search25':>14} {'words resolve':>14} {'words search25':>15}"
          "  resolved alike")
    for n in (25, 50, 100, 200, 400, 1000, 1999):
        subset = entries[:n]
        queries = []
        for entry in subset[:60]:
            name = search.normalise(entry.name)
            at = rng.randrange(len(name))
            queries.append(name[:at] + name[at + 1:])  # one letter dropped
        scan = search.SearchIndex(subset, word_index_min=sys.maxsize)
        words = search.SearchIndex(subset, word_index_min=0)
        cells = []
        for index in (scan, words):
            for call in (lambda ix, q: ix.resolve(q), lambda ix, q: ix.search(q, 25)):
                us = per_call_us(lambda ix=index, c=call, qs=queries: [c(ix, q) for q in qs], max(3, repeat // 40))
                cells.append(us / len(queries))
        alike = sum((scan.resolve(q) or 0) == (words.resolve(q) or 0) for q in queries)
        print(f"  {n:6,} {cells[0]:13.0f} {cells[1]:14.0f} {cells[2]:14.0f} {cells[3]:15.0f}  "
              f"{alike}/{len(queries)}")


def compare(titles: search.SearchIndex, people: search.SearchIndex, repeat: int) -> None:
    """Typo candidates by scoring every name with rapidfuzz's batch scorers (the alternative to the index)."""
    from rapidfuzz import fuzz, process

    print("\nrapidfuzz batch scorers over every normalised name (precomputed list), per query:")
    for label, index, q in (("titles", titles, "balerina"), ("people", people, "lance redick"),
                            ("titles", titles, "jhon wick")):
        names = [n for eid in range(len(index._norms)) for n in index._texts(eid) if n]
        for scorer, cutoff in ((fuzz.WRatio, 80.0), (fuzz.ratio, 80.0)):
            us = per_call_us(lambda s=scorer, c=cutoff, n=names, q=q: process.extract(
                q, n, scorer=s, processor=None, limit=6, score_cutoff=c), max(3, repeat // 20))
            print(f"  {label} {q!r:14} process.extract {scorer.__name__:7} cutoff {cutoff:.0f}: {us / 1e3:8.2f} ms "
                  f"over {len(names):,} names")
        try:
            us = per_call_us(lambda n=names, q=q: process.cdist([q], n, scorer=fuzz.ratio, processor=None,
                                                               score_cutoff=80.0, workers=-1), max(3, repeat // 20))
            print(f"  {label} {q!r:14} process.cdist   ratio   all cores : {us / 1e3:8.2f} ms")
        except ModuleNotFoundError:  # cdist returns a numpy matrix; numpy is not a dependency
            print(f"  {label} {q!r:14} process.cdist   (needs numpy, not installed)")
        us = per_call_us(lambda ix=index, q=q: ix._word_candidates(q, 6, 60.0), repeat)
        print(f"  {label} {q!r:14} deletion index candidates     : {us / 1e3:8.3f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=200, help="calls per query (median reported)")
    parser.add_argument("--compare", action="store_true", help="also time rapidfuzz's batch scorers")
    parser.add_argument("--sizes", action="store_true", help="also time the scan and the word index by index size")
    asyncio.run(main(parser.parse_args()))
