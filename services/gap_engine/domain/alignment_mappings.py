"""Admin-defined alignment mappings: a third-party alignment target (a code or URL found in foreign
badges' `alignment[]`) read as one of our skills at a level.

Every change re-maps the valid third-party credentials already received, so a mapping added later
counts them without the HRIS posting them again (as trusting an issuer later does).
"""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import AlignmentMapping
from services.gap_engine.domain.received_credentials import SkillMapper, remap_third_party
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from services.gap_engine.domain.taxonomy_skills import skill_exists
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.schemas.gaps import AlignmentMappingIn, AlignmentMappingList, AlignmentMappingOut

MAX_MAPPINGS = 10_000


async def _checked_skill(
    taxonomy: TaxonomyClient, org_id: uuid.UUID, body: AlignmentMappingIn, authorization: str
) -> None:
    if not await skill_exists(taxonomy, org_id, body.skill_id, authorization):
        raise Unprocessable(f"No skill with id {body.skill_id} in this organisation's taxonomy.", field="skill_id")


async def _entry(session: AsyncSession, org_id: uuid.UUID, mapping_id: uuid.UUID) -> AlignmentMapping:
    row = await session.scalar(
        select(AlignmentMapping).where(AlignmentMapping.org_id == org_id, AlignmentMapping.id == mapping_id)
    )
    if row is None:
        raise NotFound(f"No alignment mapping with id {mapping_id} in this organisation.")
    return row


async def _remap(session: AsyncSession, org_id: uuid.UUID, taxonomy: TaxonomyClient, authorization: str) -> None:
    await session.flush()
    await remap_third_party(session, org_id, SkillMapper(session, org_id, taxonomy, authorization))


async def create_mapping(
    session: AsyncSession, org_id: uuid.UUID, body: AlignmentMappingIn, *, taxonomy: TaxonomyClient, authorization: str
) -> AlignmentMappingOut:
    existing = await session.scalar(
        select(AlignmentMapping.id).where(AlignmentMapping.org_id == org_id, AlignmentMapping.target == body.target)
    )
    if existing is not None:
        raise Conflict("This target is already mapped; change that mapping instead.", id=str(existing))
    count = await session.scalar(select(func.count()).where(AlignmentMapping.org_id == org_id))
    if count >= MAX_MAPPINGS:
        raise Conflict(f"The organisation already has {MAX_MAPPINGS} alignment mappings.")
    await _checked_skill(taxonomy, org_id, body, authorization)
    now = utcnow()
    row = AlignmentMapping(org_id=org_id, created_at=now, updated_at=now, **body.model_dump())
    row.id = uuid.uuid4()
    session.add(row)
    await _remap(session, org_id, taxonomy, authorization)
    return AlignmentMappingOut.model_validate(row)


async def list_mappings(session: AsyncSession, org_id: uuid.UUID) -> AlignmentMappingList:
    rows = await session.scalars(
        select(AlignmentMapping)
        .where(AlignmentMapping.org_id == org_id)
        .order_by(AlignmentMapping.target)
        .limit(MAX_MAPPINGS)
    )
    return AlignmentMappingList(items=[AlignmentMappingOut.model_validate(row) for row in rows])


async def replace_mapping(
    session: AsyncSession,
    org_id: uuid.UUID,
    mapping_id: uuid.UUID,
    body: AlignmentMappingIn,
    *,
    taxonomy: TaxonomyClient,
    authorization: str,
) -> AlignmentMappingOut:
    row = await _entry(session, org_id, mapping_id)
    if body.target != row.target:
        clash = await session.scalar(
            select(AlignmentMapping.id).where(AlignmentMapping.org_id == org_id, AlignmentMapping.target == body.target)
        )
        if clash is not None:
            raise Conflict("Another mapping has this target.", id=str(clash))
    await _checked_skill(taxonomy, org_id, body, authorization)
    for name, value in body.model_dump().items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    await _remap(session, org_id, taxonomy, authorization)
    return AlignmentMappingOut.model_validate(row)


async def delete_mapping(
    session: AsyncSession, org_id: uuid.UUID, mapping_id: uuid.UUID, *, taxonomy: TaxonomyClient, authorization: str
) -> None:
    """Credentials that counted only through this mapping stop counting (kept as unmapped)."""
    row = await _entry(session, org_id, mapping_id)
    await session.delete(row)
    await _remap(session, org_id, taxonomy, authorization)
