"""Creating organisations outside the API: the bootstrap admin and the demo organisation."""

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.db.tables import Organisation
from services.taxonomy_api.domain import (
    achievements,
    capabilities,
    organisations,
    pathways,
    people,
    roles,
    scales,
    skills,
    versions,
)
from services.taxonomy_api.settings import TaxonomySettings
from shared.auth import SCOPES
from shared.db import Database
from shared.schemas.taxonomy import (
    AchievementIn,
    CapabilityIn,
    PathwayIn,
    RoleIn,
    SkillIn,
)

DEMO_ORGANISATION = "Demo Organisation"
DEMO_ADMIN_EMAIL = "admin@demo.credstack.invalid"


async def bootstrap_organisation(settings: TaxonomySettings, org_name: str, client_name: str) -> dict[str, str]:
    """A new organisation and an admin client holding every scope; returns the client's credentials."""
    database = Database(settings.resolved_database_url, session_class=TaxonomySession)
    try:
        async with database.sessions() as session:
            organisation = await organisations.create_organisation(session, org_name)
            client, secret = await organisations.create_client(session, organisation.id, client_name, list(SCOPES))
            await scales.ensure_default_scales(session, organisation.id)
            await session.commit()
            return {"org_id": str(organisation.id), "client_id": client.client_id, "client_secret": secret}
    finally:
        await database.dispose()


async def seed_demo_organisation(settings: TaxonomySettings) -> dict[str, str] | None:
    """The demo taxonomy (the communication pathway and its reported KPI uplifts), once; None if it is already there."""
    database = Database(settings.resolved_database_url, session_class=TaxonomySession)
    try:
        async with database.sessions() as session:
            if await session.scalar(select(Organisation).where(Organisation.name == DEMO_ORGANISATION)):
                return None
            organisation = await organisations.create_organisation(session, DEMO_ORGANISATION)
            client, secret = await organisations.create_client(session, organisation.id, "demo admin", list(SCOPES))
            await seed_demo_taxonomy(session, organisation.id)
            # The seeds' review board: the twelve-criterion rubric, two approvals, 60 % to pass.
            await versions.set_policy(
                session,
                organisation.id,
                "demo",
                versions.Policy(criteria=versions.REVIEW_BOARD_RUBRIC, required_approvals=2, pass_score=0.6),
            )
            password = secrets.token_urlsafe(12)
            await people.add_user(
                session, organisation.id, email=DEMO_ADMIN_EMAIL, name="Demo admin", role="admin", password=password
            )
            await session.commit()
            return {
                "org_id": str(organisation.id),
                "client_id": client.client_id,
                "client_secret": secret,
                "admin_email": DEMO_ADMIN_EMAIL,
                "admin_password": password,
            }
    finally:
        await database.dispose()


async def seed_demo_taxonomy(session: AsyncSession, org_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The communication pathway (Active listening -> Conflict navigation -> Strategic storytelling) with
    the KPI anchors reported by the product's sources; figures are reported, not proven."""
    default_scales = await scales.ensure_default_scales(session, org_id)
    kpm_id = default_scales["kpm"]
    communication = await capabilities.save_capability(
        session, org_id, CapabilityIn(name="Communication", description="Listening, resolving, persuading.")
    )
    ids: dict[str, uuid.UUID] = {}
    for name, description, esco in (
        (
            "Active listening",
            "Attends to what others say, checks understanding, asks good questions.",
            "http://data.europa.eu/esco/skill/a17286c5-238d-4f0b-bc24-29e9121345de",  # ESCO "listen actively",
        ),
        ("Conflict navigation", "Turns disagreement into agreed next steps.", None),
        ("Strategic storytelling", "Frames a case so decision makers act on it.", None),
    ):
        alignments = [{"framework": "esco", "target_code": esco, "target_url": esco}] if esco else []
        skill = await skills.save_skill(
            session,
            org_id,
            SkillIn(
                name=name,
                description=description,
                capability_id=communication.id,
                scale_id=kpm_id,
                tags=["communication", "soft-skill"],
                alignments=alignments,
            ),
        )
        ids[name] = skill.id
    tiers = {
        "Active listening": "foundational",
        "Conflict navigation": "intermediate",
        "Strategic storytelling": "advanced",
    }
    kpis = {
        "Active listening": {
            "metric": "average handle time (first-call resolution)",
            "direction": "decrease",
            "expected_uplift_low": 10,
            "expected_uplift_high": 15,
        },
        "Conflict navigation": {
            "metric": "project delay days",
            "direction": "decrease",
            "expected_uplift_low": 12,
            "expected_uplift_high": 18,
        },
        "Strategic storytelling": {
            "metric": "win-rate on bids over $5M",
            "direction": "increase",
            "expected_uplift_low": 7,
            "expected_uplift_high": 11,
        },
    }
    badge_ids = {}
    for level, (skill_name, tier) in enumerate(tiers.items(), start=1):
        badge = await achievements.save_achievement(
            session,
            org_id,
            AchievementIn(
                name=f"{skill_name} ({tier.title()})",
                description=f"Certifies {skill_name.lower()} at the {tier} tier.",
                criteria_narrative=f"Pass the observed {skill_name.lower()} assessment with at least 70 of 100.",
                tier=tier,
                skills=[{"skill_id": ids[skill_name], "level": level}],
                result_description={"kind": "score", "pass_mark": 70, "max_score": 100},
                evidence_required=["Recording or observer notes of a real interaction"],
                kpi_anchors=[
                    {
                        **kpis[skill_name],
                        "source": "reported industry figures, illustrative (not measured by CredStack)",
                    }
                ],
                tags=["communication"],
            ),
        )
        badge_ids[skill_name] = badge.id
    await pathways.save_pathway(
        session,
        org_id,
        PathwayIn(
            name="Communication",
            description="Stack the foundational and intermediate badges; the advanced badge is the capstone.",
            steps=[
                {"achievement_id": badge_ids["Active listening"]},
                {"achievement_id": badge_ids["Conflict navigation"], "prerequisites": [badge_ids["Active listening"]]},
            ],
            capstone_achievement_id=badge_ids["Strategic storytelling"],
        ),
    )
    for role_name, family, requirements in (
        (
            "Customer Service Agent",
            "Service",
            [("Active listening", 2, 2.0, "must"), ("Conflict navigation", 1, 1.0, "should")],
        ),
        (
            "Project Manager",
            "Delivery",
            [("Active listening", 2, 1.0, "must"), ("Conflict navigation", 2, 2.0, "must")],
        ),
        ("Bid Manager", "Sales", [("Conflict navigation", 2, 1.0, "must"), ("Strategic storytelling", 3, 3.0, "must")]),
    ):
        await roles.save_role(
            session,
            org_id,
            RoleIn(
                name=role_name,
                job_family=family,
                requirements=[
                    {"skill_id": ids[skill], "level": level, "weight": weight, "criticality": criticality}
                    for skill, level, weight, criticality in requirements
                ],
            ),
        )
    return {**ids, **{f"badge:{k}": v for k, v in badge_ids.items()}}
