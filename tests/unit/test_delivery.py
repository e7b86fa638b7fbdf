"""The delivery rules alone: catch-up, lateness, batching, retries and what Discord's answers mean."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import delivery
from bot.budget import RequestBudget
from bot.delivery import Outage, Outcome, Retry, Verdict
from db.countdowns import LATE_OFFLINE, LATE_OUTAGE, Delivery, DeliveryKey, Subscription

T0 = dt.datetime(2027, 3, 1, 14, 0, tzinfo=dt.UTC)


def sub(sid: int = 1, channel: int = 100) -> Subscription:
    return Subscription(sid, 10, "channel", channel, None, 5, "film", "Film", "US", "theatrical", "7d,3d,1d,0",
                        None, 1, None)


def row(did: int, key: str, due: dt.datetime, *, sid: int = 1, state: str = "pending", batch: str | None = None,
        channel: int = 100) -> Delivery:
    return Delivery(did, sub(sid, channel), 1, DeliveryKey.parse(key), due, state, batch, 0, None, 0)


def test_delivery_keys_round_trip_and_say_what_they_are():
    for text in ("7d@2027-03-14", "12h@2027-03-14T19:00", "0@2027-03-14", "moved:12"):
        assert str(DeliveryKey.parse(text)) == text
    key = DeliveryKey.parse("7d@2027-03-14")
    assert (key.label, key.planned_for, key.is_move) == ("7d", "2027-03-14", False)
    assert DeliveryKey.parse("moved:12") == DeliveryKey.move(12) and DeliveryKey.move(12).is_move


def test_catch_up_posts_the_latest_missed_milestone_and_skips_the_older():
    due = [row(1, "7d@x", T0), row(2, "3d@x", T0 + dt.timedelta(days=4)), row(3, "moved:4", T0),
           row(4, "1d@x", T0, sid=2)]
    plan = delivery.catch_up(due)
    assert {d.id for d in plan.chosen} == {2, 3, 4}
    assert [d.id for d in plan.skipped] == [1]


def test_catch_up_never_skips_a_retry_of_an_earlier_attempt():
    due = [row(1, "7d@x", T0, state="claimed", batch="mq1-a"), row(2, "3d@x", T0 + dt.timedelta(days=4))]
    plan = delivery.catch_up(due)
    assert {d.id for d in plan.chosen} == {1, 2} and plan.skipped == []


def test_lateness_is_about_being_away_not_about_a_long_wave():
    # Seen in time: not late, however long the wave then takes (the pass started when it fell due).
    assert delivery.lateness(T0, T0 + dt.timedelta(seconds=10), None) == 0
    assert delivery.lateness(T0, T0 + delivery.LATE_AFTER, None) == 0
    # Nobody was dispatching when it fell due: the bot was offline.
    assert delivery.lateness(T0, T0 + dt.timedelta(hours=2), None) == LATE_OFFLINE
    # Its server was in an outage when it fell due.
    outage = Outage(T0 - dt.timedelta(minutes=1), T0 + dt.timedelta(hours=1))
    assert delivery.lateness(T0, T0 + dt.timedelta(hours=2), outage) == LATE_OUTAGE
    assert delivery.lateness(T0, T0 + dt.timedelta(hours=2), Outage(T0 + dt.timedelta(minutes=30))) == LATE_OFFLINE


def test_pack_lines_splits_at_line_boundaries_within_the_limit():
    lines = [(i, f"⏳ **{i} days** until **{'A very long title ' * 5}{i}**") for i in range(30)]
    reserved = 60
    messages = delivery.pack_lines(lines, reserved=reserved)
    assert [i for m in messages for i in m] == list(range(30))  # every line once, in order
    text = dict(lines)
    for ids in messages:
        assert sum(len(text[i]) + 1 for i in ids) + reserved <= delivery.MESSAGE_LIMIT
    assert len(messages) > 1
    assert delivery.pack_lines([(1, "one"), (2, "two")], reserved=10) == [[1, 2]]


def test_nonce_and_marker():
    nonce = delivery.nonce_for([12, 3, 7])
    assert nonce == delivery.nonce_for([3, 7, 12]) and len(nonce) <= 25 and nonce.startswith("mq3-")
    assert delivery.carries_marker("⏳ hello\n" + delivery.marker(nonce), nonce)
    assert not delivery.carries_marker("⏳ hello\n" + delivery.marker(delivery.nonce_for([4])), nonce)
    assert not delivery.carries_marker(f"someone quoted {delivery.marker(nonce)} and more", nonce)


def test_a_retry_older_than_the_nonce_window_is_never_sent_blind():
    window = dt.timedelta(seconds=90)
    assert delivery.retry_rule(None, T0, window) is Retry.SEND
    assert delivery.retry_rule(T0, T0 + dt.timedelta(seconds=60), window) is Retry.SEND
    assert delivery.retry_rule(T0, T0 + dt.timedelta(seconds=91), window) is Retry.CHECK_HISTORY
    assert delivery.history_verdict(can_read=True, found=True) is Verdict.SENT
    assert delivery.history_verdict(can_read=True, found=False) is Verdict.SEND
    assert delivery.history_verdict(can_read=False, found=False) is Verdict.UNCERTAIN


@pytest.mark.parametrize(("status", "code", "dm", "expected"), [
    (404, 10008, False, Outcome.SENT_DELETED),  # a retried nonce whose first message was deleted
    (404, 10003, False, Outcome.PAUSE),
    (403, 50013, False, Outcome.PAUSE),
    (403, 50001, False, Outcome.PAUSE),
    (403, 50007, True, Outcome.DMS_CLOSED),
    (429, 0, False, Outcome.RETRY),
    (503, 0, False, Outcome.RETRY),
    (400, 50035, False, Outcome.GIVE_UP),
])
def test_what_discords_answers_mean(status, code, dm, expected):
    assert delivery.outcome_of(status, code, dm=dm)[0] is expected


def test_backoff_doubles():
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_the_invalid_request_budget_holds_posts_back_near_the_limit():
    clock = [0.0]
    budget = RequestBudget(limit=10, window=600, reserve=0.2, now=lambda: clock[0])
    for status in (200, 204, 404, 500):
        budget.record(status)
    budget.record(429, "shared")  # Discord does not count shared 429s
    assert budget.count() == 0 and budget.pause_for() == 0
    for _ in range(7):
        budget.record(403)
    assert budget.pause_for() == 0  # 7 of 10, below the reserve of 2
    clock[0] = 100.0
    budget.record(401)
    assert budget.count() == 8 and budget.pause_for() == pytest.approx(500.0)  # the oldest leaves at 600 s
    clock[0] = 601.0
    assert budget.count() == 1 and budget.pause_for() == 0
