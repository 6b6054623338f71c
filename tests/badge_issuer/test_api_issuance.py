"""Issuance from assessment results: criteria, OB 3.0 content, both proof formats, idempotency."""

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from services.badge_issuer.db.tables import AssessmentResult, Credential
from services.badge_issuer.ob3.schema_validation import validate_achievement_credential
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from tests.badge_issuer.conftest import idempotent


async def test_a_passing_score_issues_a_signed_ob3_credential(client, headers, assessment, issuer, demo):
    response = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["outcome"] == "issued"
    credential = issued["credential"]["credential"]
    assert validate_achievement_credential(credential) == []
    assert data_integrity.verify(credential).valid
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
    ]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"] == f"urn:uuid:{issued['credential']['id']}"
    assert credential["issuer"] == {
        "id": issuer["did"],
        "type": ["Profile"],
        "name": "CredStack Academy",
        "url": "https://academy.credstack.example/",
        "email": "badges@credstack.example",
    }
    [proof] = credential["proof"]
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"] == keys.did_key_verification_method(issuer["did"])
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    assert achievement["id"].endswith(f"/v1/public/achievements/{demo['badge:Active listening']}")
    assert achievement["name"] == "Active listening (Foundational)"
    assert any(a["targetName"] == "Active listening" for a in achievement["alignment"])
    assert subject["result"] == [
        {"type": ["Result"], "resultDescription": achievement["resultDescription"][0]["id"], "value": "86"}
    ]
    email_identity, hris_identity = subject["identifier"]
    assert email_identity["identityType"] == "emailAddress" and email_identity["hashed"] is True
    assert "ada@example.com" not in response.text and "E-1001" not in str(credential)
    assert subject["activityEndDate"] == "2026-01-15T09:30:00Z"
    assert credential["evidence"][0] == {"id": "https://lms.example/attempts/4711", "type": ["Evidence"]}
    assert credential["credentialSchema"][0]["type"] == "1EdTechJsonSchemaValidator2019"
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == issued["credential"]["status"]["status_list_url"]


async def test_the_email_identity_hash_is_salted_sha256_of_the_address(client, headers, assessment):
    issued = (await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))).json()
    identity = issued["credential"]["credential"]["credentialSubject"]["identifier"][0]
    expected = hashlib.sha256(("ada@example.com" + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${expected}"


async def test_vc_jwt_issuance_verifies_with_the_did_key_named_by_kid(client, headers, assessment, issuer):
    response = await client.post(
        "/v1/assessment-results", json=assessment(proof_format="vc-jwt"), headers=idempotent(headers)
    )
    assert response.status_code == 201, response.text
    issued = response.json()["credential"]
    assert issued["proof_format"] == "vc-jwt"
    header = vc_jwt.read_header(issued["jwt"])
    assert header["alg"] == "EdDSA" and header["kid"] == keys.did_key_verification_method(issuer["did"])
    verified = vc_jwt.verify(issued["jwt"], keys.public_key_from_did_key(header["kid"]))
    assert verified.credential == issued["credential"]
    assert verified.claims["iss"] == issuer["did"]
    assert validate_achievement_credential(verified.credential) == []


async def test_a_rubric_level_at_or_above_the_required_one_issues(client, headers, bearer, org, issuer, taxonomy_app):

    from services.taxonomy_api.app import create_app  # noqa: F401 - the taxonomy app is already built

    rubric = {
        "name": "Coaching conversation",
        "criteria_narrative": "Observed coaching conversation, judged on the rubric.",
        "tier": "intermediate",
        "result_description": {
            "kind": "rubric",
            "rubric_levels": [
                {"id": "emerging", "name": "Emerging"},
                {"id": "proficient", "name": "Proficient"},
                {"id": "exemplary", "name": "Exemplary"},
            ],
            "required_level": "proficient",
        },
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://t") as taxonomy:
        created = await taxonomy.post("/v1/achievements", json=rubric, headers=headers)
        assert created.status_code == 201, created.text
    achievement_id = created.json()["id"]
    base = {
        "learner": {"email": "lin@example.com", "did": "did:example:lin"},
        "achievement_id": achievement_id,
        "issuer_id": issuer["id"],
        "completed_at": "2026-02-01T10:00:00+01:00",
    }
    for level, expected in (("exemplary", 201), ("proficient", 201), ("emerging", 422)):
        response = await client.post(
            "/v1/assessment-results", json={**base, "rubric_level": level}, headers=idempotent(headers)
        )
        assert response.status_code == expected, response.text
        if expected == 201:
            credential = response.json()["credential"]["credential"]
            assert validate_achievement_credential(credential) == []
            assert credential["credentialSubject"]["id"] == "did:example:lin"
            [result] = credential["credentialSubject"]["result"]
            assert result["achievedLevel"].endswith(f"#level-{level}")
        else:
            assert "below the required level 'proficient'" in response.json()["detail"]
    unknown = await client.post(
        "/v1/assessment-results", json={**base, "rubric_level": "heroic"}, headers=idempotent(headers)
    )
    assert unknown.status_code == 422 and "Unknown rubric level" in unknown.json()["detail"]


async def test_a_failing_score_is_refused_with_the_reason_recorded(client, headers, assessment, issuer_app):
    request_headers = idempotent(headers, "attempt-failing")
    response = await client.post("/v1/assessment-results", json=assessment(score=60), headers=request_headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/criteria-not-met")
    assert problem["detail"] == "Score 60 is below the pass mark 70."
    async with issuer_app.state.database.sessions() as session:
        recorded = await session.get(AssessmentResult, uuid.UUID(problem["assessment_result_id"]))
    assert recorded.outcome == "refused" and recorded.refusal_reason == problem["detail"]
    replay = await client.post("/v1/assessment-results", json=assessment(score=60), headers=request_headers)
    assert replay.status_code == 422 and replay.json() == problem
    assert replay.headers["content-type"].startswith("application/problem+json")


async def test_the_idempotency_key_is_required(client, headers, assessment):
    response = await client.post("/v1/assessment-results", json=assessment(), headers=headers)
    assert response.status_code == 422
    assert response.json()["header"] == "Idempotency-Key" and "Idempotency-Key" in response.json()["detail"]


async def test_the_same_key_twice_yields_the_same_credential(client, headers, assessment):
    request_headers = idempotent(headers)
    first = await client.post("/v1/assessment-results", json=assessment(), headers=request_headers)
    second = await client.post("/v1/assessment-results", json=assessment(), headers=request_headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    reused = await client.post("/v1/assessment-results", json=assessment(score=99), headers=request_headers)
    assert reused.status_code == 422 and "different request" in reused.json()["detail"]


async def test_concurrent_posts_with_one_key_yield_one_credential(client, headers, assessment, issuer_app, org):
    request_headers = idempotent(headers)
    responses = await asyncio.gather(
        *(client.post("/v1/assessment-results", json=assessment(), headers=request_headers) for _ in range(10))
    )
    assert {response.status_code for response in responses} == {201}, [r.text for r in responses]
    assert len({response.json()["credential"]["id"] for response in responses}) == 1
    async with issuer_app.state.database.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Credential).where(Credential.org_id == org))
    assert count == 1


async def test_every_credential_gets_its_own_status_index(client, headers, assessment):
    responses = await asyncio.gather(
        *(client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers)) for _ in range(8))
    )
    assert {response.status_code for response in responses} == {201}, [r.text for r in responses]
    slots = {
        (r.json()["credential"]["status"]["status_list_url"], r.json()["credential"]["status"]["status_list_index"])
        for r in responses
    }
    assert len(slots) == 8


async def test_another_organisations_achievement_or_issuer_is_not_found(client, headers, assessment, new_org):
    _, other_demo = await new_org("other")
    foreign_achievement = assessment(achievement_id=str(other_demo["badge:Active listening"]))
    response = await client.post("/v1/assessment-results", json=foreign_achievement, headers=idempotent(headers))
    assert response.status_code == 404
    foreign_issuer = assessment(issuer_id=str(uuid.uuid4()))
    assert (
        await client.post("/v1/assessment-results", json=foreign_issuer, headers=idempotent(headers))
    ).status_code == 404


async def test_the_callers_token_needs_taxonomy_read_to_confirm_the_achievement(client, bearer, org, assessment):
    platform = bearer(org, "assessments:write")
    response = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(platform))
    assert response.status_code == 403 and "taxonomy:read" in response.json()["detail"]


async def test_a_result_needs_a_learner_and_a_score_or_level(client, headers, assessment):
    for body in (
        assessment(learner={"did": "did:example:x"}),
        assessment(score=None),
        assessment(completed_at="2026-01-01T00:00:00"),
    ):
        response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
        assert response.status_code == 422, body


async def test_the_achievement_can_be_named_by_its_public_url(client, headers, assessment, demo):
    achievement_id = str(demo["badge:Active listening"])
    url = f"http://taxonomy.test/v1/public/achievements/{achievement_id}"
    body = assessment(achievement_url=url)
    del body["achievement_id"]
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    assert response.json()["credential"]["achievement_id"] == achievement_id

    for bad in (
        assessment(achievement_url="https://taxonomy.example/v1/skills/" + achievement_id),  # not an achievement
        assessment(achievement_url=f"https://taxonomy.example/v1/public/achievements/{uuid.uuid4()}"),  # mismatch
        {key: value for key, value in assessment().items() if key != "achievement_id"},  # neither
    ):
        response = await client.post("/v1/assessment-results", json=bad, headers=idempotent(headers))
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_result_completed_before_year_1_in_utc_is_refused_naming_completed_at(client, headers, assessment):
    """0001-01-01T00:00:00+00:30 is before year 1 once stored in UTC: it reached the database as a 500."""
    response = await client.post(
        "/v1/assessment-results",
        json=assessment(completed_at="0001-01-01T00:00:00+00:30"),
        headers=idempotent(headers),
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body.completed_at", error
    assert "outside years 1 to 9999" in error["message"]


async def test_a_result_completed_in_the_future_is_refused_naming_completed_at(client, headers, assessment):
    """Issue 15: a completed_at in 2030 was issued. Up to five minutes ahead is clock skew, no more."""
    for moment in ("2030-01-01T00:00:00Z", (datetime.now(UTC) + timedelta(minutes=6)).isoformat()):
        response = await client.post(
            "/v1/assessment-results", json=assessment(completed_at=moment), headers=idempotent(headers)
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["field"] == "body.completed_at", error
        assert "future" in error["message"]
    skewed = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    response = await client.post(
        "/v1/assessment-results", json=assessment(completed_at=skewed), headers=idempotent(headers)
    )
    assert response.status_code == 201, response.text

    item = {**assessment(completed_at="2030-01-01T00:00:00Z"), "idempotency_key": "future-1"}
    response = await client.post("/v1/assessment-results/bulk", json={"items": [item]}, headers=headers)
    assert response.status_code == 200, response.text
    [outcome] = response.json()["items"]
    assert outcome["status"] == 422, outcome
    assert "completed_at" in str(outcome["problem"])
