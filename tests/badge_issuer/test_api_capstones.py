"""Stackable pathways: completing the demo pathway issues its capstone, in the same transaction, once."""

import asyncio
import uuid

from sqlalchemy import func, select

from services.badge_issuer.db.tables import AuditEvent, Credential
from services.badge_issuer.ob3.schema_validation import validate_achievement_credential
from services.badge_issuer.proofs import data_integrity
from tests.badge_issuer.conftest import idempotent


async def _post(client, headers, body, key=None):
    return await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, key))


async def _capstones_in_db(issuer_app, org) -> list[Credential]:
    async with issuer_app.state.database.sessions() as session:
        rows = await session.scalars(
            select(Credential).where(Credential.org_id == org, Credential.capstone_achievement_id.is_not(None))
        )
        return list(rows)


async def test_completing_the_pathway_issues_the_capstone_once(client, issuer_app, headers, assessment, demo, org):
    first = await _post(client, headers, assessment())
    assert first.status_code == 201, first.text
    assert first.json()["capstones"] == []

    completing_body = assessment(achievement_id=str(demo["badge:Conflict navigation"]))
    completing = await _post(client, headers, completing_body, key="result-cn-1")
    assert completing.status_code == 201, completing.text
    [capstone] = completing.json()["capstones"]
    assert capstone["achievement_id"] == str(demo["badge:Strategic storytelling"])
    assert capstone["learner_hris_id"] == "E-1001"
    document = capstone["credential"]
    assert validate_achievement_credential(document) == []
    assert data_integrity.verify(document).valid
    assert document["credentialSubject"]["achievement"]["name"] == "Strategic storytelling (Advanced)"
    assert "result" not in document["credentialSubject"]
    # The step credentials are its evidence.
    evidence_urls = {entry.get("id") for entry in document["evidence"]}
    assert {first.json()["credential"]["public_url"], completing.json()["credential"]["public_url"]} <= evidence_urls
    verified = (await client.post("/v1/verify", json=document)).json()
    assert verified["verified"] is True, verified["failures"]

    # A replay answers the same, and a later result for a step does not award the capstone again.
    replay = await _post(client, headers, completing_body, key="result-cn-1")
    assert replay.json() == completing.json()
    again = await _post(client, headers, completing_body)
    assert again.status_code == 201 and again.json()["capstones"] == []
    assert [row.id for row in await _capstones_in_db(issuer_app, org)] == [uuid.UUID(capstone["id"])]
    async with issuer_app.state.database.sessions() as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_id == capstone["id"])
        )
    assert audited == 1


async def test_the_capstone_waits_for_every_step_of_the_same_learner(client, headers, assessment, demo):
    other_learner = {"hris_id": "E-2002", "email": "grace@example.com"}
    await _post(client, headers, assessment(learner=other_learner))
    response = await _post(client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"])))
    assert response.status_code == 201 and response.json()["capstones"] == []
    failed = await _post(client, headers, assessment(score=10))
    assert failed.status_code == 422
    assert (await _post(client, headers, assessment())).json()["capstones"] != []


async def test_a_revoked_step_does_not_count_and_an_email_identifies_the_learner(client, headers, assessment, demo):
    by_email = {"email": "Lin@Example.com"}
    first = (await _post(client, headers, assessment(learner=by_email))).json()["credential"]
    await client.post(f"/v1/credentials/{first['id']}/revoke", json={"reason": "issued in error"}, headers=headers)
    step_two = assessment(learner={"email": "lin@example.com"}, achievement_id=str(demo["badge:Conflict navigation"]))
    assert (await _post(client, headers, step_two)).json()["capstones"] == []
    completing = await _post(client, headers, assessment(learner={"email": "LIN@example.com"}, proof_format="vc-jwt"))
    [capstone] = completing.json()["capstones"]
    assert capstone["proof_format"] == "vc-jwt" and capstone["jwt"]
    assert (await client.post("/v1/verify", json={"jwt": capstone["jwt"]})).json()["verified"] is True


async def test_concurrent_completions_award_one_capstone(client, issuer_app, headers, assessment, demo, org):
    await _post(client, headers, assessment())
    body = assessment(achievement_id=str(demo["badge:Conflict navigation"]))
    responses = await asyncio.gather(*(_post(client, headers, body) for _ in range(4)))
    assert all(response.status_code == 201 for response in responses), [r.text for r in responses]
    assert sum(len(response.json()["capstones"]) for response in responses) == 1
    assert len(await _capstones_in_db(issuer_app, org)) == 1
