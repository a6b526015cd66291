"""The metrics settings group, mixed into `slotgraph.server.settings.Settings`
(`SLOTGRAPH_METRICS_*`; docs/operations.md "Metrics")."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices
from pydantic import BaseModel
from pydantic import Field
from pydantic import SecretStr


class MetricsSettings(BaseModel):
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, /metrics answers only `Authorization: Bearer <token>`.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65_535,
        description="Serve /metrics on this port only (every worker binds it with "
        "SO_REUSEPORT), not on the API's port.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="The address `metrics_port` listens on."
    )
    # Set by `serve --workers N` (N > 1) for the workers; prometheus_client reads it too.
    metrics_multiprocess_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR", "metrics_multiprocess_dir"),
    )
