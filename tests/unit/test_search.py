import copy
import random

import pytest

from bot import search
from bot.catalog import Catalog
from bot.search import SearchIndex, normalise
from db import packs, queries
from db.models import SearchEntry
from tests.conftest import NOW


@pytest.fixture
async def indexes(loaded):
    titles = SearchIndex(await queries.title_search_entries(loaded, None))
    people = SearchIndex(await queries.person_search_entries(loaded, None))
    return titles, people


TITLE_CASES = [
    ("balle", "ballerina"),
    ("balerina", "ballerina"),
    ("Ballerina", "ballerina"),
    ("BALLERINA", "ballerina"),
    ("parabellum", "john-wick-chapter-3-parabellum"),
    ("jw4", "john-wick-chapter-4"),
    ("JW1", "john-wick"),
    ("continental", "the-continental"),
    ("The Continental", "the-continental"),
    ("wick 2", "john-wick-chapter-2"),
    ("john wick", "john-wick"),
    ("John Wick: Chapter 3 - Parabellum", "john-wick-chapter-3-parabellum"),
    ("From the World of John Wick: Ballerina", "ballerina"),
    ("ballerina", "ballerina"),
    ("jhon wick", "john-wick"),
]
PEOPLE_CASES = [
    ("reddick", "lance-reddick"),
    ("Lance Reddick", "lance-reddick"),
    ("lance redick", "lance-reddick"),
    ("keanu", "keanu-reeves"),
    ("stahelski", "chad-stahelski"),
    ("ana de armas", "ana-de-armas"),
    ("skarsgard", "bill-skarsgard"),
]


@pytest.mark.parametrize(("query", "slug"), TITLE_CASES)
async def test_titles_resolve(indexes, query, slug):
    titles, _ = indexes
    entry = titles.resolve(query)
    assert entry is not None and entry.slug == slug


@pytest.mark.parametrize(("query", "slug"), PEOPLE_CASES)
async def test_people_resolve(indexes, query, slug):
    _, people = indexes
    entry = people.resolve(query)
    assert entry is not None and entry.slug == slug


@pytest.mark.parametrize("query", ["xyzzy", "", "   ", "'; DROP TABLE titles; --", "@everyone"])
async def test_nonsense_resolves_to_nothing(indexes, query):
    titles, _ = indexes
    assert titles.resolve(query) is None


async def test_search_is_bounded_and_unique(indexes):
    titles, _ = indexes
    hits = titles.search("john", limit=3)
    assert len(hits) == 3
    assert len({h.entry.slug for h in hits}) == 3
    assert hits[0].entry.slug == "john-wick"  # the shortest name that starts with the query


def test_normalise_folds_case_accents_and_punctuation():
    assert normalise("John Wick: Chapter 3 – Parabellum") == "john wick chapter 3 parabellum"
    assert normalise("Bill Skarsgård") == "bill skarsgard"
    assert normalise("\x00\u202e") == ""


def _big_catalog(n: int = 6000) -> list[SearchEntry]:
    """Random names from a small vocabulary (so words are shared, as in a real catalog) plus a few real ones."""
    rng = random.Random(7)
    words = ["Ballet", "Ballad", "Ballroom", "Reddington", "Lancer", "Night", "Harbor", "Engine", "Shadow",
             "Crown", "Wick", "Wicked", "Chapter", "Continental", "Parable", "Bella", "Rina", "Eve", "Reed",
             "Lane", "Ryan", "Chen", "Bryan"]
    entries = [SearchEntry(f"t{i}", " ".join(rng.sample(words, 3)) + f" {i}") for i in range(n)]
    return [
        *entries,
        SearchEntry("ballerina", "Ballerina", ("From the World of John Wick: Ballerina",), extra=("2025",)),
        SearchEntry("lance-reddick", "Lance Reddick"),
        SearchEntry("the-continental", "The Continental: From the World of John Wick", ("continental",)),
        SearchEntry("john-wick", "John Wick", ("JW1", "John Wick: Chapter 1")),
        SearchEntry("john-wick-chapter-4", "John Wick: Chapter 4", ("jw4", "John Wick 4")),
    ]


@pytest.mark.parametrize(("query", "slug"), [
    ("balerina", "ballerina"),  # one letter missing
    ("ballerinna", "ballerina"),  # one extra
    ("ballarina", "ballerina"),  # one wrong
    ("lance redick", "lance-reddick"),
    ("lacne reddick", "lance-reddick"),  # two letters swapped
    ("reddik", "lance-reddick"),
    ("contnental from the world", "the-continental"),
    ("jhon wick", "john-wick"),
    ("johnwick", "john-wick"),  # a missing space
    ("bal lerina", "ballerina"),  # an extra one
    ("jw4", "john-wick-chapter-4"),
    ("john wick", "john-wick"),
])
def test_typos_resolve_in_a_big_catalog_through_the_word_index(query, slug):
    index = SearchIndex(_big_catalog())
    assert index._choices >= search.WORD_INDEX_MIN  # the deletion index answers, not a scan of every name
    entry = index.resolve(query)
    assert entry is not None and entry.slug == slug


@pytest.mark.parametrize("query", ["xyzzy", "matrix reloaded", "zzz zzz"])
def test_nonsense_resolves_to_nothing_in_a_big_catalog(query):
    assert SearchIndex(_big_catalog()).resolve(query) is None


async def test_the_word_index_answers_the_john_wick_pack_as_the_scan_does(loaded):
    """Forced onto the deletion index, the shipped pack still resolves every typo and nickname the same."""
    for loader, cases in ((queries.title_search_entries, TITLE_CASES), (queries.person_search_entries, PEOPLE_CASES)):
        entries = await loader(loaded, None)
        scan, words = SearchIndex(entries), SearchIndex(entries, word_index_min=0)
        for query, slug in cases:
            assert scan.resolve(query).slug == slug
            assert words.resolve(query).slug == slug, query


def test_prefixes_rank_shortest_first_however_many_match():
    """Autocomplete looks at a bounded slice: the best prefix hits, even behind thousands of others."""
    entries = [SearchEntry(f"b{i}", f"Ballad of Engine {i}") for i in range(3000)]
    entries += [SearchEntry(f"w{i}", f"The Ball {i}") for i in range(3000)]  # tier 2: a later word
    entries.append(SearchEntry("ballerina", "Ballerina"))
    index = SearchIndex(entries)
    hits = index.search("ba", 25)
    assert len(hits) == 25
    assert hits[0].entry.slug == "ballerina"  # a whole name first, and the shortest
    assert all(h.tier == search.PREFIX for h in hits)
    assert index.search("ball 7", 3)[0].entry.name == "The Ball 7"
    assert [h.entry.name for h in index.search("ballad of engine 12", 3)] == [
        "Ballad of Engine 12", "Ballad of Engine 120", "Ballad of Engine 121"]


def test_typo_scoring_is_bounded(monkeypatch):
    """However common the typed words, at most SCORED_MAX candidates are scored exactly."""
    scored = []
    original = search.word_scorer

    def counting(query):
        score = original(query)

        def counted(choice):
            scored.append(choice)
            return score(choice)

        return counted

    monkeypatch.setattr(search, "word_scorer", counting)
    index = SearchIndex(_big_catalog())
    for query in ("ballt nigth", "wicj chaptr", "x", "rnia"):
        scored.clear()
        index.search(query, 25)
        assert len(scored) <= search.SCORED_MAX


def _answers(index: SearchIndex, queries_: list[str]) -> list[tuple]:
    return [(q, [(h.entry, h.tier, round(h.score, 6), h.matched) for h in index.search(q, 25)],
             getattr(index.resolve(q), "slug", None)) for q in queries_]


ASKED = ["balerina", "ballet", "ba", "b", "lance redick", "reddik", "wick", "jhon wick", "chapter 4", "ryan chen",
         "the continental", "eve", "xyzzy", "harbr engin", "new name", "renamed", "jw4"]


@pytest.mark.parametrize("word_index_min", [0, search.WORD_INDEX_MIN])
def test_updates_in_place_answer_as_a_fresh_build(word_index_min):
    """Adding, changing and removing entries gives exactly the index a build over the new set gives."""
    rng = random.Random(11)
    entries = {e.slug: e for e in _big_catalog(3000)}
    index = SearchIndex(entries.values(), word_index_min=word_index_min)
    for step in range(4):
        added = [SearchEntry(f"new-{step}-{i}", f"New Name {rng.randint(0, 99)} Harbor", ("nn",)) for i in range(40)]
        # Two common words the last step's "harbr engin" intersected (and remembered as sets) gain names.
        added += [SearchEntry(f"he-{step}-{i}", f"Harbor Engine {step}{i}") for i in range(5)]
        changed = [entries[slug]._replace(name=f"Renamed {slug}", aliases=("Eve Crown",))
                   for slug in rng.sample(sorted(entries), 30)]
        removed = rng.sample(sorted(entries), 50)
        removed = [slug for slug in removed if slug not in {e.slug for e in changed}]
        for entry in added + changed:
            entries[entry.slug] = entry
        for slug in removed:
            del entries[slug]
        index.update(added + changed, removed=removed)
        fresh = SearchIndex(entries.values(), word_index_min=word_index_min)
        assert len(index) == len(fresh) == len(entries)
        words = index._words
        assert all(held == set(words.postings[wid]) for wid, held in words._sets.items())  # none left stale
        assert not words._derived  # what was worked out from typed words went with the change
        assert _answers(index, ASKED) == _answers(fresh, ASKED)
        assert step == 0 or words._sets  # the intersections did remember sets
        assert words._derived  # ...and what they worked out from the typed words, which is still right:
        for (token, typing, wid), held in words._derived.items():
            names = set().union(*(words.postings[w] for w in words.matches(token, typing=typing)))
            assert held == (names if wid < 0 else names & set(words.postings[wid]))
        assert index.by_slug(removed[0]) is None and index.search(removed[0]) == fresh.search(removed[0])


def test_a_word_whose_names_are_all_gone_is_never_matched():
    """'jwa' starts no word once 'Jwalk Story' is removed, so it is read as a typo of 'jw1', as a fresh build does."""
    index = SearchIndex([SearchEntry("jwalk", "Jwalk Story"), SearchEntry("jw1", "JW1")], word_index_min=0)
    index.update(removed=["jwalk"])
    fresh = SearchIndex([SearchEntry("jw1", "JW1")], word_index_min=0)
    for query in ("jwa", "jwalk", "jwalk story", "jw"):
        assert index.search(query) == fresh.search(query), query
    assert [h.entry.slug for h in index.search("jwa")] == ["jw1"]
    index.update([SearchEntry("jwalk", "Jwalk Story")])  # back again: a prefix once more
    assert [h.entry.slug for h in index.search("jwa")] == ["jwalk"]


def test_hidden_entries_shadow_and_come_back():
    index = SearchIndex([SearchEntry("ballerina", "Ballerina", hidden=True), SearchEntry("eve", "Eve")])
    assert index.hidden == {"ballerina"} and index.resolve("ballerina") is None
    index.update([SearchEntry("ballerina", "Ballerina")])
    assert not index.hidden and index.resolve("balerina").slug == "ballerina"
    index.update(removed=["ballerina"])
    assert index.resolve("ballerina") is None and len(index) == 1


async def test_the_catalog_updates_its_global_indexes_in_place(loaded, john_wick_pack):
    """A new pack version (renamed, added, dropped titles and people, new aliases) reaches the running
    indexes through the store's change log: the same index objects, answering as a fresh build does."""
    catalog = Catalog(loaded)
    await catalog.warm()
    titles, people = catalog._titles.global_.index, catalog._people.global_.index
    pack = copy.deepcopy(john_wick_pack)
    pack["pack"]["version"] += 1
    by_slug = {t["slug"]: t for t in pack["titles"]}
    by_slug["ballerina"]["name"] = "Ballerina: The Ruska Roma"
    by_slug["ballerina"]["aliases"] = ["Ruska Roma"]
    dropped = pack["titles"].pop(next(i for i, t in enumerate(pack["titles"]) if t["slug"] == "the-continental"))
    pack["titles"].append({**by_slug["john-wick"], "slug": "winter-harbor", "name": "Winter Harbor", "aliases": [],
                           "cast": [], "crew": [], "watch": []})
    pack["people"].append({"slug": "ada-lovelace", "name": "Ada Lovelace", "aliases": ["Countess"], "source": "seed"})
    await packs.load_pack(loaded, packs.normalise(pack), now=NOW)

    assert (await catalog.find_title(None, "winter harbr"))[0].slug == "winter-harbor"
    assert (await catalog.find_title(None, "ruska rma"))[0].slug == "ballerina"
    assert (await catalog.find_title(None, dropped["name"]))[0] is None
    assert (await catalog.find_person(None, "countess"))[0].slug == "ada-lovelace"
    assert catalog._titles.global_.index is titles and catalog._people.global_.index is people  # not rebuilt
    fresh_titles = SearchIndex(await queries.title_search_entries(loaded, None))
    fresh_people = SearchIndex(await queries.person_search_entries(loaded, None))
    asked = ["ballerina", "balerina", "ruska", "winter", "continental", "john wick", "jw4", "b", "parabellum"]
    assert _answers(titles, asked) == _answers(fresh_titles, asked)
    assert _answers(people, ["ada", "countess", "keanu", "reddick"]) == _answers(fresh_people,
                                                                                ["ada", "countess", "keanu", "reddick"])


def _word_score_by_definition(query: str, choice: str) -> float:
    """word_score as its docstring defines it, with every ratio computed (no shortcut)."""
    from rapidfuzz import fuzz

    tokens, words = query.split(" "), choice.split(" ")
    total = sum((100.0 if any(w.startswith(t) for w in words) else max(fuzz.ratio(t, w) for w in words)) * len(t)
                for t in tokens)
    by_words = total / sum(map(len, tokens)) * (0.9 + 0.1 * min(1.0, len(tokens) / len(words)))
    return max(by_words, fuzz.ratio(query, choice))


def test_word_score_is_its_definition_on_random_pairs():
    # word_scorer skips the whole strings' ratio when its bound cannot beat the words: never a different score.
    rng = random.Random(7)
    vocabulary = ["john", "jhon", "wick", "wi", "ballerina", "balerina", "a", "the", "continental", "chapter",
                  "4", "lance", "reddick", "redick", "keanu", "reeves", "x", "parabellum"]
    for _ in range(3000):
        query = " ".join(rng.choices(vocabulary, k=rng.randint(1, 3)))
        choice = " ".join(rng.choices(vocabulary, k=rng.randint(1, 6)))
        assert search.word_score(query, choice) == pytest.approx(_word_score_by_definition(query, choice), abs=1e-9), \
            (query, choice)


def test_a_typed_word_is_looked_up_again_after_an_update():
    """The matches of a typed word are remembered between keystrokes, never past a change."""
    entries = [SearchEntry("he", "Harbor Engine"), SearchEntry("ot", "Other Thing")]
    index = SearchIndex(entries, word_index_min=0)
    queries_asked = ("harbr engin", "harbr zzz", "harbor engine", "harbr")  # 'zzz' matches nothing
    before = [index.search(q) for q in queries_asked]
    assert ("harbr", False) in index._words._looked_up  # remembered
    assert index.search("harbr engin") == before[0]  # and answer the same again
    for added, removed in (([SearchEntry("hw", "Harbr Works")], []), ([], ["he"]), ([], ["hw"])):
        entries = [e for e in entries if e.slug not in removed] + added
        index.update(added, removed=removed)
        fresh = SearchIndex(entries, word_index_min=0)
        for query in queries_asked:
            assert index.search(query) == fresh.search(query), (query, added, removed)
        if added:
            assert [h.entry.slug for h in index.search("harbr zzz")] == ["hw"]  # found by its word "harbr" alone
