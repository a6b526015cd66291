"""`slotgraph create-account` and `slotgraph create-token` as an operator runs them (C23, C37):
the first admin's token printed once, tokens with the role's scopes, `--account` where an email
is in several accounts."""

from __future__ import annotations

import os
import subprocess

from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient
from tests.helpers.serving import SLOTGRAPH

ADMIN_VIEW = "query { viewer { email role account { name users { edges { node { email } } } } } }"


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [SLOTGRAPH, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_create_account_prints_a_working_admin_token(
    database_url: str, gql: GraphQLClient, factory: Factory
) -> None:
    done = run(database_url, "create-account", "--name", "Acme", "--admin-email", "ann@acme.test")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert (await gql(ADMIN_VIEW, token=token))["data"]["viewer"] == {
        "email": "ann@acme.test",
        "role": "ADMIN",
        "account": {"name": "Acme", "users": {"edges": [{"node": {"email": "ann@acme.test"}}]}},
    }


async def test_create_token_gives_the_roles_scopes_and_no_more(
    database_url: str, gql: GraphQLClient, factory: Factory
) -> None:
    member = await factory.person(email="bo@acme.test")
    done = run(database_url, "create-token", "--email", "bo@acme.test")
    assert done.returncode == 0, done.stderr
    assert (await gql("query { viewer { email } }", token=done.stdout.strip()))["data"] == {
        "viewer": {"email": "bo@acme.test"}
    }
    refused = run(database_url, "create-token", "--email", "bo@acme.test", "--scope", "admin")
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        "slotgraph: the user's role may not hold admin",
    )
    await factory.person(email="bo@acme.test")  # the same email in a second account
    ambiguous = run(database_url, "create-token", "--email", "bo@acme.test")
    assert ambiguous.returncode == 1
    assert "--account" in ambiguous.stderr
    chosen = run(
        database_url, "create-token", "--email", "bo@acme.test", "--account", str(member.account.id)
    )
    assert chosen.returncode == 0, chosen.stderr
