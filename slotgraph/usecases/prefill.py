"""S16: prefill a page's booking form from the visitor's own earlier submission (C26).

C26 makes prefill private: it shows only what the presenting party itself submitted. The
visitor proves which submission is theirs with the manage token that booking gave them
(only its SHA-256 is stored; an unknown token and one from another account answer the
same `NotFound`), and the answer is drawn from *that booking alone*: the name typed on it,
the email it was booked under and its answers. A reschedule moves a booking in place
(`slotgraph.usecases.manage_bookings`), so "the bookings it was moved from" are the same
row and keep their answers.

Never from anything matched by email: CRM contacts are matched by email (S20), and anyone
can book with someone else's address, so the contact's stored name and the answers of the
contact's other bookings may be another person's. Neither is read here.

Prefill is offered only on the account's custom domains, as S16 describes; on the app
domain the form starts empty.

Only answers the page's form would take today are returned: one per current form field
(by key, so a question shared by several pages of the account is prefilled on each), and
only if that field accepts it now (a choice since removed is left out). Anything else the
booking answered is not needed to fill this form, so it is not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select

from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.scheduling import forms
from slotgraph.usecases.bookings import manage_token_digest
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.pages import get_public_page

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

_UNKNOWN_LINK = "No earlier booking for this link; fill in the form."


@dataclass(frozen=True, slots=True)
class Prefill:
    name: str  # "" for bookings made before the typed name was kept (migration 0013)
    email: str
    answers: dict[str, str]


async def booking_form_prefill(
    services: Services, *, slug: str, domain: str | None, manage_token: str
) -> Prefill:
    app_host = (urlsplit(services.public_base_url).hostname or "").lower()
    if domain is None or domain.lower() == app_host:
        raise InvalidInput(
            "Prefill is offered on the account's custom domains only (S16); fill in the form.",
            field="domain",
        )
    public = await get_public_page(services, slug, domain)
    if not 1 <= len(manage_token) <= 200:
        raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
    async with services.sessionmaker() as session:
        row = (
            await session.execute(
                select(Booking.contact_name, Booking.answers, Contact.email)
                .join(Contact, Contact.id == Booking.contact_id)
                .where(
                    Booking.manage_token_hash == manage_token_digest(manage_token),
                    Booking.account_id == public.page.account_id,
                )
            )
        ).one_or_none()
    if row is None:
        raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
    name, submitted, email = row
    fields = {item.key: item for item in public.form_fields}
    answers = {
        key: answer
        for key, answer in submitted.items()
        if key in fields and forms.accepts(fields[key], answer)
    }
    return Prefill(name=name or "", email=email, answers=answers)
