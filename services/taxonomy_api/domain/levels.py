"""Resolving (skill, level) pairs against each skill's own scale, for roles and achievements."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import ProficiencyScale, Skill
from services.taxonomy_api.domain import scales
from shared.errors import NotFound, Unprocessable


@dataclass(frozen=True, slots=True)
class SkillOnScale:
    skill_id: uuid.UUID
    skill_name: str
    scale_id: uuid.UUID
    scale_name: str
    levels: list[dict[str, Any]]


class SkillLevels:
    """The skills referenced by one role or achievement with their scales: one query, columns only,
    because this sits on the hot read path (GET a role)."""

    def __init__(self, skills: dict[uuid.UUID, SkillOnScale]) -> None:
        self.skills = skills

    @classmethod
    async def load(cls, session: AsyncSession, org_id: uuid.UUID, skill_ids: Iterable[uuid.UUID]) -> "SkillLevels":
        wanted = set(skill_ids)
        if not wanted:
            return cls({})
        rows = await session.execute(
            select(Skill.id, Skill.name, ProficiencyScale.id, ProficiencyScale.name, ProficiencyScale.levels)
            .join(ProficiencyScale, ProficiencyScale.id == Skill.scale_id)
            .where(Skill.org_id == org_id, Skill.id.in_(wanted))
        )
        found = {row[0]: SkillOnScale(*row) for row in rows}
        missing = sorted(str(skill_id) for skill_id in wanted - found.keys())
        if missing:
            raise NotFound(f"No skill with id {', '.join(missing)} in this organisation.", missing=missing)
        return cls(found)

    def skill_name(self, skill_id: uuid.UUID) -> str:
        return self.skills[skill_id].skill_name

    def level_name(self, skill_id: uuid.UUID, value: int) -> str:
        """Raises a 422 naming the skill's valid levels when `value` is not on its scale."""
        skill = self.skills[skill_id]
        return scales.level_name_on(skill.levels, value, scale_name=skill.scale_name, scale_id=skill.scale_id)

    def check_each(self, pairs: Iterable[tuple[uuid.UUID, int]], *, field: str) -> None:
        """Every (skill, level) is on its skill's scale; a 422 names the offending `field.N.level`."""
        for index, (skill_id, value) in enumerate(pairs):
            try:
                self.level_name(skill_id, value)
            except Unprocessable as exc:
                exc.extensions["field"] = f"{field}.{index}.level"
                raise
