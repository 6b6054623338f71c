"""The gap engine's snapshot of role requirements, copied from taxonomy_api (DESIGN §2: no shared tables)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import snapshots
from services.gap_engine.db.tables import ReceivedCredential, RoleRequirement, SyncedRole
from services.gap_engine.domain.received_credentials import ACCEPTED, SkillMapper, remap
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import NotFound
from shared.schemas.gaps import RequirementSnapshot, RoleSnapshotOut, TaxonomyRefreshOut


async def sync_role(
    session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID, taxonomy: TaxonomyClient, authorization: str
) -> RoleSnapshotOut:
    """Replace the snapshot of one role's requirements with what taxonomy_api says now (not committed)."""
    role = await taxonomy.role(role_id, authorization)
    return await replace_snapshot(session, org_id, role_id, role)


async def replace_snapshot(
    session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID, role: dict[str, Any]
) -> RoleSnapshotOut:
    """Brings the copy in line requirement by requirement (unchanged rows are not touched). A change
    that moves anyone's gap (a new role, a new name, a requirement added, changed or dropped) goes
    through the stored reports' path for everyone measured against the role; a resync that changes
    nothing only stamps synced_at."""
    synced = await session.scalar(select(SyncedRole).where(SyncedRole.org_id == org_id, SyncedRole.role_id == role_id))
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
    existing = {
        row.skill_id: row
        for row in await session.scalars(
            select(RoleRequirement).where(RoleRequirement.org_id == org_id, RoleRequirement.role_id == role_id)
        )
    }
    wanted = {requirement.skill_id: requirement for requirement in requirements}
    dropped = [row for skill_id, row in existing.items() if skill_id not in wanted]
    changed = {
        skill_id: requirement
        for skill_id, requirement in wanted.items()
        if skill_id not in existing
        or any(getattr(existing[skill_id], k) != v for k, v in requirement.model_dump(exclude={"skill_id"}).items())
    }
    if synced is None or synced.name != role["name"] or dropped or changed:
        async with snapshots.keeping_reports_current(session, org_id, role_ids=[role_id]):
            if synced is None:
                synced = SyncedRole(org_id=org_id, role_id=role_id)
                session.add(synced)
            synced.name = role["name"]
            for row in dropped:
                await session.delete(row)
            for skill_id, requirement in changed.items():
                row = existing.get(skill_id)
                if row is None:
                    session.add(RoleRequirement(org_id=org_id, role_id=role_id, **requirement.model_dump()))
                    continue
                for name, value in requirement.model_dump(exclude={"skill_id"}).items():
                    if getattr(row, name) != value:
                        setattr(row, name, value)
    synced.synced_at = utcnow()
    await session.flush()
    return RoleSnapshotOut(role_id=role_id, name=synced.name, synced_at=synced.synced_at, requirements=requirements)


async def refresh_from_taxonomy(
    session: AsyncSession, org_id: uuid.UUID, taxonomy: TaxonomyClient, authorization: str
) -> TaxonomyRefreshOut:
    """After a taxonomy change: every synced role is read again, and every valid received credential
    is mapped again (certified levels, alignments, external ids), so facts follow the taxonomy. A role
    taxonomy_api no longer has is left as it was and reported."""
    synced_ids = list(
        await session.scalars(
            select(SyncedRole.role_id).where(SyncedRole.org_id == org_id).order_by(SyncedRole.role_id)
        )
    )
    missing: list[uuid.UUID] = []
    for role_id in synced_ids:
        try:
            role = await taxonomy.role(role_id, authorization)
        except NotFound:
            missing.append(role_id)
            continue
        await replace_snapshot(session, org_id, role_id, role)
    rows = list(
        await session.scalars(
            select(ReceivedCredential)
            .where(ReceivedCredential.org_id == org_id, ReceivedCredential.status.in_(ACCEPTED))
            .order_by(ReceivedCredential.received_at, ReceivedCredential.id)
        )
    )
    mapper = SkillMapper(session, org_id, taxonomy, authorization)
    remapped = sum([await remap(session, row, mapper) for row in rows])
    return TaxonomyRefreshOut(
        roles_synced=len(synced_ids) - len(missing),
        roles_missing=missing,
        credentials_checked=len(rows),
        credentials_remapped=remapped,
    )


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


async def synced_roles(session: AsyncSession, org_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(role id, name) of every synced role, by name: what a dashboard offers to measure against."""
    rows = await session.execute(
        select(SyncedRole.role_id, SyncedRole.name)
        .where(SyncedRole.org_id == org_id)
        .order_by(SyncedRole.name, SyncedRole.role_id)
    )
    return [(role_id, name) for role_id, name in rows]
