"""The organisation's trusted-issuer registry. Trusting or distrusting an issuer re-derives the skill
facts of the credentials already received from it, so nothing has to be posted again."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import ReceivedCredential, TrustedIssuer
from services.gap_engine.domain.received_credentials import (
    NOT_TRUSTED,
    VERIFIED,
    add_skill_facts,
    remove_skill_facts,
)
from shared.errors import Conflict, NotFound
from shared.schemas.gaps import TrustedIssuerIn, TrustedIssuerList, TrustedIssuerOut


async def _received_from(
    session: AsyncSession, org_id: uuid.UUID, issuer_id: str, status: str
) -> list[ReceivedCredential]:
    rows = await session.scalars(
        select(ReceivedCredential).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.issuer_id == issuer_id,
            ReceivedCredential.status == status,
        )
    )
    return list(rows)


async def trust_issuer(session: AsyncSession, org_id: uuid.UUID, body: TrustedIssuerIn) -> TrustedIssuerOut:
    """Adds the issuer and promotes its waiting credentials to counted facts in the same transaction."""
    existing = await session.scalar(
        select(TrustedIssuer.id).where(TrustedIssuer.org_id == org_id, TrustedIssuer.issuer_id == body.issuer_id)
    )
    if existing is not None:
        raise Conflict("This issuer is already trusted.", id=str(existing))
    row = TrustedIssuer(org_id=org_id, **body.model_dump())
    row.id = uuid.uuid4()
    session.add(row)
    for received in await _received_from(session, org_id, body.issuer_id, NOT_TRUSTED):
        received.status, received.reasons = VERIFIED, []
        add_skill_facts(session, received)
    await session.flush()
    return TrustedIssuerOut.model_validate(row)


async def list_trusted(session: AsyncSession, org_id: uuid.UUID) -> TrustedIssuerList:
    rows = await session.scalars(
        select(TrustedIssuer).where(TrustedIssuer.org_id == org_id).order_by(TrustedIssuer.issuer_id)
    )
    return TrustedIssuerList(items=[TrustedIssuerOut.model_validate(row) for row in rows])


async def distrust_issuer(session: AsyncSession, org_id: uuid.UUID, trusted_id: uuid.UUID) -> None:
    """Removes the issuer; its credentials stop counting but stay on record as not trusted."""
    row = await session.scalar(
        select(TrustedIssuer).where(TrustedIssuer.org_id == org_id, TrustedIssuer.id == trusted_id)
    )
    if row is None:
        raise NotFound(f"No trusted issuer with id {trusted_id} in this organisation.")
    for received in await _received_from(session, org_id, row.issuer_id, VERIFIED):
        await remove_skill_facts(session, received)
        received.status = NOT_TRUSTED
        received.reasons = [f"issuer {row.issuer_id} is not in this organisation's trusted-issuer registry"]
    await session.delete(row)
    await session.flush()
