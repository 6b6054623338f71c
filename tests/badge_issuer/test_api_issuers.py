"""Issuer profiles and keys: did:key identity, keys encrypted at rest, rotation, public profile and JWKS."""

import base64
import os

import pytest
from sqlalchemy import select

from services.badge_issuer.app import create_app
from services.badge_issuer.db.tables import IssuerKey
from services.badge_issuer.domain.key_vault import KeyVault, MasterKeyError, decode_master_key
from services.badge_issuer.proofs import keys


async def test_an_issuer_is_identified_by_the_did_key_of_its_ed25519_key(client, headers, issuer):
    assert issuer["did"].startswith("did:key:z6Mk")
    assert issuer["name"] == "CredStack Academy"
    assert issuer["email"] == "badges@credstack.example"
    [key] = issuer["keys"]
    assert key["status"] == "active" and key["key_type"] == "Ed25519"
    assert key["verification_method"] == keys.did_key_verification_method(issuer["did"])
    read = await client.get(f"/v1/issuers/{issuer['id']}", headers=headers)
    assert read.status_code == 200 and read.json() == issuer
    listing = (await client.get("/v1/issuers", headers=headers)).json()
    assert [item["id"] for item in listing["items"]] == [issuer["id"]]


async def test_private_keys_are_stored_only_as_aes_gcm_ciphertext(issuer_app, issuer, master_key):
    async with issuer_app.state.database.sessions() as session:
        row = await session.scalar(select(IssuerKey).where(IssuerKey.kid == issuer["keys"][0]["kid"]))
    assert b"PRIVATE KEY" not in row.encrypted_private_key
    binding = f"{row.org_id}/{row.issuer_id}/{row.kid}"
    private_key = KeyVault(decode_master_key(master_key)).open(row.encrypted_private_key, binding)
    assert keys.did_key_for(private_key.public_key()) == issuer["did"]
    with pytest.raises(MasterKeyError):
        KeyVault(os.urandom(32)).open(row.encrypted_private_key, binding)
    with pytest.raises(MasterKeyError):  # the ciphertext is bound to its own row
        KeyVault(decode_master_key(master_key)).open(row.encrypted_private_key, f"{row.org_id}/other/{row.kid}")


async def test_creating_an_issuer_needs_admin_and_reading_needs_credentials_read(client, bearer, org, issuer):
    reader = bearer(org, "credentials:read")
    assert (await client.post("/v1/issuers", json={"name": "x"}, headers=reader)).status_code == 403
    assert (await client.get(f"/v1/issuers/{issuer['id']}", headers=reader)).status_code == 200
    assert (await client.get("/v1/issuers", headers=bearer(org, "taxonomy:read"))).status_code == 403
    invalid = await client.post("/v1/issuers", json={"name": "x", "email": "not-an-email"}, headers=bearer(org))
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "body.email"


async def test_creating_an_issuer_twice_with_one_idempotency_key_creates_one(client, headers):
    request = {"json": {"name": "Once"}, "headers": {**headers, "Idempotency-Key": "issuer-once"}}
    first, second = await client.post("/v1/issuers", **request), await client.post("/v1/issuers", **request)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replay"] == "true"


async def test_rotation_makes_a_new_current_key_and_keeps_the_old_one_published(client, headers, issuer):
    rotated = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    old, new = body["keys"]
    assert old["kid"] == issuer["keys"][0]["kid"] and old["status"] == "retired" and old["retired_at"]
    assert new["status"] == "active" and new["kid"] != old["kid"]
    assert body["did"] != issuer["did"] and new["verification_method"].startswith(body["did"] + "#")
    jwks = (await client.get(f"/v1/public/issuers/{issuer['id']}/jwks.json")).json()
    assert {jwk["kid"] for jwk in jwks["keys"]} == {old["kid"], new["kid"]}
    assert all(jwk["kty"] == "OKP" and jwk["alg"] == "EdDSA" and "d" not in jwk for jwk in jwks["keys"])
    profile = (await client.get(f"/v1/public/issuers/{issuer['id']}")).json()
    assert profile["id"] == body["did"]
    assert profile["otherIdentifier"][0]["identifier"] == issuer["did"]


async def test_the_public_profile_is_an_ob3_profile(client, issuer):
    response = await client.get(f"/v1/public/issuers/{issuer['id']}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    profile = response.json()
    assert profile["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert profile["type"] == ["Profile"] and profile["id"] == issuer["did"]
    assert profile["name"] == "CredStack Academy" and profile["url"] == "https://academy.credstack.example/"
    again = await client.get(f"/v1/public/issuers/{issuer['id']}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    missing = await client.get("/v1/public/issuers/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")


def test_production_refuses_to_start_without_a_master_key(issuer_settings):
    with pytest.raises(MasterKeyError, match="required outside dev"):
        create_app(issuer_settings(master_key=None).model_copy(update={"environment": "production"}))
    with pytest.raises(MasterKeyError, match="32 bytes"):
        create_app(issuer_settings(master_key=base64.b64encode(b"short").decode()))


def test_dev_mode_creates_a_master_key_file_once(issuer_settings, tmp_path):
    path = tmp_path / "issuer_master_key"
    create_app(issuer_settings(master_key=None, master_key_file=path))
    first = path.read_text()
    assert len(decode_master_key(first)) == 32 and oct(path.stat().st_mode & 0o777) == "0o600"
    create_app(issuer_settings(master_key=None, master_key_file=path))
    assert path.read_text() == first


async def test_a_service_started_with_another_master_key_answers_503_not_500(
    client, issuer_app, headers, issuer, assessment
):
    """Its stored private keys cannot be opened: every signing request says so as a problem (503, for
    the operator to restore the key it was started with), and nothing of the issuance is kept."""
    started_with = issuer_app.state.key_vault
    issuer_app.state.key_vault = KeyVault(os.urandom(32))
    try:
        response = await client.post(
            "/v1/assessment-results", json=assessment(), headers={**headers, "Idempotency-Key": "mk-1"}
        )
    finally:
        issuer_app.state.key_vault = started_with
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/master-key") and "master key" in problem["detail"]
    assert "Traceback" not in response.text
    again = await client.post(
        "/v1/assessment-results", json=assessment(), headers={**headers, "Idempotency-Key": "mk-1"}
    )
    assert again.status_code == 201, again.text  # the failed attempt stored no answer under its key
