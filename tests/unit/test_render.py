import datetime as dt

import pytest

from bot import render
from db import models, queries
from tests.conftest import NOW

UTC = dt.UTC
FRANCHISE = models.Franchise(1, "x", "X")


def title(name="T", **kw):
    return models.Title(id=kw.pop("id", 1), slug="t", name=name, kind="film", status="released",
                        franchise=FRANCHISE, **kw)


def person(i, name=None):
    return models.Person(id=i, slug=f"p{i}", name=name or f"Person {i}")


def assert_within_limits(pages):
    assert pages
    for page in pages:
        assert render.check_limits(page) == []


def test_a_huge_cast_pages_without_losing_anyone():
    t = title()
    credits = [models.Credit(id=i, title=t, person=person(i, "N" * 100), kind="cast", character="C" * 100,
                             billing=i, note="n" * 200) for i in range(1, 301)]
    pages = render.cast_pages(t, credits, {})
    assert_within_limits(pages)
    assert len(pages) > 1
    text = "\n".join(p.description or "" for p in pages)
    assert text.count("N" * 100) == 300  # nobody is silently cut
    assert pages[0].footer.text.startswith(f"Page 1/{len(pages)}")


def test_pages_are_laid_out_at_once_and_built_when_shown():
    t = title()
    credits = [models.Credit(id=i, title=t, person=person(i), kind="cast", character=f"Role {i}", billing=i)
               for i in range(1, 66)]
    pages = render.cast_pages(t, credits, {"seed": "Seed"})
    assert len(pages) == 5  # 65 lines, 15 a page: the count is known before any page is built
    assert pages._built.count(None) == 5
    first = pages[0]
    assert pages._built.count(None) == 4 and pages[0] is first  # built once, then kept
    assert first.footer.text == "Page 1/5 · 65 credits"
    shown = [line for page in pages for line in page.description.split("\n")]
    assert shown == [f"**Person {i}** as Role {i}" for i in range(1, 66)]  # all of them, in order, once
    assert [p.footer.text[:8] for p in pages[1:3]] == ["Page 2/5", "Page 3/5"]
    assert pages[-1].description.count("\n") == 4 and len(pages[:10]) == 5


def test_hostile_text_is_inert():
    t = title("@everyone **bold** <@&123>\x00\u202e")
    credits = [models.Credit(id=1, title=t, person=person(1, "@here"), kind="cast", character="<@1> `x`")]
    pages = render.cast_pages(t, credits, {})
    assert_within_limits(pages)
    body = pages[0].description
    assert "@here" not in body.replace("@\u200bhere", "")
    assert "<@1>" not in body
    assert "\x00" not in pages[0].title and "\u202e" not in pages[0].title


def test_long_sections_split_into_fields_and_pages():
    sections = [render.Section(f"Job {j}", [f"line {i} " + "x" * 300 for i in range(20)]) for j in range(10)]
    pages = render.paginate("Crew", sections=sections)
    assert_within_limits(pages)
    joined = "".join(f.value for p in pages for f in p.fields)
    assert joined.count("line 19 ") == 10


@pytest.mark.parametrize("n_releases", [0, 1, 30])
def test_release_pages_stay_within_limits(n_releases):
    t = title()
    value = models.ReleaseValue(date=dt.date(2025, 6, 6), note="n" * 200, source="seed", as_of=dt.date(2023, 3, 24))
    history = tuple(models.HistoryEntry(models.ReleaseValue(date=dt.date(2024, 1, i + 1), note="old" * 60,
                                                            as_of=dt.date(2023, 1, 1)), NOW, "x")
                    for i in range(20))
    history = (*history, models.HistoryEntry(value, NOW, "x"))
    releases = [models.Release(id=i, title=t, region="US", medium="theatrical", value=value, history=history)
                for i in range(n_releases)]
    assert_within_limits(render.release_pages(t, releases, NOW, UTC, {"seed": "Seed article"}))


async def test_ballerina_release_shows_dates_and_history(loaded):
    t = await queries.get_title(loaded, "ballerina", None)
    releases = await queries.releases_for_title(loaded, t, None)
    [page] = render.release_pages(t, releases, NOW, UTC, await queries.source_names(loaded))
    field = page.fields[0]
    assert field.name == "United States · Theatrical"
    unix = int(dt.datetime(2025, 6, 6, 12, tzinfo=UTC).timestamp())
    assert f"<t:{unix}:D>" in field.value and f"<t:{unix}:R>" in field.value
    assert "days ago" not in field.value  # Discord's <t:…:R> says that; counting days is for what is ahead
    assert "June 7, 2024 → June 6, 2025" in field.value
    assert "Confirmed" in field.value


def test_countdown_wording():
    t = title("Film")
    def release(d):
        return models.Release(id=1, title=t, region="US", medium="theatrical", value=models.ReleaseValue(date=d))
    today = NOW.date()
    assert "3 days until **Film**" in render.countdown_pages(t, release(today + dt.timedelta(3)), True, NOW,
                                                              UTC)[0].description
    assert "1 day until" in render.countdown_pages(t, release(today + dt.timedelta(1)), True, NOW, UTC)[0].description
    assert "out today" in render.countdown_pages(t, release(today), True, NOW, UTC)[0].description
    assert "came out 10 days ago" in render.countdown_pages(t, release(today - dt.timedelta(10)), False, NOW,
                                                            UTC)[0].description
    assert "TBA" in render.countdown_pages(t, None, False, NOW, UTC)[0].description
