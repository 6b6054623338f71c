"""Received credentials: issued for real by the issuer app, verified by its public verifier, counted
only when the issuer is trusted; tampered and revoked ones are kept as rejected and never count.

Demo: Project Manager needs Active listening 2 (must); the "Active listening" badge certifies level 1 of it.
"""

import copy
import uuid

import pytest
from sqlalchemy import select

from services.gap_engine.db.tables import ReceivedCredential


@pytest.fixture
async def person(client, headers, roles) -> str:
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    body = {"name": "Ada", "target_role_id": role_id}
    assert (await client.put("/v1/employees/E-1001", json=body, headers=headers)).status_code == 201
    return "E-1001"


@pytest.fixture
def issue(issuer_client, headers, demo, issuer):
    """Issues the demo listening badge through the issuer's API; returns the issuer's CredentialOut."""

    async def run(**overrides) -> dict:
        body = {
            "learner": {"hris_id": "E-1001", "email": "ada@example.com"},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 86,
            "evidence": {"urls": ["https://lms.example/attempts/4711"]},
            "assessor": "Grace Hopper",
            "completed_at": "2026-01-15T09:30:00Z",
            **overrides,
        }
        response = await issuer_client.post(
            "/v1/assessment-results", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert response.status_code == 201, response.text
        return response.json()["credential"]

    return run


@pytest.fixture
def hris_headers(bearer, org) -> dict[str, str]:
    """An HRIS client's token: it may not list the organisation's issuers (no credentials:read), so
    an own issuer's credential it posts is not recognised as own and waits for an admin's trust."""
    return bearer(org, "hris:write", "taxonomy:read", "gaps:read")


async def _trust(client, headers, issuer_id: str, weight: float = 1.0) -> dict:
    response = await client.post(
        "/v1/trusted-issuers", json={"issuer_id": issuer_id, "weight": weight}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _post(client, headers, hris_id: str, body: dict) -> dict:
    response = await client.post(f"/v1/employees/{hris_id}/credentials", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _listening(client, headers, hris_id: str, demo) -> tuple[int | None, float]:
    report = (await client.get(f"/v1/employees/{hris_id}/gap", headers=headers)).json()
    level = next(r["verified_level"] for r in report["requirements"] if r["skill_id"] == str(demo["Active listening"]))
    return level, report["readiness"]


def _certified(received: dict, demo) -> int:
    return next(s["level"] for s in received["skills"] if s["skill_id"] == str(demo["Active listening"]))


async def test_a_valid_credential_from_a_trusted_issuer_raises_level_and_readiness(
    client, headers, person, issue, issuer, demo
):
    before = await _listening(client, headers, person, demo)
    await _trust(client, headers, issuer["did"])
    issued = await issue()
    received = await _post(client, headers, person, issued["credential"])
    assert received["status"] == "verified" and received["reasons"] == []
    assert received["issuer_id"] == issuer["did"] and received["credential_id"] == issued["credential"]["id"]
    assert {s["skill_id"] for s in received["skills"]} >= {str(demo["Active listening"])}
    level, readiness = await _listening(client, headers, person, demo)
    assert before[0] is None and level == _certified(received, demo)
    assert readiness > before[1]
    skills = (await client.get(f"/v1/employees/{person}/skills", headers=headers)).json()["skills"]
    evidence = [c for s in skills for c in s["credentials"]]
    assert {c["credential_id"] for c in evidence} == {issued["credential"]["id"]}
    # Named as the taxonomy names them (the profile is read by people, not only by programs).
    certified = {s["skill_id"]: s["skill_name"] for s in skills}
    assert certified[str(demo["Active listening"])] == "Active listening"
    # Earned when the assessment was completed (awardedDate), not when the credential was issued.
    assert issued["credential"]["awardedDate"] == "2026-01-15T09:30:00Z"
    assert evidence[0]["earned_at"].startswith("2026-01-15T09:30:00")


async def test_a_vc_jwt_counts_too(client, headers, person, issue, issuer, demo):
    await _trust(client, headers, issuer["did"])
    issued = await issue(proof_format="vc-jwt")
    received = await _post(client, headers, person, {"jwt": issued["jwt"]})
    assert received["status"] == "verified" and received["format"] == "vc-jwt"
    assert (await _listening(client, headers, person, demo))[0] == _certified(received, demo)


async def test_a_baked_badge_image_counts_and_a_tampered_one_is_rejected(
    client, issuer_client, headers, person, issue, issuer, demo
):
    await _trust(client, headers, issuer["did"])
    for suffix, media_type, proof_format in (
        ("png", "image/png", "data-integrity"),
        ("svg", "image/svg+xml", "vc-jwt"),
    ):
        issued = await issue(proof_format=proof_format)
        image = (await issuer_client.get(f"/v1/public/credentials/{issued['id']}/baked.{suffix}")).content
        response = await client.post(
            f"/v1/employees/{person}/credentials/baked",
            files={"file": (f"badge.{suffix}", image, media_type)},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        received = response.json()
        assert received["status"] == "verified", received
        assert received["credential_id"] == issued["credential"]["id"]
    assert (await _listening(client, headers, person, demo))[0] == _certified(received, demo)

    # A PNG with no readable badge in it is a 422 with the verifier's reason, and nothing is kept; a
    # non-multipart body is a 422 too.
    plain = (await issuer_client.get(f"/v1/public/credentials/{issued['id']}/baked.png")).content
    damaged = plain[:-40]  # the IEND chunk and part of the iTXt payload are gone
    response = await client.post(
        f"/v1/employees/{person}/credentials/baked", files={"file": ("b.png", damaged, "image/png")}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("This is not a verifiable credential: ")
    listed = (await client.get(f"/v1/employees/{person}/credentials", headers=headers)).json()["items"]
    assert [item["status"] for item in listed] == ["verified", "verified"]
    wrong = await client.post(f"/v1/employees/{person}/credentials/baked", json={"x": 1}, headers=headers)
    assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"


async def test_an_untrusted_issuers_credential_is_kept_and_counts_once_trusted(
    client, headers, hris_headers, person, issue, issuer, demo
):
    before = await _listening(client, headers, person, demo)
    issued = await issue()
    received = await _post(client, hris_headers, person, issued["credential"])
    assert received["status"] == "issuer_not_trusted" and "not in this organisation's" in received["reasons"][0]
    assert await _listening(client, headers, person, demo) == before
    listed = (await client.get(f"/v1/employees/{person}/credentials", headers=headers)).json()["items"]
    assert [item["status"] for item in listed] == ["issuer_not_trusted"]

    trusted = await _trust(client, headers, issuer["did"], weight=0.8)
    listed = (await client.get(f"/v1/employees/{person}/credentials", headers=headers)).json()["items"]
    assert [item["status"] for item in listed] == ["verified"]
    level, readiness = await _listening(client, headers, person, demo)
    assert level == pytest.approx(_certified(listed[0], demo) * 0.8) and readiness > before[1]
    registry = (await client.get("/v1/trusted-issuers", headers=headers)).json()["items"]
    assert [(t["issuer_id"], t["weight"], t["origin"]) for t in registry] == [(issuer["did"], 0.8, "admin")]

    assert (await client.delete(f"/v1/trusted-issuers/{trusted['id']}", headers=headers)).status_code == 204
    assert await _listening(client, headers, person, demo) == before
    listed = (await client.get(f"/v1/employees/{person}/credentials", headers=headers)).json()["items"]
    assert [item["status"] for item in listed] == ["issuer_not_trusted"]


async def test_a_tampered_credential_is_rejected_with_the_reason_and_never_counts(
    client, headers, person, issue, issuer, demo
):
    await _trust(client, headers, issuer["did"])
    before = await _listening(client, headers, person, demo)
    issued = await issue()
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    received = await _post(client, headers, person, tampered)
    assert received["status"] == "rejected" and received["skills"] == []
    assert any("invalid_signature" in reason for reason in received["reasons"])
    assert await _listening(client, headers, person, demo) == before
    listed = (await client.get(f"/v1/employees/{person}/credentials", headers=headers)).json()["items"]
    assert [item["status"] for item in listed] == ["rejected"]


async def test_a_document_that_is_no_credential_is_a_422_and_is_not_kept(client, headers, person):
    response = await client.post(f"/v1/employees/{person}/credentials", json={"hello": "world"}, headers=headers)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("This is not a verifiable credential: ")
    listed = (await client.get(f"/v1/employees/{person}/credentials", headers=headers)).json()["items"]
    assert listed == []


async def test_a_large_rejected_credential_is_kept_as_its_size_and_digest(
    client, gap_app, headers, org, person, issue, issuer
):
    """Rejected evidence is kept for people to read, within a bound: hundreds of kilobytes of padding on a tampered
    credential are not stored (issue 15: "a rejected credential of up to 8 MiB is stored")."""
    await _trust(client, headers, issuer["did"])
    tampered = copy.deepcopy((await issue())["credential"])
    tampered["credentialSubject"]["padding"] = "x" * 300_000
    received = await _post(client, headers, person, tampered)
    assert received["status"] == "rejected"
    async with gap_app.state.database.sessions() as session:
        kept = await session.scalar(select(ReceivedCredential.presented).where(ReceivedCredential.org_id == org))
    assert kept["omitted"] == "too large to keep" and kept["bytes"] > 300_000 and len(kept["sha256"]) == 64


async def test_a_revoked_credential_is_rejected(client, issuer_client, headers, person, issue, issuer, demo):
    await _trust(client, headers, issuer["did"])
    before = await _listening(client, headers, person, demo)
    issued = await issue()
    revoked = await issuer_client.post(
        f"/v1/credentials/{issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    received = await _post(client, headers, person, issued["credential"])
    assert received["status"] == "rejected" and any("revoked" in reason for reason in received["reasons"])
    assert await _listening(client, headers, person, demo) == before


async def test_an_accepted_credential_is_not_counted_twice(client, headers, person, issue, issuer):
    await _trust(client, headers, issuer["did"])
    issued = await issue()
    await _post(client, headers, person, issued["credential"])
    again = await client.post(f"/v1/employees/{person}/credentials", json=issued["credential"], headers=headers)
    assert again.status_code == 409
    assert (
        await client.post("/v1/trusted-issuers", json={"issuer_id": issuer["did"]}, headers=headers)
    ).status_code == 409


async def test_a_trusted_issuers_name_on_a_self_asserted_key_never_counts(client, headers, person, issue, issuer, demo):
    """Anyone can sign a VC-JWT with a key in its own `jwk` header and name a trusted issuer: the
    verifier says the signature is valid but the key unbound, so the credential is kept, not counted."""
    import jwt as pyjwt

    from services.badge_issuer.proofs import keys

    await _trust(client, headers, issuer["did"])
    before = await _listening(client, headers, person, demo)
    unsigned = {k: v for k, v in (await issue())["credential"].items() if k != "proof"}
    forger = keys.generate_private_key()
    jwk = {k: v for k, v in keys.public_jwk(forger.public_key()).items() if k != "kid"}
    token = pyjwt.encode(unsigned, forger, algorithm="EdDSA", headers={"jwk": jwk})
    received = await _post(client, headers, person, {"jwt": token})
    assert received["status"] == "rejected" and received["skills"] == []
    assert "issuer: the signing key is not bound to the issuer" in received["reasons"]
    assert await _listening(client, headers, person, demo) == before
