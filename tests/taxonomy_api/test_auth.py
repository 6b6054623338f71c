"""OAuth2 client credentials and the token checks every service applies."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.taxonomy_api.domain.organisations import create_client
from shared.auth import TokenAuthority


@pytest.fixture
async def api_client(taxonomy_app, org):
    async with taxonomy_app.state.database.sessions() as session:
        client, secret = await create_client(session, org, "hris", ["taxonomy:read", "gaps:read"])
        await session.commit()
    return client.client_id, secret


async def test_client_credentials_grant_issues_a_token_the_api_accepts(client, api_client):
    client_id, secret = api_client
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 900
    assert token["scope"] == "gaps:read taxonomy:read"
    listed = await client.get("/v1/skills", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert listed.status_code == 200


async def test_basic_auth_and_a_narrower_scope(client, api_client):
    client_id, secret = api_client
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "gaps:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.json()["scope"] == "gaps:read"
    token = response.json()["access_token"]
    assert (await client.get("/v1/skills", headers={"Authorization": f"Bearer {token}"})).status_code == 403


async def test_wrong_secret_unknown_scope_and_wrong_grant_are_refused(client, api_client):
    client_id, secret = api_client
    wrong = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["content-type"] == "application/problem+json"
    too_much = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "admin"},
    )
    assert too_much.status_code == 422 and too_much.json()["error"] == "invalid_scope"
    grant = await client.post("/oauth/token", data={"grant_type": "password", "client_id": client_id})
    assert grant.status_code == 422 and grant.json()["error"] == "unsupported_grant_type"


async def test_client_secret_is_stored_hashed_and_a_revoked_client_gets_no_token(client, taxonomy_app, headers):
    created = await client.post("/v1/clients", json={"name": "lms", "scopes": ["assessments:write"]}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    listed = await client.get("/v1/clients", headers=headers)
    assert body["client_secret"] not in listed.text
    from sqlalchemy import select

    from services.taxonomy_api.db.tables import OAuthClient

    async with taxonomy_app.state.database.sessions() as session:
        stored = await session.scalar(select(OAuthClient).where(OAuthClient.client_id == body["client_id"]))
    assert body["client_secret"] not in stored.secret_hash
    assert (await client.delete(f"/v1/clients/{body['id']}", headers=headers)).status_code == 204
    refused = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": body["client_secret"],
        },
    )
    assert refused.status_code == 401


def _claims(org: uuid.UUID, **overrides):
    now = int(time.time())
    return {
        "iss": "credstack",
        "aud": "credstack",
        "sub": "c",
        "org": str(org),
        "scope": "admin",
        "iat": now,
        "exp": now + 60,
        **overrides,
    }


def _segment(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unsigned(alg: str, claims: dict) -> bytes:
    return _segment(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + b"." + _segment(json.dumps(claims).encode())


async def test_forged_expired_and_algorithm_confused_tokens_are_401(client, org, token_authority):
    other_key = TokenAuthority(Ed25519PrivateKey.generate(), issuer="credstack", audience="credstack", ttl_seconds=60)
    public_pem = token_authority.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs256 = _unsigned("HS256", _claims(org))
    tokens = {
        "foreign key": other_key.issue(org_id=org, client_id="c", scopes=frozenset({"admin"})),
        "expired": jwt.encode(_claims(org, exp=int(time.time()) - 10), token_authority.private_key, algorithm="EdDSA"),
        "alg none": (_unsigned("none", _claims(org)) + b".").decode(),
        "wrong audience": jwt.encode(_claims(org, aud="other"), token_authority.private_key, algorithm="EdDSA"),
        # HS256 keyed with the public key: PyJWT refuses to build it, so it is signed by hand here.
        "HS256 with the public key": (
            hs256 + b"." + _segment(hmac.new(public_pem, hs256, hashlib.sha256).digest())
        ).decode(),
    }
    for reason, token in tokens.items():
        response = await client.get("/v1/skills", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, reason


async def test_jwks_publishes_the_token_verification_key(client, token_authority):
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519" and keys[0]["alg"] == "EdDSA"
    token = token_authority.issue(org_id=uuid.uuid4(), client_id="c", scopes=frozenset({"admin"}))
    key = jwt.PyJWK(keys[0])
    assert jwt.decode(token, key.key, algorithms=["EdDSA"], audience="credstack")["sub"] == "c"
