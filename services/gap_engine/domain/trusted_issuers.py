"""The organisation's trusted-issuer registry. Every change re-derives the skill facts of the
credentials already received from the issuer (counted, no longer counted, or at the new weight), so
nothing has to be posted again.

Trust is keyed on the issuer id credentials carry (a DID or URL): that is what the verifier binds to
the proof. The organisation's own issuers at the badge issuer are trusted automatically ("own"), and
also remembered by their UUID there (`issuer_ref`): a did:key issuer's DID changes when its key is
rotated, so a credential under the new DID from the same issuer is trusted with the same weight,
and distrusting one DID of an own issuer distrusts all of them (kept, so no delivery re-trusts it).
"""

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import TrustedIssuer
from services.gap_engine.domain import received_credentials
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.received_credentials import NOT_TRUSTED, resettle_issuer
from shared.db import utcnow
from shared.errors import Conflict, NotFound
from shared.schemas.gaps import (
    ReceivedCredentialOut,
    TrustedIssuerIn,
    TrustedIssuerList,
    TrustedIssuerOut,
    TrustedIssuerUpdate,
)

ADMIN, OWN = "admin", "own"


def describe(row: TrustedIssuer) -> TrustedIssuerOut:
    return TrustedIssuerOut(
        id=row.id,
        issuer_id=row.issuer_id,
        weight=row.weight,
        note=row.note,
        origin=row.origin,
        issuer_ref=row.issuer_ref,
        trusted=row.distrusted_at is None,
        distrusted_at=row.distrusted_at,
        created_at=row.created_at,
    )


async def _entry(session: AsyncSession, org_id: uuid.UUID, trusted_id: uuid.UUID) -> TrustedIssuer:
    row = await session.scalar(
        select(TrustedIssuer).where(TrustedIssuer.org_id == org_id, TrustedIssuer.id == trusted_id)
    )
    if row is None:
        raise NotFound(f"No trusted issuer with id {trusted_id} in this organisation.")
    return row


async def _same_issuer(session: AsyncSession, row: TrustedIssuer) -> list[TrustedIssuer]:
    """The row and, for an issuer known by its badge-issuer UUID, its rows under other DIDs."""
    if row.issuer_ref is None:
        return [row]
    rows = await session.scalars(
        select(TrustedIssuer).where(TrustedIssuer.org_id == row.org_id, TrustedIssuer.issuer_ref == row.issuer_ref)
    )
    return list(rows)


async def _resettle(session: AsyncSession, rows: list[TrustedIssuer]) -> None:
    await session.flush()
    for row in rows:
        await resettle_issuer(session, row.org_id, row.issuer_id)


async def trust_issuer(session: AsyncSession, org_id: uuid.UUID, body: TrustedIssuerIn) -> TrustedIssuerOut:
    """Adds the issuer (or trusts again an own issuer an admin had distrusted) and promotes its
    waiting credentials to counted facts in the same transaction."""
    existing = await session.scalar(
        select(TrustedIssuer).where(TrustedIssuer.org_id == org_id, TrustedIssuer.issuer_id == body.issuer_id)
    )
    if existing is not None and existing.distrusted_at is None:
        raise Conflict("This issuer is already trusted.", id=str(existing.id))
    if existing is not None:
        rows = await _same_issuer(session, existing)
        for row in rows:
            row.distrusted_at, row.weight = None, body.weight
        existing.note = body.note
        row = existing
    else:
        row = TrustedIssuer(org_id=org_id, origin=ADMIN, created_at=utcnow(), **body.model_dump())
        row.id = uuid.uuid4()
        session.add(row)
        rows = [row]
    await _resettle(session, rows)
    return describe(row)


async def list_trusted(session: AsyncSession, org_id: uuid.UUID) -> TrustedIssuerList:
    rows = await session.scalars(
        select(TrustedIssuer).where(TrustedIssuer.org_id == org_id).order_by(TrustedIssuer.issuer_id)
    )
    return TrustedIssuerList(items=[describe(row) for row in rows])


async def update_trusted(
    session: AsyncSession, org_id: uuid.UUID, trusted_id: uuid.UUID, body: TrustedIssuerUpdate
) -> TrustedIssuerOut:
    """A new weight applies to every fact already derived from the issuer's credentials (under each of
    its DIDs, for an own issuer)."""
    row = await _entry(session, org_id, trusted_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("weight") is not None:
        rows = await _same_issuer(session, row)
        for sibling in rows:
            sibling.weight = changes["weight"]
        await _resettle(session, rows)
    if "note" in changes:
        row.note = changes["note"]
    await session.flush()
    return describe(row)


async def distrust_issuer(session: AsyncSession, org_id: uuid.UUID, trusted_id: uuid.UUID) -> None:
    """Its credentials stop counting but stay on record as not trusted. An issuer known by its
    badge-issuer UUID is kept, marked distrusted, so that its next webhook delivery does not trust it
    again automatically; an admin trusts it again with POST."""
    row = await _entry(session, org_id, trusted_id)
    rows = await _same_issuer(session, row)
    if row.issuer_ref is None:
        await session.delete(row)
    else:
        now = utcnow()
        for sibling in rows:
            sibling.distrusted_at = sibling.distrusted_at or now
    await _resettle(session, rows)


async def ensure_own_issuer(session: AsyncSession, org_id: uuid.UUID, did: str, issuer_ref: uuid.UUID) -> None:
    """Trusts one of the organisation's own issuers under `did`, with the weight (and trust) the
    registry already gives that issuer under another DID, or 1. An entry an admin made for the DID
    is kept as it is, only linked to the issuer.

    Two first deliveries from the issuer taken at once (two replicas) both find no entry; the later
    insert meets the earlier's unique key, and then uses that entry as if it had found it."""
    existing = await _own_entry(session, org_id, did)
    if existing is not None:
        _link(existing, issuer_ref)
        return
    sibling = await session.scalar(
        select(TrustedIssuer)
        .where(TrustedIssuer.org_id == org_id, TrustedIssuer.issuer_ref == issuer_ref)
        .order_by(TrustedIssuer.created_at)
        .limit(1)
    )
    row = TrustedIssuer(
        org_id=org_id,
        issuer_id=did,
        weight=sibling.weight if sibling is not None else 1.0,
        note="Own issuer at the badge issuer, trusted automatically",
        origin=OWN,
        issuer_ref=issuer_ref,
        distrusted_at=sibling.distrusted_at if sibling is not None else None,
        created_at=utcnow(),
    )
    row.id = uuid.uuid4()
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        existing = await _own_entry(session, org_id, did)
        if existing is None:
            raise
        _link(existing, issuer_ref)
        await _resettle(session, [existing])  # this transaction's credential counts under that entry
        return
    await _resettle(session, [row])


async def _own_entry(session: AsyncSession, org_id: uuid.UUID, did: str) -> TrustedIssuer | None:
    return await session.scalar(
        select(TrustedIssuer).where(TrustedIssuer.org_id == org_id, TrustedIssuer.issuer_id == did)
    )


def _link(entry: TrustedIssuer, issuer_ref: uuid.UUID) -> None:
    if entry.issuer_ref is None:
        entry.issuer_ref = issuer_ref


async def trust_if_own(
    session: AsyncSession,
    org_id: uuid.UUID,
    received: ReceivedCredentialOut,
    *,
    verifier: IssuerVerifier,
    authorization: str,
) -> ReceivedCredentialOut:
    """An HRIS-posted credential from an issuer not yet trusted: if the caller's token may list the
    organisation's issuers at the badge issuer and the credential's issuer is one of them (under its
    current DID or a rotated key's), it is an own issuer and trusted as such."""
    if received.status != NOT_TRUSTED or received.issuer_id is None:
        return received
    issuer_ref = await verifier.own_issuer_ref(received.issuer_id, authorization)
    if issuer_ref is None:
        return received
    await ensure_own_issuer(session, org_id, received.issuer_id, issuer_ref)
    row = await received_credentials.received_by_id(session, org_id, received.id)
    return received_credentials.describe(row, received.hris_id)
