"""The organisation's services read and verify its own credentials in batches
(POST /v1/internal/credentials/verify): authenticated only, scoped to the caller's organisation, and
exactly as strict as the public POST /v1/verify, whose verifier it calls."""

import uuid

from shared.rate_limit import SharedWindowLimiter
from tests.badge_issuer.conftest import idempotent, verify_json

PATH = "/v1/internal/credentials/verify"


async def _issue(client, headers, assessment, **overrides) -> dict:
    response = await client.post("/v1/assessment-results", json=assessment(**overrides), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def test_the_batch_answers_what_the_public_verifier_answers_for_each_credential(client, headers, assessment):
    jwt = await _issue(client, headers, assessment, proof_format="vc-jwt")
    data_integrity = await _issue(client, headers, assessment, proof_format="data-integrity")
    revoked = await _issue(client, headers, assessment, learner={"hris_id": "E-1002"})
    answer = await client.post(f"/v1/credentials/{revoked['id']}/revoke", json={"reason": "void"}, headers=headers)
    assert answer.status_code == 200, answer.text
    unknown = str(uuid.uuid4())

    ids = [jwt["id"], data_integrity["id"], revoked["id"], unknown]
    response = await client.post(PATH, json={"ids": ids}, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == ids
    assert [item["found"] for item in items] == [True, True, True, False]
    assert items[3]["presented"] is None and items[3]["verification"] is None
    assert set(items[0]["presented"]) == {"jwt"} and "proof" in items[1]["presented"]
    for item in items[:3]:
        public = await verify_json(client, item["presented"])
        assert item["verification"] == public
    assert [item["verification"]["verified"] for item in items[:3]] == [True, True, False]
    assert any("revoked" in failure for failure in items[2]["verification"]["failures"])


async def test_the_batch_needs_a_token_with_credentials_read(client, headers, bearer, org, assessment):
    credential = await _issue(client, headers, assessment)
    body = {"ids": [credential["id"]]}
    assert (await client.post(PATH, json=body)).status_code == 401
    forbidden = await client.post(PATH, json=body, headers=bearer(org, "assessments:write"))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    allowed = await client.post(PATH, json=body, headers=bearer(org, "credentials:read"))
    assert allowed.status_code == 200 and allowed.json()["items"][0]["found"] is True


async def test_another_organisations_credential_is_not_found(client, headers, bearer, new_org, assessment):
    credential = await _issue(client, headers, assessment)
    other, _ = await new_org("other")
    response = await client.post(PATH, json={"ids": [credential["id"]]}, headers=bearer(other))
    assert response.status_code == 200, response.text
    assert response.json()["items"] == [
        {"id": credential["id"], "found": False, "presented": None, "verification": None}
    ]


async def test_a_batch_is_bounded(client, headers):
    too_many = {"ids": [str(uuid.uuid4()) for _ in range(201)]}
    response = await client.post(PATH, json=too_many, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(PATH, json={"ids": []}, headers=headers)).status_code == 422


async def test_the_organisations_batches_have_their_own_budget(client, headers, issuer_app):
    """Requests a minute per organisation (counted in the database, shared across replicas): past it, 429."""
    issuer_app.state.issued_verification_limiter = SharedWindowLimiter(2, budget=f"batch-{uuid.uuid4().hex}")
    body = {"ids": [str(uuid.uuid4())]}
    answers = [(await client.post(PATH, json=body, headers=headers)).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
