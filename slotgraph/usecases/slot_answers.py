"""Shared slot answers: a page's free slots computed once per (page, window, duration) and
reused by every `availableSlots` request and live feed of this process until they may have
changed.

An answer is dropped when
- a change notice for its page arrives (`slotgraph.notices.changes`: a booking, a
  cancellation or decline, synced busy time, a page, settings or connection edit all
  publish the page's notice after commit, from any process), or the notice listener
  reconnects (notices may have been missed: the pub/sub seam wakes every subscriber);
- the clock reaches the moment the answer would change by time alone: its earliest slot
  falls inside the minimum notice, or the rolling booking window lets in a slot it cut off;
- it is `listing` old (`busy_cache_listing_seconds`): calendars that send no change notices
  (Exchange, CalDAV, push turned off) change without a notice, so no answer outlives the
  busy cache's own listing age (C49). One cap for every page keeps the rule simple; pages
  whose calendars all push lose a little sharing, never correctness.

Correctness first: no answer computed before a notice is served after it. Each page held
here has one `Subscription` to its notices, registered BEFORE its first computation, and
its wake-up flag is read synchronously on every lookup and every store (`take_pending`), so
there is no window in which a notice has arrived but a stale answer is still served, whichever
task the event loop runs first (a live feed woken by the same notice recomputes through here
and sees the notice too). A computation records the page's generation when it starts; its
result is stored only if no notice came in between.

`bookMeeting` and rescheduling never read from here: they read live (`page_slots(live=True)`).

Hand-rolled (an `OrderedDict` LRU) rather than `cachetools`: the point is the generation check
at store time and the per-page subscription lifetime, which no cache library offers.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Generic
from typing import TypeVar

from slotgraph.notices.changes import PAGE

if TYPE_CHECKING:
    from slotgraph.notices.pubsub import PubSub
    from slotgraph.notices.pubsub import Subscription

V = TypeVar("V")
# (page id, window start, window end, duration in minutes)
AnswerKey = tuple[int, dt.datetime, dt.datetime, int]


@dataclass(eq=False)
class _Page:
    """What is held for one page: its notice subscription and how many answers and
    computations still need it."""

    subscription: Subscription
    generation: int = 0
    answers: int = 0
    computing: int = 0

    def notice_arrived(self) -> bool:
        """Consume a pending notice (never waits); True when one had arrived."""
        if self.subscription.take_pending():
            self.generation += 1
            return True
        return False


@dataclass(frozen=True, slots=True)
class Ticket:
    """A computation in flight: its key, and the page state and generation it started from."""

    key: AnswerKey
    page: _Page
    generation: int


@dataclass(frozen=True, slots=True)
class _Answer(Generic[V]):
    value: V
    page: _Page
    generation: int
    expires: dt.datetime


@dataclass
class SlotAnswers(Generic[V]):
    """At most `max_entries` answers (least recently used dropped first); 0 turns sharing off."""

    pubsub: PubSub
    max_entries: int
    hits: int = 0
    misses: int = 0
    _answers: OrderedDict[AnswerKey, _Answer[V]] = field(default_factory=OrderedDict)
    _pages: dict[int, _Page] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def pages_held(self) -> int:
        return len(self._pages)

    def get(self, key: AnswerKey, now: dt.datetime) -> V | None:
        """The answer for `key` if nothing may have changed it since it was computed."""
        answer = self._answers.get(key)
        if answer is None:
            self.misses += 1
            return None
        answer.page.notice_arrived()
        if answer.generation != answer.page.generation or now >= answer.expires:
            self._drop(key)
            self.misses += 1
            return None
        self._answers.move_to_end(key)
        self.hits += 1
        return answer.value

    def begin(self, key: AnswerKey) -> Ticket:
        """Before computing `key`'s answer: subscribe to its page's notices (once per page)
        and record the generation, so a notice during the computation voids its result."""
        page = self._pages.get(key[0])
        if page is None:
            page = _Page(self.pubsub.subscribe(PAGE, str(key[0])))
            self._pages[key[0]] = page
        page.notice_arrived()
        page.computing += 1
        return Ticket(key, page, page.generation)

    def finish(
        self, ticket: Ticket, value: V | None, expires: dt.datetime, now: dt.datetime
    ) -> bool:
        """After the computation (`value` None: it failed): keep the answer unless a notice
        for its page arrived since `begin`, it has already expired, or sharing is off."""
        page = ticket.page
        page.computing -= 1
        page.notice_arrived()
        keep = (
            value is not None
            and self.max_entries > 0
            and ticket.generation == page.generation
            and self._pages.get(ticket.key[0]) is page
            and now < expires
        )
        if keep:
            assert value is not None
            if ticket.key in self._answers:
                self._drop(ticket.key)
            self._answers[ticket.key] = _Answer(value, page, ticket.generation, expires)
            page.answers += 1
            while len(self._answers) > self.max_entries:
                self._drop(next(iter(self._answers)))
        self._release(page, ticket.key[0])
        return keep

    def clear(self) -> None:
        """Drop every answer and subscription (the process is stopping)."""
        for key in list(self._answers):
            self._drop(key)

    def _drop(self, key: AnswerKey) -> None:
        answer = self._answers.pop(key)
        answer.page.answers -= 1
        self._release(answer.page, key[0])

    def _release(self, page: _Page, page_id: int) -> None:
        """A page nothing needs any longer gives up its subscription."""
        if page.answers == 0 and page.computing == 0 and self._pages.get(page_id) is page:
            del self._pages[page_id]
            page.subscription.close()


def expires_at(
    now: dt.datetime,
    *,
    listing: dt.timedelta,
    first_slot: dt.datetime | None,
    minimum_notice: dt.timedelta,
    booking_window: dt.timedelta | None,
    window_end: dt.datetime,
) -> dt.datetime:
    """The first moment the clock alone may change an answer computed at `now` (see the
    module docstring): the earliest slot entering the minimum notice, the rolling booking
    window reaching the next whole minute (slot starts are whole minutes) while it still
    cuts the asked window, or the listing age (C49), whichever comes first."""
    moments = [now + listing]
    if first_slot is not None:
        moments.append(first_slot - minimum_notice)
    if booking_window is not None and now + booking_window < window_end:
        stop = now + booking_window
        next_minute = stop.replace(second=0, microsecond=0)
        if next_minute < stop:
            next_minute += dt.timedelta(minutes=1)
        moments.append(next_minute - booking_window)
    return min(moments)
