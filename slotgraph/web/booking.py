"""The booking page at a page's `url` (C18): GET shows the month, the chosen day's slots and,
once a slot is chosen, the form; POST books through `bookMeeting` and redirects to the
confirmation (POST, then redirect: it all works without JavaScript). Typed errors of the API
are shown next to their fields; statuses follow C47 and domains C36; a limit's `RateLimited`
(C25) is a 429 page with `Retry-After`.

The same views serve the embed at `/meetings/embed/<slug>` (C41 reserves `embed`): the page
without chrome, framed only by the origins its `embedding` allows, its forms carrying the
embed's cookie-less token (`slotgraph.web.security`). On a connected domain, `?prefill=` with
a manage token fills the form with what that booking submitted (S16, C26)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response

from slotgraph.clock import utc_now
from slotgraph.web import api
from slotgraph.web.api import Limited
from slotgraph.web.locale import negotiate
from slotgraph.web.pages import Choices
from slotgraph.web.pages import month_weeks
from slotgraph.web.pages import parse_date
from slotgraph.web.pages import parse_month
from slotgraph.web.pages import parse_start
from slotgraph.web.pages import shift_month
from slotgraph.web.pages import slots_by_day
from slotgraph.web.pages import valid_zone
from slotgraph.web.pages import zone_choices
from slotgraph.web.security import BOT_CHECK_FIELDS
from slotgraph.web.security import BOT_CHECK_SCRIPTS
from slotgraph.web.security import CSRF_FIELD
from slotgraph.web.security import Signer
from slotgraph.web.security import csrf_cookie
from slotgraph.web.security import csrf_valid
from slotgraph.web.security import form_token
from slotgraph.web.security import new_nonce
from slotgraph.web.security import secure
from slotgraph.web.templates import render

if TYPE_CHECKING:
    from starlette.datastructures import FormData
    from starlette.datastructures import QueryParams
    from starlette.requests import Request

RESERVED = frozenset({"manage", "static", "embed", "assets", "api"})  # C41
RETRY_AFTER_SECONDS = 300
EMBED_PREFIX = "/meetings/embed/"
STATUSES = {"not_found": 404, "off": 403, "csrf": 403, "limited": 429}


@dataclass(frozen=True)
class Visit:
    """One view of a page with the slot picker (the booking page, the manage page): its
    request, the page's fields the picker reads, the visitor's choices, the meeting domain it
    came by, and the query or form whose values it shows."""

    request: Request
    page: dict[str, Any]
    choices: Choices
    domain: str | None
    query: QueryParams | FormData | dict[str, Any]


@dataclass(frozen=True)
class Pages:
    api: api.Api
    signer: Signer
    app_host: str

    def domain_of(self, request: Request) -> str | None:
        host = (request.url.hostname or "").lower()
        return None if host == self.app_host else host

    def page_response(
        self,
        request: Request,
        template: str,
        lang: str,
        status: int = 200,
        *,
        manage_token: bool = False,
        headers: dict[str, str] | None = None,
        embed: bool = False,
        frame_ancestors: tuple[str, ...] = (),
        indexable: bool = False,
        bot_check: str | None = None,
        **values: Any,
    ) -> Response:
        nonce = new_nonce()
        token, new = csrf_cookie(request)
        body = render(
            template,
            lang,
            nonce=nonce,
            csrf_field=CSRF_FIELD,
            csrf_token=form_token(self.signer, token, embed=embed),
            embed=embed,
            bot_check_script=BOT_CHECK_SCRIPTS.get(bot_check or ""),
            noindex=not indexable,
            **values,
        )
        response = HTMLResponse(body, status, headers=headers)
        return secure(
            response,
            request,
            nonce,
            carries_manage_token=manage_token,
            new_csrf=token if new and not embed else None,
            frame_ancestors=frame_ancestors,
            indexable=indexable,
            bot_check=bot_check,
        )

    def status_page(
        self, request: Request, lang: str, kind: str, message: str, retry_after: int = 0
    ) -> Response:
        """C47: unknown 404; turned off 403; host unavailable 503 with Retry-After; a limit
        429 with the API's Retry-After (C25)."""
        status = STATUSES.get(kind, 503)
        seconds = retry_after or RETRY_AFTER_SECONDS
        headers = {"Retry-After": str(seconds)} if status in (429, 503) else None
        return self.page_response(
            request,
            "status.html",
            lang,
            status,
            headers=headers,
            kind=kind,
            message=message,
            minutes=max(1, -(-seconds // 60)),
        )

    def limited(self, request: Request, refused: Limited) -> Response:
        query = request.query_params
        lang = negotiate(query.get("lang"), request.headers.get("accept-language"), None)
        return self.status_page(request, lang, "limited", "", refused.retry_after_seconds)

    def shown(self, page: dict[str, Any], embed: bool) -> dict[str, Any]:
        """How a page of this booking page is framed, indexed and bot-checked."""
        embedding = page.get("embedding") or {"frameAncestors": [], "indexable": True}
        check = page.get("botCheck")
        return {
            "embed": embed,
            "frame_ancestors": tuple(embedding["frameAncestors"]) if embed else (),
            "indexable": embedding["indexable"] and not embed,
            "bot_check": check["verifier"] if check else None,
        }

    async def view(self, request: Request) -> Response:
        return await self.serve(request, embed=False)

    async def embed(self, request: Request) -> Response:
        return await self.serve(request, embed=True)

    async def serve(self, request: Request, *, embed: bool) -> Response:
        slug = request.path_params["slug"].strip("/")
        query = request.query_params
        lang = negotiate(query.get("lang"), request.headers.get("accept-language"), None)
        if not slug or slug.split("/")[0].lower() in RESERVED:
            return self.status_page(request, lang, "not_found", "")
        domain = self.domain_of(request)
        # The app domain is always indexable and only an embed is framed: ask the API about
        # framing and indexing only where the answer can differ (a read fewer per page view).
        page = await self.api.run(
            request,
            api.PAGE,
            {"slug": slug, "domain": domain, "embedding": embed or domain is not None},
        )
        failed = self.page_failure(request, lang, page)
        if failed is not None:
            return failed
        lang = negotiate(
            query.get("lang"), request.headers.get("accept-language"), page["hostLocale"]
        )
        canonical = urlsplit(page["url"])
        if (canonical.hostname or "").lower() != (request.url.hostname or "").lower():
            target = page["url"]
            if embed:
                target = f"{canonical.scheme}://{canonical.netloc}{EMBED_PREFIX}{page['slug']}"
            target += f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(target, 307)  # C36: the meeting domain may change
        form: FormData | None = None
        if request.method == "POST":
            form = await request.form()
            sent = str(form.get(CSRF_FIELD, ""))
            if not csrf_valid(self.signer, request, sent, embed=embed):
                return self.status_page(request, lang, "csrf", "")
            query = form  # type: ignore[assignment]  # same names as the links' query
            lang = negotiate(str(form.get("lang", "")), None, lang)
        prefill = str(query.get("prefill", "")) if domain is not None else ""
        carry = (("prefill", prefill),) if prefill else ()
        choices = self.choices(page, query, lang, carry)
        shown = self.shown(page, embed)
        if form is not None:
            return await self.book(request, page, choices, form, domain, shown)
        sealed = query.get("booked")
        if sealed:
            booked = self.signer.unseal(sealed)
            if booked is not None:
                return self.page_response(
                    request,
                    "confirmed.html",
                    lang,
                    manage_token=True,
                    page=page,
                    booked=booked,
                    **{**shown, "indexable": False},
                )
        values: dict[str, Any] = dict(query)
        if prefill:
            values = {**await self.prefilled(request, page, domain, prefill), **values}
        return await self.booking_page(Visit(request, page, choices, domain, values), shown)

    async def prefilled(
        self, request: Request, page: dict[str, Any], domain: str | None, token: str
    ) -> dict[str, str]:
        """The form's values from the booking whose manage token is presented (C26); none
        when the API refuses (a wrong token fills nothing and says nothing)."""
        found = await self.api.run(
            request, api.PREFILL, {"slug": page["slug"], "domain": domain, "token": token}
        )
        if found["__typename"] != "BookingFormPrefill":
            return {}
        values = {"name": found["name"], "email": found["email"]}
        for answer in found["answers"]:
            values[f"answer_{answer['question']}"] = answer["answer"]
        return values

    def page_failure(self, request: Request, lang: str, answer: dict[str, Any]) -> Response | None:
        kind = answer["__typename"]
        if kind == "NotFound":
            return self.status_page(request, lang, "not_found", answer["message"])
        if kind == "PageUnavailable":
            off = answer["reason"] == "PAGES_TURNED_OFF"
            return self.status_page(
                request, lang, "off" if off else "unavailable", answer["message"]
            )
        if kind == "AvailabilityUnknown":
            return self.status_page(request, lang, "unknown", answer["message"])
        return None

    def choices(
        self,
        page: dict[str, Any],
        query: QueryParams | FormData,
        lang: str,
        carry: tuple[tuple[str, str], ...] = (),
    ) -> Choices:
        zone = valid_zone(str(query.get("tz", ""))) or page["timeZone"]
        durations: list[int] = page["durations"]
        wanted = str(query.get("duration", ""))
        duration = int(wanted) if wanted.isdigit() and int(wanted) in durations else durations[0]
        chosen = parse_date(str(query.get("date", "")))
        month = parse_month(str(query.get("month", "")))
        if month is None:
            today = utc_now().astimezone(dt.UTC).date()
            month = (chosen or today).replace(day=1)
        return Choices(lang=lang, zone=zone, duration=duration, month=month, carry=carry)

    async def booking_page(
        self,
        visit: Visit,
        shown: dict[str, Any],
        *,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        picker = await self.picker(visit)
        if isinstance(picker, Response):
            return picker
        return self.page_response(
            visit.request,
            "booking.html",
            visit.choices.lang,
            status,
            manage_token=bool(visit.choices.carry),
            page=visit.page,
            values=visit.query,
            errors=errors or {},
            **picker,
            **shown,
        )

    async def picker(self, visit: Visit) -> dict[str, Any] | Response:
        """The slot picker's values (month, days with slots, the chosen day and start), the
        same on the booking and the manage page; a status page if the API refuses."""
        choices = visit.choices
        start, end = choices.month_range()
        slots = await self.api.run(
            visit.request,
            api.SLOTS,
            {
                "slug": visit.page["slug"],
                "start": start.isoformat(),
                "end": end.isoformat(),
                "tz": choices.zone,
                "duration": choices.duration,
                "domain": visit.domain,
            },
        )
        failed = self.page_failure(visit.request, choices.lang, slots)
        if failed is not None:
            return failed
        days = slots_by_day(slots["days"]) if slots["__typename"] == "AvailableSlots" else {}
        chosen_date = parse_date(str(visit.query.get("date", "")))
        chosen_start = parse_start(str(visit.query.get("start", "")))
        if chosen_start is not None:
            chosen_date = chosen_start.astimezone(start.tzinfo).date()
        return {
            "choices": choices,
            "weeks": month_weeks(choices.month),
            "days": days,
            "previous_month": shift_month(choices.month, -1),
            "next_month": shift_month(choices.month, 1),
            "chosen_date": chosen_date,
            "chosen_start": chosen_start,
            "zones": zone_choices(visit.page["timeZone"], choices.zone),
        }

    async def book(
        self,
        request: Request,
        page: dict[str, Any],
        choices: Choices,
        form: FormData,
        domain: str | None,
        shown: dict[str, Any],
    ) -> Response:
        visit = Visit(request, page, choices, domain, form)
        answers = []
        for field in page["formFields"]:
            sent = str(form.get(f"answer_{field['key']}", "")).strip()
            if field["kind"] == "CHECKBOX":
                sent = "true" if sent else "false"
            if sent:
                answers.append({"question": field["key"], "answer": sent})
        payload = {
            "pageSlug": page["slug"],
            "start": str(form.get("start", "")),
            "timeZone": choices.zone,
            "duration": choices.duration,
            "domain": domain,
            "contact": {"name": str(form.get("name", "")), "email": str(form.get("email", ""))},
            "answers": answers,
            "idempotencyKey": str(form.get("idempotency_key", "")) or None,
            "language": choices.lang,  # C43: the contact's emails speak the page's language
            "botCheckToken": next(
                (str(form[name]) for name in BOT_CHECK_FIELDS if form.get(name)), None
            ),
        }
        if parse_start(payload["start"]) is None:
            errors = {"start": "?"}
            return await self.booking_page(visit, shown, errors=errors, status=422)
        result = await self.api.run(request, api.BOOK, {"input": payload})
        kind = result["__typename"]
        if kind == "BookMeetingSuccess":
            booking = result["booking"]
            sealed = self.signer.seal(
                {
                    "title": booking["title"],
                    "start": booking["start"],
                    "end": booking["end"],
                    "tz": choices.zone,
                    "status": booking["status"],
                    "offline": result["offline"],
                    "token": result["manageToken"],
                }
            )
            return RedirectResponse(request.url.path + choices.query(booked=sealed), 303)
        failed = self.page_failure(request, choices.lang, result)
        if failed is not None:
            return failed
        errors = {
            problem["field"] or "": problem["message"] for problem in result.get("problems", [])
        }
        errors.setdefault(result.get("field") or "", result["message"])
        return await self.booking_page(visit, shown, errors=errors, status=422)
