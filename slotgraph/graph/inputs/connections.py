"""Inputs of the connection mutations."""

from __future__ import annotations

import enum

import strawberry

from slotgraph.graph.inputs.settings import ConnectionTogglesInput
from slotgraph.usecases.connections import PasswordLogin


@strawberry.enum(description="Providers connected through an OAuth consent screen (S1).")
class OAuthProviderKind(enum.Enum):
    GOOGLE = "GOOGLE"
    MICROSOFT365 = "MICROSOFT365"


@strawberry.input
class StartCalendarConnectionInput:
    provider: OAuthProviderKind


@strawberry.input(description="S2: Exchange 2010 SP2 or newer, over EWS.")
class ConnectExchangeCalendarInput:
    email: str
    password: str = strawberry.field(
        description="The mailbox password, or an app password with two-factor auth. Never "
        "returned or logged."
    )
    username: str | None = strawberry.field(
        default=None, description="Usually the part before @ or a user id; default: email."
    )
    ews_url: str | None = strawberry.field(
        default=None,
        description="e.g. https://mail.example.com/EWS/Exchange.asmx; empty: autodiscover.",
    )

    def login(self) -> PasswordLogin:
        return PasswordLogin(self.email, self.password, self.username, self.ews_url)


@strawberry.input(
    description="C28: a CalDAV account (iCloud, Fastmail, Nextcloud or any RFC 4791 server)."
)
class ConnectCalDavCalendarInput:
    email: str
    password: str = strawberry.field(
        description="An app-specific password (iCloud and Fastmail require one). Never "
        "returned or logged."
    )
    username: str | None = strawberry.field(
        default=None, description="The server's login name; default: the email address."
    )
    server_url: str | None = strawberry.field(
        default=None,
        description="e.g. https://cloud.example.com/remote.php/dav; empty: found from the "
        "email's domain (iCloud, Fastmail, then RFC 6764 discovery, then Nextcloud's path).",
    )

    def login(self) -> PasswordLogin:
        return PasswordLogin(self.email, self.password, self.username, self.server_url)


@strawberry.input
class DisconnectCalendarInput:
    connection_id: strawberry.ID


@strawberry.input
class SyncCalendarConnectionInput:
    connection_id: strawberry.ID


@strawberry.input
class DisconnectInboxInput:
    inbox_id: strawberry.ID


@strawberry.input(description="The whole availability selection (S12); replaces the old one.")
class SetAvailabilityCalendarsInput:
    calendar_ids: list[strawberry.ID]


@strawberry.input(
    description="C3, C28: the calendar meetings are written to, on a CalDAV connection."
)
class SetMeetingsCalendarInput:
    calendar_id: strawberry.ID = strawberry.field(
        description="A RemoteCalendar the user can write to (access OWNER or WRITER)."
    )


# The partner app's updateCalendarConnection is one connection's slice of the settings
# save (C8), so its input is the settings' toggles under its own GraphQL name.
@strawberry.input(description="Per-connection toggles; omitted ones keep their value.")
class UpdateCalendarConnectionInput(ConnectionTogglesInput):
    pass
