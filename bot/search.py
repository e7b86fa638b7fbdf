"""Find titles and people from what a member typed: slug, name, alias, prefix, then fuzzy.

Pure and synchronous: an index is built from `SearchEntry` rows and answers in microseconds for
exact and prefix queries (dict and bisect), falling back to rapidfuzz only for typos.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from db.models import SearchEntry

# Tiers, best first. A lower number always beats a higher one; fuzzy scores break ties inside tier 3.
EXACT, PREFIX, WORD_PREFIX, FUZZY = 0, 1, 2, 3
FUZZY_SUGGEST = 60.0  # worth offering as "did you mean"
FUZZY_RESOLVE = 80.0  # good enough to answer without asking...
FUZZY_MARGIN = 3.0  # ...when clearly ahead of the runner-up
_WORD = re.compile(r"[^\w]+", re.UNICODE)
# Above this many names, typo search first narrows the candidates with a trigram index.
TRIGRAM_MIN = 5000
TRIGRAM_CANDIDATES = 400
# Typo suggestions are only worth their cost when names and prefixes found little.
FUZZY_WHEN_FEWER = 5


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: 'Chapter 3 – Parabellum' -> 'chapter 3 parabellum'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.sub(" ", stripped).replace("_", " ").split())


@dataclass(frozen=True, slots=True)
class Hit:
    entry: SearchEntry
    tier: int
    score: float  # 0..100, higher is better
    matched: str  # the name or alias that matched

    @property
    def key(self) -> tuple[int, float, int, str]:
        return (self.tier, -self.score, len(self.entry.name), self.entry.name)


class SearchIndex:
    def __init__(self, entries: Iterable[SearchEntry]) -> None:
        entries = list(entries)
        # A server's hidden entries only shadow global ones: they are never found themselves.
        self.hidden: frozenset[str] = frozenset(e.slug for e in entries if e.hidden)
        self.entries: list[SearchEntry] = [e for e in entries if not e.hidden]
        self._by_slug: dict[str, int] = {}
        self._exact: dict[str, list[tuple[int, str]]] = {}
        keys: list[tuple[str, int, str, bool]] = []  # (normalised text, entry index, shown text, whole key?)
        self._choices: list[str] = []
        self._choice_owner: list[tuple[int, str]] = []
        for i, entry in enumerate(self.entries):
            self._by_slug[entry.slug] = i
            for text in (entry.name, *entry.aliases):
                norm = normalise(text)
                if not norm:
                    continue
                self._exact.setdefault(norm, []).append((i, text))
                words = norm.split(" ")
                keys.append((norm, i, text, True))
                for w in range(1, len(words)):
                    keys.append((" ".join(words[w:]), i, text, False))
                self._choices.append(norm)
                self._choice_owner.append((i, text))
            self._exact.setdefault(normalise(entry.slug), []).append((i, entry.name))
        keys.sort()
        self._keys = keys
        self._sorted = [k[0] for k in keys]
        self._trigrams: dict[str, array] | None = None
        if len(self._choices) >= TRIGRAM_MIN:
            postings: defaultdict[str, array] = defaultdict(lambda: array("I"))
            for position, choice in enumerate(self._choices):
                for gram in _grams(choice):
                    postings[gram].append(position)
            self._trigrams = dict(postings)

    def __len__(self) -> int:
        return len(self.entries)

    def by_slug(self, slug: str) -> SearchEntry | None:
        i = self._by_slug.get(slug)
        return None if i is None else self.entries[i]

    def search(self, query: str, limit: int = 25, *, fuzzy_cutoff: float = FUZZY_SUGGEST,
               fuzzy: bool = True) -> list[Hit]:
        """The best hits for the query, at most one per entry, best first."""
        q = normalise(query)
        if not q:
            return []
        best: dict[int, Hit] = {}

        def offer(i: int, tier: int, score: float, text: str) -> None:
            hit = Hit(self.entries[i], tier, score, text)
            if i not in best or hit.key < best[i].key:
                best[i] = hit

        if query in self._by_slug:
            i = self._by_slug[query]
            offer(i, EXACT, 100.0, self.entries[i].name)
        for i, text in self._exact.get(q, ()):
            offer(i, EXACT, 100.0, text)
        # Prefix of a whole name/alias (tier 1) or of its n-th word onwards (tier 2), via bisect.
        start = bisect.bisect_left(self._sorted, q)
        scanned = 0
        for pos in range(start, len(self._sorted)):
            if not self._sorted[pos].startswith(q):
                break
            _, i, text, whole = self._keys[pos]
            offer(i, PREFIX if whole else WORD_PREFIX, 100.0 * len(q) / max(len(self._sorted[pos]), 1), text)
            scanned += 1
            if scanned >= limit * 4:  # enough to rank the best; the index is sorted, not ranked
                break
        if fuzzy and len(best) < min(limit, FUZZY_WHEN_FEWER) and self._choices:
            # With real prefix hits, only close typos are worth adding after them.
            cutoff = max(fuzzy_cutoff, FUZZY_RESOLVE) if best else fuzzy_cutoff
            # rapidfuzz (C) picks candidates from the whole catalog; word-level rescoring (Python, on a
            # handful) then rejects partial matches such as "the matrix" ~ "wick THE fan cut".
            positions = self._candidates(q)
            choices = self._choices if positions is None else [self._choices[p] for p in positions]
            for choice, _, idx in process.extract(
                q, choices, scorer=fuzz.WRatio, processor=None, limit=limit * 3, score_cutoff=cutoff,
            ):
                score = word_score(q, choice)
                if score >= cutoff:
                    i, text = self._choice_owner[idx if positions is None else positions[idx]]
                    offer(i, FUZZY, score, text)
        return sorted(best.values(), key=lambda h: h.key)[:limit]

    def _candidates(self, query: str) -> list[int] | None:
        """Positions of the choices sharing the most trigrams with the query (None: scan them all)."""
        if self._trigrams is None:
            return None
        counts: Counter[int] = Counter()
        common = len(self._choices) // 40
        for gram in _grams(query):
            posting = self._trigrams.get(gram)
            if posting is not None and len(posting) < common:  # 'the', ' jo': in too many names to tell
                counts.update(posting)
        return [position for position, _ in counts.most_common(TRIGRAM_CANDIDATES)]

    def resolve(self, query: str) -> SearchEntry | None:
        """The one entry the member meant, or None when nothing is close enough."""
        hits = self.search(query, limit=2, fuzzy=False)  # the cheap tiers first: no fuzzy scan when they answer
        if hits:
            top = hits[0]
            tied = len(hits) > 1 and (hits[1].tier, hits[1].score) == (top.tier, top.score)
            if top.tier == EXACT or not tied:
                return top.entry  # an exact name wins; a prefix only when no other one fits as well
            return None  # several fit equally: ask which one
        hits = self.search(query, limit=2)
        if not hits:
            return None
        top = hits[0]
        runner_up = hits[1].score if len(hits) > 1 else 0.0
        if top.score >= FUZZY_RESOLVE and top.score - runner_up >= FUZZY_MARGIN:
            return top.entry
        return None


def _grams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def word_score(query: str, choice: str) -> float:
    """How well every word of the query matches some word of the choice (typos allowed), 0..100.

    Each query word is scored against its best choice word (a prefix counts fully), weighted by
    length and by how much of the choice the query covers; whole-string similarity wins when it is
    higher ('balerina' ~ 'ballerina').
    """
    words = choice.split(" ")
    total = weight = 0.0
    for token in query.split(" "):
        best = max(100.0 if w.startswith(token) else fuzz.ratio(token, w) for w in words)
        total += best * len(token)
        weight += len(token)
    # A choice with many words the query does not mention is a slightly worse fit.
    coverage = min(1.0, len(query.split(" ")) / len(words))
    return max((total / weight if weight else 0.0) * (0.9 + 0.1 * coverage), fuzz.ratio(query, choice))


def merge(hit_lists: Sequence[Sequence[Hit]], limit: int, hidden: Iterable[str] = ()) -> list[Hit]:
    """Merge hits from several indexes (a guild's own, then global); the first list shadows by slug."""
    seen: set[str] = set(hidden)
    out: list[Hit] = []
    for hits in hit_lists:
        for hit in hits:
            if hit.entry.slug not in seen:
                seen.add(hit.entry.slug)
                out.append(hit)
    return sorted(out, key=lambda h: h.key)[:limit]


__all__ = ["EXACT", "FUZZY", "PREFIX", "WORD_PREFIX", "Hit", "SearchIndex", "merge", "normalise"]
