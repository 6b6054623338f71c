"""Credentials carry the published taxonomy: once an organisation publishes, a rename in its draft does
not reach a credential, and an achievement only in the draft is not issued."""

from sqlalchemy import select

from services.taxonomy_api.db.tables import Achievement
from services.taxonomy_api.domain import versions
from tests.badge_issuer.conftest import idempotent

BASE_URL = "http://127.0.0.1:8001"


async def _publish(taxonomy_app, org) -> None:
    async with taxonomy_app.state.database.sessions() as session:
        version = await versions.submit(session, org, "hr-author", "v1", "", BASE_URL)
        await session.commit()
        await versions.review(session, org, version.id, "council", "approve", [], "")
        await versions.publish(session, org, version.id, "council")
        await session.commit()


async def test_a_draft_never_reaches_a_credential(client, headers, assessment, demo, taxonomy_app, org):
    await _publish(taxonomy_app, org)
    async with taxonomy_app.state.database.sessions() as session:
        badge = await session.scalar(select(Achievement).where(Achievement.id == demo["badge:Active listening"]))
        badge.name = "Renamed in the draft"
        await session.commit()

    issued = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert issued.status_code == 201, issued.text
    achievement = issued.json()["credential"]["credential"]["credentialSubject"]["achievement"]
    assert achievement["name"] == "Active listening (Foundational)"
    ours = next(a for a in achievement["alignment"] if a["targetFramework"] == "CredStack")
    assert "?version=" in ours["targetUrl"]

    async with taxonomy_app.state.database.sessions() as session:
        draft_only = Achievement(
            org_id=org,
            name="Only in the draft",
            criteria_narrative="x",
            tier="foundational",
            result_description=badge.result_description,
        )
        session.add(draft_only)
        await session.commit()
        draft_only_id = draft_only.id
    refused = await client.post(
        "/v1/assessment-results", json=assessment(achievement_id=str(draft_only_id)), headers=idempotent(headers)
    )
    assert refused.status_code == 404 and "published taxonomy" in refused.json()["detail"]
