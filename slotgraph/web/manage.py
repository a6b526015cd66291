"""The manage page, reached by the manage token from the confirmation (C41): the meeting in
the contact's zone, the same slot picker to reschedule, a cancel button and the iCalendar
download; every change goes through the API's contact mutations, as plain forms (POST, then
redirect). The token travels in the query string, never the path, so the access log (which
writes paths) never holds it, and these pages send `Referrer-Policy: no-referrer`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse
from starlette.responses import Response

from slotgraph.web import api
from slotgraph.web.booking import Pages
from slotgraph.web.booking import Visit
from slotgraph.web.locale import negotiate
from slotgraph.web.security import CSRF_FIELD
from slotgraph.web.security import csrf_valid
from slotgraph.web.security import secure

if TYPE_CHECKING:
    from starlette.datastructures import FormData
    from starlette.datastructures import QueryParams
    from starlette.requests import Request


@dataclass(frozen=True)
class Manage:
    pages: Pages

    async def _found(self, request: Request, lang: str, token: str) -> dict[str, Any] | Response:
        if not token:
            return self.pages.status_page(request, lang, "not_found", "")
        found = await self.pages.api.run(request, api.MANAGED, {"token": token})
        if found["__typename"] != "ManagedBooking":
            return self.pages.status_page(request, lang, "not_found", found["message"])
        return dict(found)

    async def view(self, request: Request) -> Response:
        query: QueryParams = request.query_params
        lang = negotiate(str(query.get("lang", "")), request.headers.get("accept-language"), None)
        token = str(query.get("token", ""))
        form: FormData | None = None
        if request.method == "POST":
            form = await request.form()
            token = str(form.get("token", ""))
            lang = negotiate(str(form.get("lang", "")), None, lang)
            if not csrf_valid(self.pages.signer, request, str(form.get(CSRF_FIELD, ""))):
                return self.pages.status_page(request, lang, "csrf", "")
        found = await self._found(request, lang, token)
        if isinstance(found, Response):
            return found
        if form is not None:
            return await self.change(request, found, lang, token, form)
        return await self.render(request, found, lang, token, query)

    def _choices_page(self, found: dict[str, Any]) -> dict[str, Any]:
        booking = found["booking"]
        minutes = (
            dt.datetime.fromisoformat(booking["end"]) - dt.datetime.fromisoformat(booking["start"])
        ) // dt.timedelta(minutes=1)
        return {
            "slug": found["pageSlug"],
            "durations": [minutes],
            "timeZone": found["hostTimeZone"],
        }

    async def render(
        self,
        request: Request,
        found: dict[str, Any],
        lang: str,
        token: str,
        query: QueryParams | FormData,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        page = self._choices_page(found)
        booking = found["booking"]
        carry = (("token", token),)
        if "tz" not in query:
            query = {**dict(query), "tz": booking["timeZone"]}  # type: ignore[assignment]
        choices = self.pages.choices(page, query, lang, carry)
        picker: dict[str, Any] = {"choices": choices}
        movable = booking["status"] not in ("CANCELLED", "DECLINED") and page["slug"] is not None
        if movable:
            visit = Visit(request, page, choices, self.pages.domain_of(request), query)
            shown = await self.pages.picker(visit)
            if isinstance(shown, Response):
                movable = False  # the meeting still shows; moving waits
            else:
                picker = shown
        return self.pages.page_response(
            request,
            "manage.html",
            lang,
            status,
            manage_token=True,
            found=found,
            booking=booking,
            page=page,
            token=token,
            movable=movable,
            again=self.again(found, token, lang),
            done=str(query.get("done", "")),
            error=error,
            **picker,
        )

    def again(self, found: dict[str, Any], token: str, lang: str) -> str | None:
        """The page to book another meeting on; on a connected domain it carries the token,
        so the form comes prefilled with this booking's answers (S16, C26)."""
        url: str | None = found["pageUrl"]
        if url is None:
            return None
        if (urlsplit(url).hostname or "").lower() == self.pages.app_host:
            return f"{url}?{urlencode({'lang': lang})}"
        return f"{url}?{urlencode({'lang': lang, 'prefill': token})}"

    async def change(
        self, request: Request, found: dict[str, Any], lang: str, token: str, form: FormData
    ) -> Response:
        action = str(form.get("action", ""))
        if action == "cancel":
            result = await self.pages.api.run(
                request, api.CANCEL, {"input": {"manageToken": token}}
            )
            done = "cancelled"
        else:
            payload = {
                "manageToken": token,
                "start": str(form.get("start", "")),
                "domain": self.pages.domain_of(request),
            }
            result = await self.pages.api.run(request, api.RESCHEDULE, {"input": payload})
            done = "moved"
        if result["__typename"].endswith("Success"):
            target = "/meetings/manage?" + urlencode(
                {"token": token, "lang": lang, "tz": str(form.get("tz", "")), "done": done}
            )
            return RedirectResponse(target, 303)
        return await self.render(
            request, found, lang, token, form, error=result["message"], status=422
        )

    async def ics(self, request: Request) -> Response:
        """The "add to calendar" download (C43), the API's `ics` as a file."""
        lang = negotiate(None, request.headers.get("accept-language"), None)
        found = await self._found(request, lang, str(request.query_params.get("token", "")))
        if isinstance(found, Response):
            return found
        response = Response(
            found["ics"],
            media_type="text/calendar",
            headers={"Content-Disposition": 'attachment; filename="meeting.ics"'},
        )
        return secure(response, request, "", carries_manage_token=True)
