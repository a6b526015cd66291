"""S16: prefill a page's booking form from the contact's earlier form submissions.

Anonymous callers must not be able to read a contact's data by guessing an email, so the
visitor proves who they are with the manage token an earlier booking gave them (only its
SHA-256 is stored; an unknown token and one from another account answer the same
`NotFound`). The answer draws on that contact's submissions in the page's account only,
newest answer per question first, and is offered only on the account's custom domains, as
S16 describes; on the app domain the form starts empty.

Only answers the page's form would take today are returned: one per current form field
(by key, so a question shared by several pages of the account is prefilled on each),
and only if that field accepts it now (a choice since removed is left out). Anything else
the contact once answered is not needed to fill this form, so it is not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select

from slotgraph.models import Booking, Contact
from slotgraph.scheduling import forms
from slotgraph.usecases.bookings import manage_token_digest
from slotgraph.usecases.errors import InvalidInput, NotFoundError
from slotgraph.usecases.pages import get_public_page

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

MAX_SUBMISSIONS = 50
_UNKNOWN_LINK = "No earlier booking for this link; fill in the form."


@dataclass(frozen=True, slots=True)
class Prefill:
    name: str
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
        contact = (
            await session.execute(
                select(Contact)
                .join(Booking, Booking.contact_id == Contact.id)
                .where(
                    Booking.manage_token_hash == manage_token_digest(manage_token),
                    Booking.account_id == public.page.account_id,
                )
            )
        ).scalar_one_or_none()
        if contact is None:
            raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
        submissions = (
            await session.execute(
                select(Booking.answers)
                .where(Booking.contact_id == contact.id)
                .order_by(Booking.id.desc())
                .limit(MAX_SUBMISSIONS)
            )
        ).scalars()
        fields = {item.key: item for item in public.form_fields}
        answers: dict[str, str] = {}
        for submitted in submissions:
            for key, answer in submitted.items():
                item = fields.get(key)
                if item is not None and key not in answers and forms.accepts(item, answer):
                    answers[key] = answer
    return Prefill(name=contact.name, email=contact.email, answers=answers)
