"""Every issuer key type and identifier, issued through the API, checked by code nobody here wrote:
panva/jose verifies EdDSA, ES256 and RS256 VC-JWTs with the key the token's kid leads to (did:key,
the did:web DID document, or the https key URL), and Digital Bazaar verifies a did:web issuer's
Data Integrity credential against its served DID document.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.proofs import keys, vc_jwt
from services.badge_issuer.settings import IssuerSettings
from services.taxonomy_api.app import create_app as create_taxonomy_app
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from tests.conftest import asgi_client
from tests.interop.test_node_verifiers import run_node

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

BASE_URL = "https://issuer.credstack.test"
ALGORITHMS = {"Ed25519": "EdDSA", "P-256": "ES256", "RSA": "RS256"}


@pytest.fixture
async def service(service_settings, bearer) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    """The issuer with the real taxonomy in process; yields (client, admin headers, achievement id)."""
    taxonomy = create_taxonomy_app(service_settings(TaxonomySettings, "taxonomy_api"))
    settings = service_settings(
        IssuerSettings,
        "badge_issuer",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        taxonomy_url="http://taxonomy.test",
        public_base_url=BASE_URL,
    )
    app = create_issuer_app(settings, taxonomy_transport=httpx.ASGITransport(app=taxonomy))
    async with taxonomy.state.database.sessions() as session:
        organisation = await organisations.create_organisation(session, f"keys-{uuid.uuid4().hex[:10]}")
        demo = await seed_demo_taxonomy(session, organisation.id)
        await session.commit()
    async for client in asgi_client(app):
        yield client, bearer(organisation.id), str(demo["badge:Active listening"])
    await app.state.taxonomy.http.aclose()
    await taxonomy.state.database.dispose()


async def _issue(service, identifier: str, key_type: str, proof_format: str) -> dict[str, Any]:
    client, headers, achievement_id = service
    body = {"name": "Key Academy", "identifier": identifier, "jwt_key_type": key_type}
    issuer = await client.post("/v1/issuers", json=body, headers=headers)
    assert issuer.status_code == 201, issuer.text
    result = {
        "learner": {"hris_id": "E-3003", "email": "kim@example.com"},
        "achievement_id": achievement_id,
        "issuer_id": issuer.json()["id"],
        "score": 90,
        "completed_at": "2026-01-15T09:30:00Z",
        "proof_format": proof_format,
    }
    response = await client.post(
        "/v1/assessment-results", json=result, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return {**response.json()["credential"], "issuer_profile": issuer.json()}


async def _get(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """Fetch one of this service's absolute URLs (what a verifier would GET over https)."""
    assert url.startswith(BASE_URL), url
    response = await client.get(url.removeprefix(BASE_URL))
    assert response.status_code == 200, response.text
    return response.json()


async def _jwk_for_kid(client: httpx.AsyncClient, kid: str) -> dict[str, Any]:
    """The kid resolved as its method says: did:key offline, did:web via the spec's URL mapping,
    an https kid by dereferencing it."""
    if kid.startswith(keys.DID_KEY_PREFIX):
        return keys.public_jwk(keys.public_key_from_did_key(kid))
    if kid.startswith(keys.DID_WEB_PREFIX):
        document = await _get(client, keys.did_web_document_url(kid.split("#", 1)[0]))
        [method] = [entry for entry in document["verificationMethod"] if entry["id"] == kid]
        if method["type"] == "Multikey":
            return keys.public_jwk(keys.ed25519_public_key_from_multikey(method["publicKeyMultibase"]))
        public_key = keys.public_key_from_jwk(method["publicKeyJwk"])
        return keys.public_jwk(public_key, kid=kid)  # adds alg, which verify-jwt.mjs pins
    return await _get(client, kid)


async def test_jose_verifies_every_key_type_under_every_identifier(service):
    client = service[0]
    for identifier in ("did:key", "did:web", "https"):
        for key_type in ("Ed25519", "P-256", "RSA"):
            variant = f"{identifier} / {key_type}"
            answer = await _issue(service, identifier, key_type, "vc-jwt")
            header = vc_jwt.read_header(answer["jwt"])
            assert header["alg"] == ALGORITHMS[key_type], variant
            jwk = await _jwk_for_kid(client, header["kid"])
            result = run_node("verify-jwt.mjs", json.dumps({"jwt": answer["jwt"], "jwk": jwk}))
            assert result["verified"] is True, (variant, result["error"])
            assert result["payload"]["iss"] == answer["issuer_profile"]["did"], variant

            head, payload, signature = answer["jwt"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["credentialSubject"]["result"][0]["value"] = "100"
            forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            result = run_node("verify-jwt.mjs", json.dumps({"jwt": f"{head}.{forged}.{signature}", "jwk": jwk}))
            assert result["verified"] is False and "signature" in result["error"].lower(), variant


async def test_digital_bazaar_verifies_a_did_web_issuers_data_integrity_credential(service):
    client, headers, _ = service
    answer = await _issue(service, "did:web", "Ed25519", "data-integrity")
    credential = answer["credential"]
    did = answer["issuer_profile"]["did"]
    assert credential["issuer"]["id"] == did and credential["proof"][0]["verificationMethod"].startswith(did + "#")
    documents = {did: await _get(client, keys.did_web_document_url(did))}
    list_url = credential["credentialStatus"]["statusListCredential"]
    stdin = {"credential": credential, "statusLists": {list_url: await _get(client, list_url)}, "documents": documents}
    assert run_node("verify-did-web-di.mjs", json.dumps(stdin)) == {"verified": True, "error": None}

    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    result = run_node("verify-did-web-di.mjs", json.dumps({**stdin, "credential": tampered}))
    assert result["verified"] is False and "Invalid signature" in result["error"]

    # A key revoked as compromised leaves the DID document, and what it signed no longer verifies.
    key_id = next(key["id"] for key in answer["issuer_profile"]["keys"] if key["key_type"] == "Ed25519")
    revoked = await client.post(
        f"/v1/issuers/{answer['issuer_profile']['id']}/keys/{key_id}/revoke", json={"reason": "leak"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    documents = {did: await _get(client, keys.did_web_document_url(did))}
    result = run_node("verify-did-web-di.mjs", json.dumps({**stdin, "documents": documents}))
    assert result["verified"] is False
