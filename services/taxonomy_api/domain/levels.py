"""Resolving (skill, level) pairs against each skill's own scale, for roles and achievements."""

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import ProficiencyScale, Skill
from services.taxonomy_api.domain import scales, skills


class SkillLevels:
    """The skills referenced by one role or achievement, with their scales, loaded in one query."""

    def __init__(self, pairs: dict[uuid.UUID, tuple[Skill, ProficiencyScale]]) -> None:
        self.pairs = pairs

    @classmethod
    async def load(cls, session: AsyncSession, org_id: uuid.UUID, skill_ids: Iterable[uuid.UUID]) -> "SkillLevels":
        wanted = set(skill_ids)
        if not wanted:
            return cls({})
        await skills.repository(session, org_id).get_many(wanted)  # 404 naming any foreign or unknown skill
        rows = await session.execute(
            select(Skill, ProficiencyScale)
            .join(ProficiencyScale, ProficiencyScale.id == Skill.scale_id)
            .where(Skill.org_id == org_id, Skill.id.in_(wanted))
        )
        return cls({skill.id: (skill, scale) for skill, scale in rows})

    def skill(self, skill_id: uuid.UUID) -> Skill:
        return self.pairs[skill_id][0]

    def level_name(self, skill_id: uuid.UUID, value: int) -> str:
        """Raises a 422 naming the skill's valid levels when `value` is not on its scale."""
        return scales.level_name(self.pairs[skill_id][1], value)
