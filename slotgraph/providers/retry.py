"""Retrying provider calls: tenacity with exponential backoff that honours `Retry-After`,
bounded in attempts and in total time, so a provider that keeps failing yields a typed
error instead of a hang."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying
from tenacity import RetryCallState
from tenacity import retry_if_exception_type
from tenacity import stop_after_attempt
from tenacity import stop_after_delay
from tenacity import wait_exponential_jitter
from tenacity.stop import stop_base

from slotgraph.providers.base import TransientError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one provider call retries in-process: at most `attempts` tries within
    `max_seconds`, with jittered exponential backoff between them. Unlike the job queue's
    `RetryPolicy`, whose runs are minutes apart, it holds up its caller, so it is bounded
    in time too."""

    attempts: int = 4
    max_seconds: float = 30.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    # A Retry-After longer than this is not waited for: the call fails as transient and
    # the caller (a job, or a booking falling back on the busy cache) decides.
    max_retry_after: float = 20.0


# Background jobs (outbox, sync, push, task events): nobody waits, and they come back later.
PATIENT = RetryPolicy()
FAST = RetryPolicy(
    attempts=3, max_seconds=5.0, initial_backoff=0.05, max_backoff=0.5, max_retry_after=2.0
)
# For calls a person is waiting on (slot listing, booking, reschedule, connect): two quick
# tries and no long Retry-After wait, so a throttling provider falls back on the busy cache
# (C16) or answers AvailabilityUnknown within seconds. Background jobs keep the default:
# nobody waits on them, and they come back later anyway.
INTERACTIVE = RetryPolicy(
    attempts=2, max_seconds=3.0, initial_backoff=0.1, max_backoff=0.5, max_retry_after=1.0
)


class _WaitRetryAfter:
    """Wait what the server asked for (Retry-After), else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.fallback = wait_exponential_jitter(
            multiplier=policy.initial_backoff, max=policy.max_backoff
        )

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return max(0.0, error.retry_after)
        return float(self.fallback(state))


class _StopOnLongRetryAfter(stop_base):
    """Give up at once when the server asks us to come back later than we will wait."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        return (
            isinstance(error, TransientError)
            and error.retry_after is not None
            and error.retry_after > self.policy.max_retry_after
        )


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy = PATIENT) -> T:
    """Run `call`, retrying `TransientError`s per `policy`; the last error is re-raised."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(TransientError),
        wait=_WaitRetryAfter(policy),
        stop=(
            stop_after_attempt(policy.attempts)
            | stop_after_delay(policy.max_seconds)
            | _StopOnLongRetryAfter(policy)
        ),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
