"""The pub/sub settings group, mixed into `slotgraph.server.settings.Settings`
(`SLOTGRAPH_PUBSUB`, `SLOTGRAPH_NATS_*`; docs/operations.md "Change notices between
processes")."""

from __future__ import annotations

import enum
from urllib.parse import urlsplit

from pydantic import BaseModel
from pydantic import Field
from pydantic import field_validator

from slotgraph.notices.nats_pubsub import SUBJECT_PREFIX

NATS_SCHEMES = ("nats", "tls", "ws", "wss")


class PubSubKind(enum.StrEnum):
    """Which broker carries change notices between processes."""

    POSTGRES = "postgres"  # LISTEN/NOTIFY: nothing to run beside the database
    NATS = "nats"


class PubSubSettings(BaseModel):
    pubsub: PubSubKind = Field(
        default=PubSubKind.POSTGRES,
        description="The broker for change notices: `postgres` (LISTEN/NOTIFY) or `nats`.",
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS server URL(s), comma separated (one cluster); with `pubsub=nats`.",
    )
    nats_subject_prefix: str = Field(
        default=SUBJECT_PREFIX,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="First subject token; deployments sharing a NATS server differ here.",
    )

    @field_validator("nats_url")
    @classmethod
    def _nats_urls(cls, value: str) -> str:
        urls = [part.strip() for part in value.split(",") if part.strip()]
        if not urls:
            raise ValueError("needs at least one URL such as nats://127.0.0.1:4222")
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in NATS_SCHEMES or not parts.hostname:
                raise ValueError("must be URLs such as nats://host:4222 (nats, tls, ws, wss)")
        return ",".join(urls)

    @property
    def nats_servers(self) -> tuple[str, ...]:
        return tuple(self.nats_url.split(","))
