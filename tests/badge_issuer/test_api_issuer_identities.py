"""Issuer identities and keys: key types (Ed25519, P-256, RSA), did:key / did:web / https identifiers,
the did:web DID document and https kids, and revoking a compromised key."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from services.badge_issuer.db.tables import AuditEvent, IssuerKey, OutboxEvent
from services.badge_issuer.ob3.schema_validation import validate_achievement_credential
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from tests.badge_issuer.conftest import ISSUER_BASE_URL, idempotent

ALGORITHMS = {"Ed25519": "EdDSA", "P-256": "ES256", "RSA": "RS256"}
HOST = urlsplit(ISSUER_BASE_URL).hostname


async def _create_issuer(client, headers, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/issuers", json={"name": "Identity Academy", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _issue(client, headers, assessment, issuer: dict[str, Any], proof_format: str) -> dict[str, Any]:
    body = assessment(issuer_id=issuer["id"], proof_format=proof_format)
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


def _path(url: str) -> str:
    """The route an absolute URL of this service maps to (the test client speaks to the app)."""
    assert url.startswith(ISSUER_BASE_URL), url
    return url.removeprefix(ISSUER_BASE_URL)


async def _resolve_kid(client, kid: str) -> dict[str, Any]:
    """What a verifier nobody here wrote would do with a kid: did:key offline, did:web through its
    DID document (spec mapping), https by dereferencing the URL. Returns the public JWK."""
    if kid.startswith(keys.DID_KEY_PREFIX):
        return keys.public_jwk(keys.public_key_from_did_key(kid))
    if kid.startswith(keys.DID_WEB_PREFIX):
        did = kid.split("#", 1)[0]
        document = (await client.get(_path(keys.did_web_document_url(did)))).json()
        [method] = [method for method in document["verificationMethod"] if method["id"] == kid]
        assert method["controller"] == did and kid in document["assertionMethod"]
        if method["type"] == "Multikey":
            return keys.public_jwk(keys.ed25519_public_key_from_multikey(method["publicKeyMultibase"]))
        return method["publicKeyJwk"]
    response = await client.get(_path(kid))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/jwk+json")
    return response.json()


async def _verify_data_integrity_offline(client, document: dict[str, Any]) -> data_integrity.VerificationResult:
    keys_by_method: dict[str, Any] = {}
    method = document["proof"][0]["verificationMethod"]
    keys_by_method[method] = keys.public_key_from_jwk(await _resolve_kid(client, method))
    return data_integrity.verify(document, lambda vm: keys_by_method[vm])


async def test_an_issuer_holds_an_ed25519_key_and_one_for_its_jwt_key_type(client, headers):
    for key_type, kty in (("Ed25519", "OKP"), ("P-256", "EC"), ("RSA", "RSA")):
        issuer = await _create_issuer(client, headers, jwt_key_type=key_type)
        assert issuer["jwt_key_type"] == key_type and issuer["identifier"] == "did:key"
        assert issuer["did"].startswith("did:key:z6Mk") and issuer["did_document_url"] is None
        assert sorted(key["key_type"] for key in issuer["keys"]) == sorted({"Ed25519", key_type})
        assert all(key["status"] == "active" for key in issuer["keys"])
        jwks = (await client.get(f"/v1/public/issuers/{issuer['id']}/jwks.json")).json()["keys"]
        assert {jwk["kty"] for jwk in jwks} == {"OKP", kty}
        assert all("d" not in jwk and "p" not in jwk for jwk in jwks)
        for key in issuer["keys"]:
            if key["key_type"] != "Ed25519":  # not expressible in the did:key identity: an https kid
                url = f"{ISSUER_BASE_URL}/v1/public/issuers/{issuer['id']}/keys/{key['id']}"
                assert key["kid"] == key["verification_method"] == url
                jwk = await _resolve_kid(client, key["kid"])
                assert jwk["alg"] == ALGORITHMS[key_type] and jwk["kid"] == key["kid"] and "d" not in jwk
    invalid = await client.post("/v1/issuers", json={"name": "x", "jwt_key_type": "RSA-1024"}, headers=headers)
    assert invalid.status_code == 422 and invalid.headers["content-type"].startswith("application/problem+json")
    invalid = await client.post("/v1/issuers", json={"name": "x", "identifier": "did:ion"}, headers=headers)
    assert invalid.status_code == 422


async def test_rs256_credentials_are_issued_and_verified_end_to_end(client, headers, assessment):
    issuer = await _create_issuer(client, headers, jwt_key_type="RSA", default_proof_format="vc-jwt")
    issued = await _issue(client, headers, assessment, issuer, "vc-jwt")
    header = vc_jwt.read_header(issued["jwt"])
    [rsa_key] = [key for key in issuer["keys"] if key["key_type"] == "RSA"]
    assert header["alg"] == "RS256" and header["kid"] == rsa_key["kid"]
    verified = vc_jwt.verify(issued["jwt"], await _resolve_kid(client, header["kid"]))
    assert verified.credential["issuer"]["id"] == issuer["did"]
    assert validate_achievement_credential(verified.credential) == []
    result = (await client.post("/v1/verify", json={"jwt": issued["jwt"]})).json()
    assert result["verified"] is True, result["failures"]
    assert any(check["check"] == "signature" and "RS256" in check["reason"] for check in result["checks"])
    # The same issuer's Data Integrity credentials are signed by its Ed25519 did:key.
    di = await _issue(client, headers, assessment, issuer, "data-integrity")
    assert di["credential"]["proof"][0]["verificationMethod"] == keys.did_key_verification_method(issuer["did"])
    assert (await client.post("/v1/verify", json=di["credential"])).json()["verified"] is True


async def test_every_identifier_key_type_and_proof_format_issues_a_valid_verifiable_credential(
    client, headers, assessment
):
    for identifier in ("did:key", "did:web", "https"):
        for key_type in ("Ed25519", "P-256", "RSA"):
            variant = f"{identifier} / {key_type}"
            issuer = await _create_issuer(client, headers, identifier=identifier, jwt_key_type=key_type)
            if identifier == "did:web":
                assert issuer["did"] == f"did:web:{HOST}:issuers:{issuer['id']}", variant
            if identifier == "https":
                assert issuer["did"] == issuer["public_profile_url"], variant

            jwt_credential = await _issue(client, headers, assessment, issuer, "vc-jwt")
            header = vc_jwt.read_header(jwt_credential["jwt"])
            assert header["alg"] == ALGORITHMS[key_type], variant
            verified = vc_jwt.verify(jwt_credential["jwt"], await _resolve_kid(client, header["kid"]))
            assert verified.credential["issuer"]["id"] == issuer["did"], variant
            assert validate_achievement_credential(verified.credential) == [], variant
            result = (await client.post("/v1/verify", json={"jwt": jwt_credential["jwt"]})).json()
            assert result["verified"] is True, (variant, result["failures"])

            di_credential = (await _issue(client, headers, assessment, issuer, "data-integrity"))["credential"]
            assert di_credential["issuer"]["id"] == issuer["did"], variant
            assert validate_achievement_credential(di_credential) == [], variant
            method = di_credential["proof"][0]["verificationMethod"]
            [ed25519_key] = [key for key in issuer["keys"] if key["key_type"] == "Ed25519"]
            assert method == ed25519_key["kid"], variant
            assert (await _verify_data_integrity_offline(client, di_credential)).valid, variant
            result = (await client.post("/v1/verify", json=di_credential)).json()
            assert result["verified"] is True, (variant, result["failures"])


async def test_the_did_web_document_lists_published_keys_where_the_did_resolves(client, headers):
    issuer = await _create_issuer(client, headers, identifier="did:web", jwt_key_type="P-256")
    did = issuer["did"]
    assert issuer["did_document_url"] == keys.did_web_document_url(did)
    assert urlsplit(issuer["did_document_url"]).path == f"/issuers/{issuer['id']}/did.json"
    assert all(key["kid"] == f"{did}#{key['id']}" for key in issuer["keys"])
    response = await client.get(f"/issuers/{issuer['id']}/did.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/did+ld+json")
    document = response.json()
    assert document["@context"] == [keys.DID_CONTEXT, keys.MULTIKEY_CONTEXT, keys.JWK_CONTEXT]
    assert document["id"] == did
    methods = {method["id"]: method for method in document["verificationMethod"]}
    assert set(methods) == {key["kid"] for key in issuer["keys"]}
    assert document["assertionMethod"] == document["authentication"] == list(methods)
    for key in issuer["keys"]:
        method = methods[key["kid"]]
        assert method["controller"] == did
        if key["key_type"] == "Ed25519":
            assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("z6Mk")
        else:
            assert method["type"] == "JsonWebKey" and set(method["publicKeyJwk"]) == {"kty", "crv", "x", "y"}
    again = await client.get(f"/issuers/{issuer['id']}/did.json", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304

    rotated = (await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate?key_type=P-256", headers=headers)).json()
    assert rotated["did"] == did  # did:web stays put across rotations
    document = (await client.get(f"/issuers/{issuer['id']}/did.json")).json()
    assert {method["id"] for method in document["verificationMethod"]} == {key["kid"] for key in rotated["keys"]}
    assert len(document["verificationMethod"]) == 3  # the retired P-256 key still verifies what it signed

    did_key_issuer = await _create_issuer(client, headers)
    missing = await client.get(f"/issuers/{did_key_issuer['id']}/did.json")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/issuers/00000000-0000-0000-0000-000000000000/did.json")).status_code == 404


async def test_rotation_takes_a_key_type_and_retires_only_that_type(client, headers, assessment):
    issuer = await _create_issuer(client, headers, jwt_key_type="RSA")
    [old_rsa] = [key for key in issuer["keys"] if key["key_type"] == "RSA"]
    first = await _issue(client, headers, assessment, issuer, "vc-jwt")
    rotated = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate?key_type=RSA", headers=headers)
    assert rotated.status_code == 200, rotated.text
    by_status = {(key["key_type"], key["status"]) for key in rotated.json()["keys"]}
    assert by_status == {("Ed25519", "active"), ("RSA", "retired"), ("RSA", "active")}
    assert rotated.json()["did"] == issuer["did"]  # the did:key identity is the Ed25519 key's
    second = await _issue(client, headers, assessment, issuer, "vc-jwt")
    assert vc_jwt.read_header(second["jwt"])["kid"] != old_rsa["kid"]
    for issued in (first, second):  # the retired key stays published: its credential still verifies
        assert (await client.post("/v1/verify", json={"jwt": issued["jwt"]})).json()["verified"] is True
    bad = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate?key_type=DSA", headers=headers)
    assert bad.status_code == 422


async def test_a_compromised_key_is_withdrawn_replaced_and_what_it_signed_since_is_revoked(
    client, issuer_app, headers, bearer, org, assessment
):
    issuer = await _create_issuer(client, headers, identifier="did:web", jwt_key_type="RSA")
    [rsa_key] = [key for key in issuer["keys"] if key["key_type"] == "RSA"]
    before = await _issue(client, headers, assessment, issuer, "vc-jwt")
    after = await _issue(client, headers, assessment, issuer, "vc-jwt")
    other_key = await _issue(client, headers, assessment, issuer, "data-integrity")
    url = f"/v1/issuers/{issuer['id']}/keys/{rsa_key['id']}/revoke"
    body = {"reason": "private key found in a public repository", "compromised_since": after["issued_at"]}

    assert (await client.post(url, json=body, headers=bearer(org, "credentials:revoke"))).status_code == 403
    assert (await client.post(url, json={"compromised_since": after["issued_at"]}, headers=headers)).status_code == 422
    future = (datetime.fromisoformat(after["issued_at"]) + timedelta(days=1)).isoformat()
    response = await client.post(url, json={**body, "compromised_since": future}, headers=headers)
    assert response.status_code == 422 and "future" in response.json()["detail"]
    naive = {**body, "compromised_since": "2026-01-01T00:00:00"}
    assert (await client.post(url, json=naive, headers=headers)).status_code == 422

    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    keys_after = {key["id"]: key for key in response.json()["keys"]}
    compromised = keys_after[rsa_key["id"]]
    assert compromised["status"] == "compromised" and compromised["revocation_reason"] == body["reason"]
    assert datetime.fromisoformat(compromised["compromised_since"]) == datetime.fromisoformat(after["issued_at"])
    replacements = [key for key in keys_after.values() if key["key_type"] == "RSA" and key["status"] == "active"]
    assert len(replacements) == 1 and replacements[0]["kid"] != rsa_key["kid"]

    # Withdrawn from the DID document, the JWKS and its https URL; the replacement signs from now on.
    document = (await client.get(f"/issuers/{issuer['id']}/did.json")).json()
    assert rsa_key["kid"] not in {method["id"] for method in document["verificationMethod"]}
    assert rsa_key["kid"] not in document["assertionMethod"]
    jwks = (await client.get(f"/v1/public/issuers/{issuer['id']}/jwks.json")).json()["keys"]
    assert rsa_key["kid"] not in {jwk["kid"] for jwk in jwks} and replacements[0]["kid"] in {jwk["kid"] for jwk in jwks}
    assert (await client.get(f"/v1/public/issuers/{issuer['id']}/keys/{rsa_key['id']}")).status_code == 404
    fresh = await _issue(client, headers, assessment, issuer, "vc-jwt")
    assert vc_jwt.read_header(fresh["jwt"])["kid"] == replacements[0]["kid"]

    # Only what the key signed since compromised_since is revoked, through the ordinary path.
    def status_of(credential: dict[str, Any]) -> dict[str, Any]:
        return credential["status"]

    for credential, revoked in ((before, False), (after, True), (other_key, False), (fresh, False)):
        read = (await client.get(f"/v1/credentials/{credential['id']}", headers=headers)).json()
        assert status_of(read)["revoked"] is revoked, credential["id"]
        if revoked:
            assert status_of(read)["reason"] == "signing key compromised"
    status_list = (await client.get(_path(after["status"]["status_list_url"]))).json()
    assert status_list["credentialSubject"]["encodedList"]  # re-signed with the bit set
    async with issuer_app.state.database.sessions() as session:
        audits = list(await session.scalars(select(AuditEvent).where(AuditEvent.org_id == org)))
        events = list(
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.org_id == org, OutboxEvent.type == "credential.revoked")
            )
        )
        row = await session.scalar(select(IssuerKey).where(IssuerKey.kid == rsa_key["kid"]))
    [compromise] = [event for event in audits if event.action == "issuer.key_compromised"]
    assert compromise.subject_id == issuer["id"] and compromise.detail["kid"] == rsa_key["kid"]
    assert compromise.detail["replaced_by"] == replacements[0]["kid"] and compromise.actor == "test-client"
    revocations = [event for event in audits if event.action == "credential.revoked"]
    assert [event.subject_id for event in revocations] == [after["id"]]
    assert [event.payload["data"]["credential_id"] for event in events] == [after["id"]]
    assert events[0].payload["data"]["revocation_reason"] == "signing key compromised"
    assert row.status == "compromised" and row.compromised_at is not None

    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    missing = f"/v1/issuers/{issuer['id']}/keys/00000000-0000-0000-0000-000000000000/revoke"
    assert (await client.post(missing, json=body, headers=headers)).status_code == 404


async def test_compromising_an_ed25519_did_key_revokes_everything_it_signed_and_moves_the_did(
    client, headers, issuer, assessment
):
    [key] = issuer["keys"]
    signed = [await _issue(client, headers, assessment, issuer, fmt) for fmt in ("data-integrity", "vc-jwt")]
    response = await client.post(
        f"/v1/issuers/{issuer['id']}/keys/{key['id']}/revoke", json={"reason": "laptop stolen"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["did"] != issuer["did"] and body["did"].startswith("did:key:z6Mk")
    compromised = next(item for item in body["keys"] if item["id"] == key["id"])
    assert compromised["compromised_since"] == compromised["created_at"]  # the default: everything it signed
    for credential in signed:
        read = (await client.get(f"/v1/credentials/{credential['id']}", headers=headers)).json()
        assert read["status"]["revoked"] is True and read["status"]["reason"] == "signing key compromised"
    profile = (await client.get(f"/v1/public/issuers/{issuer['id']}")).json()
    assert profile["id"] == body["did"] and "otherIdentifier" not in profile  # the stolen DID is not claimed
    # The list that records those revocations is signed by the replacement: a compromised key never signs.
    status_list = (await client.get(signed[0]["credential"]["credentialStatus"]["statusListCredential"])).json()
    assert status_list["issuer"] == body["did"] and status_list["proof"][0]["verificationMethod"].startswith(
        body["did"]
    )
    fresh = await _issue(client, headers, assessment, issuer, "data-integrity")
    assert fresh["credential"]["issuer"]["id"] == body["did"]


async def test_a_retired_key_can_be_revoked_without_a_replacement(client, headers, issuer):
    rotated = (await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)).json()
    old = issuer["keys"][0]
    response = await client.post(
        f"/v1/issuers/{issuer['id']}/keys/{old['id']}/revoke", json={"reason": "old backup leaked"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert [key["status"] for key in response.json()["keys"]] == ["compromised", "active"]
    assert response.json()["did"] == rotated["did"]


async def test_data_integrity_without_an_active_ed25519_key_is_a_problem_saying_why(
    client, issuer_app, headers, assessment
):
    issuer = await _create_issuer(client, headers, identifier="https", jwt_key_type="RSA")
    async with issuer_app.state.database.sessions() as session:  # e.g. a key withdrawn outside the API
        row = await session.scalar(
            select(IssuerKey).where(IssuerKey.issuer_id == uuid.UUID(issuer["id"]), IssuerKey.key_type == "Ed25519")
        )
        row.status = "retired"
        await session.commit()
    body = assessment(issuer_id=issuer["id"], proof_format="data-integrity")
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
    assert "no active Ed25519 key" in response.json()["detail"]


async def test_another_organisation_cannot_revoke_or_rotate_this_organisations_keys(
    client, headers, bearer, issuer, new_org
):
    intruder_org, _ = await new_org("intruder")
    intruder = bearer(intruder_org)
    key_id = issuer["keys"][0]["id"]
    response = await client.post(
        f"/v1/issuers/{issuer['id']}/keys/{key_id}/revoke", json={"reason": "intruder"}, headers=intruder
    )
    assert response.status_code == 404 and issuer["keys"][0]["kid"] not in response.text
    rotate = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate?key_type=RSA", headers=intruder)
    assert rotate.status_code == 404
    anonymous = await client.post(f"/v1/issuers/{issuer['id']}/keys/{key_id}/revoke", json={"reason": "x"})
    assert anonymous.status_code == 401
    keys_after = (await client.get(f"/v1/issuers/{issuer['id']}", headers=headers)).json()["keys"]
    assert [key["status"] for key in keys_after] == ["active"]


async def test_racing_rotations_leave_one_active_key_per_type(client, issuer_app, headers, issuer):
    url = f"/v1/issuers/{issuer['id']}/keys/rotate?key_type=P-256"
    answers = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(4)))
    assert {response.status_code for response in answers} <= {200, 409}
    assert any(response.status_code == 200 for response in answers)
    async with issuer_app.state.database.sessions() as session:
        rows = list(await session.scalars(select(IssuerKey).where(IssuerKey.issuer_id == uuid.UUID(issuer["id"]))))
    active = [(row.key_type, row.status) for row in rows if row.status == "active"]
    assert sorted(active) == [("Ed25519", "active"), ("P-256", "active")]
