"""Roles and the competencies they require."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Role, RoleRequirement
from services.taxonomy_api.domain.levels import SkillLevels
from shared.repository import TenantRepository
from shared.schemas.taxonomy import RequirementOut, RoleIn, RoleOut


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Role]:
    return TenantRepository(session, org_id, Role, "role")


async def save_role(session: AsyncSession, org_id: uuid.UUID, data: RoleIn, role_id: uuid.UUID | None = None) -> Role:
    """Create (no id) or replace (id) a role with its requirements, each level checked on its skill's scale."""
    roles = repository(session, org_id)
    existing = await roles.claim_name(data.name, role_id)
    levels = await SkillLevels.load(session, org_id, (r.skill_id for r in data.requirements))
    levels.check_each(((item.skill_id, item.level) for item in data.requirements), field="requirements")
    role = existing or roles.add(Role())
    role.name, role.job_family, role.grade, role.description = (
        data.name,
        data.job_family,
        data.grade,
        data.description,
    )
    role.owner, role.review_by = data.owner, data.review_by
    if existing is not None and role.requirements:
        # The unit of work inserts before it deletes: drop the old rows first, or a requirement on a
        # skill the role keeps collides with itself on the (role, skill) unique constraint.
        role.requirements = []
        await session.flush()
    role.requirements = [
        RoleRequirement(position=position, **requirement.model_dump())
        for position, requirement in enumerate(data.requirements)
    ]
    await session.flush()
    return role


async def describe_role(session: AsyncSession, org_id: uuid.UUID, role: Role) -> RoleOut:
    levels = await SkillLevels.load(session, org_id, (r.skill_id for r in role.requirements))
    return RoleOut(
        id=role.id,
        name=role.name,
        job_family=role.job_family,
        grade=role.grade,
        description=role.description,
        requirements=[
            RequirementOut(
                skill_id=r.skill_id,
                level=r.level,
                weight=r.weight,
                criticality=r.criticality,  # type: ignore[arg-type]
                skill_name=levels.skill_name(r.skill_id),
                level_name=levels.level_name(r.skill_id, r.level),
            )
            for r in role.requirements
        ],
        owner=role.owner,
        review_by=role.review_by,
        external_id=role.external_id,
        framework_id=role.framework_id,
        source=role.source,
        created_at=role.created_at,
        updated_at=role.updated_at,
    )
