"""Find titles and people from what a member typed: slug, name, alias, prefix, then typos.

Pure and synchronous. A `SearchIndex` is built once from `SearchEntry` rows and then kept up to date
entry by entry (`update`), so a catalog of 100,000 titles is never indexed twice. Every query does
bounded work whatever the catalog size:

- exact names, aliases and slugs: one dict look-up;
- prefixes of a name (tier 1) and of its second word onwards (tier 2): sorted arrays, one per key
  length, walked shortest first, so the best-ranked prefix hits come first and the walk stops at `limit`;
- typos, only when those found too few: in a small index, rapidfuzz over every name; in a big one, a
  SymSpell-style deletion index over the words of the names finds the words one edit away from each
  typed word, the rarest typed words pick the candidates, and at most 25 of them are scored.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import sys
import unicodedata
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat, takewhile
from operator import attrgetter, itemgetter, methodcaller
from typing import Any, NamedTuple

from rapidfuzz import fuzz, process

from db.models import SearchEntry

# Tiers, best first. A lower number always beats a higher one; fuzzy scores break ties inside tier 3.
EXACT, PREFIX, WORD_PREFIX, FUZZY = 0, 1, 2, 3
FUZZY_SUGGEST = 60.0  # worth offering as "did you mean"
FUZZY_RESOLVE = 80.0  # good enough to answer without asking...
FUZZY_MARGIN = 3.0  # ...when clearly ahead of the runner-up
_WORD = re.compile(r"[^\w]+", re.UNICODE)
# In ASCII, what _WORD and the underscore make a space: all but letters and digits (lower case, once folded)
_ASCII_SPACES = bytes(c if chr(c).isalnum() and not chr(c).isupper() else 32 for c in range(256))
# Typo suggestions are only worth their cost when names and prefixes found little.
FUZZY_WHEN_FEWER = 5
# Below this many names, typo search scores every name with rapidfuzz's WRatio (C, but about 1.3 µs a name:
# 0.18 ms at 100 names, 2.5 ms at 2,000); above it, candidates come from the word index (0.1-0.2 ms at any
# size, bench/README.md). The John Wick pack (30 titles and aliases, 69 people) stays on the scan.
WORD_INDEX_MIN = 100
SCORED_MAX = 25  # typo candidates scored exactly (word_score) per query, at most
CANDIDATES_MAX = 64  # names a typo query looks at before scoring, at most
CANDIDATES_MIN = 24  # ...and at least, however few hits it wants
INTERSECT_MAX = 5_000  # a typed word matching more names than this is too common to intersect on
SETS_MAX_ITEMS = 200_000  # names held in the sets of recently intersected words, at most (about 12 MB)
DERIVED_MAX_ITEMS = 100_000  # names held in the intersections remembered for typed words, at most (about 6 MB)
PREFIX_WORDS_MAX = 32  # words of the vocabulary a typed word is taken as the prefix of, at most
TYPO_MIN_LEN = 3  # shorter words are matched by prefix only ("of", "2")
TYPING_WORDS_MAX = 128  # words compared with the unfinished last word of a query, at most
TYPING_MIN = 75.0  # how close the start of a word must be to an unfinished typed word
LOOKED_UP_MAX = 512  # typed words whose matches are remembered
WALK_SCAN = 64  # keys read past a prefix's first to tell which lengths it has, at most
_BUCKETS = 40  # prefix keys longer than this share one bucket (in name order, not length order)
_ALT_BITS = 6  # a choice id is entry id << 6 | which text (0: the name, 1..: the aliases); 32 bits
_ALTS_MAX = (1 << _ALT_BITS) - 1
_COVERAGES = 128  # names with fewer spaces have their coverage factor looked up
_SPACES_MAX = 255  # what SearchIndex._spaces holds, at most


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: 'Chapter 3 – Parabellum' -> 'chapter 3 parabellum'."""
    folded = text.casefold()
    if folded.isascii():  # most names: a byte table, 4x faster than the regex (300,000 names at start)
        return " ".join(folded.encode("ascii").translate(_ASCII_SPACES).decode("ascii").split())
    # NFKD and the combining marks only matter outside ASCII (the slow part)
    decomposed = unicodedata.normalize("NFKD", folded)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.sub(" ", folded).replace("_", " ").split())


class Hit(NamedTuple):  # a tuple: made several times per keystroke, three times faster than a frozen dataclass
    entry: SearchEntry
    tier: int
    score: float  # 0..100, higher is better
    matched: str  # the name or alias that matched

    @property
    def key(self) -> tuple[int, float, int, str, str]:
        return (self.tier, -self.score, len(self.entry.name), self.entry.name, self.entry.slug)


Rank = Callable[[int], tuple[Any, ...]]
_HIT_KEY = Hit.key.fget  # sorted(hits, key=_HIT_KEY): one call a hit, not a lambda and the property


class _Prefixes:
    """Keys (normalised names, or their tails from a later word) by length, each length sorted.

    Walking the lengths upwards yields prefix matches best first (a shorter key scores higher), so a
    query stops after `limit` entries; each length costs one bisect. Owners are choice ids, kept in
    (key, slug, which text) order: found and removed by bisection, and in the order a fresh build has.
    """

    def __init__(self, rank: Rank) -> None:
        self._rank = rank
        self._keys: list[list[str]] = [[] for _ in range(_BUCKETS + 1)]
        self._owners: list[array[int]] = [array("I") for _ in range(_BUCKETS + 1)]
        # Every key in one sorted list too: one bisect tells a query that nothing starts with it (a typo),
        # instead of one per length.
        self._all: list[str] = []

    def add_many(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Index these (key, choice id) pairs, given in rank order."""
        rank = self._rank
        by_bucket: dict[int, list[tuple[str, int]]] = {}
        for key, cid in pairs:
            by_bucket.setdefault(min(len(key), _BUCKETS), []).append((key, cid))
        added = [key for new in by_bucket.values() for key, _ in new]
        if len(added) * 8 < len(self._all):
            for key in added:
                bisect.insort(self._all, key)
        elif added:
            self._all = sorted([*self._all, *added])
        for b, new in by_bucket.items():
            keys, owners = self._keys[b], self._owners[b]
            if not keys:  # the first build: `pairs` come in rank order, so a stable sort by key is enough
                merged = sorted(new, key=itemgetter(0))
                self._keys[b] = [k for k, _ in merged]
                self._owners[b] = array("I", [c for _, c in merged])
            elif len(new) * 8 < len(keys):  # a few: insert each in place
                for key, cid in new:
                    lo = bisect.bisect_left(keys, key)
                    hi = bisect.bisect_right(keys, key, lo)
                    at = bisect.bisect_left(owners, rank(cid), lo, hi, key=rank)
                    keys.insert(at, key)
                    owners.insert(at, cid)
            else:  # many (an import): one sort of the bucket
                merged = sorted([*zip(keys, owners, strict=True), *new], key=lambda kc: (kc[0], rank(kc[1])))
                self._keys[b] = [k for k, _ in merged]
                self._owners[b] = array("I", [c for _, c in merged])

    def remove(self, key: str, cid: int) -> None:
        b = min(len(key), _BUCKETS)
        keys, owners = self._keys[b], self._owners[b]
        lo = bisect.bisect_left(keys, key)
        hi = bisect.bisect_right(keys, key, lo)
        at = bisect.bisect_left(owners, self._rank(cid), lo, hi, key=self._rank)
        if at < hi and owners[at] == cid:
            del keys[at]
            del owners[at]
            at = bisect.bisect_left(self._all, key)
            if at < len(self._all) and self._all[at] == key:
                del self._all[at]

    def first(self, query: str) -> int:
        """Where the first key starting with `query` is in `_all`, or -1 when none does (one bisect)."""
        at = bisect.bisect_left(self._all, query)
        return at if at < len(self._all) and self._all[at].startswith(query) else -1

    def equal(self, key: str) -> list[int]:
        """The choice ids whose key is exactly `key`, in rank order."""
        b = min(len(key), _BUCKETS)
        keys = self._keys[b]
        lo = bisect.bisect_left(keys, key)
        hi = lo
        while hi < len(keys) and keys[hi] == key:
            hi += 1
        return list(self._owners[b][lo:hi])

    def walk(self, query: str, per_length: int, at: int | None = None) -> Iterator[list[tuple[str, int]]]:
        """For each key length, shortest first, the (key, choice id) pairs whose key starts with `query`
        (at most `per_length` of them); lengths without any are skipped. `at`: first(query), when known."""
        if at is None:
            at = self.first(query)
        if at < 0:
            return
        # The keys starting with it sit together in `_all`: when there are few, their lengths name the only
        # buckets worth a bisect (a name typed in full has one or two, against up to 40 lengths to look at).
        run = self._all[at:at + WALK_SCAN]
        if len(run) < WALK_SCAN or not run[-1].startswith(query):
            buckets: Iterable[int] = sorted({min(len(key), _BUCKETS) for key in takewhile(
                methodcaller("startswith", query), run)})
        else:
            buckets = range(min(len(query), _BUCKETS), _BUCKETS + 1)
        for b in buckets:
            keys = self._keys[b]
            at = bisect.bisect_left(keys, query)
            if at == len(keys) or not keys[at].startswith(query):
                continue
            end = min(len(keys), at + per_length)
            stop = at + 1
            while stop < end and keys[stop].startswith(query):
                stop += 1
            yield list(zip(keys[at:stop], self._owners[b][at:stop], strict=True))


class _Words:
    """The words of every name, with the names each occurs in and a SymSpell deletion index.

    A word is indexed under itself and each form with one letter deleted; a typed word looks up the
    same forms, so one look-up per form finds every word within one insertion, deletion, substitution
    or transposition (and some at two), which rapidfuzz then confirms. Words keep their ids (the
    vocabulary of names grows slowly); a word whose names are all gone has no postings, leaves `sorted`
    and is skipped by the deletion look-ups, so it is never offered, just as a fresh build lacks it. Postings
    are kept in `order` (shortest name first), so a query that can only look at some of a common word's
    names looks at the best ones, and an index updated in place looks at the same ones as a fresh build.
    """

    def __init__(self, order: Rank) -> None:
        self._order = order
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.postings: list[array[int]] = []  # word id -> choice ids, unique, in `order`
        self.sorted: list[str] = []  # for prefix look-ups
        self.deletes: dict[str, int | list[int]] = {}
        # The postings of the words most recently intersected, as sets: two common words typed with a typo
        # ('jhon wi', 'chaptr 4') are typed a letter at a time, and a set of 4,000 names takes longer to
        # make than to intersect. Dropped for a word as soon as its postings change.
        self._sets: OrderedDict[int, frozenset[int]] = OrderedDict()
        self._set_items = 0
        # The matches of the words last typed: each keystroke after 'jhon ' looks 'jhon' up again, and the
        # command a member sends repeats the words of its last keystroke. Emptied whenever a word's names change.
        self._looked_up: OrderedDict[tuple[str, bool], dict[int, float]] = OrderedDict()
        # Intersections worked out from a typed word, by (word, typing, -1) for the names with any word it
        # matches and (word, typing, word id) for those that also have that word: as 'jhon w', 'jhon wi', 'jhon
        # wic' are typed, 'jhon' meets the same words ('wick') again. Emptied whenever a word's names change.
        self._derived: OrderedDict[tuple[str, bool, int], frozenset[int]] = OrderedDict()
        self._derived_items = 0

    def _word_id(self, word: str, batch: list[str]) -> int:
        wid = self.ids.get(word)
        if wid is None:
            wid = self.ids[word] = len(self.words)
            self.words.append(word)
            self.postings.append(array("I"))
            batch.append(word)
            if len(word) >= TYPO_MIN_LEN:
                for form in {word, *_deletions(word)}:
                    held = self.deletes.get(form)
                    if held is None:
                        self.deletes[form] = wid
                    elif isinstance(held, int):
                        self.deletes[form] = [held, wid]
                    else:
                        held.append(wid)
        return wid

    def add_many(self, choices: list[tuple[str, int]]) -> None:
        """Index these (normalised text, choice id) pairs, given in `order`."""
        self._changed()
        batch: list[str] = []  # the words to add to `sorted`: new ones, and known ones that had no names left
        new: dict[int, list[int]] = {}
        known = len(self.words)
        for norm, cid in choices:
            for word in dict.fromkeys(norm.split(" ")):
                new.setdefault(self._word_id(word, batch), []).append(cid)
        order = self._order
        for wid, cids in new.items():
            self._forget_set(wid)
            posting = self.postings[wid]
            if not posting:
                if wid < known:
                    batch.append(self.words[wid])
                posting.extend(cids)
            elif len(cids) * 8 < len(posting):
                for cid in cids:
                    bisect.insort(posting, cid, key=order)
            else:
                self.postings[wid] = array("I", sorted([*posting, *cids], key=order))
        if len(batch) * 8 < len(self.sorted):
            for word in batch:
                bisect.insort(self.sorted, word)
        elif batch:
            self.sorted = sorted([*self.sorted, *batch])

    def remove(self, norm: str, cid: int) -> None:
        self._changed()
        for word in dict.fromkeys(norm.split(" ")):
            wid = self.ids.get(word)
            if wid is not None:
                self._forget_set(wid)
                posting = self.postings[wid]
                at = bisect.bisect_left(posting, self._order(cid), key=self._order)
                if at < len(posting) and posting[at] == cid:
                    del posting[at]
                    if not posting:  # a word no name has is not offered (nor is it in a fresh build's `sorted`)
                        at = bisect.bisect_left(self.sorted, word)
                        if at < len(self.sorted) and self.sorted[at] == word:
                            del self.sorted[at]

    def matches(self, token: str, *, typing: bool = False) -> dict[int, float]:
        """Word id -> how well it matches the typed word (100 when the word starts with it, as
        word_score counts it; else rapidfuzz's ratio), for the words worth looking at. `typing`: the
        word may be unfinished ('balerin'), so words whose start is one typo away count too. The caller
        must not change the dict: it is remembered."""
        key = (token, typing)
        found = self._looked_up.get(key)
        if found is None:
            found = self._looked_up[key] = self._matches(token, typing=typing)
            if len(self._looked_up) > LOOKED_UP_MAX:
                self._looked_up.popitem(last=False)
        else:
            self._looked_up.move_to_end(key)
        return found

    def _matches(self, token: str, *, typing: bool) -> dict[int, float]:
        found: dict[int, float] = {}
        at = bisect.bisect_left(self.sorted, token)
        for word in self.sorted[at:at + PREFIX_WORDS_MAX]:
            if not word.startswith(token):
                break
            found[self.ids[word]] = 100.0
        # An unfinished word of three letters ('red') is most likely the start of a word: its one-edit
        # neighbours ('rod', 'bed', ...) are many and rarely meant. Unless it starts none ('the nit'): a typo.
        if len(token) >= TYPO_MIN_LEN + (typing and bool(found)):
            for form in {token, *_deletions(token)}:
                held = self.deletes.get(form)
                if held is None:
                    continue
                for wid in (held,) if isinstance(held, int) else held:
                    if wid not in found and self.postings[wid]:  # a word no name has any more: not a match
                        found[wid] = fuzz.ratio(token, self.words[wid])
        if typing and len(token) >= 2 * TYPO_MIN_LEN - 2 and max(found.values(), default=0.0) < FUZZY_RESOLVE:
            # The words sharing its first two letters (a bounded slice of the sorted vocabulary), compared
            # by their start: one bisect and at most TYPING_WORDS_MAX rapidfuzz calls.
            at = bisect.bisect_left(self.sorted, token[:2])
            size = len(token)
            for word in self.sorted[at:at + TYPING_WORDS_MAX]:
                if not word.startswith(token[:2]):
                    break
                if len(word) > size:
                    score = fuzz.ratio(token, word[:size + 1], score_cutoff=TYPING_MIN)
                    if score:
                        wid = self.ids[word]
                        found[wid] = max(found.get(wid, 0.0), score)
        return found

    def posting_set(self, wid: int) -> frozenset[int]:
        held = self._sets.get(wid)
        if held is None:
            held = self._sets[wid] = frozenset(self.postings[wid])
            self._set_items += len(held)
            while self._set_items > SETS_MAX_ITEMS and len(self._sets) > 1:
                self._set_items -= len(self._sets.popitem(last=False)[1])
        else:
            self._sets.move_to_end(wid)
        return held

    def names_with_any(self, token: str, typing: bool) -> frozenset[int]:
        """The names that have one of the words matching this typed word."""
        key = (token, typing, -1)
        held = self._derived.get(key)
        if held is None:
            held = frozenset().union(*map(self.posting_set, self.matches(token, typing=typing)))
            self._remember(key, held)
        else:
            self._derived.move_to_end(key)
        return held

    def names_with_both(self, token: str, typing: bool, wid: int) -> frozenset[int]:
        """names_with_any(token, typing) that also have the word `wid` (a set intersection, in C, walking the
        smaller set)."""
        key = (token, typing, wid)
        held = self._derived.get(key)
        if held is None:
            held = self.names_with_any(token, typing) & self.posting_set(wid)
            self._remember(key, held)
        else:
            self._derived.move_to_end(key)
        return held

    def _remember(self, key: tuple[str, bool, int], held: frozenset[int]) -> None:
        self._derived[key] = held
        self._derived_items += len(held) + 1
        while self._derived_items > DERIVED_MAX_ITEMS and len(self._derived) > 1:
            self._derived_items -= len(self._derived.popitem(last=False)[1]) + 1

    def _changed(self) -> None:
        self._looked_up.clear()
        self._derived.clear()
        self._derived_items = 0

    def _forget_set(self, wid: int) -> None:
        held = self._sets.pop(wid, None)
        if held is not None:
            self._set_items -= len(held)

    def weight(self, found: dict[int, float]) -> int:
        return sum(len(self.postings[wid]) for wid in found)

    def best_first(self, found: dict[int, float]) -> list[int]:
        return sorted(found, key=lambda wid: (-found[wid], self.words[wid]))


@functools.cache
def _coverages(share: int) -> tuple[float, ...]:
    """word_score's coverage factor for `share` typed words, by the number of spaces in a name (0..127)."""
    return tuple(_coverage(share, spaces + 1) for spaces in range(_COVERAGES))


def _coverage(share: int, words_in_name: int) -> float:
    return 0.9 + 0.1 * min(1.0, share / words_in_name)


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1:] for i in range(len(word))]


class SearchIndex:
    def __init__(self, entries: Iterable[SearchEntry] = (), *, word_index_min: int = WORD_INDEX_MIN) -> None:
        # A server's hidden entries only shadow global ones: they are never found themselves.
        self.hidden: set[str] = set()
        self.word_index_min = word_index_min
        self._entries: list[SearchEntry | None] = []  # entry id -> entry (None: a free slot)
        # entry id -> normalised name and aliases ('' if empty): the name alone when it has no aliases
        # (most entries: a tuple each would cost 15 MB over 300,000 entries)
        self._norms: list[str | tuple[str, ...]] = []
        # entry id -> the spaces in its normalised name (255: that many or more), so that a typo walk finds a
        # name's coverage factor without reading its text (300 KB for 300,000 entries)
        self._spaces = array("B")
        self._free: list[int] = []
        self._by_slug: dict[str, int] = {}
        # Exact names and aliases are found in the whole-name keys (a bisect); only slugs whose normalised
        # form is neither a name nor 'the slug with spaces' ('lance-reddick') need a dict entry.
        self._exact: dict[str, int | list[int]] = {}
        self._whole = _Prefixes(self._rank)  # tier 1
        self._tails = _Prefixes(self._rank)  # tier 2: from the second word on
        self._words = _Words(self._order)
        self._choices = 0
        self._scan: dict[int, str] | None = None  # every choice, for a small index's rapidfuzz scan
        self.update(entries)

    # -- keeping it up to date --------------------------------------------------------------------

    def update(self, entries: Iterable[SearchEntry] = (), removed: Iterable[str] = ()) -> None:
        """Add or replace these entries (by slug) and drop the removed slugs; the result is the same as
        an index built from scratch over the new set. Cost: proportional to the entries changed."""
        for slug in removed:
            self._remove(slug)
        whole: list[tuple[str, int]] = []
        tails: list[tuple[str, int]] = []
        choices: list[tuple[str, int]] = []
        # In slug order, so that every list below is built in rank order and needs one sort by key at most.
        replacing = bool(self._by_slug or self.hidden)
        intern = sys.intern
        for entry in sorted(entries, key=attrgetter("slug")):
            if replacing:
                self._remove(entry.slug)
            if entry.hidden:
                self.hidden.add(entry.slug)
                continue
            eid = self._free.pop() if self._free else len(self._entries)
            norms = ((normalise(entry.name),) if not entry.aliases  # most entries
                     else tuple(normalise(text) for text in (entry.name, *entry.aliases[:_ALTS_MAX - 1])))
            held = norms[0] if len(norms) == 1 else norms
            spaces = min(norms[0].count(" "), _SPACES_MAX)
            if eid == len(self._entries):
                self._entries.append(entry)
                self._norms.append(held)
                self._spaces.append(spaces)
            else:
                self._entries[eid], self._norms[eid], self._spaces[eid] = entry, held, spaces
            self._by_slug[entry.slug] = eid
            for alt, norm in enumerate(norms):
                if not norm:
                    continue
                cid = eid << _ALT_BITS | alt
                whole.append((norm, cid))
                # 450,000 tails of 300,000 names are 80,000 texts ('reddick', 'chapter 2'): one copy of each
                if " " in norm:
                    tails.extend([(intern(tail), cid) for tail in _tails(norm)])
                choices.append((norm, cid))
                self._choices += 1
            slug_form = _odd_slug_form(entry.slug)
            if slug_form and slug_form not in norms:
                self._exact_add(slug_form, eid << _ALT_BITS)
        self._whole.add_many(whole)
        self._tails.add_many(tails)
        choices.sort(key=lambda pair: (len(pair[0]), pair[0]))  # stable: then by slug and text, as _order
        self._words.add_many(choices)
        self._scan = None

    def _rank(self, cid: int) -> tuple[str, int]:
        """A choice's place among equal keys: by slug, then name before aliases (the same in any build)."""
        entry = self._entries[cid >> _ALT_BITS]
        assert entry is not None
        return entry.slug, cid & _ALTS_MAX

    def _order(self, cid: int) -> tuple[int, str, str, int]:
        """A choice's place in a word's postings: shortest text first (word_score favours it), then as _rank."""
        norm = self._norm(cid)
        return len(norm), norm, *self._rank(cid)

    def _texts(self, eid: int) -> tuple[str, ...]:
        held = self._norms[eid]
        return (held,) if isinstance(held, str) else held

    def _norm(self, cid: int) -> str:
        held = self._norms[cid >> _ALT_BITS]
        return held if isinstance(held, str) else held[cid & _ALTS_MAX]

    def _remove(self, slug: str) -> None:
        self.hidden.discard(slug)
        eid = self._by_slug.pop(slug, None)
        if eid is None:
            return
        entry, norms = self._entries[eid], self._texts(eid)
        assert entry is not None
        for alt, norm in enumerate(norms):
            if not norm:
                continue
            cid = eid << _ALT_BITS | alt
            self._whole.remove(norm, cid)
            for tail in _tails(norm):
                self._tails.remove(tail, cid)
            self._words.remove(norm, cid)
            self._choices -= 1
        slug_form = _odd_slug_form(slug)
        if slug_form and slug_form not in norms:
            self._exact_remove(slug_form, eid << _ALT_BITS)
        self._entries[eid], self._norms[eid] = None, ()
        self._free.append(eid)
        self._scan = None

    def _exact_add(self, norm: str, cid: int) -> None:
        held = self._exact.get(norm)
        if held is None:
            self._exact[norm] = cid
        elif isinstance(held, int):
            if held != cid:
                self._exact[norm] = [held, cid]
        elif cid not in held:
            held.append(cid)

    def _exact_remove(self, norm: str, cid: int) -> None:
        held = self._exact.get(norm)
        if held == cid:
            del self._exact[norm]
        elif isinstance(held, list) and cid in held:
            held.remove(cid)
            if len(held) == 1:
                self._exact[norm] = held[0]

    # -- reading ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_slug)

    def by_slug(self, slug: str) -> SearchEntry | None:
        eid = self._by_slug.get(slug)
        return None if eid is None else self._entries[eid]

    def _owner(self, cid: int) -> tuple[SearchEntry, str]:
        entry = self._entries[cid >> _ALT_BITS]
        assert entry is not None
        alt = cid & _ALTS_MAX
        return entry, entry.name if alt == 0 else entry.aliases[alt - 1]

    def search(self, query: str, limit: int = 25, *, fuzzy_cutoff: float = FUZZY_SUGGEST,
               fuzzy: bool = True, names: bool = True) -> list[Hit]:
        """The best hits for the query, at most one per entry, best first. `names=False` skips the exact and
        prefix tiers (the caller just looked there and found nothing)."""
        q = normalise(query)
        if not q:
            return []
        best: dict[str, Hit] = {}
        if names:
            self._names(query, q, limit, best)
        # A name that starts with all that was typed means the member is typing that name: typos are looked
        # for only when nothing, or only a later word of some names, fits as typed.
        typing_a_name = any(hit.tier <= PREFIX for hit in best.values())
        if fuzzy and len(best) < min(limit, FUZZY_WHEN_FEWER) and self._choices and not typing_a_name:
            # With real prefix hits, only close typos are worth adding after them.
            cutoff = max(fuzzy_cutoff, FUZZY_RESOLVE) if best else fuzzy_cutoff
            score_of = word_scorer(q)
            norms, entries = self._norms, self._entries
            for cid in self._typo_candidates(q, limit, cutoff):
                held = norms[cid >> _ALT_BITS]
                alt = cid & _ALTS_MAX
                score = score_of(held if held.__class__ is str else held[alt])
                if score >= cutoff:  # as _offer, inline (25 a keystroke): a better tier the entry has stays
                    entry = entries[cid >> _ALT_BITS]
                    assert entry is not None
                    hit = Hit(entry, FUZZY, score, entry.name if alt == 0 else entry.aliases[alt - 1])
                    kept = best.get(entry.slug)
                    if kept is None or hit.key < kept.key:
                        best[entry.slug] = hit
        return sorted(best.values(), key=_HIT_KEY)[:limit]

    def _offer(self, best: dict[str, Hit], cid: int, tier: int, score: float) -> None:
        entry, text = self._owner(cid)
        hit = Hit(entry, tier, score, text)
        held = best.get(entry.slug)
        if held is None or hit.key < held.key:
            best[entry.slug] = hit

    def _names(self, query: str, q: str, limit: int, best: dict[str, Hit]) -> None:
        """The exact tier (a slug, a name, an alias) and the prefix tiers."""
        def offer(cid: int, tier: int, score: float) -> None:
            self._offer(best, cid, tier, score)

        for slug in (query, q.replace(" ", "-")):  # a slug as autocomplete sends it, or typed with spaces
            eid = self._by_slug.get(slug)
            if eid is not None:
                offer(eid << _ALT_BITS, EXACT, 100.0)
        # A name, or its part from some word on, starts with what was typed only if every word before the last
        # is one of its words: a dict look-up each, before any bisect of the big sorted lists ('jhon wi').
        ids = self._words.ids
        spelt = all(word in ids for word in q.split(" ")[:-1])
        # A name equal to what was typed starts with it: one bisect tells a typo that neither look-up has any.
        starts = self._whole.first(q) if spelt else -1
        for cid in self._whole.equal(q) if starts >= 0 else ():
            offer(cid, EXACT, 100.0)
        held = self._exact.get(q)
        for cid in () if held is None else (held,) if isinstance(held, int) else held:
            offer(cid, EXACT, 100.0)
        # Prefix of a whole name/alias (tier 1), then of its n-th word onwards (tier 2): a tier-2 hit never
        # beats a tier-1 one, so the tails are only walked when the names found too few.
        for tier, prefixes in ((PREFIX, self._whole), (WORD_PREFIX, self._tails)):
            if len(best) >= limit or not spelt:
                break
            # Keys of one length score alike and rank by the entry's name: look at several per length.
            for found in prefixes.walk(q, limit * 4, starts if prefixes is self._whole else None):
                for key, cid in found:
                    offer(cid, tier, 100.0 * len(q) / len(key))
                if len(best) >= limit:
                    break

    def _typo_candidates(self, q: str, limit: int, cutoff: float) -> list[int]:
        """At most min(limit * 3, SCORED_MAX) choice ids worth scoring exactly, most promising first."""
        wanted = min(limit * 3, SCORED_MAX)
        if self._choices < self.word_index_min:
            # A small index: rapidfuzz (C) ranks every name; word_score then rejects partial matches such
            # as "the matrix" ~ "wick THE fan cut".
            if self._scan is None:
                cids = sorted((eid << _ALT_BITS | alt for eid in range(len(self._norms))
                               for alt, norm in enumerate(self._texts(eid)) if norm), key=self._rank)
                self._scan = {cid: self._norm(cid) for cid in cids}
            return [cid for _, _, cid in process.extract(q, self._scan, scorer=fuzz.WRatio, processor=None,
                                                         limit=wanted, score_cutoff=cutoff)]
        return self._word_candidates(q, wanted, cutoff)

    def _word_candidates(self, q: str, wanted: int, cutoff: float) -> list[int]:
        tokens = q.split(" ")
        variants = [tokens, *_splits_and_joins(tokens, self._words.ids)]
        scores: dict[int, float] = {}
        # Resolving a typed option wants the best two: a few names each way are enough (and each one looked at
        # is a read from a big index that is rarely in the CPU's cache).
        budget = min(CANDIDATES_MAX, max(CANDIDATES_MIN, 4 * wanted))
        if len(variants) == 1:  # each name once: no best-of to keep
            return [cid for cid, _ in self._word_prescores(tokens, cutoff, budget, wanted)]
        for variant in variants:
            for cid, score in self._word_prescores(variant, cutoff, budget):
                if score > scores.get(cid, -1.0):
                    scores[cid] = score
        return heapq.nlargest(wanted, scores, key=scores.__getitem__)

    def _word_prescores(self, tokens: list[str], cutoff: float, budget: int = CANDIDATES_MAX,
                        wanted: int = 0) -> list[tuple[int, float]]:
        """Choices sharing enough words with the typed ones, with word_score's estimate from those words
        (with `wanted`, only the best `wanted` of them, best first: see _walk).

        A choice reaches `cutoff` only if the typed words it matches weigh (by length) at least
        cutoff% of the query; so the candidates come from the rarest typed words alone, just enough of
        them that the other words could not reach the cutoff without one of these. When even those are
        common ('ryan chen'), the names matching several typed words (a set intersection, in C) come first.

        A typed word's matching words are walked best first, so a name is first met through the best of
        them: that word's score is the name's for this typed word, without reading the name's other words.
        """
        words = self._words
        matches = [words.matches(token, typing=k == len(tokens) - 1) for k, token in enumerate(tokens)]
        norm = self._norm
        if len(tokens) == 1:  # only the name's word count is left to read
            found = matches[0]
            return self._walk([(words.postings[wid], found[wid], found[wid]) for wid in words.best_first(found)],
                              1, budget, wanted)
        weights = [len(token) for token in tokens]
        total = sum(weights)
        need = cutoff / 100.0 * total
        sizes = [words.weight(m) for m in matches]
        order = sorted(range(len(tokens)), key=sizes.__getitem__)
        rest = total
        chosen: list[int] = []
        for k in order:
            if rest < need:
                break
            if matches[k]:
                chosen.append(k)
            rest -= weights[k]

        # Each typed word's score by the text of the matching words: a name's words are looked up in these few
        # entries, not in the whole vocabulary (a read from a big dict that is rarely in the CPU's cache).
        text = words.words
        scored = [({text[wid]: s for wid, s in m.items()}.get, w) for m, w in zip(matches, weights, strict=True)]
        zeros = repeat(0.0)
        share = len(tokens)

        read_bound = 0.0  # as `read` sums, with each typed word's best score and a coverage of 1
        for m, w in zip(matches, weights, strict=True):
            read_bound += max(m.values(), default=0.0) * w
        read_bound /= total

        def read(cid: int) -> float:  # every typed word by the best of the name's words
            name_words = norm(cid).split(" ")
            raw = 0.0
            for score, w in scored:
                raw += max(map(score, name_words, zeros)) * w
            return raw / total * _coverage(share, len(name_words))

        def known(per_token: dict[int, float]) -> tuple[float, float]:  # the typed words' scores are known
            raw = 0.0
            for k, w in enumerate(weights):  # summed as `read` sums them: the same float
                raw += per_token.get(k, 0.0) * w
            base = raw / total  # _walk then multiplies it by the coverage, as `read` does
            return base, base

        segments: list[tuple[Iterable[int], float | Callable[[int], float], float]] = []
        by_reading = (read, read_bound)
        pair: list[int] = []  # the two typed words, when the names they share are all walked first
        if sum(sizes[k] for k in chosen) > budget:
            common = [k for k in order if matches[k] and sizes[k] <= INTERSECT_MAX]
            if len(common) >= 2:
                # From a finished word (of two or more, one is not the last, which may be a letter longer at the
                # next keystroke), whose intersections with the next word's matching words are remembered.
                anchor = next(k for k in common if k != len(tokens) - 1)
                others = [k for k in common if k != anchor]
                shared: frozenset[int] | set[int] = set().union(*(
                    words.names_with_both(tokens[anchor], False, wid) for wid in matches[others[0]]))
                for k in others[1:]:  # in C, walking the smaller set each time
                    shared = set().union(*(shared & words.posting_set(wid) for wid in matches[k]))
                first = matches[common[0]]
                pair = common if len(tokens) == 2 else []
                # A shared name's score for the pair's second word is known when all the words matching it
                # score alike (a typed prefix's words all score 100).
                alike = set(matches[pair[1]].values()) if pair else set()
                for wid in words.best_first(first):
                    scores = known({common[0]: first[wid], pair[1]: min(alike)}) if len(alike) == 1 else by_reading
                    segments.append((filter(shared.__contains__, words.postings[wid]), *scores))
        for k in chosen:
            found = matches[k]
            for wid in words.best_first(found):
                # Outside the shared names, the pair's other word matches none of the name's words: it scores 0.
                segments.append((words.postings[wid], *(known({k: found[wid]}) if k in pair else by_reading)))
        return self._walk(segments, share, budget, wanted)

    def _walk(self, segments: list[tuple[Iterable[int], float | Callable[[int], float], float]], share: int,
              budget: int, wanted: int = 0) -> list[tuple[int, float]]:
        """Each name of the segments once, with its prescore from the first segment it is in, until `budget`
        names: all of them in the order met or, with `wanted`, the best `wanted` (a tie keeps the name met
        first), best first.

        A segment is (names, prescore, bound). The prescore is a function of the name, or a number that the
        coverage factor of the name's word count (of `share` typed words) multiplies. No name of the segment
        prescores above `bound`: with `wanted`, the walk stops once no name left could enter the best.
        """
        norms, spaces_of, coverages = self._norms, self._spaces, _coverages(share)
        rest: list[float] = []  # the best bound of each segment and those after it
        for *_, bound in reversed(segments):
            rest.append(max(bound, rest[-1]) if rest else bound)
        rest.reverse()
        seen: set[int] = set()
        met = 0  # len(seen)
        walked: list[tuple[int, float]] = []
        best: list[tuple[float, int, int]] = []  # with `wanted`: (prescore, -order met, name), a min-heap
        room = wanted  # places left in `best`
        floor = -1.0  # the lowest prescore in `best` once it is full
        for (cids, prescore, _), ahead in zip(segments, rest, strict=True):
            if floor >= ahead or met >= budget:
                break
            read = None if prescore.__class__ is float else prescore
            for cid in cids:
                if cid in seen:
                    continue
                seen.add(cid)
                met += 1
                if read is None:
                    spaces = spaces_of[cid >> _ALT_BITS]
                    if cid & _ALTS_MAX or spaces == _SPACES_MAX:  # an alias, or a name of 255 words or more
                        held = norms[cid >> _ALT_BITS]
                        spaces = (held if held.__class__ is str else held[cid & _ALTS_MAX]).count(" ")
                    score = prescore * (coverages[spaces] if spaces < _COVERAGES else _coverage(share, spaces + 1))
                else:
                    score = read(cid)
                if not wanted:
                    walked.append((cid, score))
                elif room:
                    heapq.heappush(best, (score, -met, cid))
                    room -= 1
                    if not room:
                        floor = best[0][0]
                elif score > floor:
                    heapq.heapreplace(best, (score, -met, cid))
                    floor = best[0][0]
                if met >= budget or floor >= ahead:
                    break  # and the check above ends the walk
        if wanted:
            return [(cid, score) for score, _, cid in sorted(best, reverse=True)]
        return walked

    def resolve(self, query: str) -> SearchEntry | None:
        """The one entry the member meant, or None when nothing is close enough."""
        hits = self.search(query, limit=2, fuzzy=False)  # the cheap tiers first: no fuzzy scan when they answer
        if hits:
            top = hits[0]
            tied = len(hits) > 1 and (hits[1].tier, hits[1].score) == (top.tier, top.score)
            if top.tier == EXACT or not tied:
                return top.entry  # an exact name wins; a prefix only when no other one fits as well
            return None  # several fit equally: ask which one
        hits = self.search(query, limit=2, names=False)  # typos only: no name fits as typed
        if not hits:
            return None
        top = hits[0]
        runner_up = hits[1].score if len(hits) > 1 else 0.0
        if top.score >= FUZZY_RESOLVE and top.score - runner_up >= FUZZY_MARGIN:
            return top.entry
        return None


_PLAIN_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _odd_slug_form(slug: str) -> str:
    """normalise(slug) when search() cannot find the slug from it by putting hyphens back ('' otherwise)."""
    return "" if _PLAIN_SLUG.fullmatch(slug) else normalise(slug)


def _tails(norm: str) -> Iterator[str]:
    """'john wick chapter 2' -> 'wick chapter 2', 'chapter 2', '2'."""
    at = norm.find(" ")
    while at >= 0:
        yield norm[at + 1:]
        at = norm.find(" ", at + 1)


def _splits_and_joins(tokens: list[str], vocabulary: dict[str, int]) -> Iterator[list[str]]:
    """The typed words with a missing or an extra space fixed ('johnwick', 'bal lerina'), when the
    result is made of known words: the deletion index only sees one word at a time."""
    for k, token in enumerate(tokens):
        if len(token) >= 2 * TYPO_MIN_LEN and token not in vocabulary:
            for cut in range(TYPO_MIN_LEN - 1, len(token) - TYPO_MIN_LEN + 2):
                if token[:cut] in vocabulary and token[cut:] in vocabulary:
                    yield [*tokens[:k], token[:cut], token[cut:], *tokens[k + 1:]]
                    break
    for k in range(len(tokens) - 1):
        joined = tokens[k] + tokens[k + 1]
        if joined in vocabulary:
            yield [*tokens[:k], joined, *tokens[k + 2:]]


def word_score(query: str, choice: str) -> float:
    """How well every word of the query matches some word of the choice (typos allowed), 0..100.

    Each query word is scored against its best choice word (a prefix counts fully), weighted by
    length and by how much of the choice the query covers; whole-string similarity wins when it is
    higher ('balerina' ~ 'ballerina').
    """
    return word_scorer(query)(choice)


def word_scorer(query: str) -> Callable[[str], float]:
    """word_score(query, ·): the query's words are split and weighed once, for the 25 choices it is scored on."""
    # Each typed word with the ratios it already has: the choices scored for one query share many words.
    tokens = [(" " + token, token, len(token), {}) for token in query.split(" ")]
    share, query_size = len(tokens), len(query)
    weight = 0.0
    for _, _, size, _ in tokens:
        weight += size
    ratio = fuzz.ratio

    # 25 calls a keystroke: conditional expressions, not min() and max() (a builtin call each, half the cost).
    def score(choice: str) -> float:
        spaced = " " + choice
        words = None
        total = 0.0
        for spaced_token, token, size, known in tokens:
            if spaced_token in spaced:  # some word starts with it (words are one space apart)
                total += 100.0 * size
            else:  # the closest word (rapidfuzz's ratio, in C, once per word)
                if words is None:
                    words = choice.split(" ")
                best = 0.0
                for word in words:
                    held = known.get(word)
                    if held is None:
                        held = known[word] = ratio(token, word)
                    if held > best:
                        best = held
                total += best * size
        # A choice with many words the query does not mention is a slightly worse fit.
        words_in = choice.count(" ") + 1
        coverage = share / words_in if share < words_in else 1.0
        by_words = (total / weight if weight else 0.0) * (0.9 + 0.1 * coverage)
        # The whole strings' ratio is at most 200 * the shorter length / both lengths (rapidfuzz's Indel
        # distance is at least their difference): not worth computing when that cannot beat the words.
        size = len(choice)
        if 200.0 * (size if size < query_size else query_size) / (size + query_size) < by_words - 1e-6:
            return by_words
        whole = ratio(query, choice)
        return whole if whole > by_words else by_words

    return score


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


__all__ = ["EXACT", "FUZZY", "PREFIX", "WORD_PREFIX", "Hit", "SearchIndex", "merge", "normalise", "word_score",
           "word_scorer"]
