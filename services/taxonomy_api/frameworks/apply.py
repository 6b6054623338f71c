"""Landing a Bundle in an organisation's working taxonomy (its open draft), in the caller's transaction,
so an import lands whole or not at all. Objects are matched by the framework's own id (external_id),
so importing the same release again changes nothing and a newer release updates in place.

Set-based on purpose: a full ESCO import is ~14,000 skills, ~3,000 roles and ~124,000 requirements,
budgeted at 60 s on PostgreSQL; rows are compared in memory and only what changed is written."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.revisions import bump_revision
from services.taxonomy_api.db.tables import (
    NAME_LENGTH,
    Capability,
    Framework,
    FrameworkAssociation,
    Role,
    RoleRequirement,
    Skill,
    SkillAlignment,
    SkillTag,
)
from services.taxonomy_api.domain.scales import ensure_default_scales
from services.taxonomy_api.frameworks.bundle import (
    Bundle,
    BundleCapability,
    BundleRole,
    BundleSkill,
    Progress,
    no_progress,
)
from shared.db import utcnow

# Our alignment frameworks (SkillAlignmentIn.framework); a CSV file's skills align as "other".
ALIGNMENT_FRAMEWORK = {"esco": "esco", "onet": "onet", "case": "case", "csv": "other"}
OBSOLETE_TAG = "obsolete"
CHUNK = 2_000


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "retired": self.retired}


@dataclass
class AppliedImport:
    framework_id: uuid.UUID
    counts: dict[str, KindCounts] = field(
        default_factory=lambda: {kind: KindCounts() for kind in ("capabilities", "skills", "roles", "associations")}
    )
    renamed: list[dict[str, str]] = field(default_factory=list)
    dropped_requirements: int = 0

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.retired for c in self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "framework_id": str(self.framework_id),
            **{kind: counts.as_dict() for kind, counts in self.counts.items()},
            "renamed": len(self.renamed),
            "dropped_requirements": self.dropped_requirements,
        }


class _Names:
    """Names are unique per organisation; a framework's labels are not always (ESCO has concepts that
    share a preferred label). A clash gets the framework's short id appended, deterministically."""

    def __init__(self, taken: dict[str, str | None], framework_title: str, renamed: list[dict[str, str]]) -> None:
        self.owner_of = taken  # name -> external id holding it (None: a row made here)
        self.framework_title = framework_title
        self.renamed = renamed

    def claim(self, wanted: str, external_id: str) -> str:
        base = wanted.strip() or external_id
        tail = external_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1][:12]
        for attempt in range(1, 1_000):
            suffix = "" if attempt == 1 else f" ({self.framework_title} {tail})" if attempt == 2 else f" ({attempt})"
            name = base[: NAME_LENGTH - len(suffix)] + suffix
            if self.owner_of.get(name, external_id) == external_id:
                break
        self.owner_of[name] = external_id
        if name != base:
            self.renamed.append({"external_id": external_id, "wanted": wanted, "name": name})
        return name

    def release(self, name: str) -> None:
        self.owner_of.pop(name, None)


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


async def _execute_many(session: AsyncSession, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        await session.execute(statement, list(chunk))


async def apply_bundle(
    session: AsyncSession,
    org_id: uuid.UUID,
    bundle: Bundle,
    *,
    retire_missing: bool = False,
    progress: Progress = no_progress,
) -> AppliedImport:
    """Upsert the bundle's nodes into the organisation's working taxonomy; nothing is committed.
    With `retire_missing`, objects this framework brought before that the bundle no longer has are
    tagged "obsolete" (never deleted: roles and credentials may still refer to them)."""
    framework = await _save_framework(session, org_id, bundle)
    applied = AppliedImport(framework_id=framework.id)
    scale_ids = await ensure_default_scales(session, org_id)
    title = bundle.framework.title or bundle.framework.kind.upper()
    capability_ids = await _save_capabilities(session, org_id, framework.id, bundle, title, applied, progress)
    skill_ids = await _save_skills(
        session, org_id, framework.id, bundle, title, capability_ids, scale_ids, applied, progress, retire_missing
    )
    await _save_roles(session, org_id, framework.id, bundle, title, skill_ids, applied, progress)
    await _save_associations(session, org_id, framework.id, bundle, applied, progress)
    if applied.changed:
        await bump_revision(session, org_id)
    return applied


async def _save_framework(session: AsyncSession, org_id: uuid.UUID, bundle: Bundle) -> Framework:
    info = bundle.framework
    framework = await session.scalar(
        select(Framework).where(
            Framework.org_id == org_id, Framework.kind == info.kind, Framework.identifier == info.identifier
        )
    )
    if framework is None:
        framework = Framework(org_id=org_id, kind=info.kind, identifier=info.identifier)
        session.add(framework)
    framework.uri, framework.title, framework.release = info.uri, info.title, info.release
    framework.document, framework.definitions = info.document, info.definitions
    await session.flush()
    return framework


async def _taken_names(session: AsyncSession, table: Any, org_id: uuid.UUID) -> dict[str, str | None]:
    rows = await session.execute(select(table.c.name, table.c.external_id).where(table.c.org_id == org_id))
    return {name: external_id for name, external_id in rows}


async def _existing(session: AsyncSession, table: Any, org_id: uuid.UUID, columns: Sequence[str]) -> dict[str, Any]:
    """The organisation's rows that came from any framework, by external id."""
    selected = [table.c.id, table.c.external_id, *(table.c[name] for name in columns)]
    rows = await session.execute(select(*selected).where(table.c.org_id == org_id, table.c.external_id.is_not(None)))
    return {row.external_id: row for row in rows}


async def _save_capabilities(
    session: AsyncSession,
    org_id: uuid.UUID,
    framework_id: uuid.UUID,
    bundle: Bundle,
    title: str,
    applied: AppliedImport,
    progress: Progress,
) -> dict[str, uuid.UUID]:
    table = Capability.__table__
    existing = await _existing(session, table, org_id, ("name", "description", "parent_id", "source"))
    names = _Names(await _taken_names(session, table, org_id), title, applied.renamed)
    ids = {external_id: row.id for external_id, row in existing.items()}
    wanted: list[tuple[BundleCapability, str]] = []
    for capability in bundle.capabilities:
        ids.setdefault(capability.external_id, uuid.uuid4())
        current = existing.get(capability.external_id)
        if current is not None:
            names.release(current.name)
    for capability in bundle.capabilities:
        wanted.append((capability, names.claim(capability.name, capability.external_id)))
    inserts, updates = [], []
    now = utcnow()
    counts = applied.counts["capabilities"]
    for capability, name in wanted:
        values = {
            "name": name,
            "description": capability.description,
            "parent_id": ids.get(capability.parent_external_id) if capability.parent_external_id else None,
            "source": capability.source,
        }
        current = existing.get(capability.external_id)
        if current is None:
            inserts.append(
                {
                    "id": ids[capability.external_id],
                    "org_id": org_id,
                    "external_id": capability.external_id,
                    "framework_id": framework_id,
                    "owner": "",
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
            counts.created += 1
        elif any(getattr(current, key) != value for key, value in values.items()):
            updates.append({"id": current.id, "framework_id": framework_id, "updated_at": now, **values})
            counts.updated += 1
        else:
            counts.unchanged += 1
    # Parents may come later in the file than their children: insert without, then link.
    parents = [{"id": row["id"], "parent_id": row.pop("parent_id")} for row in inserts]
    await _execute_many(session, insert(Capability), inserts)
    await _execute_many(session, update(Capability), [row for row in parents if row["parent_id"]])
    await _execute_many(session, update(Capability), updates)
    progress("capabilities", len(wanted), len(wanted))
    return ids


async def _save_skills(
    session: AsyncSession,
    org_id: uuid.UUID,
    framework_id: uuid.UUID,
    bundle: Bundle,
    title: str,
    capability_ids: dict[str, uuid.UUID],
    scale_ids: dict[str, uuid.UUID],
    applied: AppliedImport,
    progress: Progress,
    retire_missing: bool,
) -> dict[str, uuid.UUID]:
    table = Skill.__table__
    compared = ("name", "description", "capability_id", "scale_id", "alternative_labels", "skill_type", "reuse_level")
    existing = await _existing(session, table, org_id, (*compared, "source", "framework_id"))
    names = _Names(await _taken_names(session, table, org_id), title, applied.renamed)
    for skill in bundle.skills:
        current = existing.get(skill.external_id)
        if current is not None:
            names.release(current.name)
    alignment_framework = ALIGNMENT_FRAMEWORK[bundle.framework.kind]
    inserts, updates, alignments = [], [], []
    now = utcnow()
    counts = applied.counts["skills"]
    ids = {external_id: row.id for external_id, row in existing.items()}
    seen: set[str] = set()
    for done, skill in enumerate(bundle.skills, 1):
        seen.add(skill.external_id)
        values = _skill_values(skill, names.claim(skill.name, skill.external_id), capability_ids, scale_ids)
        current = existing.get(skill.external_id)
        if current is None:
            ids[skill.external_id] = skill_id = uuid.uuid4()
            inserts.append(
                {
                    "id": skill_id,
                    "org_id": org_id,
                    "external_id": skill.external_id,
                    "framework_id": framework_id,
                    "behaviours": [],
                    "owner": "",
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
            counts.created += 1
        elif any(getattr(current, key) != value for key, value in values.items()):
            skill_id = current.id
            updates.append({"id": skill_id, "framework_id": framework_id, "updated_at": now, **values})
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        alignments.append(
            {
                "id": uuid.uuid4(),
                "skill_id": skill_id,
                "framework": alignment_framework,
                "target_code": skill.external_id,
                "target_url": skill.url,
                "target_name": values["name"],
            }
        )
        if done % 2_000 == 0:
            progress("skills", done, len(bundle.skills))
    updated_ids = [row["id"] for row in updates]
    await _execute_many(session, insert(Skill), inserts)
    await _execute_many(session, update(Skill), updates)
    for start in range(0, len(updated_ids), CHUNK):
        chunk = updated_ids[start : start + CHUNK]
        await session.execute(
            delete(SkillAlignment).where(
                SkillAlignment.skill_id.in_(chunk), SkillAlignment.framework == alignment_framework
            )
        )
    await _execute_many(session, insert(SkillAlignment), alignments)
    if retire_missing:
        await _retire(session, existing, seen, framework_id, counts)
    progress("skills", len(bundle.skills), len(bundle.skills))
    return ids


def _skill_values(
    skill: BundleSkill, name: str, capability_ids: dict[str, uuid.UUID], scale_ids: dict[str, uuid.UUID]
) -> dict[str, Any]:
    return {
        "name": name,
        "description": skill.description,
        "capability_id": capability_ids.get(skill.capability_external_id) if skill.capability_external_id else None,
        "scale_id": scale_ids[skill.scale],
        "alternative_labels": skill.alternative_labels,
        "skill_type": skill.skill_type,
        "reuse_level": skill.reuse_level,
        "source": skill.source,
    }


async def _retire(
    session: AsyncSession, existing: dict[str, Any], seen: set[str], framework_id: uuid.UUID, counts: KindCounts
) -> None:
    gone = [
        row.id for external_id, row in existing.items() if row.framework_id == framework_id and external_id not in seen
    ]
    if not gone:
        return
    tagged = set(
        await session.scalars(
            select(SkillTag.skill_id).where(SkillTag.skill_id.in_(gone), SkillTag.tag == OBSOLETE_TAG)
        )
    )
    fresh = [{"skill_id": skill_id, "tag": OBSOLETE_TAG} for skill_id in gone if skill_id not in tagged]
    await _execute_many(session, insert(SkillTag), fresh)
    counts.retired += len(fresh)


async def _save_roles(
    session: AsyncSession,
    org_id: uuid.UUID,
    framework_id: uuid.UUID,
    bundle: Bundle,
    title: str,
    skill_ids: dict[str, uuid.UUID],
    applied: AppliedImport,
    progress: Progress,
) -> None:
    table = Role.__table__
    existing = await _existing(session, table, org_id, ("name", "description", "job_family", "grade", "source"))
    names = _Names(await _taken_names(session, table, org_id), title, applied.renamed)
    for role in bundle.roles:
        current = existing.get(role.external_id)
        if current is not None:
            names.release(current.name)
    current_requirements = await _requirements_of(session, [row.id for row in existing.values()])
    inserts, updates, requirement_rows, replaced_roles = [], [], [], []
    now = utcnow()
    counts = applied.counts["roles"]
    for done, role in enumerate(bundle.roles, 1):
        values = {
            "name": names.claim(role.name, role.external_id),
            "description": role.description,
            "job_family": role.job_family[:NAME_LENGTH],
            "grade": role.grade[:64],
            "source": role.source,
        }
        wanted = _requirement_tuples(role, skill_ids, applied)
        current = existing.get(role.external_id)
        if current is None:
            role_id = uuid.uuid4()
            inserts.append(
                {
                    "id": role_id,
                    "org_id": org_id,
                    "external_id": role.external_id,
                    "framework_id": framework_id,
                    "owner": "",
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
            counts.created += 1
        else:
            role_id = current.id
            same_fields = all(getattr(current, key) == value for key, value in values.items())
            same_requirements = current_requirements.get(role_id, []) == wanted
            if same_fields and same_requirements:
                counts.unchanged += 1
                continue
            updates.append({"id": role_id, "framework_id": framework_id, "updated_at": now, **values})
            counts.updated += 1
            if same_requirements:
                continue
            replaced_roles.append(role_id)
        requirement_rows.extend(
            {
                "id": uuid.uuid4(),
                "role_id": role_id,
                "skill_id": skill_id,
                "level": level,
                "weight": weight,
                "criticality": criticality,
                "position": position,
            }
            for position, (skill_id, level, weight, criticality) in enumerate(wanted)
        )
        if done % 500 == 0:
            progress("roles", done, len(bundle.roles))
    await _execute_many(session, insert(Role), inserts)
    await _execute_many(session, update(Role), updates)
    for start in range(0, len(replaced_roles), CHUNK):
        await session.execute(
            delete(RoleRequirement).where(RoleRequirement.role_id.in_(replaced_roles[start : start + CHUNK]))
        )
    progress("requirements", 0, len(requirement_rows))
    for start in range(0, len(requirement_rows), CHUNK * 5):
        await _execute_many(session, insert(RoleRequirement), requirement_rows[start : start + CHUNK * 5])
        progress("requirements", min(start + CHUNK * 5, len(requirement_rows)), len(requirement_rows))


def _requirement_tuples(
    role: BundleRole, skill_ids: dict[str, uuid.UUID], applied: AppliedImport
) -> list[tuple[uuid.UUID, int, float, str]]:
    """The role's requirements on skills we have, one per skill (the first wins), in the bundle's order."""
    wanted: list[tuple[uuid.UUID, int, float, str]] = []
    seen: set[uuid.UUID] = set()
    for requirement in role.requirements:
        skill_id = skill_ids.get(requirement.skill_external_id)
        if skill_id is None or skill_id in seen:
            applied.dropped_requirements += 1
            continue
        seen.add(skill_id)
        wanted.append((skill_id, requirement.level, float(requirement.weight), requirement.criticality))
    return wanted


async def _requirements_of(
    session: AsyncSession, role_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int, float, str]]]:
    found: dict[uuid.UUID, list[tuple[uuid.UUID, int, float, str]]] = {}
    for start in range(0, len(role_ids), CHUNK):
        rows = await session.execute(
            select(
                RoleRequirement.role_id,
                RoleRequirement.skill_id,
                RoleRequirement.level,
                RoleRequirement.weight,
                RoleRequirement.criticality,
            )
            .where(RoleRequirement.role_id.in_(role_ids[start : start + CHUNK]))
            .order_by(RoleRequirement.role_id, RoleRequirement.position)
        )
        for role_id, skill_id, level, weight, criticality in rows:
            found.setdefault(role_id, []).append((skill_id, level, weight, criticality))
    return found


async def _save_associations(
    session: AsyncSession,
    org_id: uuid.UUID,
    framework_id: uuid.UUID,
    bundle: Bundle,
    applied: AppliedImport,
    progress: Progress,
) -> None:
    table = FrameworkAssociation.__table__
    rows = await session.execute(
        select(
            table.c.id,
            table.c.identifier,
            table.c.association_type,
            table.c.origin,
            table.c.destination,
            table.c.source,
        ).where(table.c.framework_id == framework_id)
    )
    existing = {row.identifier: row for row in rows}
    inserts, updates = [], []
    seen: set[str] = set()
    counts = applied.counts["associations"]
    for association in bundle.associations:
        values = {
            "association_type": association.association_type,
            "origin": association.origin,
            "destination": association.destination,
            "source": association.source,
        }
        if association.identifier in seen:
            continue  # a repeated identifier in the bundle: the first wins
        seen.add(association.identifier)
        current = existing.get(association.identifier)
        if current is None:
            inserts.append(
                {
                    "id": uuid.uuid4(),
                    "org_id": org_id,
                    "framework_id": framework_id,
                    "identifier": association.identifier,
                    **values,
                }
            )
            counts.created += 1
        elif any(getattr(current, key) != value for key, value in values.items()):
            updates.append({"id": current.id, **values})
            counts.updated += 1
        else:
            counts.unchanged += 1
    await _execute_many(session, insert(FrameworkAssociation), inserts)
    await _execute_many(session, update(FrameworkAssociation), updates)
    progress("associations", len(bundle.associations), len(bundle.associations))
