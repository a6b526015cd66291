"""Connecting, proving and removing domains (C40); the periodic re-check.

An admin adds a domain (`addConnectedDomain`); it is *pending* and the answer names the DNS
TXT record to publish: `_slotgraph-verify.<domain>` holding the domain's random token. Once
DNS shows it, `verifyConnectedDomain` proves the domain and it counts
(`slotgraph.usecases.verified_domains` says what counting means). The workers re-check every
domain every `domain_recheck` (pending ones too, so publishing the record is enough): a
verified domain whose record has been missing for `domain_grace` *lapses* and stops serving
until proven again. A name server that does not answer is never taken for a missing record.

DNS is asked outside any transaction, so a slow name server holds no row lock or pool
connection. Several accounts may hold one domain pending, since whoever adds it first must
not block its owner; the partial unique index lets only one hold it verified, and a
concurrent second proof is `DomainTaken`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from slotgraph.models import Account
from slotgraph.models import ConnectedDomain
from slotgraph.providers.dns_txt import DnsUnavailable
from slotgraph.usecases.domains import DOMAINS
from slotgraph.usecases.errors import DomainCheckUnavailableError
from slotgraph.usecases.errors import DomainNotVerifiedError
from slotgraph.usecases.errors import DomainTakenError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.errors import PlanFeatureRequiredError
from slotgraph.usecases.users import require_admin
from slotgraph.usecases.verified_domains import is_verified_domain
from slotgraph.usecases.verified_domains import verified_domain

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

log = structlog.get_logger("slotgraph.domains")

RECORD_LABEL = "_slotgraph-verify"
RECHECK_BATCH = 50
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclasses.dataclass(frozen=True, slots=True)
class VerificationRecord:
    """The DNS record that proves a domain: a TXT record `name` holding `value`."""

    name: str
    value: str
    type: str = "TXT"


def verification_record(row: ConnectedDomain) -> VerificationRecord:
    return VerificationRecord(name=f"{RECORD_LABEL}.{row.domain}", value=row.verification_token)


def normalise_domain(text: str) -> str:
    """A host name as typed (any case, a trailing dot, Unicode) in its lowercase ASCII form;
    InvalidInput for anything that is not a public host name of two labels or more."""
    name = text.strip().rstrip(".").lower()
    problem = "Give a host name such as meet.example.com (no scheme, path or port)."
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise InvalidInput("An IP address cannot host pages; give a host name.", field="domain")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(problem, field="domain") from None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2:
        raise InvalidInput(problem, field="domain")
    for label in labels:
        if not 1 <= len(label) <= 63 or not set(label) <= _LABEL_CHARS:
            raise InvalidInput(problem, field="domain")
        if label.startswith("-") or label.endswith("-"):
            raise InvalidInput(problem, field="domain")
    return name


async def _proven_elsewhere(session: AsyncSession, row: ConnectedDomain) -> bool:
    other = await session.scalar(
        select(ConnectedDomain.id).where(
            func.lower(ConnectedDomain.domain) == row.domain.lower(),
            ConnectedDomain.id != row.id,
            verified_domain(),
        )
    )
    return other is not None


_ALREADY = "This domain is connected in your account already."
_TAKEN = "This domain is already proven by another account; it can be connected only once."


async def add_connected_domain(
    services: Services, viewer: Viewer | None, domain: str
) -> ConnectedDomain:
    """addConnectedDomain (admins): a pending domain and the record that will prove it."""
    name = normalise_domain(domain)
    if name == (urlsplit(services.public_base_url).hostname or "").lower():
        raise InvalidInput("This is the app's own domain; pages are served there already.")
    async with services.sessionmaker.begin() as session:
        viewer, _ = await require_admin(session, viewer)
        account = await session.get_one(Account, viewer.account_id)
        if not account.custom_domains_enabled:
            raise PlanFeatureRequiredError(
                "Custom domains are not part of this account's plan (S15, C6).", field="domain"
            )
        mine = await session.scalar(
            select(ConnectedDomain.id).where(
                ConnectedDomain.account_id == viewer.account_id,
                func.lower(ConnectedDomain.domain) == name,
            )
        )
        if mine is not None:
            raise DomainTakenError(_ALREADY, field="domain")
        row = ConnectedDomain(
            account_id=viewer.account_id,
            domain=name,
            robots_disallow_meetings=False,
        )
        if await _proven_elsewhere(session, row):
            raise DomainTakenError(_TAKEN, field="domain")
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:  # the same admin twice at once
            raise DomainTakenError(_ALREADY, field="domain") from None
    return row


async def _lookup(services: Services, row: ConnectedDomain) -> bool | None:
    """Whether DNS holds the domain's record now; None when no name server answered."""
    record = verification_record(row)
    try:
        values = await services.dns.lookup(record.name)
    except DnsUnavailable as error:
        log.warning("domain check: DNS did not answer", domain=row.domain, error=str(error))
        return None
    return record.value in values


async def verify_connected_domain(
    services: Services, viewer: Viewer | None, domain_id: int
) -> ConnectedDomain:
    """verifyConnectedDomain (admins): look the record up now; proven, the domain counts."""
    async with services.sessionmaker() as session:
        viewer, _ = await require_admin(session, viewer)
        row = await DOMAINS.one(session, viewer, domain_id, lock=False)
    found = await _lookup(services, row)
    if found is None:
        raise DomainCheckUnavailableError(
            "No name server answered; try again in a minute.", field="id"
        )
    updated = await _record_check(services, row.id, found=found)
    if updated is None:
        raise NotFoundError("connected domain")  # removed meanwhile
    if not found:
        record = verification_record(row)
        raise DomainNotVerifiedError(
            f"DNS has no TXT record {record.name} holding {record.value!r} yet; publish it "
            "and verify again (DNS changes can take a while to show).",
            field="id",
        )
    if not is_verified_domain(updated):
        raise DomainTakenError(_TAKEN, field="id")
    return updated


async def _record_check(
    services: Services, domain_id: int, *, found: bool
) -> ConnectedDomain | None:
    """Write one check's outcome: found proves the domain (unless another account holds it
    proven), missing starts or continues the grace period and lapses it at its end."""
    now = services.clock()
    try:
        async with services.sessionmaker.begin() as session:
            row = await session.get(ConnectedDomain, domain_id, with_for_update=True)
            if row is None:
                return None
            row.checked_at = now
            if found:
                row.missing_since = None
                if not is_verified_domain(row) and not await _proven_elsewhere(session, row):
                    row.verified_at, row.lapsed_at = now, None
                    await session.flush()
            elif is_verified_domain(row):
                row.missing_since = row.missing_since or now
                if now - row.missing_since >= services.domain_grace:
                    row.verified_at, row.lapsed_at = None, now
                    log.warning("domain lapsed: its TXT record is gone", domain=row.domain)
    except IntegrityError:  # another account proved it in the same instant
        async with services.sessionmaker.begin() as session:
            row = await session.get(ConnectedDomain, domain_id)
            if row is not None:
                row.checked_at = now
    return row


async def remove_connected_domain(services: Services, viewer: Viewer | None, domain_id: int) -> int:
    """removeConnectedDomain (admins): pages whose meeting domain it was go back to the app
    domain (the settings' reference is set to NULL by the database)."""
    async with services.sessionmaker.begin() as session:
        viewer, _ = await require_admin(session, viewer)
        row = await DOMAINS.one(session, viewer, domain_id, lock=False)
        await session.execute(delete(ConnectedDomain).where(ConnectedDomain.id == row.id))
    return domain_id


async def recheck_due_domains(services: Services, *, batch: int = RECHECK_BATCH) -> int:
    """The periodic re-check: claim up to `batch` domains not checked for `domain_recheck`
    (never-checked first; SKIP LOCKED and the claim's new `checked_at` share them between
    workers), look each up, and write the outcome. Returns how many were checked."""
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        due = list(
            await session.scalars(
                select(ConnectedDomain)
                .where(
                    or_(
                        ConnectedDomain.checked_at.is_(None),
                        ConnectedDomain.checked_at <= now - services.domain_recheck,
                    )
                )
                .order_by(ConnectedDomain.checked_at.asc().nulls_first(), ConnectedDomain.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        for row in due:
            row.checked_at = now  # claimed: another worker's sweep passes it by
    for row in due:
        found = await _lookup(services, row)
        if found is not None:
            await _record_check(services, row.id, found=found)
    return len(due)


__all__ = [
    "RECORD_LABEL",
    "VerificationRecord",
    "add_connected_domain",
    "normalise_domain",
    "recheck_due_domains",
    "remove_connected_domain",
    "verification_record",
    "verify_connected_domain",
]
