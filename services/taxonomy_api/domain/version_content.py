"""The whole of an organisation's working taxonomy as documents: each object as its API representation,
by kind. Submitting a draft freezes this (versions), exports write it out (CASE, CSV, JSON), and a diff
compares two of them. Read in a handful of set-based queries: an ESCO-sized taxonomy is ~17,000
objects and ~124,000 requirements."""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import (
    Achievement,
    Capability,
    Framework,
    FrameworkAssociation,
    Pathway,
    ProficiencyScale,
    RoleRequirement,
    Skill,
    SkillAlignment,
    SkillTag,
    VersionEntity,
)
from services.taxonomy_api.db.tables import Role as RoleRow
from services.taxonomy_api.domain import achievements, pathways, scales
from shared.schemas.taxonomy import (
    CapabilityOut,
    RequirementOut,
    RoleOut,
    ScaleOut,
    SkillAlignmentIn,
    SkillOut,
)

Kind = Literal["framework", "scale", "capability", "skill", "role", "achievement", "pathway", "association"]
# Dependencies first: a reader of the content meets an object only after what it refers to.
KINDS: tuple[Kind, ...] = (
    "framework",
    "scale",
    "capability",
    "skill",
    "role",
    "achievement",
    "pathway",
    "association",
)
# Bookkeeping, not content: two versions that differ only here are the same taxonomy.
NOT_CONTENT = frozenset({"created_at", "updated_at"})


@dataclass
class VersionContent:
    """Documents by kind, each keyed by the object's id (as a string), in a stable order."""

    documents: dict[Kind, dict[str, dict[str, Any]]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    # The frozen version these documents are (None: the working taxonomy).
    version_id: uuid.UUID | None = None

    def of(self, kind: Kind) -> list[dict[str, Any]]:
        return list(self.documents[kind].values())

    def items(self) -> Iterator[tuple[Kind, str, dict[str, Any]]]:
        for kind in KINDS:
            for entity_id, body in self.documents[kind].items():
                yield kind, entity_id, body

    def count(self) -> int:
        return sum(len(bodies) for bodies in self.documents.values())


def content_digest(body: dict[str, Any]) -> str:
    """SHA-256 of the document's content (bookkeeping fields left out), keys sorted."""
    content = {key: value for key, value in body.items() if key not in NOT_CONTENT}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _json(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")


async def read_working_taxonomy(session: AsyncSession, org_id: uuid.UUID, base_url: str) -> VersionContent:
    """Everything the organisation's taxonomy holds now, as VersionContent."""
    content = VersionContent()
    documents = content.documents
    for framework in await session.scalars(
        select(Framework).where(Framework.org_id == org_id).order_by(Framework.kind, Framework.identifier)
    ):
        documents["framework"][str(framework.id)] = {
            "id": str(framework.id),
            "kind": framework.kind,
            "identifier": framework.identifier,
            "uri": framework.uri,
            "title": framework.title,
            "release": framework.release,
            "document": framework.document,
            "definitions": framework.definitions,
        }
    scale_levels: dict[uuid.UUID, list[dict[str, Any]]] = {}
    scale_names: dict[uuid.UUID, str] = {}
    for scale in await session.scalars(
        select(ProficiencyScale).where(ProficiencyScale.org_id == org_id).order_by(ProficiencyScale.name)
    ):
        scale_levels[scale.id], scale_names[scale.id] = scale.levels, scale.name
        documents["scale"][str(scale.id)] = _json(ScaleOut.model_validate(scale))
    for capability in await session.scalars(
        select(Capability).where(Capability.org_id == org_id).order_by(Capability.name)
    ):
        documents["capability"][str(capability.id)] = _json(CapabilityOut.model_validate(capability))
    await _read_skills(session, org_id, documents["skill"])
    skill_names = {uuid.UUID(key): body["name"] for key, body in documents["skill"].items()}
    skill_scales = {uuid.UUID(key): uuid.UUID(body["scale_id"]) for key, body in documents["skill"].items()}
    await _read_roles(session, org_id, documents["role"], skill_names, skill_scales, scale_levels, scale_names)
    for achievement in await session.scalars(
        select(Achievement).where(Achievement.org_id == org_id).order_by(Achievement.name)
    ):
        described = await achievements.describe_achievement(session, achievement, base_url)
        documents["achievement"][str(achievement.id)] = _json(described)
    for pathway in await session.scalars(select(Pathway).where(Pathway.org_id == org_id).order_by(Pathway.name)):
        documents["pathway"][str(pathway.id)] = _json(await pathways.describe_pathway(session, pathway))
    associations = await session.execute(
        select(FrameworkAssociation)
        .where(FrameworkAssociation.org_id == org_id)
        .order_by(FrameworkAssociation.framework_id, FrameworkAssociation.identifier)
    )
    for (association,) in associations:
        documents["association"][str(association.id)] = {
            "id": str(association.id),
            "framework_id": str(association.framework_id),
            "identifier": association.identifier,
            "association_type": association.association_type,
            "origin": association.origin,
            "destination": association.destination,
            "source": association.source,
        }
    return content


async def _read_skills(session: AsyncSession, org_id: uuid.UUID, into: dict[str, dict[str, Any]]) -> None:
    tags: dict[uuid.UUID, list[str]] = defaultdict(list)
    for skill_id, tag in await session.execute(
        select(SkillTag.skill_id, SkillTag.tag)
        .join(Skill, Skill.id == SkillTag.skill_id)
        .where(Skill.org_id == org_id)
        .order_by(SkillTag.tag)
    ):
        tags[skill_id].append(tag)
    alignments: dict[uuid.UUID, list[SkillAlignmentIn]] = defaultdict(list)
    for (alignment,) in await session.execute(
        select(SkillAlignment)
        .join(Skill, Skill.id == SkillAlignment.skill_id)
        .where(Skill.org_id == org_id)
        .order_by(SkillAlignment.target_code)
    ):
        alignments[alignment.skill_id].append(SkillAlignmentIn.model_validate(alignment))
    columns = [column for column in Skill.__table__.columns]
    rows = await session.execute(select(*columns).where(Skill.org_id == org_id).order_by(Skill.name))
    for row in rows.mappings():
        values = {key: value for key, value in row.items() if key != "org_id"}
        skill = SkillOut(**values, tags=tags.get(row["id"], []), alignments=alignments.get(row["id"], []))
        into[str(row["id"])] = _json(skill)


async def _read_roles(
    session: AsyncSession,
    org_id: uuid.UUID,
    into: dict[str, dict[str, Any]],
    skill_names: dict[uuid.UUID, str],
    skill_scales: dict[uuid.UUID, uuid.UUID],
    scale_levels: dict[uuid.UUID, list[dict[str, Any]]],
    scale_names: dict[uuid.UUID, str],
) -> None:
    requirements: dict[uuid.UUID, list[RequirementOut]] = defaultdict(list)
    statement = (
        select(
            RoleRequirement.role_id,
            RoleRequirement.skill_id,
            RoleRequirement.level,
            RoleRequirement.weight,
            RoleRequirement.criticality,
        )
        .join(RoleRow, RoleRow.id == RoleRequirement.role_id)
        .where(RoleRow.org_id == org_id)
        .order_by(RoleRequirement.role_id, RoleRequirement.position)
    )
    for role_id, skill_id, level, weight, criticality in await session.execute(statement):
        scale_id = skill_scales[skill_id]
        requirements[role_id].append(
            RequirementOut(
                skill_id=skill_id,
                level=level,
                weight=weight,
                criticality=criticality,
                skill_name=skill_names[skill_id],
                level_name=scales.level_name_on(
                    scale_levels[scale_id], level, scale_name=scale_names[scale_id], scale_id=scale_id
                ),
            )
        )
    columns = [column for column in RoleRow.__table__.columns if column.key != "org_id"]
    rows = await session.execute(select(*columns).where(RoleRow.org_id == org_id).order_by(RoleRow.name))
    for row in rows.mappings():
        role = RoleOut(**row, requirements=requirements.get(row["id"], []))
        into[str(row["id"])] = _json(role)


async def read_version_documents(session: AsyncSession, version_id: uuid.UUID) -> VersionContent:
    """A frozen version's documents by id, each kind in name order (no organisation check: callers
    have resolved the version already)."""
    content = VersionContent(version_id=version_id)
    rows = await session.execute(
        select(VersionEntity.kind, VersionEntity.entity_id, VersionEntity.body).where(
            VersionEntity.version_id == version_id
        )
    )
    for kind, entity_id, body in rows:
        if kind in content.documents:
            content.documents[kind][entity_id] = body
    for kind in KINDS:
        content.documents[kind] = dict(sorted(content.documents[kind].items(), key=lambda item: _sort_key(item[1])))
    return content


def _sort_key(body: dict[str, Any]) -> tuple[str, str]:
    return (str(body.get("name") or body.get("identifier") or ""), str(body.get("id", "")))
