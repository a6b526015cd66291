"""Microsoft 365 adapter: the consent flow and token refresh with msal (`signin`), the
`CalendarClient` over Microsoft Graph v1.0 with httpx (`client`), Graph JSON ↔ our value
types (`wire`), Microsoft's failures → the provider error tree (`errors`) and change
notification subscriptions (`push`). The names other code uses are importable from here.
"""

from slotgraph.providers.microsoft.client import KEY_PROPERTY
from slotgraph.providers.microsoft.client import SCHEDULE_MAX_MAILBOXES
from slotgraph.providers.microsoft.client import SCHEDULE_MAX_SPAN
from slotgraph.providers.microsoft.client import MicrosoftCalendarClient
from slotgraph.providers.microsoft.errors import PROVIDER
from slotgraph.providers.microsoft.errors import REVOKED_MESSAGE
from slotgraph.providers.microsoft.graph import MAX_CONCURRENT_PER_MAILBOX
from slotgraph.providers.microsoft.graph import PAGE_SIZE
from slotgraph.providers.microsoft.graph import mailbox_gate
from slotgraph.providers.microsoft.push import MAX_SUBSCRIPTION_TTL
from slotgraph.providers.microsoft.signin import SCOPES
from slotgraph.providers.microsoft.signin import SECRET_VERSION
from slotgraph.providers.microsoft.signin import MicrosoftOAuth

__all__ = [
    "KEY_PROPERTY",
    "MAX_CONCURRENT_PER_MAILBOX",
    "MAX_SUBSCRIPTION_TTL",
    "PAGE_SIZE",
    "PROVIDER",
    "REVOKED_MESSAGE",
    "SCHEDULE_MAX_MAILBOXES",
    "SCHEDULE_MAX_SPAN",
    "SCOPES",
    "SECRET_VERSION",
    "MicrosoftCalendarClient",
    "MicrosoftOAuth",
    "mailbox_gate",
]
