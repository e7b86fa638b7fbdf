import pytest

from bot.search import SearchIndex, normalise
from db import queries


@pytest.fixture
async def indexes(loaded):
    titles = SearchIndex(await queries.title_search_entries(loaded, None))
    people = SearchIndex(await queries.person_search_entries(loaded, None))
    return titles, people


@pytest.mark.parametrize(("query", "slug"), [
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
])
async def test_titles_resolve(indexes, query, slug):
    titles, _ = indexes
    entry = titles.resolve(query)
    assert entry is not None and entry.slug == slug


@pytest.mark.parametrize(("query", "slug"), [
    ("reddick", "lance-reddick"),
    ("Lance Reddick", "lance-reddick"),
    ("keanu", "keanu-reeves"),
    ("stahelski", "chad-stahelski"),
    ("ana de armas", "ana-de-armas"),
    ("skarsgard", "bill-skarsgard"),
])
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


def test_typos_resolve_in_a_big_catalog_through_the_trigram_candidates():
    """Above TRIGRAM_MIN names, fuzzy candidates come from the trigram index: the answers stay right."""
    import random

    from bot import search
    from db.models import SearchEntry

    rng = random.Random(7)
    words = ["Ballet", "Ballad", "Ballroom", "Reddington", "Lancer", "Night", "Harbor", "Engine", "Shadow",
             "Crown", "Wick", "Wicked", "Chapter", "Continental", "Parable", "Bella", "Rina", "Eve"]
    entries = [SearchEntry(f"t{i}", " ".join(rng.sample(words, 3)) + f" {i}") for i in range(search.TRIGRAM_MIN)]
    entries += [SearchEntry("ballerina", "Ballerina"), SearchEntry("lance-reddick", "Lance Reddick"),
                SearchEntry("the-continental", "The Continental: From the World of John Wick")]
    index = search.SearchIndex(entries)
    assert index._trigrams is not None
    assert index.resolve("balerina").slug == "ballerina"
    assert index.resolve("lance redick").slug == "lance-reddick"
    assert index.resolve("contnental from the world").slug == "the-continental"
