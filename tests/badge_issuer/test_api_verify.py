"""Public verification: each check reported with its reason, tampering and revocation caught."""

import copy
import json

from tests.badge_issuer.conftest import idempotent
from tests.material import SHARED_DIR

OB3_EXAMPLES = SHARED_DIR / "ob3" / "examples"


def _checks(result: dict) -> dict[str, str]:
    return {check["check"]: check["outcome"] for check in result["checks"]}


async def _issue(client, headers, assessment, **overrides) -> dict:
    response = await client.post("/v1/assessment-results", json=assessment(**overrides), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def test_our_data_integrity_credential_verifies(client, headers, assessment, issuer):
    issued = await _issue(client, headers, assessment)
    response = await client.post("/v1/verify", json=issued["credential"])
    assert response.status_code == 200
    result = response.json()
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "data-integrity" and result["issuer"] == issuer["did"]
    assert _checks(result) == {
        "format": "passed",
        "signature": "passed",
        "issuer": "passed",
        "schema": "passed",
        "validity_window": "passed",
        "status": "passed",
    }


async def test_a_tampered_credential_fails_on_its_signature(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    result = (await client.post("/v1/verify", json=tampered)).json()
    assert result["verified"] is False
    assert _checks(result)["signature"] == "failed"
    assert "invalid_signature" in result["failures"][0]


async def test_a_revoked_credential_fails_on_its_status(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    await client.post(f"/v1/credentials/{issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers)
    result = (await client.post("/v1/verify", json=issued["credential"])).json()
    assert result["verified"] is False and _checks(result)["signature"] == "passed"
    assert _checks(result)["status"] == "failed" and "revoked" in result["failures"][0]
    jwt_issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    await client.post(f"/v1/credentials/{jwt_issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers)
    assert _checks((await client.post("/v1/verify", json={"jwt": jwt_issued["jwt"]})).json())["status"] == "failed"


async def test_our_vc_jwt_verifies_and_a_tampered_one_does_not(client, headers, assessment, issuer):
    issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    result = (await client.post("/v1/verify", json={"jwt": issued["jwt"]})).json()
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "vc-jwt" and result["issuer"] == issuer["did"]
    assert set(_checks(result).values()) == {"passed"}
    header, payload, signature = issued["jwt"].split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    tampered = (await client.post("/v1/verify", json={"jwt": f"{header}.{payload}.{flipped}"})).json()
    assert tampered["verified"] is False and _checks(tampered)["signature"] == "failed"
    garbage = (await client.post("/v1/verify", json={"jwt": "not.a.jwt"})).json()
    assert garbage["verified"] is False and _checks(garbage)["signature"] == "failed"


async def test_credentials_signed_before_a_rotation_still_verify(client, headers, assessment, issuer):
    before = await _issue(client, headers, assessment)
    await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)
    after = await _issue(client, headers, assessment)
    assert after["credential"]["issuer"]["id"] != before["credential"]["issuer"]["id"]
    assert after["status"]["status_list_url"] != before["status"]["status_list_url"]
    for issued in (before, after):
        result = (await client.post("/v1/verify", json=issued["credential"])).json()
        assert result["verified"] is True, result["failures"]


async def test_a_proof_by_someone_other_than_the_issuer_fails_the_issuer_check(client, headers, assessment):
    from services.badge_issuer.proofs import data_integrity, keys

    issued = await _issue(client, headers, assessment)
    unsigned = {k: v for k, v in issued["credential"].items() if k != "proof"}
    stranger = keys.generate_private_key()
    method = keys.did_key_verification_method(keys.did_key_for(stranger.public_key()))
    forged = data_integrity.sign(unsigned, stranger, method)
    result = (await client.post("/v1/verify", json=forged)).json()
    assert _checks(result)["signature"] == "passed" and _checks(result)["issuer"] == "failed"
    assert result["verified"] is False


async def test_an_expired_or_schema_invalid_credential_is_reported(client):
    from services.badge_issuer.proofs import data_integrity, keys

    example = json.loads((OB3_EXAMPLES / "simple.json").read_text())
    unsigned = {k: v for k, v in example.items() if k != "proof"}
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    unsigned["issuer"] = {**unsigned["issuer"], "id": did} if isinstance(unsigned["issuer"], dict) else did
    unsigned["validUntil"] = "2020-01-01T00:00:00Z"
    unsigned.pop("credentialStatus", None)
    signed = data_integrity.sign(unsigned, private_key, keys.did_key_verification_method(did))
    result = (await client.post("/v1/verify", json=signed)).json()
    assert _checks(result)["signature"] == "passed" and _checks(result)["validity_window"] == "failed"
    assert "expired" in " ".join(result["failures"])
    assert _checks(result)["status"] == "skipped"


async def test_something_that_is_not_a_credential_is_refused_with_a_reason(client):
    result = (await client.post("/v1/verify", json={"hello": "world"})).json()
    assert result["verified"] is False and result["format"] == "unknown"
    assert (await client.post("/v1/verify", json=[1, 2])).status_code == 422
