"""Proficiency scales: the ordered levels a skill is assessed on."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import AchievementSkill, ProficiencyScale, RoleRequirement, Skill
from shared.errors import Conflict, Unprocessable
from shared.repository import TenantRepository
from shared.schemas.taxonomy import ScaleIn


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[ProficiencyScale]:
    return TenantRepository(session, org_id, ProficiencyScale, "proficiency scale")


def level_name_on(levels: list[dict[str, Any]], value: int, *, scale_name: str, scale_id: uuid.UUID) -> str:
    """The level's name; raises a 422 naming the valid values when the scale has no such level."""
    for level in levels:
        if level["value"] == value:
            return str(level["name"])
    valid = ", ".join(f"{level['value']} ({level['name']})" for level in levels)
    raise Unprocessable(
        f"Level {value} is not on the scale {scale_name!r}; valid levels: {valid}.",
        scale_id=str(scale_id),
        level=value,
    )


async def save_scale(
    session: AsyncSession, org_id: uuid.UUID, data: ScaleIn, scale_id: uuid.UUID | None = None
) -> ProficiencyScale:
    """Create (no id) or replace (id) a scale; removing a level that a role or achievement uses is a 409."""
    scales = repository(session, org_id)
    existing = await scales.claim_name(data.name, scale_id)
    if existing is not None:
        await _refuse_removing_used_levels(session, existing.id, {level.value for level in data.levels})
    scale = existing or scales.add(ProficiencyScale())
    for key, value in _columns(data).items():
        setattr(scale, key, value)
    await session.flush()
    return scale


async def _refuse_removing_used_levels(session: AsyncSession, scale_id: uuid.UUID, kept: set[int]) -> None:
    on_scale = select(Skill.id).where(Skill.scale_id == scale_id)
    used = set(
        await session.scalars(select(RoleRequirement.level).where(RoleRequirement.skill_id.in_(on_scale)))
    ) | set(await session.scalars(select(AchievementSkill.level).where(AchievementSkill.skill_id.in_(on_scale))))
    removed = sorted(used - kept)
    if removed:
        raise Conflict(
            f"Level(s) {', '.join(map(str, removed))} are required by roles or certified by achievements; "
            "change those first.",
            levels=removed,
        )


def _columns(data: ScaleIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "description": data.description,
        "levels": [level.model_dump() for level in data.levels],
    }
