"""Recipient binding: a badge counts only for the person it names. Credentials are issued for real by
the issuer app (salted sha256 identity hashes of the learner's email and HRIS id) and verified by its
public verifier; the gap engine matches the hashes against what the HRIS recorded.

Demo: Project Manager needs Active listening 2 (must); the "Active listening" badge certifies level 1 of it.
"""

import hashlib
import uuid

import pytest

from services.gap_engine.domain.recipients import (
    BOUND,
    MISMATCH,
    UNVERIFIED,
    KnownIdentity,
    bind_recipient,
    identity_matches,
)
from tests.gap_engine.test_credentials import _listening, _post, _trust


@pytest.fixture
async def staff(client, headers, roles) -> None:
    """Ana (E100) and Cara (E300), both aiming at Project Manager."""
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    for hris_id, name, email in (("E100", "Ana", "ana@example.com"), ("E300", "Cara", "cara@example.com")):
        body = {"name": name, "email": email, "target_role_id": role_id}
        assert (await client.put(f"/v1/employees/{hris_id}", json=body, headers=headers)).status_code == 201


async def _issue(issuer_client, headers, demo, issuer, learner: dict) -> dict:
    body = {
        "learner": learner,
        "achievement_id": str(demo["badge:Active listening"]),
        "issuer_id": issuer["id"],
        "score": 86,
        "completed_at": "2026-05-08T09:30:00Z",
    }
    response = await issuer_client.post(
        "/v1/assessment-results", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return response.json()["credential"]["credential"]


async def test_a_colleagues_badge_does_not_count_for_whoever_posts_it(
    client, issuer_client, headers, staff, issuer, demo
):
    await _trust(client, headers, issuer["did"])
    anas = await _issue(issuer_client, headers, demo, issuer, {"hris_id": "E100", "email": "ana@example.com"})
    before = await _listening(client, headers, "E300", demo)

    claimed = await _post(client, headers, "E300", anas)
    assert claimed["status"] == "recipient_mismatch" and claimed["recipient"] == "mismatch"
    assert "does not match" in claimed["reasons"][0]
    assert await _listening(client, headers, "E300", demo) == before
    report = (await client.get("/v1/employees/E300/skills", headers=headers)).json()
    assert report["skills"] == []

    own = await _post(client, headers, "E100", anas)
    assert own["status"] == "verified" and own["recipient"] == "bound"
    assert (await _listening(client, headers, "E100", demo))[0] == 1


async def test_a_badge_counts_once_the_hris_records_the_address_it_was_issued_to(
    client, issuer_client, headers, staff, issuer, demo, roles
):
    """Issued to an address the HRIS did not know: kept as a mismatch, counted when the HRIS records
    it, and still counted after the address changes again (every recorded address binds)."""
    await _trust(client, headers, issuer["did"])
    credential = await _issue(issuer_client, headers, demo, issuer, {"email": "Cara.Old@Example.com"})
    received = await _post(client, headers, "E300", credential)
    assert received["status"] == "recipient_mismatch"
    assert (await _listening(client, headers, "E300", demo))[0] is None

    role_id = str(roles["Project Manager"])
    for email in ("cara.old@example.com", "cara@new.example.com"):
        body = {"name": "Cara", "email": email, "target_role_id": role_id}
        assert (await client.put("/v1/employees/E300", json=body, headers=headers)).status_code == 200
        listed = (await client.get("/v1/employees/E300/credentials", headers=headers)).json()["items"]
        assert [(item["status"], item["recipient"]) for item in listed] == [("verified", "bound")], email
        assert (await _listening(client, headers, "E300", demo))[0] == 1


async def test_the_credential_is_dated_by_when_the_assessment_happened(
    client, issuer_client, headers, staff, issuer, demo
):
    credential = await _issue(issuer_client, headers, demo, issuer, {"hris_id": "E100"})
    assert credential["awardedDate"] == "2026-05-08T09:30:00Z" and credential["validFrom"] > "2026-11"
    received = await _post(client, headers, "E100", credential)
    assert received["earned_at"].startswith("2026-05-08T09:30:00")


async def test_a_result_completed_in_the_future_is_refused(issuer_client, headers, issuer, demo):
    body = {
        "learner": {"hris_id": "E100"},
        "achievement_id": str(demo["badge:Active listening"]),
        "issuer_id": issuer["id"],
        "score": 86,
        "completed_at": "2999-01-01T00:00:00Z",
    }
    response = await issuer_client.post(
        "/v1/assessment-results", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 422
    assert "future" in response.text


SPEC_EXAMPLE_HASH = "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399"


def test_identity_hashes_match_as_open_badges_defines_them():
    # OB 3.0 IdentityHash: the spec's own example is sha256("a@example.com" + "Kosher").
    salted = {"identityHash": SPEC_EXAMPLE_HASH, "identityType": "emailAddress", "hashed": True, "salt": "Kosher"}
    assert identity_matches(salted, ["a@example.com"])
    assert not identity_matches(salted, ["b@example.com"])
    assert not identity_matches({**salted, "salt": "Kosher!"}, ["a@example.com"])
    md5 = {"identityHash": "md5$" + hashlib.md5(b"E-7").hexdigest(), "hashed": True}  # noqa: S324 - OB 2.0 allows md5
    assert identity_matches(md5, ["E-7"]) and not identity_matches(md5, ["E-8"])
    upper = {"identityHash": "sha256$" + hashlib.sha256(b"x@y.z").hexdigest().upper()}
    assert identity_matches(upper, ["X@Y.Z"])  # the recorded address is lower-cased before hashing too
    plain = {"identityHash": "Ada@Example.com", "hashed": False}
    assert identity_matches(plain, ["ada@example.com"]) and not identity_matches(plain, ["ad@example.com"])
    assert not identity_matches({"identityHash": "sha1$" + "0" * 40, "hashed": True}, ["a@example.com"])
    assert not identity_matches({"identityHash": 7}, ["a@example.com"])


def _subject(*identifiers: dict, subject_id: str | None = None) -> dict:
    subject: dict = {"type": ["AchievementSubject"], "identifier": list(identifiers)}
    if subject_id:
        subject["id"] = subject_id
    return {"credentialSubject": subject}


def test_binding_outcomes():
    known = KnownIdentity(hris_id="E-7", emails=frozenset({"a@example.com", "old@example.com"}))
    email = {"identityType": "emailAddress", "identityHash": "old@example.com", "hashed": False}
    other = {"identityType": "emailAddress", "identityHash": "z@example.com", "hashed": False}
    assert bind_recipient(_subject(email), known).outcome == BOUND
    assert bind_recipient(_subject(other, email), known).outcome == BOUND
    assert bind_recipient(_subject(other), known).outcome == MISMATCH
    name_only = {"identityType": "name", "identityHash": "Ada", "hashed": False}
    assert bind_recipient(_subject(name_only), known).outcome == UNVERIFIED
    did_only = bind_recipient(_subject(subject_id="did:key:z6Mkexample"), known)
    assert did_only.outcome == UNVERIFIED and "did:key:z6Mkexample" in did_only.reason
    ob2 = {"recipient": {"type": "email", "hashed": True, "salt": "Kosher", "identity": SPEC_EXAMPLE_HASH}}
    assert bind_recipient(ob2, KnownIdentity(hris_id="x", emails=frozenset({"a@example.com"}))).outcome == BOUND
    assert bind_recipient({}, known).outcome == UNVERIFIED
