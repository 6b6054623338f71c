"""Role sync from the real taxonomy app, skill facts, gap reports and candidate ranking.

The demo roles (services/taxonomy_api/provisioning.py), on the Knowledge/Proficiency/Mastery scale:
  Customer Service Agent: Active listening 2 (weight 2, must), Conflict navigation 1 (weight 1, should)
  Project Manager:        Active listening 2 (weight 1, must), Conflict navigation 2 (weight 2, must)
  Bid Manager:            Conflict navigation 2 (weight 1, must), Strategic storytelling 3 (weight 3, must)
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from services.gap_engine.analysis import gaps
from shared.schemas.gaps import GapReport
from tests.conftest import POSTGRES_URL
from tests.gap_engine.conftest import employee, fact


@pytest.fixture
async def synced(client, headers, roles) -> dict[str, uuid.UUID]:
    for role_id in roles.values():
        response = await client.post(f"/v1/roles/{role_id}/sync", headers=headers)
        assert response.status_code == 200, response.text
    return roles


@pytest.fixture
async def people(client, headers, demo, synced) -> None:
    """A: listening 1 (plus a revoked and an expired 3), conflict 2; B: listening 3; C: nothing."""
    pm = str(synced["Project Manager"])
    staff = [
        employee("A", team="Support", target_role_id=pm),
        employee("B", team="Support", current_role_id=pm),
        employee("C", team="Sales", target_role_id=pm),
    ]
    assert (await client.post("/v1/employees/bulk", json={"employees": staff}, headers=headers)).status_code == 200
    listening, conflict = demo["Active listening"], demo["Conflict navigation"]
    for body in (
        fact("A", listening, 1),
        fact("A", listening, 3, revoked=True),
        fact("A", listening, 3, expires_at="2026-02-01T00:00:00Z"),
        fact("A", conflict, 2),
        fact("B", listening, 3, expires_at="2999-01-01T00:00:00Z"),
    ):
        response = await client.post("/v1/skill-facts", json=body, headers=headers)
        assert response.status_code == 201, response.text


async def test_sync_copies_the_roles_requirements_from_taxonomy(client, headers, roles, demo):
    response = await client.post(f"/v1/roles/{roles['Bid Manager']}/sync", headers=headers)
    assert response.status_code == 200, response.text
    snapshot = response.json()
    assert snapshot["name"] == "Bid Manager"
    requirements = {
        (r["skill_id"], r["required_level"], r["weight"], r["criticality"]) for r in snapshot["requirements"]
    }
    assert requirements == {
        (str(demo["Conflict navigation"]), 2, 1.0, "must"),
        (str(demo["Strategic storytelling"]), 3, 3.0, "must"),
    }
    again = await client.post(f"/v1/roles/{roles['Bid Manager']}/sync", headers=headers)
    assert len(again.json()["requirements"]) == 2  # replaced, not appended
    stored = await client.get(f"/v1/roles/{roles['Bid Manager']}/requirements", headers=headers)
    assert stored.status_code == 200
    assert [r["skill_name"] for r in stored.json()["requirements"]] == ["Conflict navigation", "Strategic storytelling"]
    unsynced = await client.get(f"/v1/roles/{roles['Project Manager']}/requirements", headers=headers)
    assert unsynced.status_code == 404


async def test_sync_of_another_organisations_role_is_404(client, bearer, roles, new_org):
    other, _ = await new_org("other")
    response = await client.post(f"/v1/roles/{roles['Bid Manager']}/sync", headers=bearer(other))
    assert response.status_code == 404
    unknown = await client.post(f"/v1/roles/{uuid.uuid4()}/sync", headers=bearer(other))
    assert unknown.status_code == 404


async def test_gap_uses_the_best_current_fact_and_puts_must_have_gaps_first(client, headers, people, synced, demo):
    response = await client.get("/v1/employees/A/gap", headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["role_name"] == "Project Manager"  # the target role by default
    # 100 × (1 × 1/2 + 2 × 2/2) / (1 + 2): the revoked and the expired level-3 facts do not count.
    assert report["readiness"] == pytest.approx(83.33)
    assert report["must_have_gaps"] == 1
    first, second = report["requirements"]
    assert (first["skill_id"], first["verified_level"], first["shortfall"], first["met"]) == (
        str(demo["Active listening"]),
        1,
        1,
        False,
    )
    assert (second["skill_id"], second["verified_level"], second["shortfall"], second["met"]) == (
        str(demo["Conflict navigation"]),
        2,
        0,
        True,
    )


async def test_gap_against_another_role_and_the_current_role_fallback(client, headers, people, synced):
    agent = synced["Customer Service Agent"]
    report = (await client.get("/v1/employees/A/gap", params={"role_id": str(agent)}, headers=headers)).json()
    # 100 × (2 × 1/2 + 1 × 1) / 3: conflict 2 meets the level-1 should-have.
    assert report["readiness"] == pytest.approx(66.67)

    b = (await client.get("/v1/employees/B/gap", headers=headers)).json()
    assert b["role_name"] == "Project Manager"  # no target: the current role
    assert b["readiness"] == pytest.approx(33.33)  # 100 × (1 × 1 + 2 × 0) / 3
    assert [(r["shortfall"], r["verified_level"]) for r in b["requirements"]] == [(2, None), (0, 3)]

    c = (await client.get("/v1/employees/C/gap", params={"role_id": str(agent)}, headers=headers)).json()
    assert c["readiness"] == 0
    # The unmet must-have (listening, shortfall 2) comes before the unmet should-have (conflict).
    assert [(r["criticality"], r["shortfall"]) for r in c["requirements"]] == [("must", 2), ("should", 1)]


async def test_gap_needs_a_role_and_a_synced_one(client, headers, people):
    await client.put("/v1/employees/D", json={"name": "No role"}, headers=headers)
    assert (await client.get("/v1/employees/D/gap", headers=headers)).status_code == 422
    unsynced = await client.get("/v1/employees/A/gap", params={"role_id": str(uuid.uuid4())}, headers=headers)
    assert unsynced.status_code == 404
    assert "sync" in unsynced.json()["detail"]


async def test_a_revoked_fact_stops_counting(client, headers, people, demo):
    body = fact("C", demo["Active listening"], 2, revoked=True)
    assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    assert (await client.get("/v1/employees/C/gap", headers=headers)).json()["readiness"] == 0
    duplicate = await client.post("/v1/skill-facts", json=body, headers=headers)
    assert duplicate.status_code == 409


async def test_candidates_are_ranked_by_readiness_with_their_remaining_gaps(client, headers, people, synced, demo):
    pm = synced["Project Manager"]
    response = await client.get(f"/v1/roles/{pm}/candidates", headers=headers)
    assert response.status_code == 200, response.text
    ranked = response.json()["candidates"]
    assert [(c["hris_id"], c["readiness"], c["must_have_gaps"]) for c in ranked] == [
        ("A", pytest.approx(83.33), 1),
        ("B", pytest.approx(33.33), 1),
        ("C", 0, 2),
    ]
    assert [(g["skill_id"], g["shortfall"]) for g in ranked[0]["gaps"]] == [(str(demo["Active listening"]), 1)]
    # C lacks both: conflict (weight 2 × shortfall 2) before listening (1 × 2).
    assert [g["skill_id"] for g in ranked[2]["gaps"]] == [
        str(demo["Conflict navigation"]),
        str(demo["Active listening"]),
    ]

    # The SQL ranking and the single-employee report agree.
    single = (await client.get("/v1/employees/B/gap", params={"role_id": str(pm)}, headers=headers)).json()
    assert single["readiness"] == ranked[1]["readiness"]

    sales = (await client.get(f"/v1/roles/{pm}/candidates", params={"team": "Sales"}, headers=headers)).json()
    assert [c["hris_id"] for c in sales["candidates"]] == ["C"]
    top = (await client.get(f"/v1/roles/{pm}/candidates", params={"limit": 1}, headers=headers)).json()
    assert [c["hris_id"] for c in top["candidates"]] == ["A"]


async def test_skill_facts_need_admin_and_a_known_employee(client, bearer, org, people, demo):
    body = fact("A", demo["Active listening"], 2)
    writer = bearer(org, "hris:write", "gaps:read")
    assert (await client.post("/v1/skill-facts", json=body, headers=writer)).status_code == 403
    unknown = fact("nobody", demo["Active listening"], 2)
    assert (await client.post("/v1/skill-facts", json=unknown, headers=bearer(org))).status_code == 404


async def test_team_view_against_each_members_own_role(client, headers, people, demo):
    await client.put("/v1/employees/E", json={"name": "No role yet", "team": "Support"}, headers=headers)
    response = await client.get("/v1/teams/Support/gaps", headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    # A and B are measured against Project Manager (83.33 and 33.33); E has no role: counted, not assessed.
    assert (report["headcount"], report["assessed"], report["mean_readiness"]) == (3, 2, pytest.approx(58.33))
    assert [bucket["count"] for bucket in report["readiness_distribution"]] == [0, 1, 0, 1]
    cells = [
        (r["skill_id"], r["headcount"], r["meeting"], r["share_meeting"], r["weighted_shortfall"])
        for r in report["requirements"]
    ]
    # Conflict: B lacks 2 levels at weight 2 → 4; listening: A lacks 1 level at weight 1 → 1.
    assert cells == [
        (str(demo["Conflict navigation"]), 2, 1, 0.5, 4.0),
        (str(demo["Active listening"]), 2, 1, 0.5, 1.0),
    ]


async def test_team_view_against_one_role_includes_everyone(client, headers, people, synced, demo):
    await client.put("/v1/employees/E", json={"name": "No role yet", "team": "Support"}, headers=headers)
    agent = str(synced["Customer Service Agent"])
    report = (await client.get("/v1/teams/Support/gaps", params={"role_id": agent}, headers=headers)).json()
    # A: 100 × (2 × 1/2 + 1) / 3 = 66.67; B: 100 × (2 × 1 + 0) / 3 = 66.67; E: 0.
    assert (report["assessed"], report["mean_readiness"]) == (3, pytest.approx(44.44))
    assert [bucket["count"] for bucket in report["readiness_distribution"]] == [1, 0, 2, 0]
    # Listening (weight 2): A short 1, E short 2 → 2 + 4 = 6; conflict (weight 1): B and E short 1 → 2.
    assert [(r["skill_id"], r["meeting"], r["weighted_shortfall"]) for r in report["requirements"]] == [
        (str(demo["Active listening"]), 1, 6.0),
        (str(demo["Conflict navigation"]), 1, 2.0),
    ]
    assert (await client.get("/v1/teams/Nobody/gaps", headers=headers)).status_code == 404


async def test_the_gap_report_carries_an_etag_that_changes_with_the_evidence(client, headers, people, demo):
    first = await client.get("/v1/employees/A/gap", headers=headers)
    etag = first.headers["etag"]
    unchanged = await client.get("/v1/employees/A/gap", headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    body = fact("A", demo["Active listening"], 2)
    assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    changed = await client.get("/v1/employees/A/gap", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["readiness"] == 100  # listening 2 now meets the level-2 must-have


async def test_skill_profile_shows_the_best_current_level_its_credentials_and_expiry(client, headers, people, demo):
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    listening, storytelling = demo["Active listening"], demo["Strategic storytelling"]
    for body in (
        fact("A", listening, 2, credential_id="urn:a:soon", expires_at=soon, earned_at="2026-03-01T00:00:00Z"),
        fact("A", listening, 2, credential_id="urn:a:later", expires_at=later, earned_at="2026-02-01T00:00:00Z"),
        fact("A", storytelling, 3, credential_id="urn:a:story", expires_at=soon),
    ):
        assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    response = await client.get("/v1/employees/A/skills", headers=headers)
    assert response.status_code == 200, response.text
    skills = {skill["skill_id"]: skill for skill in response.json()["skills"]}
    assert set(skills) == {str(listening), str(demo["Conflict navigation"]), str(storytelling)}
    heard = skills[str(listening)]
    # Level 2 by two credentials (the level-1 one no longer counts as evidence); it lapses with the later one.
    assert heard["level"] == 2
    assert sorted(c["credential_id"] for c in heard["credentials"]) == ["urn:a:later", "urn:a:soon"]
    assert heard["earned_at"].startswith("2026-02-01")
    assert heard["expires_at"][:10] == later[:10]
    assert heard["expiring"] is False
    assert skills[str(storytelling)]["expiring"] is True
    assert skills[str(demo["Conflict navigation"])]["expires_at"] is None
    wide = (await client.get("/v1/employees/A/skills", params={"expiring_within_days": 500}, headers=headers)).json()
    assert all(skill["expiring"] for skill in wide["skills"] if skill["expires_at"])


async def test_the_readiness_formula_is_documented_in_the_api_schema(gap_app):
    schemas = gap_app.openapi()["components"]["schemas"]
    for name in ("GapReport", "Candidate"):
        description = schemas[name]["properties"]["readiness"]["description"]
        assert "Σ(weight × min(verified, required) / required) / Σ weight" in description


async def test_the_served_gap_is_the_reports_json_on_every_path(client, headers, gap_app, org, people, synced):
    """The route serialises rows without building models (and on PostgreSQL reads through the driver):
    its bytes must be what GapReport gives, for every kind of row (met, unmet, no fact, other role)."""
    database = gap_app.state.database
    other_roles = [("A", synced["Bid Manager"]), ("B", synced["Customer Service Agent"])]
    cases = [("A", None), ("B", None), ("C", None), *other_roles]
    for hris_id, role_id in cases:
        query = {} if role_id is None else {"role_id": str(role_id)}
        served = await client.get(f"/v1/employees/{hris_id}/gap", params=query, headers=headers)
        assert served.status_code == 200, served.text
        async with database.sessions() as session:
            report = await gaps.compute_role_gap(session, org, hris_id, role_id)
        assert served.content == orjson.dumps(report.model_dump(mode="json"))
        assert GapReport.model_validate_json(served.content) == report


async def test_a_fact_stops_counting_the_moment_it_expires(client, headers, people, demo):
    """Nothing is held between requests: the clock passing a fact's expiry shows on the next read."""
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    body = fact("C", demo["Active listening"], 2, expires_at=expires.isoformat())
    assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    counted = (await client.get("/v1/employees/C/gap", headers=headers)).json()
    listening = next(r for r in counted["requirements"] if r["skill_name"] == "Active listening")
    assert listening["met"] and listening["verified_level"] == 2
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
    lapsed = (await client.get("/v1/employees/C/gap", headers=headers)).json()
    listening = next(r for r in lapsed["requirements"] if r["skill_name"] == "Active listening")
    assert not listening["met"] and listening["verified_level"] is None
    assert lapsed["readiness"] < counted["readiness"]


async def test_a_team_or_department_whose_name_has_a_slash_is_reachable(client, headers, people):
    """Team and department names are the HRIS's own text: 'Support / North' is one team, reached with
    its slash encoded or not, in the team view and in the stored reports alike."""
    body = {"name": "Ana", "team": "Support / North", "department": "Ops/EMEA"}
    assert (await client.put("/v1/employees/S1", json=body, headers=headers)).status_code == 201
    for path in ("/v1/teams/Support%20%2F%20North/gaps", "/v1/teams/Support / North/gaps"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert (response.json()["team"], response.json()["headcount"]) == ("Support / North", 1)
    team = await client.get("/v1/reports/teams/Support%20%2F%20North", headers=headers)
    assert team.status_code == 200, team.text
    department = await client.get("/v1/reports/departments/Ops%2FEMEA", headers=headers)
    assert department.status_code == 200, department.text
    assert (await client.get("/v1/reports/teams/Support%20%2F%20South", headers=headers)).status_code == 404


async def test_a_gap_read_on_a_connection_the_server_ended_is_a_503_and_the_connection_goes(
    client, headers, gap_app, people
):
    """On PostgreSQL the read runs on the driver's connection, past SQLAlchemy's own error handling:
    a pooled connection the server ended (a restart, an administrator) must answer 503 and be
    discarded, not go back to the pool and fail every request it is handed to (a 500 each). SQLite
    has no server to end a connection; its reads are SQLAlchemy's and keep answering."""
    assert (await client.get("/v1/employees/A/gap", headers=headers)).status_code == 200
    engine = gap_app.state.database.engine
    pooled = 0  # SQLite: no pool (a connection per use)
    if engine.dialect.name == "postgresql":
        pooled = engine.pool.checkedin()
        admin = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", engine.url.database
            )
        finally:
            await admin.close()
        assert ended >= 1
    statuses = [(await client.get("/v1/employees/A/gap", headers=headers)).status_code for _ in range(pooled + 3)]
    served = statuses.index(200)
    assert set(statuses[:served]) <= {503} and served <= pooled, statuses
    assert set(statuses[served:]) == {200}, statuses
