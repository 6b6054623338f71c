"""Reading, sharing and revoking credentials; the signed status list that carries revocations."""

import asyncio

from services.badge_issuer.proofs import data_integrity
from services.badge_issuer.status_list import MIN_ENTRIES, Bitstring, check_credential_status
from tests.badge_issuer.conftest import idempotent


async def _issue(client, headers, assessment, **overrides) -> dict:
    response = await client.post("/v1/assessment-results", json=assessment(**overrides), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def test_the_organisation_reads_its_credential(client, headers, bearer, org, assessment):
    issued = await _issue(client, headers, assessment)
    response = await client.get(f"/v1/credentials/{issued['id']}", headers=bearer(org, "credentials:read"))
    assert response.status_code == 200
    assert response.json() == issued
    assert issued["learner_hris_id"] == "E-1001" and issued["status"]["revoked"] is False
    assert (
        await client.get(f"/v1/credentials/{issued['id']}", headers=bearer(org, "assessments:write"))
    ).status_code == 403


async def test_the_public_link_serves_the_credential_as_issued(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    assert issued["public_url"].endswith(f"/v1/public/credentials/{issued['id']}")
    response = await client.get(f"/v1/public/credentials/{issued['id']}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    assert response.json() == issued["credential"]
    jwt_issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    token = await client.get(f"/v1/public/credentials/{jwt_issued['id']}")
    assert token.headers["content-type"].startswith("application/vc+jwt") and token.text == jwt_issued["jwt"]


async def test_revocation_needs_a_reason_and_the_revoke_scope(client, headers, bearer, org, assessment):
    issued = await _issue(client, headers, assessment)
    url = f"/v1/credentials/{issued['id']}/revoke"
    assert (await client.post(url, json={}, headers=headers)).status_code == 422
    assert (await client.post(url, json={"reason": " "}, headers=headers)).status_code == 422
    reader = bearer(org, "credentials:read")
    assert (await client.post(url, json={"reason": "fraud"}, headers=reader)).status_code == 403
    revoker = bearer(org, "credentials:revoke")
    revoked = await client.post(url, json={"reason": "Assessment found to be plagiarised"}, headers=revoker)
    assert revoked.status_code == 200, revoked.text
    status = revoked.json()["status"]
    assert (
        status["revoked"] is True and status["reason"] == "Assessment found to be plagiarised" and status["revoked_at"]
    )
    again = await client.post(url, json={"reason": "again"}, headers=revoker)
    assert again.status_code == 409


async def test_the_status_list_is_signed_and_shows_the_revocation(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    kept = await _issue(client, headers, assessment)
    list_url = issued["status"]["status_list_url"]
    path = list_url.removeprefix("https://issuer.credstack.test")
    before = await client.get(path)
    assert before.status_code == 200
    listed = before.json()
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"] and listed["id"] == list_url
    assert data_integrity.verify(listed).valid
    assert listed["issuer"] == issued["credential"]["issuer"]["id"]
    assert len(Bitstring.decode(listed["credentialSubject"]["encodedList"])) == MIN_ENTRIES
    entry = issued["credential"]["credentialStatus"]
    assert check_credential_status(entry, listed).revoked is False
    unchanged = await client.get(path, headers={"If-None-Match": before.headers["etag"]})
    assert unchanged.status_code == 304

    await client.post(f"/v1/credentials/{issued['id']}/revoke", json={"reason": "issued in error"}, headers=headers)
    after = await client.get(path, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert data_integrity.verify(after.json()).valid
    assert check_credential_status(entry, after.json()).revoked is True
    assert check_credential_status(kept["credential"]["credentialStatus"], after.json()).revoked is False
    assert (await client.get("/v1/public/status-lists/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_two_concurrent_revocations_have_one_winner(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    url = f"/v1/credentials/{issued['id']}/revoke"
    first, second = await asyncio.gather(
        client.post(url, json={"reason": "first"}, headers=headers),
        client.post(url, json={"reason": "second"}, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
