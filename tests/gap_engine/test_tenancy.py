"""The cross-tenant walk over every gap engine route, plus the HRIS writes that key on the caller's ids.

The walk's intruder holds every scope but hris:write and admin: the reads and the analysis are
walked against the owner's objects; the writes are 403 there. An intruder that *can* write is
covered below: an upsert by HRIS id lands in the intruder's own organisation (the HRIS id is only
unique per organisation), and everything that references the owner's people or roles is a 404.
"""

import uuid

from shared.auth import SCOPES
from tests.gap_engine.conftest import employee, fact
from tests.tenancy import TenantWalk, authenticated_routes, walk_every_authenticated_route

OWNER_HRIS_ID = "owner-hris-7781"
OWNER_NAME = "Owner Person Zed"
OWNER_EMAIL = "zed.owner@owner.example"
OWNER_ISSUER = "did:web:owner-issuer-7781.example"
OWNER_TRUST_NOTE = "Owner trust note 7781"
OWNER_MAPPING_TARGET = "https://owner-partner-7781.example/competencies/listening"


async def _seed_owner(client, headers, roles, demo) -> str:
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    body = {"name": OWNER_NAME, "email": OWNER_EMAIL, "team": "Owner team", "target_role_id": role_id}
    assert (await client.put(f"/v1/employees/{OWNER_HRIS_ID}", json=body, headers=headers)).status_code == 201
    response = await client.post(
        "/v1/skill-facts", json=fact(OWNER_HRIS_ID, demo["Active listening"], 1), headers=headers
    )
    assert response.status_code == 201
    return role_id


async def _seed_owner_credentials(client, headers) -> str:
    """A trusted issuer and a (rejected, but kept) received credential; returns the trusted issuer's id."""
    trusted = await client.post(
        "/v1/trusted-issuers", json={"issuer_id": OWNER_ISSUER, "note": OWNER_TRUST_NOTE}, headers=headers
    )
    assert trusted.status_code == 201, trusted.text
    received = await client.post(f"/v1/employees/{OWNER_HRIS_ID}/credentials", json={"jwt": "x.y.z"}, headers=headers)
    assert received.status_code == 201 and received.json()["status"] == "rejected", received.text
    return trusted.json()["id"]


async def _seed_owner_mapping(client, headers, demo) -> str:
    """An alignment mapping; returns its id."""
    body = {"target": OWNER_MAPPING_TARGET, "skill_id": str(demo["Active listening"]), "level": 2}
    mapping = await client.post("/v1/alignment-mappings", json=body, headers=headers)
    assert mapping.status_code == 201, mapping.text
    return mapping.json()["id"]


async def test_every_authenticated_route_is_scoped_to_the_callers_organisation(
    client, gap_app, bearer, org, roles, demo, new_org
):
    owner_headers = bearer(org)
    role_id = await _seed_owner(client, owner_headers, roles, demo)
    trusted_id = await _seed_owner_credentials(client, owner_headers)
    mapping_id = await _seed_owner_mapping(client, owner_headers, demo)
    intruder, intruder_demo = await new_org("intruder")
    mapping = {"target": OWNER_MAPPING_TARGET, "skill_id": str(intruder_demo["Active listening"]), "level": 1}
    reader_scopes = sorted(set(SCOPES) - {"hris:write", "admin"})
    period = {"metric": "win_rate", "value": 0.3, "period_start": "2026-01-01", "period_end": "2026-03-31"}
    walked = await walk_every_authenticated_route(
        client,
        gap_app,
        TenantWalk(
            owner_headers=owner_headers,
            intruder_headers=bearer(intruder, *reader_scopes),
            path_params={
                "/v1/employees/{hris_id}": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/gap": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/skills": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/credentials": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/credentials/baked": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/did-challenges": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/did-proofs": {"hris_id": OWNER_HRIS_ID},
                "/v1/employees/{hris_id}/dids": {"hris_id": OWNER_HRIS_ID},
                "/v1/trusted-issuers/{trusted_issuer_id}": {"trusted_issuer_id": trusted_id},
                "/v1/alignment-mappings/{mapping_id}": {"mapping_id": mapping_id},
                "/v1/roles/{role_id}/sync": {"role_id": role_id},
                "/v1/roles/{role_id}/candidates": {"role_id": role_id},
                "/v1/roles/{role_id}/requirements": {"role_id": role_id},
                "/v1/teams/{team}/gaps": {"team": "Owner team"},
                "/v1/employees/{hris_id}/recommendations": {"hris_id": OWNER_HRIS_ID},
                "/v1/kpis/{metric}/linkage": {"metric": "win_rate"},
                "/v1/reports/departments/{department}": {"department": "Owner dept"},
                "/v1/reports/teams/{team}": {"team": "Owner team"},
            },
            bodies={
                ("PUT", "/v1/employees/{hris_id}"): {"name": "Intruder"},
                ("POST", "/v1/employees/bulk"): {"employees": [employee(OWNER_HRIS_ID)]},
                ("POST", "/v1/employees/bulk/csv"): f"hris_id,name\n{OWNER_HRIS_ID},Intruder\n",
                ("POST", "/v1/kpi-observations"): {"observations": [{"hris_id": OWNER_HRIS_ID, **period}]},
                ("POST", "/v1/skill-facts"): fact(OWNER_HRIS_ID, demo["Active listening"], 3),
                ("POST", "/v1/trusted-issuers"): {"issuer_id": OWNER_ISSUER},
                ("PATCH", "/v1/trusted-issuers/{trusted_issuer_id}"): {"weight": 0.1},
                ("POST", "/v1/alignment-mappings"): mapping,
                ("PUT", "/v1/alignment-mappings/{mapping_id}"): mapping,
                ("POST", "/v1/webhook-sources"): {"name": "intruder", "secret": "whsec_aW50cnVkZXItc2VjcmV0"},
                ("POST", "/v1/employees/{hris_id}/credentials"): {"jwt": "x.y.z"},
                ("POST", "/v1/employees/{hris_id}/did-challenges"): {
                    "did": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
                },
                ("POST", "/v1/employees/{hris_id}/did-proofs"): {"presentation": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
                ("POST", "/v1/employees/{hris_id}/credentials/baked"): {"file": "not an upload"},
                ("POST", "/v1/roi"): {
                    "seats": 1,
                    "cost_per_seat": 1,
                    "revenue_per_head": 1,
                    "expected_uplift": 0.1,
                    "retention": 1,
                },
            },
            owner_markers={
                str(org),
                OWNER_HRIS_ID,
                OWNER_NAME,
                OWNER_EMAIL,
                OWNER_ISSUER,
                OWNER_TRUST_NOTE,
                trusted_id,
                mapping_id,
                OWNER_MAPPING_TARGET,
            },
            owner_objects=[
                f"/v1/employees/{OWNER_HRIS_ID}",
                f"/v1/employees/{OWNER_HRIS_ID}/gap",
                f"/v1/employees/{OWNER_HRIS_ID}/skills",
                f"/v1/employees/{OWNER_HRIS_ID}/credentials",
                f"/v1/employees/{OWNER_HRIS_ID}/dids",
                f"/v1/roles/{role_id}/requirements",
                "/v1/trusted-issuers",
                "/v1/alignment-mappings",
            ],
        ),
    )
    assert walked == len(authenticated_routes(gap_app))


async def test_an_intruder_that_may_write_only_touches_its_own_organisation(client, bearer, org, roles, demo, new_org):
    owner_headers = bearer(org)
    role_id = await _seed_owner(client, owner_headers, roles, demo)
    trusted_id = await _seed_owner_credentials(client, owner_headers)
    before = (await client.get(f"/v1/employees/{OWNER_HRIS_ID}/gap", headers=owner_headers)).json()
    intruder_org, intruder_demo = await new_org("intruder")
    intruder = bearer(intruder_org)  # every scope, admin included

    period = {"metric": "win_rate", "value": 0.3, "period_start": "2026-01-01", "period_end": "2026-03-31"}
    kpis = await client.post(
        "/v1/kpi-observations", json={"observations": [{"hris_id": OWNER_HRIS_ID, **period}]}, headers=intruder
    )
    assert kpis.status_code == 404
    facts = await client.post(
        "/v1/skill-facts", json=fact(OWNER_HRIS_ID, demo["Active listening"], 3), headers=intruder
    )
    assert facts.status_code == 404
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=intruder)).status_code == 404
    assert (await client.get(f"/v1/roles/{role_id}/candidates", headers=intruder)).status_code == 404
    assert (await client.get("/v1/teams/Owner team/gaps", headers=intruder)).status_code == 404
    assert (await client.delete(f"/v1/trusted-issuers/{trusted_id}", headers=intruder)).status_code == 404
    weight = {"weight": 0.1}
    assert (await client.patch(f"/v1/trusted-issuers/{trusted_id}", json=weight, headers=intruder)).status_code == 404
    mapping_id = await _seed_owner_mapping(client, owner_headers, demo)
    remap = {"target": OWNER_MAPPING_TARGET, "skill_id": str(intruder_demo["Active listening"]), "level": 1}
    assert (await client.put(f"/v1/alignment-mappings/{mapping_id}", json=remap, headers=intruder)).status_code == 404
    assert (await client.delete(f"/v1/alignment-mappings/{mapping_id}", headers=intruder)).status_code == 404
    owner_skill = {**remap, "skill_id": str(demo["Active listening"])}
    assert (await client.post("/v1/alignment-mappings", json=owner_skill, headers=intruder)).status_code == 422
    assert (await client.post("/v1/alignment-mappings", json=remap, headers=intruder)).status_code == 201
    assert (await client.post("/v1/taxonomy/refresh", headers=intruder)).status_code == 200
    received = await client.post(f"/v1/employees/{OWNER_HRIS_ID}/credentials", json={"jwt": "x.y.z"}, headers=intruder)
    assert received.status_code == 404
    # Trusting the same issuer in another organisation is that organisation's own registry entry.
    assert (
        await client.post("/v1/trusted-issuers", json={"issuer_id": OWNER_ISSUER}, headers=intruder)
    ).status_code == 201

    # The same HRIS id in another organisation is another person.
    put = await client.put(f"/v1/employees/{OWNER_HRIS_ID}", json={"name": "Intruder"}, headers=intruder)
    assert put.status_code == 201
    assert OWNER_NAME not in put.text and OWNER_EMAIL not in put.text
    bulk = await client.post("/v1/employees/bulk", json={"employees": [employee(OWNER_HRIS_ID)]}, headers=intruder)
    assert bulk.json() == {"received": 1, "created": 0, "updated": 1}  # its own record from the PUT
    listed = (await client.get("/v1/employees", headers=intruder)).json()["items"]
    assert [item["name"] for item in listed] == [f"Person {OWNER_HRIS_ID}"]
    assert (await client.get(f"/v1/employees/{OWNER_HRIS_ID}/gap", headers=intruder)).status_code == 422

    owner = (await client.get(f"/v1/employees/{OWNER_HRIS_ID}", headers=owner_headers)).json()
    assert (owner["name"], owner["email"]) == (OWNER_NAME, OWNER_EMAIL)
    assert (await client.get(f"/v1/employees/{OWNER_HRIS_ID}/gap", headers=owner_headers)).json() == before
    assert uuid.UUID(owner["id"]) != uuid.UUID(put.json()["id"])
    registry = (await client.get("/v1/trusted-issuers", headers=owner_headers)).json()["items"]
    assert [(t["id"], t["note"], t["weight"]) for t in registry] == [(trusted_id, OWNER_TRUST_NOTE, 1.0)]
    mappings = (await client.get("/v1/alignment-mappings", headers=owner_headers)).json()["items"]
    assert [(m["id"], m["skill_id"], m["level"]) for m in mappings] == [(mapping_id, str(demo["Active listening"]), 2)]
    assert (
        len((await client.get(f"/v1/employees/{OWNER_HRIS_ID}/credentials", headers=owner_headers)).json()["items"])
        == 1
    )
