"""The layering of docs/architecture.md: arrows point down only.

server → web → graph → usecases → (calendars, calsync, jobs, notices, observability) →
(scheduling, models, providers). `scheduling` imports nothing of ours and does no I/O;
`models` and `providers` never import the web stack, and providers know nothing of our tables
(they return their own frozen dataclasses); the background layers never reach the use cases
or the API; `graph` reaches the database only through use cases; `web` (the contact pages)
sits above `graph` and speaks to the product only through the public GraphQL schema.
"""

from __future__ import annotations

from pytest_archon import archrule

WEB = ("strawberry*", "starlette*", "uvicorn*", "graphql*")
P = "slotgraph."
ABOVE_BACKGROUND = (f"{P}server*", f"{P}web*", f"{P}graph*", f"{P}usecases*", *WEB)


def test_scheduling_is_pure() -> None:
    (
        archrule("scheduling is pure rules", comment="no I/O, nothing else of ours")
        .match(f"{P}scheduling*")
        .should_not_import(
            f"{P}server*",
            f"{P}graph*",
            f"{P}usecases*",
            f"{P}models*",
            f"{P}providers*",
            f"{P}calendars*",
            f"{P}calsync*",
            f"{P}jobs*",
            f"{P}notices*",
            "sqlalchemy*",
            "asyncpg*",
            "httpx*",
            "anyio*",
            "asyncio*",
            *WEB,
        )
        .check("slotgraph.scheduling")
    )


def test_models_know_nothing_of_the_web_or_the_api() -> None:
    (
        archrule("models below the API")
        .match(f"{P}models*")
        .should_not_import(*ABOVE_BACKGROUND, f"{P}calendars*", f"{P}calsync*", f"{P}jobs*")
        .check("slotgraph.models")
    )


def test_providers_are_adapters_only() -> None:
    (
        archrule("providers behind one protocol", comment="no tables, no API, no web stack")
        .match(f"{P}providers*")
        .should_not_import(
            *ABOVE_BACKGROUND,
            f"{P}models*",
            f"{P}calendars*",
            f"{P}calsync*",
            f"{P}jobs*",
            f"{P}notices*",
            "sqlalchemy*",
        )
        .check("slotgraph.providers")
    )


def test_use_cases_know_nothing_of_graphql_or_http() -> None:
    (
        archrule("use cases are transport-free")
        .match(f"{P}usecases*")
        .should_not_import(f"{P}server*", f"{P}web*", f"{P}graph*", *WEB)
        .check("slotgraph.usecases")
    )


def test_background_layers_sit_below_the_use_cases() -> None:
    for package in ("calendars", "calsync", "jobs", "notices"):
        (
            archrule(f"{package} below the API", comment="models, providers and each other")
            .match(f"{P}{package}*")
            .should_not_import(*ABOVE_BACKGROUND)
            .check(f"{P}{package}")
        )


def test_observability_sits_below_the_use_cases() -> None:
    (
        archrule("observability below the API", comment="models, providers; no use cases")
        .match(f"{P}observability*")
        .should_not_import(*ABOVE_BACKGROUND, f"{P}calendars*", f"{P}calsync*", f"{P}jobs*")
        .check(f"{P}observability")
    )


def test_graph_does_not_open_sessions_or_reach_up() -> None:
    (
        archrule("graph is the API surface only")
        .match(f"{P}graph*")
        .should_not_import(
            f"{P}server*", f"{P}web*", f"{P}models.db", "sqlalchemy.orm*", "asyncpg*"
        )
        .check("slotgraph.graph")
    )


def test_pages_reach_the_product_only_through_the_public_api() -> None:
    (
        archrule("web pages are a GraphQL client", comment="in-process, but the public schema")
        .match(f"{P}web*")
        .should_not_import(
            f"{P}server*",
            f"{P}models*",
            f"{P}calendars*",
            f"{P}calsync*",
            f"{P}jobs*",
            f"{P}notices*",
            f"{P}providers*",
            "sqlalchemy*",
            "asyncpg*",
        )
        .check("slotgraph.web")
    )


def test_limits_know_nothing_of_graphql_or_http() -> None:
    (
        archrule("limits are transport-free", comment="the use cases' tier (C25, C33, C34)")
        .match(f"{P}limits*")
        .should_not_import(f"{P}server*", f"{P}graph*", *WEB)
        .check(f"{P}limits")
    )
