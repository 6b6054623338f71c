"""Credentials issued through the real issuer API, checked by implementations nobody here wrote:
Digital Bazaar's verifier for Data Integrity, panva/jose for VC-JWT with the key from the issuer's
published JWKS. test_node_verifiers.py signs in process; this proves the HTTP path end to end.

Fixtures are written out here (not borrowed from tests/badge_issuer) so the interop suite stands on
its own; without node_modules the tests fail on purpose, as in test_node_verifiers.py.
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
from services.badge_issuer.settings import IssuerSettings
from services.taxonomy_api.app import create_app as create_taxonomy_app
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from tests.conftest import asgi_client
from tests.interop.test_node_verifiers import run_node

pytestmark = [pytest.mark.interop, pytest.mark.anyio]


@pytest.fixture
async def client(service_settings) -> AsyncIterator[httpx.AsyncClient]:
    """The issuer with the real taxonomy service in process, as in production but without sockets."""
    taxonomy = create_taxonomy_app(service_settings(TaxonomySettings, "taxonomy_api"))
    settings = service_settings(
        IssuerSettings,
        "badge_issuer",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        taxonomy_url="http://taxonomy.test",
        public_base_url="https://issuer.credstack.test",
    )
    app = create_issuer_app(settings, taxonomy_transport=httpx.ASGITransport(app=taxonomy))
    app.state.interop_taxonomy = taxonomy
    async for client in asgi_client(app):
        yield client
    await app.state.taxonomy.http.aclose()
    await taxonomy.state.database.dispose()


@pytest.fixture
async def issued(client, bearer):
    """Issue one credential in the given proof format for a fresh organisation; returns the API's answer."""
    taxonomy = client._transport.app.state.interop_taxonomy  # noqa: SLF001 - the app built above
    async with taxonomy.state.database.sessions() as session:
        organisation = await organisations.create_organisation(session, f"interop-{uuid.uuid4().hex[:10]}")
        demo = await seed_demo_taxonomy(session, organisation.id)
        await session.commit()
    headers = bearer(organisation.id)
    body = {"name": "Interop Academy", "url": "https://interop.credstack.example", "email": "b@credstack.example"}
    issuer = await client.post("/v1/issuers", json=body, headers=headers)
    assert issuer.status_code == 201, issuer.text

    async def issue(proof_format: str) -> dict[str, Any]:
        result = {
            "learner": {"hris_id": "E-2002", "email": "lin@example.com"},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer.json()["id"],
            "score": 91,
            "evidence": {"urls": ["https://lms.example/attempts/9"], "narrative": "Observed call."},
            "assessor": "Grace Hopper",
            "completed_at": "2026-01-15T09:30:00Z",
            "proof_format": proof_format,
        }
        response = await client.post(
            "/v1/assessment-results", json=result, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert response.status_code == 201, response.text
        return {**response.json()["credential"], "issuer_profile": issuer.json(), "headers": headers}

    return issue


async def _public_jwk(client, issuer_id: str, token: str) -> dict[str, Any]:
    """The key jose gets is the one the issuer publishes, picked by the token's kid."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    response = await client.get(f"/v1/public/issuers/{issuer_id}/jwks.json")
    assert response.status_code == 200, response.text
    matching = [key for key in response.json()["keys"] if key.get("kid") == header["kid"]]
    assert len(matching) == 1, f"kid {header['kid']} not published once in the JWKS: {response.json()}"
    return matching[0]


async def _verify_in_node(client, credential: dict[str, Any]) -> dict[str, Any]:
    """Digital Bazaar checks the proof and the status bit; the status list is fetched here, from
    the URL in the credential, and handed to Node, which verifies the list's own proof first."""
    url = credential["credentialStatus"]["statusListCredential"]
    response = await client.get(httpx.URL(url).path)
    assert response.status_code == 200, response.text
    return run_node(
        "verify-issued-di.mjs", json.dumps({"credential": credential, "statusLists": {url: response.json()}})
    )


async def test_digital_bazaar_verifies_an_issued_data_integrity_credential(client, issued):
    credential = (await issued("data-integrity"))["credential"]
    public = await client.get(f"/v1/public/credentials/{credential['id'].removeprefix('urn:uuid:')}")
    assert public.json() == credential  # what a holder shares is what Node checks
    assert await _verify_in_node(client, credential) == {"verified": True, "error": None}


async def test_digital_bazaar_rejects_a_tampered_issued_credential(client, issued):
    tampered = copy.deepcopy((await issued("data-integrity"))["credential"])
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    result = await _verify_in_node(client, tampered)
    assert result["verified"] is False and "Invalid signature" in result["error"]


async def test_digital_bazaar_sees_a_revoked_issued_credential(client, issued):
    answer = await issued("data-integrity")
    headers = answer["headers"]
    revoked = await client.post(f"/v1/credentials/{answer['id']}/revoke", json={"reason": "withdrawn"}, headers=headers)
    assert revoked.status_code == 200, revoked.text
    result = await _verify_in_node(client, answer["credential"])
    assert result["verified"] is False and "status bit" in result["error"]


async def test_jose_verifies_an_issued_vc_jwt_with_the_published_jwk(client, issued):
    answer = await issued("vc-jwt")
    token = answer["jwt"]
    jwk = await _public_jwk(client, answer["issuer_profile"]["id"], token)
    result = run_node("verify-jwt.mjs", json.dumps({"jwt": token, "jwk": jwk}))
    assert result["verified"] is True, result["error"]
    assert result["payload"]["iss"] == answer["issuer_profile"]["did"]
    assert result["payload"]["jti"] == answer["credential"]["id"]


async def test_jose_rejects_a_tampered_issued_vc_jwt(client, issued):
    answer = await issued("vc-jwt")
    header, payload, signature = answer["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["result"][0]["value"] = "100"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    jwk = await _public_jwk(client, answer["issuer_profile"]["id"], answer["jwt"])
    result = run_node("verify-jwt.mjs", json.dumps({"jwt": f"{header}.{forged}.{signature}", "jwk": jwk}))
    assert result["verified"] is False and "signature" in result["error"].lower()
