"""Shared slot answers (`slotgraph.usecases.slot_answers`): served until a page notice, never
stored when a notice came during the computation, dropped when the clock could change them,
bounded in number, and holding a page's subscription only while something needs it."""

from __future__ import annotations

import datetime as dt

from slotgraph.notices.changes import PAGE
from slotgraph.notices.pubsub import InMemoryPubSub
from slotgraph.usecases.slot_answers import AnswerKey
from slotgraph.usecases.slot_answers import SlotAnswers
from slotgraph.usecases.slot_answers import expires_at

NOW = dt.datetime(2030, 1, 7, 8, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def key(page: int, duration: int = 30) -> AnswerKey:
    return (page, NOW, NOW + dt.timedelta(days=1), duration)


def stored(answers: SlotAnswers[str], page: int, value: str, duration: int = 30) -> bool:
    return answers.finish(answers.begin(key(page, duration)), value, LATER, NOW)


async def test_an_answer_is_served_until_a_notice_for_its_page() -> None:
    pubsub = InMemoryPubSub()
    answers: SlotAnswers[str] = SlotAnswers(pubsub, 10)
    assert stored(answers, 1, "one")
    assert stored(answers, 2, "two")
    assert answers.get(key(1), NOW) == "one"

    await pubsub.publish(PAGE, "1")
    assert answers.get(key(1), NOW) is None  # read synchronously: no task had to run
    assert answers.get(key(2), NOW) == "two"  # another page keeps its answer
    assert (answers.hits, answers.misses) == (2, 1)


async def test_a_notice_during_the_computation_voids_its_result() -> None:
    pubsub = InMemoryPubSub()
    answers: SlotAnswers[str] = SlotAnswers(pubsub, 10)
    ticket = answers.begin(key(1))
    await pubsub.publish(PAGE, "1")  # the booking committed while slots were computed
    assert not answers.finish(ticket, "old", LATER, NOW)
    assert answers.get(key(1), NOW) is None
    assert stored(answers, 1, "new")  # the next computation is kept
    assert answers.get(key(1), NOW) == "new"


async def test_a_reconnect_of_the_listener_drops_every_answer() -> None:
    pubsub = InMemoryPubSub()
    answers: SlotAnswers[str] = SlotAnswers(pubsub, 10)
    assert stored(answers, 1, "one")
    assert stored(answers, 2, "two")
    pubsub.resync()  # notices may have been missed while it was away
    assert answers.get(key(1), NOW) is None
    assert answers.get(key(2), NOW) is None


async def test_answers_expire_and_a_failed_computation_stores_nothing() -> None:
    answers: SlotAnswers[str] = SlotAnswers(InMemoryPubSub(), 10)
    assert answers.finish(answers.begin(key(1)), "one", LATER, NOW)
    assert answers.get(key(1), LATER - dt.timedelta(microseconds=1)) == "one"
    assert answers.get(key(1), LATER) is None
    assert not answers.finish(answers.begin(key(1)), None, LATER, NOW)
    assert not answers.finish(answers.begin(key(1)), "stale", NOW, NOW)  # expired already
    assert answers.pages_held == 0


async def test_the_least_recently_used_answers_go_first_and_free_their_subscriptions() -> None:
    pubsub = InMemoryPubSub()
    answers: SlotAnswers[str] = SlotAnswers(pubsub, 2)
    assert stored(answers, 1, "one")
    assert stored(answers, 2, "two")
    assert answers.get(key(1), NOW) == "one"  # page 2 is now the least recently used
    assert stored(answers, 3, "three")
    assert len(answers) == 2
    assert answers.get(key(2), NOW) is None
    assert answers.pages_held == 2
    assert pubsub.subscriber_count == 2  # page 2's subscription went with its answer
    answers.clear()
    assert (answers.pages_held, pubsub.subscriber_count) == (0, 0)


async def test_sharing_turned_off_keeps_nothing() -> None:
    answers: SlotAnswers[str] = SlotAnswers(InMemoryPubSub(), 0)
    assert not stored(answers, 1, "one")
    assert answers.get(key(1), NOW) is None


def test_an_answer_lives_until_the_clock_alone_could_change_it() -> None:
    listing = dt.timedelta(seconds=30)
    end = NOW + dt.timedelta(days=7)

    def until(**rules: object) -> dt.datetime:
        given: dict[str, object] = {
            "listing": listing,
            "first_slot": None,
            "minimum_notice": dt.timedelta(0),
            "booking_window": None,
            "window_end": end,
            **rules,
        }
        return expires_at(NOW, **given)  # type: ignore[arg-type]

    assert until() == NOW + listing  # C49: never older than a listing
    soon = NOW + dt.timedelta(minutes=60, seconds=10)
    assert until(first_slot=soon, minimum_notice=dt.timedelta(hours=1)) == NOW + dt.timedelta(
        seconds=10
    )  # then the first slot falls inside the minimum notice
    # The rolling booking window lets in the next whole-minute slot start.
    off_minute = NOW + dt.timedelta(seconds=45)
    window = dt.timedelta(days=2)
    assert expires_at(
        off_minute,
        listing=listing,
        first_slot=None,
        minimum_notice=dt.timedelta(0),
        booking_window=window,
        window_end=end,
    ) == NOW + dt.timedelta(minutes=1)
    assert until(booking_window=window) == NOW  # exactly on a minute: changes at once
    assert until(booking_window=dt.timedelta(days=30)) == NOW + listing  # past the window end
