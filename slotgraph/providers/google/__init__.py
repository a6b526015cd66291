"""Google Calendar adapter: OAuth 2.0 consent, token refresh and revocation (`signin`), the
`CalendarClient` over Calendar API v3 REST (`client`), API resources ↔ our value types
(`wire`), Google's failures → the provider error tree (`errors`) and push channels (`push`).

Rate limits: 429, and 403 with reason `rateLimitExceeded`/`userRateLimitExceeded`, are
`RateLimited` with any `Retry-After`; 5xx and timeouts are transient; all are retried by
`with_retries` within its bounds. The names other code uses are importable from here.
"""

from slotgraph.providers.google.client import FREE_BUSY_MAX_CALENDARS
from slotgraph.providers.google.client import FREE_BUSY_MAX_SPAN
from slotgraph.providers.google.client import PAGE_SIZE
from slotgraph.providers.google.client import GoogleCalendarClient
from slotgraph.providers.google.errors import PROVIDER
from slotgraph.providers.google.signin import CALENDAR_SCOPE
from slotgraph.providers.google.signin import REFRESH_LEEWAY_SECONDS
from slotgraph.providers.google.signin import SCOPES
from slotgraph.providers.google.signin import GoogleOAuth
from slotgraph.providers.google.wire import event_id_for
from slotgraph.providers.google.wire import remote_event

__all__ = [
    "CALENDAR_SCOPE",
    "FREE_BUSY_MAX_CALENDARS",
    "FREE_BUSY_MAX_SPAN",
    "PAGE_SIZE",
    "PROVIDER",
    "REFRESH_LEEWAY_SECONDS",
    "SCOPES",
    "GoogleCalendarClient",
    "GoogleOAuth",
    "event_id_for",
    "remote_event",
]
