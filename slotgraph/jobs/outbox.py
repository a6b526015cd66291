"""The outbox's delivery machinery: posting rows, claiming them under a lease, retrying with
backoff, the sweep, and dispatch to the delivery registered for each kind (C14). The kinds
themselves (booking events, task events, emails) are `slotgraph.jobs.deliveries`.

A use case writes an `OutboxMessage` with `post(session, message)` in the transaction of the
change that needs it; `post` also enqueues the delivery job there, so a commit always has
its delivery and a rollback has none. A periodic `sweep` re-enqueues due rows whose job
is gone (rows written by older code, or jobs cleared by hand).

Delivering one row (`Outbox.deliver`):
1. Claim it: one conditional UPDATE takes a PENDING row that is due, counts the attempt and
   leases it (`available_at` moves `lease` seconds ahead). Two workers racing for a row
   serialise on its row lock; the loser sees the lease and backs off. A worker killed
   mid-work leaves the lease to expire, and the queue re-runs its job.
2. Do the work with no transaction open: the delivery for the row's kind (`Delivery`). It
   must be safe to repeat (an idempotency key, or state-based), since a crash or an expired
   lease runs it again. It may raise `Waiting` to go back behind another row without
   spending an attempt.
3. Record the result under the claim (same attempt count): DONE; or, on `DeliveryFailure`
   (or any unexpected error), the error on the row and a retry after exponential backoff
   or the failure's Retry-After, whichever is longer; after `max_attempts`, or at once for
   failures retrying cannot fix, FAILED. The delivery records its own side of either in
   the same transaction (`record_done`, `record_failure`).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC
from abc import abstractmethod
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

import structlog
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from slotgraph.errors import SafeMessageError
from slotgraph.jobs.queue import Job
from slotgraph.jobs.queue import JobQueue
from slotgraph.jobs.queue import Retry
from slotgraph.jobs.queue import RetryPolicy
from slotgraph.jobs.queue import doubling
from slotgraph.jobs.queue import enqueue
from slotgraph.jobs.queue import enqueue_many
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

log = structlog.get_logger("slotgraph.outbox")

DELIVER = "outbox.deliver"
SWEEP_BATCH = 500
# A waiting row looks again this long from now (or once what it waits for is due).
WAIT_AGAIN = 5.0
UNEXPECTED = "Unexpected error while delivering; it will be retried."


def job_key(outbox_id: int) -> str:
    """The dedupe key of a row's delivery job: one queued-or-running job per row."""
    return f"outbox:{outbox_id}"


async def post(session: AsyncSession, message: OutboxMessage) -> OutboxMessage:
    """Add `message` and enqueue its delivery, both in the session's transaction."""
    session.add(message)
    await session.flush()
    await enqueue(session, DELIVER, {"id": message.id}, dedupe_key=job_key(message.id))
    return message


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How an outbox row is retried and claimed. Attempts are counted in the row, not by
    the job queue (unlike the queue's `RetryPolicy`), and `lease` is how long one claim
    holds. The outbox's comes from `SLOTGRAPH_OUTBOX_*`; a kind may bring its own (webhooks)."""

    max_attempts: int = 8
    initial_backoff: float = 30.0
    max_backoff: float = 3600.0
    # Longer than any one provider call with its own retries: a live worker keeps its claim.
    lease: float = 300.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = doubling(attempt, self.initial_backoff, self.max_backoff)
        return max(backoff, retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The row's state after a delivery attempt; `retry_in` is set while it stays PENDING."""

    state: OutboxState
    retry_in: float | None = None
    error: str | None = None


class DeliveryFailure(SafeMessageError):
    """A delivery failed; `message` is safe to show and store. `permanent`: retrying
    cannot help. `retry_after`: the earliest retry the other side asked for, in seconds."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Waiting(Exception):
    """The row must go after another one still to be delivered, however long that takes.
    `until` is when that one is retried (None while its first attempt is under way or
    about to be); `message` is shown on the row meanwhile."""

    def __init__(self, message: str, until: dt.datetime | None) -> None:
        super().__init__(message)
        self.message = message
        self.until = until


class Delivery(ABC):
    """The work of one or more outbox kinds (`kinds`). `deliver` runs with no transaction
    open and returns what `record_done` stores with the row; both record hooks run in the
    transaction that records the row's result, under its claim."""

    kinds: ClassVar[frozenset[OutboxKind]]
    # Its own retry policy, when its kind retries unlike the others (webhooks retry for a
    # day); None: the outbox's.
    policy: DeliveryPolicy | None = None

    @abstractmethod
    async def deliver(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        """Do the row's work; raise `DeliveryFailure` or `Waiting` when it is not done."""

    async def record_done(  # noqa: B027 - a hook: most kinds record nothing
        self, session: AsyncSession, message: OutboxMessage, result: Mapping[str, Any] | None
    ) -> None:
        """Record a success beside the row (e.g. on its booking)."""

    async def record_failure(  # noqa: B027 - a hook: most kinds record nothing
        self, session: AsyncSession, message: OutboxMessage, error: str, gave_up: bool
    ) -> None:
        """Record a failed attempt beside the row; `gave_up`: the row is FAILED."""


class Outbox:
    """Delivers outbox rows through the deliveries registered by kind; `register` puts it
    on a job queue. `slotgraph.jobs.deliveries.build_outbox` registers every kind."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        deliveries: Iterable[Delivery],
        *,
        policy: DeliveryPolicy = DeliveryPolicy(),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.policy = policy
        self.deliveries: dict[OutboxKind, Delivery] = {}
        for delivery in deliveries:
            for kind in delivery.kinds:
                if kind in self.deliveries:
                    raise ValueError(f"Two deliveries registered for {kind}.")
                self.deliveries[kind] = delivery

    def register(self, queue: JobQueue, *, sweep_seconds: float = 30.0) -> None:
        # Attempts are counted in the outbox rows, so the job itself retries unbounded.
        queue.register(DELIVER, self.run_job, policy=RetryPolicy(max_attempts=None))
        queue.every(sweep_seconds, self.sweep)

    async def run_job(self, payload: dict[str, Any]) -> None:
        outcome = await self.deliver(int(payload["id"]))
        if outcome.retry_in is not None:
            raise Retry(outcome.error or "not due yet", outcome.retry_in)

    async def sweep(self) -> int:
        """Enqueue deliveries for due rows that have no job waiting; returns how many."""
        async with self.sessionmaker.begin() as session:
            ids = (
                await session.execute(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.state == OutboxState.PENDING,
                        OutboxMessage.available_at <= func.now(),
                    )
                    .order_by(OutboxMessage.available_at)
                    .limit(SWEEP_BATCH)
                )
            ).scalars()
            jobs = [Job(DELIVER, {"id": i}, dedupe_key=job_key(i)) for i in ids]
            return await enqueue_many(session, jobs)

    async def deliver(self, outbox_id: int) -> Outcome:
        claimed = await self._claim(outbox_id)
        if isinstance(claimed, Outcome):
            return claimed
        delivery = self.deliveries.get(claimed.kind)
        try:
            if delivery is None:
                raise DeliveryFailure(f"Unknown outbox kind {claimed.kind}.", permanent=True)
            result = await delivery.deliver(claimed)
        except Waiting as waiting:
            return await self._wait(claimed, waiting)
        except DeliveryFailure as failure:
            return await self._failed(claimed, delivery, failure)
        except Exception:  # a bug must not lose the row: keep it, retried with backoff
            log.exception("outbox delivery failed", outbox_id=outbox_id, kind=claimed.kind)
            return await self._failed(claimed, delivery, DeliveryFailure(UNEXPECTED))
        return await self._done(claimed, delivery, result)

    async def _claim(self, outbox_id: int) -> OutboxMessage | Outcome:
        lease = dt.timedelta(seconds=self.policy.lease)
        async with self.sessionmaker.begin() as session:
            row = (
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == outbox_id,
                        OutboxMessage.state == OutboxState.PENDING,
                        OutboxMessage.available_at <= func.now(),
                    )
                    .values(
                        attempts=OutboxMessage.attempts + 1,
                        available_at=func.now() + lease,
                    )
                    .returning(OutboxMessage)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if row is not None:
                return row
            current = await session.get(OutboxMessage, outbox_id)
            if current is None:  # its booking was deleted: nothing left to deliver
                return Outcome(OutboxState.DONE)
            if current.state is not OutboxState.PENDING:
                return Outcome(current.state, error=current.last_error)
            now = (await session.execute(select(func.now()))).scalar_one()
            wait = max(0.0, (current.available_at - now).total_seconds())
            return Outcome(OutboxState.PENDING, retry_in=wait, error=current.last_error)

    def _claim_held(self, message: OutboxMessage) -> Any:
        """Only the claim that did the work may record its result (a slower worker whose
        lease expired finds another claim and leaves the row to it)."""
        return (
            (OutboxMessage.id == message.id)
            & (OutboxMessage.state == OutboxState.PENDING)
            & (OutboxMessage.attempts == message.attempts)
        )

    async def _done(
        self, message: OutboxMessage, delivery: Delivery, result: Mapping[str, Any] | None
    ) -> Outcome:
        async with self.sessionmaker.begin() as session:
            recorded = await session.execute(
                update(OutboxMessage)
                .where(self._claim_held(message))
                .values(state=OutboxState.DONE, done_at=func.now(), last_error=None)
            )
            if not recorded.rowcount:  # type: ignore[attr-defined]
                log.warning("outbox claim lost before recording", outbox_id=message.id)
                return Outcome(OutboxState.PENDING, retry_in=0.0)
            await delivery.record_done(session, message, result)
        log.info("outbox delivered", outbox_id=message.id, kind=message.kind)
        return Outcome(OutboxState.DONE)

    async def _wait(self, message: OutboxMessage, waiting: Waiting) -> Outcome:
        """Put the row back behind the one it waits for. Waiting is no failed attempt: the
        row never gives up while that one is still to come (else a create throttled for
        longer than the row's attempts last would leave the calendar at the old time). It
        is retried WAIT_AGAIN from now, or once the other row's retry is due if later."""
        async with self.sessionmaker.begin() as session:
            now = (await session.execute(select(func.now()))).scalar_one()
            due = now + dt.timedelta(seconds=WAIT_AGAIN)
            if waiting.until is not None and waiting.until > due:
                due = waiting.until
            recorded = await session.execute(
                update(OutboxMessage)
                .where(self._claim_held(message))
                .values(attempts=message.attempts - 1, available_at=due, last_error=waiting.message)
            )
        if not recorded.rowcount:  # type: ignore[attr-defined]
            return Outcome(OutboxState.PENDING, retry_in=0.0)
        log.info("outbox delivery waits for another", outbox_id=message.id)
        return Outcome(
            OutboxState.PENDING, retry_in=(due - now).total_seconds(), error=waiting.message
        )

    async def _failed(
        self, message: OutboxMessage, delivery: Delivery | None, failure: DeliveryFailure
    ) -> Outcome:
        policy = self.policy if delivery is None or delivery.policy is None else delivery.policy
        give_up = failure.permanent or message.attempts >= policy.max_attempts
        delay = policy.delay(message.attempts, failure.retry_after)
        values: dict[str, Any] = {"last_error": failure.message}
        if give_up:
            values["state"] = OutboxState.FAILED
        else:
            values["available_at"] = func.now() + dt.timedelta(seconds=delay)
        async with self.sessionmaker.begin() as session:
            recorded = await session.execute(
                update(OutboxMessage).where(self._claim_held(message)).values(**values)
            )
            if not recorded.rowcount:  # type: ignore[attr-defined]
                return Outcome(OutboxState.PENDING, retry_in=0.0)
            if delivery is not None:
                await delivery.record_failure(session, message, failure.message, give_up)
        log.warning(
            "outbox delivery failed",
            outbox_id=message.id,
            kind=message.kind,
            attempt=message.attempts,
            gave_up=give_up,
            error=failure.message,
        )
        if give_up:
            return Outcome(OutboxState.FAILED, error=failure.message)
        return Outcome(OutboxState.PENDING, retry_in=delay, error=failure.message)
