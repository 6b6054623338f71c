"""Proficiency scales: the ordered levels a skill is assessed on."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import AchievementSkill, ProficiencyScale, RoleRequirement, Skill
from shared.errors import Conflict, Unprocessable
from shared.repository import TenantRepository
from shared.schemas.taxonomy import ScaleIn, ScaleLevel

# Every organisation starts with these (DESIGN §8: 0-5 scores, and levels named Knowledge / Proficiency /
# Mastery); imports put skills on them by key (frameworks/bundle.py ScaleKey).
DEFAULT_SCALES: dict[str, ScaleIn] = {
    "0-5": ScaleIn(
        name="0-5",
        description="Scored 0 (none) to 5 (expert).",
        levels=[ScaleLevel(value=value, name=str(value)) for value in range(6)],
    ),
    "kpm": ScaleIn(
        name="Knowledge / Proficiency / Mastery",
        levels=[
            ScaleLevel(value=1, name="Knowledge", descriptor="Knows the concepts and when they apply."),
            ScaleLevel(value=2, name="Proficiency", descriptor="Applies them unaided in normal work."),
            ScaleLevel(value=3, name="Mastery", descriptor="Applies them in hard cases and coaches others."),
        ],
    ),
}


async def ensure_default_scales(session: AsyncSession, org_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The organisation's default scales by key, made where missing (found by name)."""
    found = {
        scale.name: scale.id
        for scale in await session.scalars(
            select(ProficiencyScale).where(
                ProficiencyScale.org_id == org_id,
                ProficiencyScale.name.in_([scale.name for scale in DEFAULT_SCALES.values()]),
            )
        )
    }
    ids = {}
    for key, scale in DEFAULT_SCALES.items():
        ids[key] = found.get(scale.name) or (await save_scale(session, org_id, scale)).id
    return ids


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
