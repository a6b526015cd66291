"""Provider calls measured without touching the adapters: `metered_registry` wraps every
provider of a registry, and every calendar client they hand out, in a proxy that times each
coroutine method and reports it by provider, operation (the method's name) and outcome
("ok", the `ProviderError` subclass raised, or "unexpected"). A free/busy answer that
reports failed calendars instead of raising (`FreeBusy.errors`) counts as its first error.

Generic on purpose: the proxy wraps whatever the registry holds (its mapping of OAuth
providers by key, and every other provider field, named after the field), so an adapter added
later is measured the day it is registered. Synchronous methods pass through untimed, except
`client`, whose calendar client is wrapped in turn.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Mapping
from typing import Any

from slotgraph.observability.recorder import NO_RECORDER
from slotgraph.observability.recorder import Recorder
from slotgraph.providers.base import FreeBusy
from slotgraph.providers.base import ProviderError
from slotgraph.providers.registry import ProviderRegistry

CLIENT_FACTORY = "client"


def metered_registry(registry: ProviderRegistry, recorder: Recorder) -> ProviderRegistry:
    """`registry` with every provider reporting its calls to `recorder` (itself when nothing
    records)."""
    if recorder is NO_RECORDER:
        return registry
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(registry):
        value = getattr(registry, field.name)
        if isinstance(value, Mapping):
            changes[field.name] = {
                key: Metered(provider, str(key), recorder) for key, provider in value.items()
            }
        elif value is not None:
            changes[field.name] = Metered(value, field.name.upper(), recorder)
    return dataclasses.replace(registry, **changes)


class Metered:
    """A stand-in for `target` (a provider or a calendar client) that reports each awaited
    method call as `provider`'s. It satisfies the same protocols as `target`, through
    `__getattr__`, which is why the registry holds it unchanged in type."""

    __slots__ = ("_provider", "_recorder", "_target")

    def __init__(self, target: object, provider: str, recorder: Recorder) -> None:
        self._target = target
        self._provider = provider
        self._recorder = recorder

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name == CLIENT_FACTORY and callable(attribute):
            return self._client_factory(attribute)
        if inspect.iscoroutinefunction(attribute):
            return self._timed(name, attribute)
        return attribute

    def __repr__(self) -> str:
        return f"Metered({self._target!r})"

    def _client_factory(self, factory: Callable[..., object]) -> Callable[..., Any]:
        def client(*args: Any, **kwargs: Any) -> Any:
            return Metered(factory(*args, **kwargs), self._provider, self._recorder)

        return client

    def _timed(
        self, operation: str, method: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "unexpected"
            try:
                result = await method(*args, **kwargs)
            except ProviderError as error:
                outcome = type(error).__name__
                raise
            else:
                outcome = _outcome_of(result)
                return result
            finally:
                self._recorder.provider_call(
                    self._provider, operation, outcome, time.perf_counter() - started
                )

        return call


def _outcome_of(result: object) -> str:
    if isinstance(result, FreeBusy) and result.errors:
        return type(next(iter(result.errors.values()))).__name__
    return "ok"
