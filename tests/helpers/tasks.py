"""CRM tasks through GraphQL and task sync (S10) turned on or off for a connection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

TOGGLE = """
mutation($input: UpdateCalendarConnectionInput!) { updateCalendarConnection(input: $input) {
  __typename ... on Error { message field code }
} }
"""


TASK_FIELDS = "id title dueAt completedAt onCalendar contact { name }"


CREATE = f"""
mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{
  __typename ... on TaskSuccess {{ task {{ {TASK_FIELDS} }} }} ... on Error {{ message field code }}
}} }}
"""


COMPLETE = """
mutation($input: CompleteTaskInput!) { completeTask(input: $input) {
  __typename ... on CompleteTaskSuccess { alreadyCompleted task { title completedAt } }
  ... on Error { message field code }
} }
"""


DELETE = """
mutation($input: DeleteTaskInput!) { deleteTask(input: $input) {
  __typename ... on DeleteTaskSuccess { deletedTaskId } ... on Error { message field code }
} }
"""


DUE = dt.datetime(2030, 3, 4, 9, 30, tzinfo=dt.UTC)


async def task_sync(gql: GraphQLClient, person: Person, connection: str, on: bool) -> str:
    """Turn task sync (S10) on or off for a connection; the payload type."""
    result = await gql(
        TOGGLE, {"input": {"connectionId": connection, "taskSyncEnabled": on}}, token=person.token
    )
    return str(result["data"]["updateCalendarConnection"]["__typename"])


async def create(gql: GraphQLClient, person: Person, **fields: Any) -> dict[str, Any]:
    """Create a CRM task; the `createTask` payload."""
    result = await gql(CREATE, {"input": fields}, token=person.token)
    answer: dict[str, Any] = result["data"]["createTask"]
    return answer
