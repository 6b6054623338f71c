"""The gap engine's snapshot of role requirements, copied from taxonomy_api (DESIGN §2: no shared tables)."""

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import RoleRequirement, SyncedRole
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import NotFound
from shared.schemas.gaps import RequirementSnapshot, RoleSnapshotOut


async def sync_role(
    session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID, taxonomy: TaxonomyClient, authorization: str
) -> RoleSnapshotOut:
    """Replace the snapshot of one role's requirements with what taxonomy_api says now (not committed)."""
    role = await taxonomy.role(role_id, authorization)
    return await replace_snapshot(session, org_id, role_id, role)


async def replace_snapshot(
    session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID, role: dict[str, Any]
) -> RoleSnapshotOut:
    synced = await session.scalar(select(SyncedRole).where(SyncedRole.org_id == org_id, SyncedRole.role_id == role_id))
    if synced is None:
        synced = SyncedRole(org_id=org_id, role_id=role_id)
        session.add(synced)
    synced.name = role["name"]
    synced.synced_at = utcnow()
    await session.execute(
        delete(RoleRequirement).where(RoleRequirement.org_id == org_id, RoleRequirement.role_id == role_id)
    )
    requirements = [
        RequirementSnapshot(
            skill_id=requirement["skill_id"],
            skill_name=requirement.get("skill_name", ""),
            required_level=requirement["level"],
            weight=requirement["weight"],
            criticality=requirement["criticality"],
        )
        for requirement in role["requirements"]
    ]
    session.add_all(
        RoleRequirement(org_id=org_id, role_id=role_id, **requirement.model_dump()) for requirement in requirements
    )
    await session.flush()
    return RoleSnapshotOut(role_id=role_id, name=synced.name, synced_at=synced.synced_at, requirements=requirements)


async def synced_role(session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID) -> SyncedRole:
    role = await session.scalar(select(SyncedRole).where(SyncedRole.org_id == org_id, SyncedRole.role_id == role_id))
    if role is None:
        raise NotFound(
            f"Role {role_id} has not been synced into the gap engine; POST /v1/roles/{role_id}/sync first.",
        )
    return role


async def role_snapshot(session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID) -> RoleSnapshotOut:
    """What the gap engine currently measures a role against, and since when."""
    role = await synced_role(session, org_id, role_id)
    rows = await session.scalars(
        select(RoleRequirement)
        .where(RoleRequirement.org_id == org_id, RoleRequirement.role_id == role_id)
        .order_by(RoleRequirement.skill_name, RoleRequirement.skill_id)
    )
    return RoleSnapshotOut(
        role_id=role_id,
        name=role.name,
        synced_at=role.synced_at,
        requirements=[RequirementSnapshot.model_validate(row) for row in rows],
    )
