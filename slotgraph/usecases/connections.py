"""Connecting and disconnecting calendars (S1–S6, S9, S12, S13, S20).

Rules checked before sending the user to the provider and again, under a row lock on the
user, when the connection is created (so two racing consents cannot exceed S6's limit):
- S3: the user holds the "personal email access" permission;
- S4: the user's own inbox is not connected as a shared inbox;
- S6: one connection per user; accounts created before 2023-03-13 may hold two (one for
  calendar settings, one for meetings settings) until either is disconnected.
Connecting also connects the inbox (S5); calendar sync and scheduling pages start on for
Google and Microsoft 365 (S9, S12). For Exchange, scheduling pages start on (booking
checks its free/busy) and calendar sync off, since S9 names only Google and Microsoft 365.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import structlog
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from slotgraph.calsync.watches import forget_watches
from slotgraph.calsync.watches import stop_all
from slotgraph.jobs import webhooks
from slotgraph.jobs.webhooks import enqueue_webhooks
from slotgraph.models import Account
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models import Credential
from slotgraph.models import InboxConnection
from slotgraph.models import OAuthFlow
from slotgraph.models import RemoteCalendar
from slotgraph.models import User
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import InboxKind
from slotgraph.models.enums import InboxStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Scope
from slotgraph.models.enums import SyncState
from slotgraph.notices.changes import publish_connection_changed
from slotgraph.notices.changes import publish_host_changed
from slotgraph.providers import base as provider_errors
from slotgraph.usecases.errors import AutodiscoverFailedError
from slotgraph.usecases.errors import CalDavAuthFailedError
from slotgraph.usecases.errors import CalDavUnreachableError
from slotgraph.usecases.errors import ConnectionLimitReachedError
from slotgraph.usecases.errors import ExchangeAuthFailedError
from slotgraph.usecases.errors import ExchangeUnreachableError
from slotgraph.usecases.errors import ExchangeVersionUnsupportedError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotACalDavServerError
from slotgraph.usecases.errors import OAuthDeniedError
from slotgraph.usecases.errors import OAuthStateInvalidError
from slotgraph.usecases.errors import PermissionRequiredError
from slotgraph.usecases.errors import ProviderUnavailableError
from slotgraph.usecases.errors import SharedInboxNotAllowedError
from slotgraph.usecases.errors import TlsCertificateUntrustedError
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import of_user
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.providers.base import RemoteCalendarInfo
    from slotgraph.providers.registry import OAuthProvider
    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.connections")

LEGACY_CUTOFF = dt.datetime(2023, 3, 13, tzinfo=dt.UTC)
FLOW_LIFETIME = dt.timedelta(minutes=10)
OAUTH_PROVIDERS = (Provider.GOOGLE, Provider.MICROSOFT365)
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


def redirect_uri(public_base_url: str, provider: Provider) -> str:
    return f"{public_base_url}/oauth/{provider.value.lower()}/callback"


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def _lock_user(session: AsyncSession, user_id: int) -> User:
    return (
        await session.execute(select(User).where(User.id == user_id).with_for_update())
    ).scalar_one()


async def _check_may_connect(
    session: AsyncSession, user: User, account_email: str | None = None
) -> ConnectionPurpose:
    """Raise the first rule (S3, S4, S6) that forbids a new connection; otherwise return
    the purpose the new connection takes."""
    if not user.personal_email_access:
        raise PermissionRequiredError(
            "Connecting a calendar needs the 'personal email access' permission; ask an "
            "account admin to grant it."
        )
    emails = {user.email.lower()} | ({account_email.lower()} if account_email else set())
    shared = await session.execute(
        select(InboxConnection.id).where(
            InboxConnection.account_id == user.account_id,
            InboxConnection.kind == InboxKind.SHARED,
            InboxConnection.status == InboxStatus.CONNECTED,
            func.lower(InboxConnection.email).in_(emails),
        )
    )
    if shared.first() is not None:
        raise SharedInboxNotAllowedError(
            "Your inbox is connected as a shared (team) inbox, and only a personal inbox "
            "can have a calendar; connect your inbox as a personal inbox first."
        )
    active = list(
        (
            await session.execute(
                select(CalendarConnection.purpose).where(
                    CalendarConnection.user_id == user.id,
                    CalendarConnection.status != ConnectionStatus.DISCONNECTED,
                )
            )
        ).scalars()
    )
    if not active:
        return ConnectionPurpose.BOTH
    account = await session.get_one(Account, user.account_id)
    legacy = account.created_at < LEGACY_CUTOFF and user.dual_connections_ended_at is None
    if legacy and len(active) == 1 and active[0] is not ConnectionPurpose.BOTH:
        return (
            ConnectionPurpose.MEETINGS_SETTINGS
            if active[0] is ConnectionPurpose.CALENDAR_SETTINGS
            else ConnectionPurpose.CALENDAR_SETTINGS
        )
    raise ConnectionLimitReachedError(
        "You already have a calendar connected; disconnect it before connecting another."
    )


async def start_oauth(services: Services, viewer: Viewer | None, provider: Provider) -> str:
    """S1: check the rules, remember the flow, and return the provider's consent URL."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    oauth = _oauth(services, provider)
    async with services.sessionmaker() as session:
        user = await session.get_one(User, viewer.user_id)
        await _check_may_connect(session, user)
    state = secrets.token_urlsafe(32)
    try:
        url, flow = await oauth.start(redirect_uri(services.public_base_url, provider), state)
    except provider_errors.ProviderError as exc:
        raise ProviderUnavailableError(
            f"The provider could not start the connection ({exc.message}); try again."
        ) from None
    async with services.sessionmaker.begin() as session:
        session.add(
            OAuthFlow(
                state_hash=_state_hash(state),
                account_id=viewer.account_id,
                user_id=viewer.user_id,
                provider=provider,
                ciphertext=services.credentials.seal(flow),
                expires_at=services.clock() + FLOW_LIFETIME,
            )
        )
    return url


def _oauth(services: Services, provider: Provider) -> OAuthProvider:
    oauth = services.registry.oauth.get(provider.value)
    if provider not in OAUTH_PROVIDERS or oauth is None:
        raise InvalidInput(
            f"{provider.value} sign-in is not configured on this server; ask the operator "
            "to set its client id and secret.",
            field="provider",
        )
    return oauth


async def _consume_flow(
    services: Services, provider: Provider, state: str | None
) -> tuple[OAuthFlow, dict[str, Any]]:
    """The flow for `state`, deleted in its own transaction so it is used at most once."""
    if not state:
        raise OAuthStateInvalidError(_STATE_MESSAGE)
    async with services.sessionmaker.begin() as session:
        flow = (
            await session.execute(
                delete(OAuthFlow)
                .where(OAuthFlow.state_hash == _state_hash(state))
                .returning(OAuthFlow)
            )
        ).scalar_one_or_none()
    if flow is None or flow.provider is not provider or flow.expires_at < services.clock():
        raise OAuthStateInvalidError(_STATE_MESSAGE)
    return flow, services.credentials.unseal(flow.ciphertext)


_STATE_MESSAGE = (
    "This sign-in link is unknown, already used or expired; start connecting the calendar again."
)


async def finish_oauth(
    services: Services, provider: Provider, params: Mapping[str, str]
) -> CalendarConnection:
    """The provider redirected back: exchange the code, list calendars, connect (S1)."""
    oauth = _oauth(services, provider)
    flow_row, flow = await _consume_flow(services, provider, params.get("state"))
    if params.get("error"):
        raise OAuthDeniedError(
            "Access was not granted at the provider's consent screen; connect again and "
            "allow calendar access to continue."
        )
    try:
        grant = await oauth.finish(flow, params, redirect_uri(services.public_base_url, provider))
    except provider_errors.ProviderError as exc:
        raise _oauth_error(exc) from None
    tokens = _SecretTokens(oauth, grant.secret)
    try:
        calendars = await oauth.client(tokens, grant.account_email).list_calendars()
    except provider_errors.ProviderError as exc:
        raise _oauth_error(exc) from None
    return await _create_connection(
        services, flow_row.user_id, provider, grant.account_email, tokens.secret, calendars
    )


class _SecretTokens:
    """A `TokenSource` over a secret held in memory (not yet stored, or about to be
    deleted), keeping the refreshed secret in `secret`."""

    def __init__(self, oauth: OAuthProvider, secret: dict[str, Any]) -> None:
        self.oauth = oauth
        self.secret = secret

    async def __call__(self, force: bool) -> str:
        access, renewed = await self.oauth.access_token(self.secret, force=force)
        self.secret = renewed or self.secret
        return access


def _oauth_error(exc: provider_errors.ProviderError) -> Exception:
    if isinstance(exc, provider_errors.OAuthStateInvalid):
        return OAuthStateInvalidError(_STATE_MESSAGE)
    if isinstance(exc, provider_errors.OAuthDenied | provider_errors.AccessRevoked):
        return OAuthDeniedError(
            "The provider did not grant calendar access; connect again and allow it."
        )
    return ProviderUnavailableError(
        f"The provider failed while connecting ({exc.message}); try connecting again."
    )


AdapterT = TypeVar("AdapterT")


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    """What a password-login form sends (S2 Exchange, C28 CalDAV): the account's email, its
    password (never logged or stored in clear), the login name when it is not the email,
    and the server's URL when it is not to be discovered."""

    email: str
    password: str
    username: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class _LoginForm:
    """How one password-login form (Exchange, CalDAV) words its problems (`blank_hint`: what
    to say when no password is given)."""

    provider: str
    email_problem: str
    blank_hint: str
    url_field: str
    url_hint: str


_EXCHANGE_LOGIN = _LoginForm(
    provider="Exchange",
    email_problem="Give the mailbox's email address, like name@example.com.",
    blank_hint="Give the mailbox password (or an app password).",
    url_field="ewsUrl",
    url_hint="The Exchange URL looks like https://mail.example.com/EWS/Exchange.asmx; "
    "leave it empty to discover it automatically.",
)
_CALDAV_LOGIN = _LoginForm(
    provider="CalDAV",
    email_problem="Give the account's email address, like name@example.com.",
    blank_hint="Give the account's app-specific password (iCloud and Fastmail need one).",
    url_field="serverUrl",
    url_hint="The server URL looks like https://cloud.example.com/remote.php/dav; leave it "
    "empty to find it from the email address.",
)


async def _password_login(
    services: Services,
    viewer: Viewer,
    form: _LoginForm,
    adapter: AdapterT | None,
    login: PasswordLogin,
) -> tuple[AdapterT, PasswordLogin]:
    """What the password-login forms check alike, in this order, before any login is tried:
    the email, the password, the optional server URL, that the provider is enabled (its
    `adapter` configured), and S3, S4, S6 for the viewer. The adapter, and the login as it
    is to be used (email trimmed, an empty username or URL as None)."""
    email = login.email.strip()
    if not EMAIL.match(email):
        raise InvalidInput(form.email_problem, field="email")
    if not login.password:
        raise InvalidInput(form.blank_hint, field="password")
    server_url = _server_url(login.url, field=form.url_field, hint=form.url_hint)
    if adapter is None:
        raise InvalidInput(f"{form.provider} is not enabled on this server.", field=form.url_field)
    await _viewer_may_connect(services, viewer, email)
    return adapter, replace(login, email=email, username=login.username or None, url=server_url)


async def connect_exchange(
    services: Services, viewer: Viewer | None, login: PasswordLogin
) -> CalendarConnection:
    """S2: validate the Exchange login (autodiscover when no URL is given) and connect."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    exchange, login = await _password_login(
        services, viewer, _EXCHANGE_LOGIN, services.registry.exchange, login
    )
    try:
        account = await exchange.connect(
            email=login.email, password=login.password, username=login.username, ews_url=login.url
        )
        calendars = await exchange.client(account.secret).list_calendars()
    except provider_errors.ProviderError as exc:
        raise _exchange_error(exc) from None
    return await _create_connection(
        services,
        viewer.user_id,
        Provider.EXCHANGE,
        account.account_email,
        account.secret,
        calendars,
    )


def _exchange_error(exc: provider_errors.ProviderError) -> Exception:
    match exc:
        case provider_errors.AuthenticationFailed():
            return ExchangeAuthFailedError(
                "Exchange refused the email, username or password. If the account uses "
                "two-factor authentication, create an app password and use it here.",
                field="password",
            )
        case provider_errors.ServerUnsupported():
            return ExchangeVersionUnsupportedError(
                f"{exc.message} Slotgraph needs Exchange 2010 SP2 or newer.", field="ewsUrl"
            )
        case provider_errors.DiscoveryFailed():
            return AutodiscoverFailedError(
                "Could not find the Exchange server for this address automatically; enter "
                "the Exchange (EWS) URL, e.g. https://mail.example.com/EWS/Exchange.asmx.",
                field="ewsUrl",
            )
        case provider_errors.TlsCertificateUntrusted():
            return TlsCertificateUntrustedError(exc.message, field="ewsUrl")
        case provider_errors.AddressNotAllowed():
            return InvalidInput(exc.message, field="ewsUrl")
        case provider_errors.ServerUnreachable():
            return ExchangeUnreachableError(
                "The Exchange server did not answer at this URL; check the URL and that the "
                "server is reachable from the internet.",
                field="ewsUrl",
            )
        case _:
            return ProviderUnavailableError(
                f"Exchange failed while connecting ({exc.message}); try again shortly."
            )


async def connect_caldav(
    services: Services, viewer: Viewer | None, login: PasswordLogin
) -> CalendarConnection:
    """C28: find the CalDAV account (the URL given, else by the email's domain, C44), prove
    the login and connect, with the connection rules of S3, S4 and S6."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    caldav, login = await _password_login(
        services, viewer, _CALDAV_LOGIN, services.registry.caldav, login
    )
    try:
        account = await caldav.connect(
            email=login.email,
            password=login.password,
            username=login.username,
            server_url=login.url,
        )
    except provider_errors.ProviderError as exc:
        raise _caldav_error(exc) from None
    return await _create_connection(
        services, viewer.user_id, Provider.CALDAV, login.email, account.secret, account.calendars
    )


def _server_url(value: str | None, *, field: str, hint: str) -> str | None:
    """An optional server URL the user typed: None when empty, else an http(s) URL."""
    value = (value or "").strip() or None
    if value is not None and not value.startswith(("https://", "http://")):
        raise InvalidInput(hint, field=field)
    return value


async def _viewer_may_connect(services: Services, viewer: Viewer, email: str) -> None:
    """S3, S4, S6 checked before a password login is tried (and again when it is stored)."""
    async with services.sessionmaker() as session:
        user = await session.get_one(User, viewer.user_id)
        await _check_may_connect(session, user, email)


def _caldav_error(exc: provider_errors.ProviderError) -> Exception:
    match exc:
        case provider_errors.AuthenticationFailed():
            return CalDavAuthFailedError(exc.message, field="password")
        case provider_errors.NotACalDavServer():
            return NotACalDavServerError(exc.message, field="serverUrl")
        case provider_errors.TlsCertificateUntrusted():
            return TlsCertificateUntrustedError(exc.message, field="serverUrl")
        case provider_errors.AddressNotAllowed():
            return InvalidInput(exc.message, field="serverUrl")
        case provider_errors.ServerUnreachable():
            return CalDavUnreachableError(exc.message, field="serverUrl")
        case _:
            return ProviderUnavailableError(
                f"The CalDAV server failed while connecting ({exc.message}); try again shortly."
            )


def _access(info: RemoteCalendarInfo) -> CalendarAccess:
    return CalendarAccess(info.access.value)


async def _create_connection(
    services: Services,
    user_id: int,
    provider: Provider,
    account_email: str,
    secret: dict[str, Any],
    calendars: list[RemoteCalendarInfo],
) -> CalendarConnection:
    oauth_provider = provider in OAUTH_PROVIDERS
    async with services.sessionmaker.begin() as session:
        user = await _lock_user(session, user_id)
        purpose = await _check_may_connect(session, user, account_email)
        connection = CalendarConnection(
            account_id=user.account_id,
            user_id=user.id,
            provider=provider,
            account_email=account_email,
            purpose=purpose,
            status=ConnectionStatus.CONNECTED,
            sync_state=SyncState.IDLE,
            calendar_sync_enabled=oauth_provider,
            task_sync_enabled=False,
            scheduling_pages_enabled=True,
            events_synced=0,
        )
        session.add(connection)
        await session.flush()
        await services.credentials.save(session, connection, secret)
        session.add_all(
            RemoteCalendar(
                account_id=user.account_id,
                connection_id=connection.id,
                remote_id=info.remote_id,
                name=info.name[:500],
                time_zone=info.time_zone,
                access=_access(info),
                is_primary=info.is_primary,
                can_see_all_details=info.can_see_all_details,
                color=info.color,
                status=CalendarStatus.CONNECTED,
            )
            for info in calendars
        )
        await _connect_inbox(session, user, connection)
        await session.flush()
    log.info("calendar connected", connection_id=connection.id, provider=provider.value)
    await publish_connection(services, connection)
    return connection


async def publish_connection(services: Services, connection: CalendarConnection) -> None:
    """After commit: the connection's watchers (C1) and its host's pages re-read."""
    await publish_connection_changed(services.pubsub, connection.id)
    await publish_host_changed(services.pubsub, services.sessionmaker, connection.user_id)


async def _connect_inbox(session: AsyncSession, user: User, connection: CalendarConnection) -> None:
    """S5: the calendar's inbox is connected too (personal); reconnected if it was off."""
    inbox = (
        await session.execute(
            select(InboxConnection).where(
                InboxConnection.user_id == user.id,
                func.lower(InboxConnection.email) == connection.account_email.lower(),
                InboxConnection.kind == InboxKind.PERSONAL,
            )
        )
    ).scalar_one_or_none()
    if inbox is None:
        inbox = InboxConnection(
            account_id=user.account_id,
            user_id=user.id,
            email=connection.account_email,
            kind=InboxKind.PERSONAL,
        )
        session.add(inbox)
    inbox.status = InboxStatus.CONNECTED
    inbox.calendar_connection_id = connection.id


_CONNECTIONS = RowLookup(
    CalendarConnection,
    of_user(CalendarConnection.user_id),
    "connected calendar",
    also=(CalendarConnection.status != ConnectionStatus.DISCONNECTED,),
)
_INBOXES = RowLookup(
    InboxConnection, of_user(InboxConnection.user_id), "inbox connection", field="inboxId"
)


async def own_connection(
    session: AsyncSession, viewer: Viewer, connection_id: int, *, field: str
) -> CalendarConnection:
    """The viewer's connection (not disconnected), locked; NotFound for anyone else's (C9)."""
    return await _CONNECTIONS.one(session, viewer, connection_id, field=field)


async def disconnect(
    services: Services, viewer: Viewer | None, connection_id: int
) -> CalendarConnection:
    """Disconnect: the credentials are deleted, the calendars leave the availability
    selection, push channels are stopped and the grant revoked at the provider (best effort,
    after commit). The inbox
    stays connected (S5). A legacy user's dual setup ends here (S6)."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    secret: dict[str, Any] | None = None
    async with services.sessionmaker.begin() as session:
        user = await _lock_user(session, viewer.user_id)
        connection = await own_connection(session, viewer, connection_id, field="connectionId")
        if connection.provider in OAUTH_PROVIDERS:
            secret = await services.credentials.load(session, connection.id)
        remote_ids = select(RemoteCalendar.id).where(RemoteCalendar.connection_id == connection.id)
        await session.execute(
            delete(AvailabilityCalendar).where(
                AvailabilityCalendar.remote_calendar_id.in_(remote_ids)
            )
        )
        await session.execute(delete(Credential).where(Credential.connection_id == connection.id))
        watches = await forget_watches(session, connection.id)
        now = services.clock()
        if connection.purpose is not ConnectionPurpose.BOTH:
            user.dual_connections_ended_at = now
        connection.status = ConnectionStatus.DISCONNECTED
        connection.disconnected_at = now
        connection.task_sync_enabled = False
        connection.sync_state = SyncState.IDLE
        await enqueue_webhooks(session, webhooks.CONNECTION_STATUS_CHANGED, connection, now=now)
    await publish_connection(services, connection)
    oauth = services.registry.oauth.get(connection.provider.value)
    if secret is not None and oauth is not None:
        tokens = _SecretTokens(oauth, secret)
        await stop_all(oauth.client(tokens, connection.account_email), watches)
        try:
            await oauth.revoke(tokens.secret)
        except provider_errors.ProviderError:
            log.warning("revocation failed", connection_id=connection.id)
    return connection


async def disconnect_inbox(
    services: Services, viewer: Viewer | None, inbox_id: int
) -> InboxConnection:
    """S5: the inbox can be disconnected alone; the calendar keeps working."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    async with services.sessionmaker.begin() as session:
        inbox = await _INBOXES.one(session, viewer, inbox_id, lock=False)
        inbox.status = InboxStatus.DISCONNECTED
    return inbox
