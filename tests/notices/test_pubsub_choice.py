"""`SLOTGRAPH_PUBSUB` picks the broker a process's change notices travel by; LISTEN/NOTIFY
needs no setting at all."""

from __future__ import annotations

import asyncio

import pytest

from slotgraph.notices.nats_pubsub import NatsPubSub
from slotgraph.notices.postgres_pubsub import PostgresPubSub
from slotgraph.server.runtime import build_pubsub
from slotgraph.server.settings import Mode
from slotgraph.server.settings import SettingsError
from slotgraph.server.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLOTGRAPH_PUBSUB", "SLOTGRAPH_NATS_URL", "SLOTGRAPH_NATS_SUBJECT_PREFIX"):
        monkeypatch.delenv(name, raising=False)


def test_listen_notify_is_the_default(database_url: str) -> None:
    settings = load_settings(mode=Mode.DEMO)
    assert isinstance(build_pubsub(settings, database_url), PostgresPubSub)


async def test_nats_is_chosen_by_setting_and_carries_notices(
    monkeypatch: pytest.MonkeyPatch, nats_url: str, database_url: str
) -> None:
    monkeypatch.setenv("SLOTGRAPH_PUBSUB", "nats")
    monkeypatch.setenv("SLOTGRAPH_NATS_URL", f" {nats_url} ")
    monkeypatch.setenv("SLOTGRAPH_NATS_SUBJECT_PREFIX", "choice_test")
    pubsub = build_pubsub(load_settings(mode=Mode.DEMO), database_url)
    assert isinstance(pubsub, NatsPubSub)
    await pubsub.start()
    try:
        assert pubsub.listening
        with pubsub.subscribe("page", "1") as page_1:
            await pubsub.publish("page", "1")
            assert await asyncio.wait_for(anext(page_1), 10) == "1"
    finally:
        await pubsub.stop()


def test_several_nats_servers_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTGRAPH_NATS_URL", "nats://a.internal:4222, tls://b.internal:4222")
    settings = load_settings(mode=Mode.DEMO)
    assert settings.nats_servers == ("nats://a.internal:4222", "tls://b.internal:4222")


def test_bad_pubsub_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTGRAPH_PUBSUB", "redis")
    monkeypatch.setenv("SLOTGRAPH_NATS_URL", "http://nats.internal:4222")
    monkeypatch.setenv("SLOTGRAPH_NATS_SUBJECT_PREFIX", "a.b")
    with pytest.raises(SettingsError) as error:
        load_settings(mode=Mode.DEMO)
    message = str(error.value)
    assert "SLOTGRAPH_PUBSUB:" in message
    assert "SLOTGRAPH_NATS_URL: Value error, must be URLs such as nats://host:4222" in message
    assert "SLOTGRAPH_NATS_SUBJECT_PREFIX:" in message
