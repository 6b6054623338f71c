"""Proficiency scales: the ordered levels a skill is assessed on."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import ProficiencyScale
from shared.errors import Unprocessable
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
    """Create (no id) or replace (id) a scale. Narrowing a scale in use is refused by the skills' checks."""
    scales = repository(session, org_id)
    scale = await scales.claim_name(data.name, scale_id) or scales.add(ProficiencyScale())
    for key, value in _columns(data).items():
        setattr(scale, key, value)
    await session.flush()
    return scale


def _columns(data: ScaleIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "description": data.description,
        "levels": [level.model_dump() for level in data.levels],
    }
