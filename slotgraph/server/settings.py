"""Typed, frozen service settings read once from the environment.

Every knob lives here and is passed down explicitly; nothing else reads `os.environ`.
Variables use the `SLOTGRAPH_` prefix, except `DATABASE_URL`, which keeps the name every
PostgreSQL tool and platform already uses.
"""

from __future__ import annotations

import enum
import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import platformdirs
from pydantic import AliasChoices
from pydantic import Field
from pydantic import SecretStr
from pydantic import ValidationError
from pydantic import field_validator
from pydantic import model_validator
from pydantic_settings import BaseSettings
from pydantic_settings import NoDecode
from pydantic_settings import SettingsConfigDict

from slotgraph.jobs.mail import SmtpConfig
from slotgraph.jobs.mail import SmtpSecurity
from slotgraph.limits.addresses import TrustedProxies
from slotgraph.limits.botcheck import BotCheckVerifier
from slotgraph.notices.settings import PubSubSettings
from slotgraph.observability.settings import MetricsSettings
from slotgraph.providers.dns_txt import parse_nameserver


class Mode(enum.StrEnum):
    """Production is the default (C15); demo turns on GraphiQL and introspection."""

    PRODUCTION = "production"
    DEMO = "demo"


def _default_data_dir() -> Path:
    """Run from a checkout (the editable install `./scripts/demo` makes), its own
    `.slotgraph/`, so two clones never share a demo database; installed as a package, the
    per-user data directory."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / ".git").exists():
        return checkout / ".slotgraph"
    return Path(platformdirs.user_data_dir("slotgraph"))


class Settings(BaseSettings, MetricsSettings, PubSubSettings):
    """All configuration of one Slotgraph process (groups mixed in: `MetricsSettings`,
    `PubSubSettings`)."""

    model_config = SettingsConfigDict(
        env_prefix="SLOTGRAPH_", frozen=True, extra="ignore", populate_by_name=True
    )

    mode: Mode = Mode.PRODUCTION
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="PostgreSQL URL; unset starts the embedded server in data_dir.",
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    public_base_url: str = "http://localhost:8000"
    secret_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Fernet keys, newest first, comma separated; encrypt provider credentials.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=50)
    db_max_overflow: int = Field(default=5, ge=0, le=50)
    max_body_bytes: int = Field(default=1_000_000, ge=1_024)
    max_query_depth: int = Field(default=12, ge=2, le=50)
    max_aliases: int = Field(default=30, ge=1, le=1_000)
    max_tokens: int = Field(default=2_000, ge=50, le=100_000)
    max_subscriptions_per_socket: int = Field(default=20, ge=1, le=1_000)
    # Grouped fan-out (issue 15, C49): identical subscriptions share one execution.
    fanout_grouping: bool = True
    # Late joiners join a running group by a snapshot of their own; false: one group per
    # first frame (the earlier cohorts, kept for before/after benchmarks).
    fanout_late_joins: bool = True
    # Accounts (C24, C35): other origins (SPAs) allowed for CORS and websockets; the app
    # domain and connected domains always are. None by default in production, any in the demo.
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    log_level: str = "INFO"
    log_json: bool = True
    # Connected domains (C40): proof of ownership by DNS TXT record, checked again
    # periodically. No name servers: the system's resolver configuration.
    dns_nameservers: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Name servers for domain checks, `ip` or `ip:port`, comma separated.",
    )
    dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    domain_recheck_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="How often each domain is checked again."
    )
    domain_grace_hours: float = Field(
        default=72.0,
        ge=0,
        le=24 * 90,
        description="How long a verified domain's record may be missing before it lapses.",
    )
    domain_sweep_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="How often the workers look for due checks."
    )
    # C42: a request unanswered at its start is declined by the next sweep after it.
    request_expiry_sweep_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3_600,
        description="How often the workers decline offline requests whose start has come.",
    )

    # Where the dashboard lives: the OAuth callback redirects there (S1).
    dashboard_url: str = "http://localhost:3000/settings/calendar"
    # C21: the host's "new request" email links to `<this>/<booking id>?decision=confirm`
    # (or `decline`); the dashboard answers with confirmBooking / declineBooking.
    dashboard_bookings_url: str = "http://localhost:3000/bookings"
    provider_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Each provider request a person waits on (slot listing, booking, connecting) is bounded
    # tighter than background work (C16); never above `provider_timeout_seconds`.
    provider_interactive_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    # Google (S1). Base URLs are settings so the same adapter runs against a fake in tests.
    google_client_id: str | None = None
    google_client_secret: str | None = None
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    google_userinfo_url: str = "https://openidconnect.googleapis.com/v1/userinfo"
    google_api_base_url: str = "https://www.googleapis.com/calendar/v3"
    # Microsoft 365 (S1): msal against the authority, Graph over httpx.
    microsoft_client_id: str | None = None
    microsoft_client_secret: str | None = None
    microsoft_authority: str = "https://login.microsoftonline.com/common"
    microsoft_graph_base_url: str = "https://graph.microsoft.com/v1.0"
    microsoft_ca_bundle: Path | None = Field(
        default=None, description="Alias of `ca_bundle` (kept from when only Microsoft used it)."
    )
    # Outbound trust (C46, slotgraph.providers.outbound): CAs added to the public ones for
    # every outbound TLS connection (providers, EWS, SMTP), and the non-public networks
    # (CIDRs, comma separated) that user-supplied URLs (EWS server URLs) may reach.
    ca_bundle: Path | None = Field(
        default=None, description="A PEM file of extra trusted CAs (internal or private PKI)."
    )
    outbound_allowed_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Loopback, link-local or private networks user-supplied URLs may reach.",
    )
    # Exchange (S2): EWS calls run in threads, at most this many at once per process.
    exchange_enabled: bool = True
    exchange_max_threads: int = Field(default=8, ge=1, le=64)
    # CalDAV (C28). RFC 6764 SRV look-ups ask this DNS server ("host" or "host:port")
    # instead of the system's resolver when set.
    caldav_enabled: bool = True
    caldav_dns_server: str | None = None
    # The zone of CalDAV calendars that declare none.
    caldav_default_time_zone: str = "UTC"
    # The demo's own Radicale (`slotgraph.server.demo_radicale`; `serve --demo` sets it): the
    # one loopback server CalDAV may reach in the demo (C46), and only in demo mode.
    demo_caldav_url: str | None = None
    # The busy cache (C16, docs/operations.md "Busy cache"): how old a cached free/busy read may be
    # when a live read fails transiently, and how old it may be for slot listing to skip
    # the live read altogether (0: always read live). Bookings always read live first.
    busy_cache_freshness_seconds: float = Field(default=300.0, ge=0, le=86_400)
    busy_cache_listing_seconds: float = Field(default=30.0, ge=0, le=3_600)
    # Slot answers shared across requests until a change notice (`usecases.slot_answers`;
    # they live at most `busy_cache_listing_seconds`, C49): how many this process keeps
    # (0: none, every request computes its own).
    slot_answers_max_entries: int = Field(default=5_000, ge=0, le=1_000_000)

    # Background work: the job queue and the outbox of calendar writes and emails.
    run_worker: bool = Field(
        default=True, description="`serve` runs the job workers in-process (--no-worker)."
    )
    worker_concurrency: int = Field(default=20, ge=2, le=200)
    job_heartbeat_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="A silent worker's job is re-run after this."
    )
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_initial_backoff_seconds: float = Field(default=30.0, ge=0, le=86_400)
    outbox_max_backoff_seconds: float = Field(default=3_600.0, ge=0, le=86_400)
    outbox_lease_seconds: float = Field(default=300.0, gt=0, le=86_400)
    outbox_sweep_seconds: float = Field(default=30.0, gt=0, le=3_600)
    # SMTP for the outbox's emails (S13); no host: emails are recorded as failed.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_from: str = "Slotgraph <no-reply@localhost>"
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Webhooks (C22, slotgraph.jobs.deliveries.webhooks): each receiver has `timeout`
    # seconds to answer; a delivery is retried with backoff (a receiver's Retry-After
    # honoured up to its bound) for the retry window, then FAILED; an endpoint whose
    # deliveries all fail for `disable_after` hours is disabled and its owner emailed.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_window_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    webhook_initial_backoff_seconds: float = Field(default=30.0, ge=0, le=86_400)
    webhook_max_backoff_seconds: float = Field(default=7_200.0, ge=0, le=86_400)
    webhook_max_retry_after_seconds: float = Field(default=3_600.0, ge=0, le=86_400)
    webhook_disable_after_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    # Incremental calendar sync (slotgraph.calsync.engine).
    sync_interval_seconds: int = Field(default=300, ge=10, le=86_400)
    sync_window_days: int = Field(
        default=62, ge=1, le=730, description="How far ahead busy time is synced."
    )
    sync_freshness_seconds: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="availableSlots uses a calendar's synced events when its last sync is "
        "at most this old; 0 always reads free/busy live.",
    )
    sync_max_attempts: int = Field(default=5, ge=1, le=100)
    sync_lease_seconds: int = Field(default=300, ge=10, le=3_600)
    sync_concurrency: int = Field(
        default=16, ge=1, le=64, description="Syncs each worker runs at once."
    )
    sync_poll_seconds: float = Field(
        default=5.0, gt=0, le=300, description="How often the workers sweep for due syncs."
    )
    # Push notifications (slotgraph.calsync.watches): providers call `public_base_url`.
    push_notifications: bool = Field(
        default=True,
        description="Open Google watch channels and Graph subscriptions on synced calendars; "
        "public_base_url must then be reachable by Google and Microsoft over HTTPS.",
    )
    watch_ttl_hours: int = Field(default=72, ge=1, le=167)
    watch_renew_margin_hours: int = Field(default=24, ge=1, le=166)
    watch_sweep_seconds: float = Field(default=3_600.0, gt=0, le=86_400)

    # Limits on public operations (C25, C33, C34): README "Limits". Anonymous writes are
    # counted in PostgreSQL (every process shares them), anonymous reads per process.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Addresses or CIDR networks of reverse proxies whose X-Forwarded-For "
        "is believed, comma separated; none by default (the socket's peer is the client).",
    )
    public_writes_per_address: int = Field(default=20, ge=1, le=1_000_000)
    public_writes_window_seconds: int = Field(default=600, ge=1, le=86_400)
    public_bookings_per_page: int = Field(default=100, ge=1, le=1_000_000)
    public_bookings_per_page_window_seconds: int = Field(default=3_600, ge=1, le=86_400)
    public_bookings_per_email_per_page_per_day: int = Field(default=3, ge=1, le=1_000_000)
    public_reads_per_address: int = Field(default=300, ge=1, le=10_000_000)
    public_reads_per_page: int = Field(default=1_200, ge=1, le=10_000_000)
    public_reads_window_seconds: int = Field(default=60, ge=1, le=86_400)
    public_sockets_per_address: int = Field(default=10, ge=1, le=100_000)
    public_subscriptions_per_socket: int = Field(default=10, ge=1, le=1_000)
    bot_check_verifier: BotCheckVerifier | None = Field(
        default=None, description="turnstile or hcaptcha; unset: hosts cannot turn it on."
    )
    bot_check_site_key: str | None = None
    bot_check_secret_key: SecretStr | None = None
    bot_check_verify_url: str | None = Field(
        default=None, description="The verifier's siteverify URL; unset: the verifier's own."
    )
    bot_check_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        TrustedProxies.parse(value)  # raises ValueError naming the bad entry
        return value

    @model_validator(mode="after")
    def _bot_check_keys(self) -> Settings:
        if self.bot_check_verifier is not None and not (
            self.bot_check_secret_key and self.bot_check_site_key
        ):
            raise ValueError(
                "SLOTGRAPH_BOT_CHECK_VERIFIER needs SLOTGRAPH_BOT_CHECK_SITE_KEY and "
                "SLOTGRAPH_BOT_CHECK_SECRET_KEY (from the verifier's dashboard)"
            )
        return self

    @field_validator(
        "secret_keys",
        "allowed_origins",
        "outbound_allowed_networks",
        "trusted_proxies",
        "dns_nameservers",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            parse_nameserver(entry)  # ValueError: a clear settings error
        return value

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError: a clear settings error
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("must be a PostgreSQL URL such as postgresql://user@host:5432/db")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _demo_caldav_in_demo_only(self) -> Settings:
        if self.demo_caldav_url and self.mode is not Mode.DEMO:
            raise ValueError(
                "SLOTGRAPH_DEMO_CALDAV_URL is the demo's own calendar server and is allowed "
                "only with --demo; in production use SLOTGRAPH_OUTBOUND_ALLOWED_NETWORKS"
            )
        if self.demo_caldav_url:
            ipaddress.ip_address(urlsplit(self.demo_caldav_url).hostname or "")  # an IP only
        return self

    @property
    def demo_caldav_endpoint(self) -> tuple[str, int] | None:
        """The demo Radicale's address and port, for C46's allowance."""
        if not self.demo_caldav_url:
            return None
        url = urlsplit(self.demo_caldav_url)
        return (url.hostname or "", url.port or 80)

    @model_validator(mode="after")
    def _keys_required_in_production(self) -> Settings:
        if self.mode is Mode.PRODUCTION and not self.secret_keys:
            raise ValueError(
                "SLOTGRAPH_SECRET_KEYS is required in production: generate one with "
                "`slotgraph generate-key`, or run with --demo for a local throwaway key"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _demo_allows_any_origin(cls, data: object) -> object:
        """C35: no other origin by default in production; any in the local demo."""
        demo = isinstance(data, dict) and str(data.get("mode", "")).lower() == Mode.DEMO.value
        if demo and isinstance(data, dict) and "allowed_origins" not in data:
            return {**data, "allowed_origins": ("*",)}
        return data

    @model_validator(mode="after")
    def _watches_renewed_before_they_lapse(self) -> Settings:
        if self.watch_renew_margin_hours >= self.watch_ttl_hours:
            raise ValueError(
                "SLOTGRAPH_WATCH_RENEW_MARGIN_HOURS must be shorter than "
                "SLOTGRAPH_WATCH_TTL_HOURS, or push channels would be renewed without end"
            )
        return self

    @property
    def is_demo(self) -> bool:
        return self.mode is Mode.DEMO

    @property
    def smtp(self) -> SmtpConfig | None:
        if not self.smtp_host:
            return None
        return SmtpConfig(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_from,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            timeout=self.smtp_timeout_seconds,
            extra_ca=tuple(p for p in (self.ca_bundle, self.microsoft_ca_bundle) if p),
        )


class SettingsError(Exception):
    """Raised with a readable, per-variable explanation of invalid settings."""


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides, explaining any error."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            variable = "DATABASE_URL" if name == "database_url" else f"SLOTGRAPH_{name.upper()}"
            if name == "settings":
                variable = "settings"
            lines.append(f"{variable}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
