"""Third-party badges: a partner academy (not our badge issuer) signs an Open Badges 3.0 credential
with its own did:key Ed25519 key (eddsa-rdfc-2022, checked by the real verifier), its achievement
aligned to frameworks. It maps to our skills through the external ids kept on them in taxonomy_api
(the demo's Active listening keeps ESCO "listen actively"), else through an admin's alignment mapping;
a mapping added later, or a taxonomy change followed by a refresh, re-maps what was already received.

Demo: Project Manager needs Active listening 2 and Conflict navigation 2 (both must).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.badge_issuer.ob3.credential import CREDENTIAL_CONTEXTS
from services.badge_issuer.proofs import data_integrity, keys
from shared.schemas.taxonomy import AchievementIn, SkillIn
from tests.gap_engine.test_credentials import _post, _trust

ESCO_LISTEN_ACTIVELY = "http://data.europa.eu/esco/skill/a17286c5-238d-4f0b-bc24-29e9121345de"
PARTNER_CODE = "PA-NEG-201"


class PartnerAcademy:
    """Another issuer: its own Ed25519 key and did:key, unknown to our badge issuer."""

    def __init__(self) -> None:
        self.key = keys.generate_private_key("Ed25519")
        self.did = keys.did_key_for(self.key.public_key())

    def credential(
        self,
        alignments: list[dict[str, Any]],
        name: str = "Partner badge",
        subject_did: str | None = None,
        status: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Issued to ada@example.com, or (`subject_did`) to a holder named only by their DID; with
        `status` as its credentialStatus."""
        unsigned = {
            "@context": list(CREDENTIAL_CONTEXTS),
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": self.did, "type": ["Profile"], "name": "Partner Academy"},
            "validFrom": "2026-02-01T10:00:00Z",
            "name": name,
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [
                    {
                        "type": "IdentityObject",
                        "identityHash": "ada@example.com",
                        "identityType": "emailAddress",
                        "hashed": False,
                    }
                ],
                "achievement": {
                    "id": f"https://academy.partner.example/achievements/{uuid.uuid4()}",
                    "type": ["Achievement"],
                    "name": name,
                    "description": f"{name}, assessed by the partner academy.",
                    "criteria": {"narrative": "Pass the partner's observed assessment."},
                    "alignment": [{"type": ["Alignment"], **alignment} for alignment in alignments],
                },
            },
        }
        if status is not None:
            unsigned["credentialStatus"] = status
        if subject_did is not None:
            subject = unsigned["credentialSubject"]
            del subject["identifier"]
            unsigned["credentialSubject"] = {"id": subject_did, **subject}
        return data_integrity.sign(
            unsigned,
            self.key,
            keys.did_key_verification_method(self.did),
            created=datetime(2026, 2, 1, 10, 0, tzinfo=UTC),
        )


ESCO_ALIGNMENT = {
    "targetName": "listen actively",
    "targetUrl": ESCO_LISTEN_ACTIVELY,
    "targetCode": ESCO_LISTEN_ACTIVELY,
    "targetFramework": "ESCO",
}
PARTNER_ALIGNMENT = {
    "targetName": "Negotiation 201",
    "targetUrl": "https://academy.partner.example/frameworks/negotiation-201",
    "targetCode": PARTNER_CODE,
    "targetFramework": "Partner Academy competencies",
}


@pytest.fixture
def partner() -> PartnerAcademy:
    return PartnerAcademy()


@pytest.fixture
async def person(client, headers, roles) -> str:
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    body = {"name": "Ada", "email": "ada@example.com", "target_role_id": role_id}
    assert (await client.put("/v1/employees/E-2001", json=body, headers=headers)).status_code == 201
    return "E-2001"


@pytest.fixture
async def taxonomy(taxonomy_app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://taxonomy.test"
    ) as client:
        yield client


async def _levels(client, headers, hris_id: str) -> dict[str, float | None]:
    report = (await client.get(f"/v1/employees/{hris_id}/gap", headers=headers)).json()
    return {r["skill_name"]: r["verified_level"] for r in report["requirements"]}


async def _map(client, headers, target: str, skill_id: uuid.UUID, level: int) -> dict:
    body = {"target": target, "framework": "Partner Academy competencies", "skill_id": str(skill_id), "level": level}
    response = await client.post("/v1/alignment-mappings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _received(client, headers, hris_id: str) -> list[dict]:
    return (await client.get(f"/v1/employees/{hris_id}/credentials", headers=headers)).json()["items"]


async def test_an_esco_aligned_foreign_badge_maps_by_the_external_id_at_the_default_level(
    client, headers, person, partner, demo
):
    await _trust(client, headers, partner.did)
    received = await _post(client, headers, person, partner.credential([ESCO_ALIGNMENT], "Listening"))
    assert received["status"] == "verified", received
    assert received["issuer_id"] == partner.did and received["achievement_id"] is None
    assert received["skills"] == [
        {
            "skill_id": str(demo["Active listening"]),
            "level": 1,
            "source": "external_id",
            "target": ESCO_LISTEN_ACTIVELY,
            "skill_name": "Active listening",
        }
    ]
    assert (await _levels(client, headers, person))["Active listening"] == 1


async def test_a_foreign_badge_waits_unmapped_until_an_admin_maps_its_target(client, headers, person, partner, demo):
    await _trust(client, headers, partner.did)
    before = await _levels(client, headers, person)
    received = await _post(client, headers, person, partner.credential([PARTNER_ALIGNMENT], "Negotiation"))
    assert received["status"] == "unmapped" and received["skills"] == []
    assert received["reasons"][0].startswith("mapping: none of the achievement's alignment targets")
    assert await _levels(client, headers, person) == before

    mapping = await _map(client, headers, PARTNER_CODE, demo["Conflict navigation"], 2)
    [item] = await _received(client, headers, person)
    assert item["status"] == "verified"
    assert item["skills"] == [
        {
            "skill_id": str(demo["Conflict navigation"]),
            "level": 2,
            "source": "mapping",
            "target": PARTNER_CODE,
            "skill_name": None,  # a mapping names a skill id; the profile names it from the synced roles
        }
    ]
    assert (await _levels(client, headers, person))["Conflict navigation"] == 2
    listed = (await client.get("/v1/alignment-mappings", headers=headers)).json()["items"]
    assert [(m["id"], m["target"], m["level"]) for m in listed] == [(mapping["id"], PARTNER_CODE, 2)]

    body = {**{k: mapping[k] for k in ("target", "framework", "skill_id")}, "level": 1}
    replaced = await client.put(f"/v1/alignment-mappings/{mapping['id']}", json=body, headers=headers)
    assert replaced.status_code == 200 and replaced.json()["level"] == 1
    assert (await _levels(client, headers, person))["Conflict navigation"] == 1

    assert (await client.delete(f"/v1/alignment-mappings/{mapping['id']}", headers=headers)).status_code == 204
    assert await _levels(client, headers, person) == before
    assert [item["status"] for item in await _received(client, headers, person)] == ["unmapped"]


async def test_an_admin_mapping_of_a_target_wins_over_its_external_id_match(client, headers, person, partner, demo):
    await _trust(client, headers, partner.did, weight=0.5)
    await _post(client, headers, person, partner.credential([ESCO_ALIGNMENT, PARTNER_ALIGNMENT], "Both"))
    assert (await _levels(client, headers, person))["Active listening"] == 0.5
    await _map(client, headers, ESCO_LISTEN_ACTIVELY, demo["Active listening"], 2)
    [item] = await _received(client, headers, person)
    assert [(s["level"], s["source"]) for s in item["skills"]] == [(2, "mapping")]
    assert (await _levels(client, headers, person))["Active listening"] == 1.0  # level 2 x weight 0.5


async def test_a_foreign_badge_from_an_untrusted_issuer_is_mapped_but_does_not_count(
    client, headers, person, partner, demo
):
    received = await _post(client, headers, person, partner.credential([ESCO_ALIGNMENT]))
    assert received["status"] == "issuer_not_trusted" and received["skills"][0]["source"] == "external_id"
    assert (await _levels(client, headers, person))["Active listening"] is None
    await _trust(client, headers, partner.did)
    assert (await _levels(client, headers, person))["Active listening"] == 1


async def test_mappings_are_checked(client, headers, bearer, new_org, demo):
    _, other_demo = await new_org("other")
    foreign_skill = {"target": PARTNER_CODE, "skill_id": str(other_demo["Active listening"]), "level": 2}
    response = await client.post("/v1/alignment-mappings", json=foreign_skill, headers=headers)
    assert response.status_code == 422 and "skill_id" in response.text
    await _map(client, headers, PARTNER_CODE, demo["Active listening"], 2)
    again = {"target": PARTNER_CODE, "skill_id": str(demo["Conflict navigation"]), "level": 1}
    assert (await client.post("/v1/alignment-mappings", json=again, headers=headers)).status_code == 409
    for bad in ({**again, "level": 0}, {**again, "target": "has space"}, {**again, "target": "x" * 513}):
        assert (await client.post("/v1/alignment-mappings", json=bad, headers=headers)).status_code == 422
    missing = f"/v1/alignment-mappings/{uuid.uuid4()}"
    assert (await client.put(missing, json=again, headers=headers)).status_code == 404
    assert (await client.delete(missing, headers=headers)).status_code == 404
    reader = bearer(uuid.UUID(int=0), "gaps:read")
    assert (await client.post("/v1/alignment-mappings", json=again, headers=reader)).status_code == 403


async def _replace(taxonomy, headers, kind: str, item_id: uuid.UUID, schema: type, **changes: Any) -> None:
    """Changes a taxonomy object through taxonomy_api's own API (read, change, PUT back)."""
    current = (await taxonomy.get(f"/v1/{kind}/{item_id}", headers=headers)).json()
    body = {**{name: current[name] for name in schema.model_fields if name in current}, **changes}
    response = await taxonomy.put(f"/v1/{kind}/{item_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def test_a_taxonomy_refresh_makes_facts_and_requirements_follow_the_taxonomy(
    client, taxonomy, issuer_client, headers, person, partner, demo, roles
):
    body = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@credstack.example"}
    issuer = (await issuer_client.post("/v1/issuers", json=body, headers=headers)).json()
    result = {
        "learner": {"hris_id": person},
        "achievement_id": str(demo["badge:Conflict navigation"]),
        "issuer_id": issuer["id"],
        "score": 90,
        "completed_at": "2026-01-15T09:30:00Z",
    }
    issued = await issuer_client.post(
        "/v1/assessment-results", json=result, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert issued.status_code == 201, issued.text
    own = await _post(client, headers, person, issued.json()["credential"]["credential"])
    assert own["status"] == "verified"  # our own issuer, recognised with the admin's token
    await _trust(client, headers, partner.did)
    await _post(client, headers, person, partner.credential([ESCO_ALIGNMENT]))
    assert await _levels(client, headers, person) == {"Active listening": 1, "Conflict navigation": 2}

    # The taxonomy changes: the badge now certifies level 3, Active listening loses its ESCO id, and
    # Project Manager now needs Conflict navigation 3.
    skills = [{"skill_id": str(demo["Conflict navigation"]), "level": 3}]
    await _replace(taxonomy, headers, "achievements", demo["badge:Conflict navigation"], AchievementIn, skills=skills)
    await _replace(taxonomy, headers, "skills", demo["Active listening"], SkillIn, alignments=[])
    role = (await taxonomy.get(f"/v1/roles/{roles['Project Manager']}", headers=headers)).json()
    requirements = [
        {k: r[k] for k in ("skill_id", "weight", "criticality")}
        | {"level": 3 if r["skill_name"] == "Conflict navigation" else r["level"]}
        for r in role["requirements"]
    ]
    # Emptied first: taxonomy_api's replace inserts the new requirement rows before deleting the old
    # ones, so a PUT keeping a skill collides with itself (409).
    for body in ([], requirements):
        response = await taxonomy.put(
            f"/v1/roles/{roles['Project Manager']}",
            json={"name": role["name"], "job_family": role["job_family"], "requirements": body},
            headers=headers,
        )
        assert response.status_code == 200, response.text
    assert await _levels(client, headers, person) == {"Active listening": 1, "Conflict navigation": 2}

    refreshed = await client.post("/v1/taxonomy/refresh", headers=headers)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json() == {
        "roles_synced": 1,
        "roles_missing": [],
        "credentials_checked": 2,
        "credentials_remapped": 2,
    }
    report = (await client.get(f"/v1/employees/{person}/gap", headers=headers)).json()
    levels = {r["skill_name"]: (r["required_level"], r["verified_level"]) for r in report["requirements"]}
    assert levels == {"Active listening": (2, None), "Conflict navigation": (3, 3)}
    statuses = sorted(item["status"] for item in await _received(client, headers, person))
    assert statuses == ["unmapped", "verified"]
    again = (await client.post("/v1/taxonomy/refresh", headers=headers)).json()
    assert again["credentials_remapped"] == 0


async def test_achievement_definitions_are_revalidated_with_their_etag(
    client, gap_app, issuer_client, headers, person, demo
):
    """The second credential of the same achievement costs taxonomy_api a 304, not a new definition."""
    seen: list[tuple[str, int]] = []

    async def record(response: httpx.Response) -> None:
        seen.append((response.request.url.path, response.status_code))

    gap_app.state.taxonomy.http.event_hooks["response"].append(record)
    body = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@credstack.example"}
    issuer = (await issuer_client.post("/v1/issuers", json=body, headers=headers)).json()
    for _ in range(2):
        result = {
            "learner": {"hris_id": person},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 80,
            "completed_at": "2026-01-15T09:30:00Z",
        }
        issued = await issuer_client.post(
            "/v1/assessment-results", json=result, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert issued.status_code == 201, issued.text
        assert (await _post(client, headers, person, issued.json()["credential"]["credential"]))["status"] == "verified"
    path = f"/v1/achievements/{demo['badge:Active listening']}"
    assert [status for url, status in seen if url == path] == [200, 304]
