"""The field extension that applies the limits on public operations (C25, C33) to the
public fields, before their resolvers run.

`PublicWrite()` counts an anonymous call against its client address's strict write limit
(shared by every process); `PublicRead("slug")` against the loose per-process read limits
of the address and of the page named by that argument. Calls with a token pass. Past a
limit, a field whose result union declares `RateLimited` answers it; any other field (the
queries) answers null with a GraphQL error whose `extensions` carry `code` RATE_LIMITED
and `retryAfterSeconds`.

Example: `strawberry.field(resolver=..., extensions=[DomainErrors(), PublicRead("slug")])`
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import FieldExtension

from slotgraph.graph.errors import ErrorCode
from slotgraph.graph.errors import RateLimited
from slotgraph.graph.errors import declared_errors
from slotgraph.graph.errors import map_error
from slotgraph.graph.root_results import note_root_result
from slotgraph.usecases.errors import RateLimitedError

if TYPE_CHECKING:
    from strawberry.types import Info
    from strawberry.types.field import StrawberryField

    from slotgraph.graph.context import Context


class _PublicLimit(FieldExtension):
    in_union = False

    def apply(self, field: StrawberryField) -> None:
        self.in_union = RateLimited in declared_errors(field.type)

    async def admit(self, context: Context, kwargs: dict[str, Any]) -> None:
        raise NotImplementedError

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        context: Context = info.context
        if context.viewer is None:
            try:
                await self.admit(context, kwargs)
            except RateLimitedError as exc:
                if self.in_union:
                    answer = map_error(exc)
                    note_root_result(info, answer)  # for the request metrics (C48)
                    return answer
                raise GraphQLError(
                    exc.message,
                    extensions={
                        "code": ErrorCode.RATE_LIMITED.value,
                        "retryAfterSeconds": exc.retry_after_seconds,
                    },
                ) from None
        return await next_(source, info, **kwargs)


class PublicWrite(_PublicLimit):
    """An anonymous write: the strict limit per client address (C33)."""

    async def admit(self, context: Context, kwargs: dict[str, Any]) -> None:
        await context.services.limits.admit_write(context.client_address)


class PublicRead(_PublicLimit):
    """An anonymous read: the loose limits per client address and per page (C33)."""

    def __init__(self, page_argument: str) -> None:
        super().__init__()
        self.page_argument = page_argument

    async def admit(self, context: Context, kwargs: dict[str, Any]) -> None:
        # A slug names one page whatever the domain (S15).
        page = kwargs.get(self.page_argument)
        context.services.limits.admit_read(
            context.client_address, page.strip("/") if isinstance(page, str) else None
        )
