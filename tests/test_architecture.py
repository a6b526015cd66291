"""The layering of DESIGN.md: arrows point down only.

server → graph → resolvers → (scheduling, models, providers, sync); `scheduling` imports
nothing of ours and does no I/O; `models` and `providers` never import the web stack, and
providers know nothing of our tables (they return their own frozen dataclasses); `sync`
uses models and providers only; `graph` reaches the database only through resolvers.
"""

from __future__ import annotations

from pytest_archon import archrule

WEB = ("strawberry*", "starlette*", "uvicorn*", "graphql*")


def test_scheduling_is_pure() -> None:
    (
        archrule("scheduling is pure rules", comment="no I/O, nothing else of ours")
        .match("scheduling*")
        .should_not_import(
            "server*",
            "graph*",
            "resolvers*",
            "models*",
            "providers*",
            "sync*",
            "sqlalchemy*",
            "asyncpg*",
            "httpx*",
            "anyio*",
            "asyncio*",
            *WEB,
        )
        .check("scheduling")
    )


def test_models_know_nothing_of_the_web_or_the_api() -> None:
    (
        archrule("models below the API")
        .match("models*")
        .should_not_import("server*", "graph*", "resolvers*", *WEB)
        .check("models")
    )


def test_providers_are_adapters_only() -> None:
    (
        archrule("providers behind one protocol", comment="no tables, no API, no web stack")
        .match("providers*")
        .should_not_import(
            "server*", "graph*", "resolvers*", "models*", "sync*", "sqlalchemy*", *WEB
        )
        .check("providers")
    )


def test_resolvers_know_nothing_of_graphql_or_http() -> None:
    (
        archrule("use cases are transport-free")
        .match("resolvers*")
        .should_not_import("server*", "graph*", *WEB)
        .check("resolvers")
    )


def test_sync_sits_below_the_use_cases() -> None:
    (
        archrule("background work below the API", comment="models and providers only")
        .match("sync*")
        .should_not_import("server*", "graph*", "resolvers*", *WEB)
        .check("sync")
    )


def test_graph_does_not_open_sessions_or_reach_up() -> None:
    (
        archrule("graph is the API surface only")
        .match("graph*")
        .should_not_import("server*", "models.db", "sqlalchemy.orm*", "asyncpg*")
        .check("graph")
    )
