"""The OAuth consent callback (S1): the provider redirects the user here with a code and
state (in the query string, or POSTed as a form with `response_mode=form_post`, which
Microsoft's sign-in uses so the code never sits in a URL); we finish the connection and send
the user on to the calendar settings in the dashboard, telling it what happened in the query
string. Never a 500, never a token in the URL."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl
from urllib.parse import urlencode

import structlog
from starlette.responses import RedirectResponse

from slotgraph.graph.errors import error_code
from slotgraph.graph.relay import to_global_id
from slotgraph.models.enums import Provider
from slotgraph.usecases import connections
from slotgraph.usecases.errors import DomainError

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.oauth")
PROVIDERS = {"google": Provider.GOOGLE, "microsoft365": Provider.MICROSOFT365}


def callback_endpoint(
    services: Services, dashboard_url: str
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for GET and POST /oauth/{provider}/callback."""

    def redirect(**params: str) -> Response:
        separator = "&" if "?" in dashboard_url else "?"
        return RedirectResponse(f"{dashboard_url}{separator}{urlencode(params)}", status_code=303)

    async def callback(request: Request) -> Response:
        provider = PROVIDERS.get(request.path_params["provider"])
        if provider is None:
            return redirect(
                calendarConnectionError="NOT_FOUND", message="Unknown calendar provider."
            )
        answer = list(request.query_params.items())
        if request.method == "POST":  # form_post: parsed here, python-multipart is not needed
            answer = parse_qsl((await request.body()).decode("utf-8", "replace"))
        params = {key: value[:2_000] for key, value in answer}
        try:
            connection = await connections.finish_oauth(services, provider, params)
        except DomainError as exc:
            log.info("oauth callback refused", provider=provider.value, code=error_code(exc))
            return redirect(calendarConnectionError=error_code(exc), message=exc.message)
        except Exception:  # the user is mid-redirect: a 500 page would strand them
            log.exception("oauth callback failed", provider=provider.value)
            return redirect(
                calendarConnectionError="INTERNAL",
                message="Something went wrong on our side while connecting; try again.",
            )
        return redirect(
            calendarConnection=to_global_id("CalendarConnection", connection.id),
            status="CONNECTED",
        )

    return callback
