"""Text that may enter through the API at all: every string argument, however deep in an
input object or list, is checked once before anything resolves, so bad input never reaches
PostgreSQL (which stores no NUL and no unpaired surrogate) or the OS (file names, zone
files) as it came.

Refused, naming the input at fault: a NUL, any other control character but tab, line feed
and carriage return, an unpaired surrogate (not Unicode text; it cannot be encoded), and a
value longer than `MAX_TEXT`. Each field's own rules (lengths, formats) stay with its use
case; this is the floor under all of them.

Two extensions apply the one check (`unsafe_input`):

- `UnsafeTextRefused` (schema extension): before execution, every argument of every field
  the operation selects (variables resolved), except a mutation's own input. A problem is a
  request error: `extensions.code` VALIDATION and `extensions.field`, an `error` message on
  a websocket, no partial data.
- `UnsafeInputAnswered` (field extension on every mutation): the mutation's arguments, the
  problem answered as the union's `ValidationError`, like any other invalid input
  (convention 1). A mutation without `ValidationError` in its union fails the schema build.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from graphql import FieldNode
from graphql import GraphQLError
from graphql import OperationType
from graphql import value_from_ast_untyped
from graphql.utilities import get_operation_ast
from strawberry.extensions import FieldExtension
from strawberry.extensions import SchemaExtension

from slotgraph.graph.errors import ErrorCode
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.errors import declared_errors
from slotgraph.graph.selections import fragments_of
from slotgraph.graph.selections import selected_fields
from slotgraph.usecases.errors import InvalidInput

if TYPE_CHECKING:
    from strawberry.types import Info
    from strawberry.types.field import StrawberryField

MAX_TEXT = 10_000
"""No input rule allows longer text (the longest, a booking answer, is 10,000 characters)."""

# The ASCII and Latin-1 control characters but tab, line feed and carriage return (multi-line
# text keeps those), DEL, and the surrogate range (a str holds an unpaired one only when the
# client sent it).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """What is wrong with `text` as input text, or None."""
    if len(text) > MAX_TEXT:
        return f"is longer than {MAX_TEXT:,} characters; shorten it."
    found = _UNSAFE.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "contains a NUL character; remove it."
    if "\ud800" <= char <= "\udfff":
        return "contains an unpaired surrogate, which is not Unicode text; send valid UTF-8."
    return f"contains the control character U+{ord(char):04X}; remove it."


def unsafe_input(arguments: Mapping[str, object]) -> InvalidInput | None:
    """The first unsafe string among a field's arguments, as the InvalidInput naming it.

    Names follow the use cases' own: relative to an `input` argument (`contact.name`), else
    from the argument's name (`timeZone`), with list items by index (`formFields.0.label`).
    """
    for name, value in arguments.items():
        found = _first_unsafe(value, "" if name == "input" else name)
        if found is not None:
            path, problem = found
            label = path or name
            return InvalidInput(f"`{label}` {problem}", field=label)
    return None


def _first_unsafe(value: object, path: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else (path, problem)
    if isinstance(value, Mapping):
        items: Iterator[tuple[object, object]] = iter(value.items())
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _first_unsafe(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _request_error(problem: InvalidInput, node: FieldNode) -> GraphQLError:
    return GraphQLError(
        problem.message,
        nodes=[node],
        extensions={"code": ErrorCode.VALIDATION.value, "field": problem.field},
    )


class UnsafeTextRefused(SchemaExtension):
    """Refuse an operation whose arguments carry unsafe text, before it executes: as a
    validation error, after the document's own validation found none (its errors come
    first). A mutation's own arguments are left to `UnsafeInputAnswered`, which answers
    them in the mutation's union.

    Example: `strawberry.Schema(Query, extensions=[ValidationCache, UnsafeTextRefused])`
    (after the validation extensions: it adds to their errors, never replaces them).
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if not context.pre_execution_errors and document is not None:
            error = self._first_error(context.variables or {})
            if error is not None:
                context.pre_execution_errors = [error]
        yield

    def _first_error(self, variables: dict[str, Any]) -> GraphQLError | None:
        document = self.execution_context.graphql_document
        assert document is not None
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None:
            return None
        own_input = operation.operation is OperationType.MUTATION
        for node, root in selected_fields(operation, fragments_of(document), nested=True):
            # A mutation's own input is `UnsafeInputAnswered`'s, answered in its union.
            if not node.arguments or (root and own_input):
                continue
            arguments = {
                argument.name.value: value_from_ast_untyped(argument.value, variables)
                for argument in node.arguments or ()
            }
            problem = unsafe_input(arguments)
            if problem is not None:
                return _request_error(problem, node)
        return None


class UnsafeInputAnswered(FieldExtension):
    """Answer a mutation's unsafe text as its union's `ValidationError` before the resolver
    runs; `DomainErrors`, outside this extension, turns the raised InvalidInput into it.

    Example: `strawberry.mutation(resolver=..., extensions=[UnsafeInputAnswered(),
    DomainErrors()])` (Strawberry runs the last one listed first).
    """

    def apply(self, field: StrawberryField) -> None:
        if field.arguments and ValidationError not in declared_errors(field.type):
            raise TypeError(
                f"{field.python_name}: a mutation taking input declares ValidationError"
            )

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        self.check(info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        self.check(info)
        return await next_(source, info, **kwargs)

    @staticmethod
    def check(info: Info) -> None:
        for selected in info.selected_fields:
            problem = unsafe_input(getattr(selected, "arguments", {}))
            if problem is not None:
                raise problem
