"""Landing a bundle in the working taxonomy: by external id, whole or not at all, idempotent."""

import copy

import pytest
from sqlalchemy import func, select

from services.taxonomy_api.db.tables import Capability, FrameworkAssociation, Role, RoleRequirement, Skill, SkillTag
from services.taxonomy_api.frameworks.apply import apply_bundle
from services.taxonomy_api.frameworks.bundle import (
    Bundle,
    BundleAssociation,
    BundleCapability,
    BundleRequirement,
    BundleRole,
    BundleSkill,
    FrameworkInfo,
)

pytestmark = pytest.mark.anyio

ESCO = "http://data.europa.eu/esco/skill/"


def small_bundle() -> Bundle:
    return Bundle(
        framework=FrameworkInfo(kind="esco", identifier="esco", title="ESCO", release="v1.1.1"),
        capabilities=[
            BundleCapability(external_id=f"{ESCO}S1.1", name="communication", parent_external_id=f"{ESCO}S1"),
            BundleCapability(external_id=f"{ESCO}S1", name="communication, collaboration and creativity"),
        ],
        skills=[
            BundleSkill(
                external_id=f"{ESCO}a1",
                name="listen actively",
                description="Give attention to what other people say.",
                capability_external_id=f"{ESCO}S1.1",
                alternative_labels=["active listening"],
                skill_type="skill/competence",
                reuse_level="transversal",
                url=f"{ESCO}a1",
            ),
            BundleSkill(external_id=f"{ESCO}a2", name="negotiate", capability_external_id=f"{ESCO}S1.1"),
            # Two ESCO concepts share a label: names are unique per organisation.
            BundleSkill(external_id=f"{ESCO}a3", name="negotiate"),
        ],
        roles=[
            BundleRole(
                external_id="http://data.europa.eu/esco/occupation/o1",
                name="call centre agent",
                job_family="ISCO 4222",
                requirements=[
                    BundleRequirement(f"{ESCO}a1", level=3),
                    BundleRequirement(f"{ESCO}a2", level=2, weight=0.5, criticality="should"),
                    BundleRequirement(f"{ESCO}unknown", level=3),
                ],
            )
        ],
        associations=[
            BundleAssociation(
                identifier="broader:a1->S1.1", association_type="broader", origin=f"{ESCO}a1", destination=f"{ESCO}S1.1"
            )
        ],
    )


async def _counts(session, org_id) -> dict[str, int]:
    async def count(statement) -> int:
        return await session.scalar(statement)

    return {
        "skills": await count(select(func.count()).select_from(Skill).where(Skill.org_id == org_id)),
        "capabilities": await count(select(func.count()).select_from(Capability).where(Capability.org_id == org_id)),
        "roles": await count(select(func.count()).select_from(Role).where(Role.org_id == org_id)),
        "requirements": await count(
            select(func.count()).select_from(RoleRequirement).join(Role).where(Role.org_id == org_id)
        ),
        "associations": await count(
            select(func.count()).select_from(FrameworkAssociation).where(FrameworkAssociation.org_id == org_id)
        ),
    }


async def test_a_bundle_lands_with_hierarchy_requirements_and_unique_names(taxonomy_app, org) -> None:
    async with taxonomy_app.state.database.sessions() as session:
        applied = await apply_bundle(session, org, small_bundle())
        await session.commit()
        assert await _counts(session, org) == {
            "skills": 3,
            "capabilities": 2,
            "roles": 1,
            "requirements": 2,
            "associations": 1,
        }
        assert applied.dropped_requirements == 1
        skills = {s.external_id: s for s in await session.scalars(select(Skill).where(Skill.org_id == org))}
        assert skills[f"{ESCO}a2"].name == "negotiate"
        assert skills[f"{ESCO}a3"].name == "negotiate (ESCO a3)"
        listen = skills[f"{ESCO}a1"]
        assert listen.alternative_labels == ["active listening"]
        assert (listen.skill_type, listen.reuse_level) == ("skill/competence", "transversal")
        assert [(a.framework, a.target_code) for a in listen.alignments] == [("esco", f"{ESCO}a1")]
        capabilities = {c.external_id: c for c in await session.scalars(select(Capability))}
        assert capabilities[f"{ESCO}S1.1"].parent_id == capabilities[f"{ESCO}S1"].id
        assert listen.capability_id == capabilities[f"{ESCO}S1.1"].id


async def test_the_same_bundle_again_changes_nothing_and_a_newer_one_updates_in_place(taxonomy_app, org) -> None:
    async with taxonomy_app.state.database.sessions() as session:
        await apply_bundle(session, org, small_bundle())
        await session.commit()
        again = await apply_bundle(session, org, small_bundle())
        await session.commit()
        assert not again.changed
        assert again.counts["skills"].unchanged == 3 and again.counts["roles"].unchanged == 1

        newer = small_bundle()
        newer.skills[0].name = "listen attentively"
        newer.roles[0].requirements[0].level = 4
        del newer.skills[2]
        updated = await apply_bundle(session, org, newer, retire_missing=True)
        await session.commit()
        assert updated.counts["skills"].as_dict() == {"created": 0, "updated": 1, "unchanged": 1, "retired": 1}
        assert updated.counts["roles"].updated == 1
        assert (await _counts(session, org))["skills"] == 3
        levels = await session.scalars(
            select(RoleRequirement.level).join(Role).where(Role.org_id == org).order_by(RoleRequirement.position)
        )
        assert list(levels) == [4, 2]
        retired = await session.scalar(
            select(Skill.external_id).join(SkillTag).where(Skill.org_id == org, SkillTag.tag == "obsolete")
        )
        assert retired == f"{ESCO}a3"


async def test_a_failed_import_leaves_nothing_behind(taxonomy_app, org) -> None:
    broken = small_bundle()
    broken.skills.append(copy.deepcopy(broken.skills[0]))  # the same concept twice: the insert fails
    async with taxonomy_app.state.database.sessions() as session:
        with pytest.raises(Exception):  # noqa: B017 - whichever integrity error the database raises
            await apply_bundle(session, org, broken)
            await session.commit()
        await session.rollback()
        assert await _counts(session, org) == dict.fromkeys(
            ("skills", "capabilities", "roles", "requirements", "associations"), 0
        )
