"""Stackable pathways: the capstone credential awarded when an issuance completes a pathway.

taxonomy_api owns the pathways and the rule for completing one (its progress endpoint); this module
asks it, with the caller's token, and issues each due capstone inside the issuance's transaction. A
capstone is awarded once per learner and achievement: the unique constraint on the credentials table
holds even when two results complete the pathway at the same moment (the later one skips it).
"""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential, Issuer
from services.badge_issuer.domain import credentials
from services.badge_issuer.ob3 import credential as ob3_credential

# A capstone can itself be a step of another pathway; the chain is followed this deep at most.
MAX_CHAIN = 10


async def held_achievements(session: AsyncSession, org_id: uuid.UUID, learner_key: str) -> set[uuid.UUID]:
    """Achievements the learner holds in this organisation: credentials issued and not revoked."""
    rows = await session.scalars(
        select(Credential.achievement_id).where(
            Credential.org_id == org_id, Credential.learner_key == learner_key, Credential.revoked_at.is_(None)
        )
    )
    return set(rows)


async def award_completed_pathways(
    session: AsyncSession,
    org_id: uuid.UUID,
    issuer: Issuer,
    issued: Credential,
    subject: "credentials.Subject",
    context: "credentials.IssuanceContext",
) -> Sequence[Credential]:
    """Issue the capstone of every pathway `issued` completes (and of those the capstones complete)."""
    awarded: list[Credential] = []
    pending = [issued]
    for _ in range(MAX_CHAIN):
        if not pending:
            break
        trigger = pending.pop(0)
        for pathway in await context.taxonomy.pathways_containing(trigger.achievement_id, context.authorization):
            capstone = await _award_if_due(session, org_id, issuer, trigger, pathway, subject, context)
            if capstone is not None:
                awarded.append(capstone)
                pending.append(capstone)
    return awarded


async def _award_if_due(
    session: AsyncSession,
    org_id: uuid.UUID,
    issuer: Issuer,
    trigger: Credential,
    pathway: dict,
    subject: "credentials.Subject",
    context: "credentials.IssuanceContext",
) -> Credential | None:
    held = await held_achievements(session, org_id, subject.key)
    pathway_id = uuid.UUID(pathway["id"])
    progress = await context.taxonomy.pathway_progress(pathway_id, sorted(held, key=str), context.authorization)
    if not progress["complete"] or progress["capstone_held"] or not progress["capstone_achievement_id"]:
        return None
    capstone_id = uuid.UUID(progress["capstone_achievement_id"])
    achievement = await context.taxonomy.achievement(capstone_id, context.authorization)
    steps = await session.scalars(
        select(Credential).where(
            Credential.org_id == org_id,
            Credential.learner_key == subject.key,
            Credential.revoked_at.is_(None),
            Credential.achievement_id.in_([uuid.UUID(step["achievement_id"]) for step in pathway["steps"]]),
        )
    )
    step_urls = sorted({credentials.public_credential_url(context.base_url, step.id) for step in steps})
    narrative = f"Awarded for completing the pathway {pathway['name']}: every step credential is listed as evidence."
    try:
        async with session.begin_nested():
            return await credentials.sign_and_store(
                session,
                org_id,
                issuer,
                achievement,
                subject,
                context,
                proof_format=trigger.proof_format,
                assessment_result_id=None,
                results=[],
                activity_end=None,
                evidence=ob3_credential.evidence_entries(step_urls, narrative, None),
                capstone_pathway_id=pathway_id,
            )
    except IntegrityError:
        return None  # a concurrent issuance awarded this capstone first
