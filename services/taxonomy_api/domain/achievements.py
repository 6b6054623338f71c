"""Achievements: credential definitions, and their public Open Badges 3.0 Achievement form."""

import uuid
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Achievement, AchievementSkill, AchievementTag
from services.taxonomy_api.domain import skills
from services.taxonomy_api.domain.levels import SkillLevels
from shared.repository import TenantRepository
from shared.schemas.taxonomy import (
    AchievementIn,
    AchievementOut,
    CertifiedSkillOut,
    KpiAnchor,
    ResultDescriptionIn,
)

FRAMEWORK_NAMES = {"esco": "ESCO", "onet": "O*NET", "case": "CASE", "other": "Other"}


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Achievement]:
    return TenantRepository(session, org_id, Achievement, "achievement")


def public_achievement_url(base_url: str, achievement_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/v1/public/achievements/{achievement_id}"


def public_skill_url(base_url: str, skill_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/v1/public/skills/{skill_id}"


async def save_achievement(
    session: AsyncSession, org_id: uuid.UUID, data: AchievementIn, achievement_id: uuid.UUID | None = None
) -> Achievement:
    """Create (no id) or replace (id); each certified level must be on its skill's scale."""
    achievements = repository(session, org_id)
    existing = await achievements.claim_name(data.name, achievement_id)
    levels = await SkillLevels.load(session, org_id, (s.skill_id for s in data.skills))
    levels.check_each(((item.skill_id, item.level) for item in data.skills), field="skills")
    achievement = existing or achievements.add(Achievement())
    achievement.name = data.name
    achievement.description = data.description
    achievement.achievement_type = data.achievement_type
    achievement.criteria_narrative = data.criteria_narrative
    achievement.image_url = str(data.image_url) if data.image_url else None
    achievement.tier = (
        data.tier.lower() if data.tier.lower() in {"foundational", "intermediate", "advanced"} else data.tier
    )
    achievement.result_description = data.result_description.model_dump()
    achievement.evidence_required = list(data.evidence_required)
    achievement.kpi_anchors = [anchor.model_dump() for anchor in data.kpi_anchors]
    achievement.owner, achievement.review_by = data.owner, data.review_by
    achievement.tags = [AchievementTag(tag=tag) for tag in sorted(set(data.tags))]
    achievement.skills = [
        AchievementSkill(skill_id=s.skill_id, level=s.level, position=position)
        for position, s in enumerate(data.skills)
    ]
    await session.flush()
    return achievement


async def describe_achievement(session: AsyncSession, achievement: Achievement, base_url: str) -> AchievementOut:
    skill_ids = [s.skill_id for s in achievement.skills]
    levels = await SkillLevels.load(session, achievement.org_id, skill_ids)
    alignments = await skills.alignments_by_skill(session, skill_ids)
    return AchievementOut(
        id=achievement.id,
        public_url=public_achievement_url(base_url, achievement.id),
        name=achievement.name,
        description=achievement.description,
        achievement_type=achievement.achievement_type,
        criteria_narrative=achievement.criteria_narrative,
        image_url=achievement.image_url,
        tier=achievement.tier,
        skills=[
            CertifiedSkillOut(
                skill_id=s.skill_id,
                level=s.level,
                skill_name=levels.skill_name(s.skill_id),
                level_name=levels.level_name(s.skill_id, s.level),
                alignments=alignments.get(s.skill_id, []),
            )
            for s in achievement.skills
        ],
        result_description=ResultDescriptionIn.model_validate(achievement.result_description),
        evidence_required=achievement.evidence_required,
        kpi_anchors=achievement.kpi_anchors,  # type: ignore[arg-type]
        tags=[tag.tag for tag in achievement.tags],
        owner=achievement.owner,
        review_by=achievement.review_by,
        external_id=achievement.external_id,
        created_at=achievement.created_at,
        updated_at=achievement.updated_at,
    )


def ob3_achievement(achievement: AchievementOut, base_url: str, version_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The Open Badges 3.0 `Achievement` a credential for this definition carries (OB 3.0 §B.1.1).
    From a published version, its alignments cite the skills as that version has them."""
    url = achievement.public_url
    document: dict[str, Any] = {
        "id": url,
        "type": ["Achievement"],
        "achievementType": achievement.achievement_type,
        "name": achievement.name,
        "description": achievement.description or achievement.name,
        "criteria": {"id": f"{url}#criteria", "narrative": achievement.criteria_narrative},
        "alignment": _alignments(achievement, base_url, version_id),
        "resultDescription": [_result_description(achievement.result_description, url)],
    }
    if achievement.image_url:
        document["image"] = {"id": achievement.image_url, "type": "Image"}
    if achievement.tags:
        document["tag"] = achievement.tags
    return document


def _alignments(achievement: AchievementOut, base_url: str, version_id: uuid.UUID | None) -> list[dict[str, Any]]:
    alignments: list[dict[str, Any]] = []
    cited = f"?version={version_id}" if version_id else ""
    for skill in achievement.skills:
        alignments.append(
            {
                "type": ["Alignment"],
                "targetType": "ceasn:Competency",
                "targetName": skill.skill_name,
                "targetUrl": public_skill_url(base_url, skill.skill_id) + cited,
                "targetCode": str(skill.skill_id),
                "targetFramework": "CredStack",
                "targetDescription": f"Certified at level {skill.level} ({skill.level_name}).",
            }
        )
        for external in skill.alignments:
            alignments.append(
                {
                    "type": ["Alignment"],
                    "targetType": "ceasn:Competency",
                    "targetName": external.target_name or skill.skill_name,
                    "targetUrl": external.target_url or external.target_code,
                    "targetCode": external.target_code,
                    "targetFramework": FRAMEWORK_NAMES[external.framework],
                }
            )
    return alignments


def _result_description(result: ResultDescriptionIn, url: str) -> dict[str, Any]:
    description: dict[str, Any] = {"id": f"{url}#result", "type": ["ResultDescription"], "name": result.name}
    if result.kind == "score":
        description.update(
            resultType="RawScore",
            valueMin="0",
            valueMax=f"{result.max_score:g}",
            requiredValue=f"{result.pass_mark:g}",
        )
    else:
        description.update(
            resultType="RubricCriterionLevel",
            requiredLevel=f"{url}#level-{result.required_level}",
            rubricCriterionLevel=[
                {
                    "id": f"{url}#level-{level.id}",
                    "type": ["RubricCriterionLevel"],
                    "name": level.name,
                    **({"description": level.description} if level.description else {}),
                }
                for level in result.rubric_levels
            ],
        )
    return description


def search_statement(
    achievements: TenantRepository[Achievement],
    *,
    name: str | None = None,
    tier: str | None = None,
    tag: str | None = None,
    skill_id: uuid.UUID | None = None,
) -> Select:
    statement = achievements.select()
    if name:
        statement = statement.where(func.lower(Achievement.name).like(f"%{name.lower()}%"))
    if tier:
        statement = statement.where(Achievement.tier == tier)
    if tag:
        statement = statement.where(
            Achievement.id.in_(select(AchievementTag.achievement_id).where(AchievementTag.tag == tag))
        )
    if skill_id:
        statement = statement.where(
            Achievement.id.in_(select(AchievementSkill.achievement_id).where(AchievementSkill.skill_id == skill_id))
        )
    return statement


def kpi_anchor_text(anchor: KpiAnchor) -> str:
    """An anchor's expected change as people read it: "−10 % to −15 %" for a decrease of 10 to 15."""
    sign = "−" if anchor.direction == "decrease" else "+"
    unit = f" {anchor.unit}" if anchor.unit else ""
    bounds = [value for value in (anchor.expected_uplift_low, anchor.expected_uplift_high) if value is not None]
    if not bounds:
        return "an increase" if anchor.direction == "increase" else "a decrease"
    shown = [f"{sign}{abs(value):g}{unit}" for value in bounds]
    return shown[0] if len(shown) == 1 or shown[0] == shown[1] else f"{shown[0]} to {shown[1]}"


def result_requirement_text(result: ResultDescriptionIn) -> str:
    """What the assessment must show, in words (the same rule issuance applies)."""
    if result.kind == "score":
        return f"A score of at least {result.pass_mark:g} out of {result.max_score:g}."
    names = {level.id: level.name for level in result.rubric_levels}
    return f"Rubric level {names.get(result.required_level or '', result.required_level)} or higher."
