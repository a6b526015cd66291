"""A mutation's result union, declared with its resolver.

A mutation answers its success type or one of the errors it declares (docs/conventions.md,
convention 1). Its resolver only ever returns the success: the domain exceptions it raises
become the declared errors in `slotgraph.graph.extensions.DomainErrors`. So the resolver is
typed by its success, for mypy, and `@fails_with(NotFound, ...)` above it names the errors
in schema order; `result_union` builds the GraphQL union from both, named after the
resolver (`update_webhook_endpoint` → `UpdateWebhookEndpointResult`) unless several
mutations share one union (`union="UserResult"`).
"""

from __future__ import annotations

import functools
import inspect
import operator
import types
from collections.abc import Callable
from typing import Annotated
from typing import Any
from typing import TypeVar
from typing import get_args

import strawberry

from slotgraph.graph.errors import Error

_Resolver = TypeVar("_Resolver", bound=Callable[..., Any])

# Each resolver's declared errors and union name; filled at import by `fails_with`.
_DECLARED: dict[Callable[..., Any], tuple[tuple[type[Error], ...], str]] = {}
# One union object per name: two mutations sharing a union must give strawberry one type.
_UNIONS: dict[str, tuple[tuple[type, ...], object]] = {}


def fails_with(*errors: object, union: str | None = None) -> Callable[[_Resolver], _Resolver]:
    """Declare the errors a mutation answers, in the order the schema lists them. Each is an
    error type or a union of them (`NotFound | PermissionDenied`, for a set several
    mutations share)."""
    flat = tuple(member for error in errors for member in _members(error))

    def declare(resolver: _Resolver) -> _Resolver:
        words = resolver.__name__.split("_")
        _DECLARED[resolver] = (flat, union or "".join(w.title() for w in words) + "Result")
        return resolver

    return declare


def result_union(resolver: Callable[..., Any]) -> object:
    """The GraphQL result type of a mutation: its success (the resolver's return
    annotation) and its declared errors, as one named union."""
    if resolver not in _DECLARED:
        raise TypeError(f"{resolver.__name__}: declare its errors with @fails_with")
    errors, name = _DECLARED[resolver]
    success = inspect.signature(resolver, eval_str=True).return_annotation
    members = (success, *errors)
    known = _UNIONS.get(name)
    if known is not None:
        if known[0] != members:
            raise TypeError(f"{name} is declared with two different member lists")
        return known[1]
    result: object = Annotated[functools.reduce(operator.or_, members), strawberry.union(name)]
    _UNIONS[name] = (members, result)
    return result


def _members(error: object) -> tuple[type[Error], ...]:
    if isinstance(error, types.UnionType):
        return tuple(member for arg in get_args(error) for member in _members(arg))
    if isinstance(error, type) and issubclass(error, Error):
        return (error,)
    raise TypeError(f"{error!r} is not an error type")
