"""Walking the fields an operation selects, fragments followed: what the request metrics
(root fields, C48) and the unsafe-text check (every field with arguments) both read from a
document before, or without, executing it. Written once, so a spread or inline fragment is
followed the same way for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping

from graphql import DocumentNode
from graphql import FieldNode
from graphql import FragmentDefinitionNode
from graphql import FragmentSpreadNode
from graphql import InlineFragmentNode
from graphql import OperationDefinitionNode
from graphql import SelectionSetNode


def fragments_of(document: DocumentNode | None) -> dict[str, FragmentDefinitionNode]:
    """The document's fragment definitions by name."""
    return {
        definition.name.value: definition
        for definition in (document.definitions if document else ())
        if isinstance(definition, FragmentDefinitionNode)
    }


def selected_fields(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    *,
    nested: bool,
) -> Iterator[tuple[FieldNode, bool]]:
    """Every field the operation selects, and whether it is a root field; `nested=False`
    stops at the root fields. Inline fragments and spreads are followed, each spread once per
    level (root or not), so a field behind a spread counts like any other. The document may
    not be valid yet: an unknown fragment is skipped."""
    pending: list[tuple[SelectionSetNode, bool]] = [(operation.selection_set, True)]
    seen: set[tuple[str, bool]] = set()
    while pending:
        selection_set, root = pending.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, root
                if nested and selection.selection_set is not None:
                    pending.append((selection.selection_set, False))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, root))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and (fragment.name.value, root) not in seen:
                    seen.add((fragment.name.value, root))
                    pending.append((fragment.selection_set, root))
