"""Issuance from an assessment result: judge it against the achievement's criteria, sign and store the
credential, then award every pathway capstone it completes, in the caller's transaction.

It sits above `credentials` (signing and storing one credential) and `capstones` (deciding what a
new credential completes), so neither of those imports the other.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import AssessmentResult
from services.badge_issuer.domain import audit, capstones, credentials, criteria
from services.badge_issuer.ob3 import credential as ob3_credential
from shared.db import utcnow
from shared.errors import problem_body
from shared.schemas.issuer import AssessmentResultIn


async def issue_from_assessment(
    session: AsyncSession,
    org_id: uuid.UUID,
    data: AssessmentResultIn,
    context: credentials.IssuanceContext,
    *,
    profiles: dict[uuid.UUID, credentials.IssuingProfile] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Judge the result; issue (201) or record the refusal (422, with the reason). The caller commits,
    so the result, the credential, its status index and the audit entry land in one transaction.

    `profiles` lets a caller issuing many in one transaction (a bulk group) read each issuer and its
    keys once: the transaction's first read of them, as a single POST's transaction has."""
    profile = profiles.get(data.issuer_id) if profiles is not None else None
    if profile is None:
        profile = await credentials.issuing_profile(session, org_id, data.issuer_id)
        if profiles is not None:
            profiles[data.issuer_id] = profile
    achievement = await context.taxonomy.achievement(data.achievement_id, context.authorization)
    judgement = criteria.judge(
        achievement.definition, achievement.ob3, score=data.score, rubric_level=data.rubric_level
    )
    result = {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "issuer_id": profile.issuer.id,
        "achievement_id": data.achievement_id,
        "learner_hris_id": data.learner.hris_id,
        "learner_email": data.learner.email,
        "learner_did": data.learner.did,
        "score": data.score,
        "rubric_level": data.rubric_level,
        "evidence": data.evidence.model_dump(mode="json"),
        "assessor": data.assessor,
        "completed_at": data.completed_at,
        "outcome": "issued" if judgement.met else "refused",
        "refusal_reason": judgement.reason,
        "created_at": utcnow(),
    }
    if not judgement.met:
        session.add(AssessmentResult(**result))
        refusal = {"reason": judgement.reason}
        audit.record(session, org_id, "assessment.refused", str(result["id"]), context.actor, refusal)
        await session.flush()
        body = problem_body(
            422,
            "Criteria not met",
            judgement.reason or "The result does not meet the achievement's criteria.",
            "criteria-not-met",
            assessment_result_id=str(result["id"]),
            outcome="refused",
        )
        return 422, body

    subject = credentials.Subject.of(data.learner)
    credential = await credentials.sign_and_store(
        session,
        org_id,
        profile,
        achievement,
        subject,
        context,
        proof_format=data.proof_format or profile.issuer.default_proof_format,
        assessment_result=result,
        results=[judgement.result],
        activity_end=data.completed_at,
        awarded_at=data.completed_at,
        evidence=ob3_credential.evidence_entries(
            [str(url) for url in data.evidence.urls], data.evidence.narrative, data.assessor
        ),
    )
    awarded = await capstones.award_completed_pathways(session, org_id, profile, credential, subject, context)
    # IssuanceOut, built as JSON: the credential documents are JSON already (credential_json).
    issued: dict[str, Any] = {
        "assessment_result_id": str(result["id"]),
        "outcome": "issued",
        "credential": credentials.credential_json(credential, context.base_url),
        "capstones": [credentials.credential_json(capstone, context.base_url) for capstone in awarded],
    }
    return 201, issued
