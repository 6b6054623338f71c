"""Organisation, department and team reports through the API: the maths, the stored snapshot and its ETag,
and staleness after a change made by another write path.

Demo roles (tests/gap_engine/test_gaps.py has the table): Project Manager needs listening 2 (weight 1) and
conflict 2 (weight 2); Customer Service Agent listening 2 (weight 2, must) and conflict 1 (weight 1, should).
"""

import uuid

import pytest
from sqlalchemy import select

from services.gap_engine.analysis import snapshots
from services.gap_engine.db.tables import Employee, GapReportState, RoleRequirement, SkillFact
from shared.db import utcnow
from tests.gap_engine.conftest import employee, fact


@pytest.fixture
async def staff(client, headers, roles, demo) -> dict[str, uuid.UUID]:
    """A (PM): listening 1, conflict 2; B (PM): listening 3; C (agent, target PM): nothing; D: no role."""
    for role_id in roles.values():
        assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    pm, agent = str(roles["Project Manager"]), str(roles["Customer Service Agent"])
    people = [
        employee("A", department="Ops", team="Support", current_role_id=pm),
        employee("B", department="Ops", team="Support", current_role_id=pm),
        employee("C", department="Ops", team="Sales", current_role_id=agent, target_role_id=pm),
        employee("D", department="Bids", team="Bids"),
    ]
    assert (await client.post("/v1/employees/bulk", json={"employees": people}, headers=headers)).status_code == 200
    listening, conflict = demo["Active listening"], demo["Conflict navigation"]
    for body in (fact("A", listening, 1), fact("A", conflict, 2), fact("B", listening, 3)):
        assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    return roles


def _cells(report: dict) -> list[tuple]:
    return [
        (c["role_name"], c["skill_name"], c["headcount"], c["meeting"], c["share_meeting"], c["weighted_shortfall"])
        for c in report["requirements"]
    ]


async def test_the_organisation_report_gives_cells_top_gaps_and_readiness(client, headers, staff):
    response = await client.get("/v1/reports/organisation", headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["scope"], report["name"], report["basis"]) == ("organisation", None, "current")
    # A: 100 × (1 × 1/2 + 2 × 1) / 3 = 83.33; B: 100 × 1/3 = 33.33; C (agent): 0; D: no role.
    assert (report["headcount"], report["assessed"], report["mean_readiness"]) == (4, 3, pytest.approx(38.89))
    assert [b["count"] for b in report["readiness_distribution"]] == [1, 1, 0, 1]
    assert _cells(report) == [
        ("Customer Service Agent", "Active listening", 1, 0, 0.0, 4.0),
        ("Customer Service Agent", "Conflict navigation", 1, 0, 0.0, 1.0),
        ("Project Manager", "Active listening", 2, 1, 0.5, 1.0),
        ("Project Manager", "Conflict navigation", 2, 1, 0.5, 4.0),
    ]
    assert [(g["role_name"], g["skill_name"]) for g in report["top_gaps"]] == [
        ("Customer Service Agent", "Active listening"),
        ("Project Manager", "Conflict navigation"),
        ("Customer Service Agent", "Conflict navigation"),
        ("Project Manager", "Active listening"),
    ]
    assert [(g["group"], g["headcount"], g["assessed"]) for g in report["groups"]] == [("Bids", 1, 0), ("Ops", 3, 3)]

    target = (await client.get("/v1/reports/organisation", params={"basis": "target"}, headers=headers)).json()
    # C is measured against its target role, Project Manager, and meets none of it.
    assert _cells(target) == [
        ("Project Manager", "Active listening", 3, 1, 0.3333, 3.0),
        ("Project Manager", "Conflict navigation", 3, 1, 0.3333, 8.0),
    ]
    assert (await client.get("/v1/reports/organisation", params={"basis": "x"}, headers=headers)).status_code == 422


async def test_department_and_team_reports_with_the_team_heatmap(client, headers, staff):
    response = await client.get("/v1/reports/departments/Ops", headers=headers)
    assert response.status_code == 200, response.text
    ops = response.json()
    assert (ops["headcount"], ops["assessed"], ops["mean_readiness"]) == (3, 3, pytest.approx(38.89))
    assert [(g["group"], g["headcount"]) for g in ops["groups"]] == [("Sales", 1), ("Support", 2)]
    assert [(h["group"], h["skill_name"], h["headcount"], h["meeting"]) for h in ops["heatmap"]] == [
        ("Sales", "Active listening", 1, 0),
        ("Sales", "Conflict navigation", 1, 0),
        ("Support", "Active listening", 2, 1),
        ("Support", "Conflict navigation", 2, 1),
    ]
    support = (await client.get("/v1/reports/teams/Support", headers=headers)).json()
    assert (support["scope"], support["headcount"], support["mean_readiness"]) == ("team", 2, pytest.approx(58.33))
    assert _cells(support) == [
        ("Project Manager", "Active listening", 2, 1, 0.5, 1.0),
        ("Project Manager", "Conflict navigation", 2, 1, 0.5, 4.0),
    ]
    assert support["groups"] == []
    bids = (await client.get("/v1/reports/departments/Bids", headers=headers)).json()
    assert (bids["headcount"], bids["assessed"], bids["mean_readiness"], bids["requirements"]) == (1, 0, None, [])
    for url in ("/v1/reports/teams/Nobody", "/v1/reports/departments/Nobody"):
        missing = await client.get(url, headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


async def test_a_stored_report_answers_304_until_a_change_marks_it_stale(client, headers, staff, demo):
    urls = ("/v1/reports/organisation", "/v1/reports/departments/Ops", "/v1/reports/teams/Sales")
    etags = {}
    for url in urls:
        first = await client.get(url, headers=headers)
        etags[url] = first.headers["etag"]
        again = await client.get(url, headers={**headers, "If-None-Match": etags[url]})
        assert (again.status_code, again.content) == (304, b"")
    untouched = (await client.get("/v1/reports/teams/Support", headers=headers)).headers["etag"]

    # A new fact for C (team Sales) by the ordinary write path: no call into the report code.
    body = fact("C", demo["Active listening"], 2)
    assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    for url in urls:
        changed = await client.get(url, headers={**headers, "If-None-Match": etags[url]})
        assert changed.status_code == 200, url
        assert changed.headers["etag"] != etags[url]
    support = await client.get("/v1/reports/teams/Support", headers={**headers, "If-None-Match": untouched})
    assert support.status_code == 304  # C is not in Support: its report was not marked stale
    report = (await client.get("/v1/reports/organisation", headers=headers)).json()
    # C now meets the agent's listening 2: readiness 100 × 2 / 3.
    assert ("Customer Service Agent", "Active listening", 1, 1, 1.0, 0.0) in _cells(report)
    assert report["mean_readiness"] == pytest.approx((83.333333 + 33.333333 + 66.666667) / 3, abs=0.01)


async def test_moving_an_employee_and_resyncing_a_role_keep_the_reports_current(client, headers, staff, gap_app):
    await client.get("/v1/reports/organisation", headers=headers)
    await client.get("/v1/reports/teams/Sales", headers=headers)
    # B moves to Sales (a PUT: a bulk INSERT … ON CONFLICT, not an ORM flush).
    pm = str(staff["Project Manager"])
    moved = {"name": "Person B", "department": "Ops", "team": "Sales", "current_role_id": pm}
    assert (await client.put("/v1/employees/B", json=moved, headers=headers)).status_code == 200
    sales = (await client.get("/v1/reports/teams/Sales", headers=headers)).json()
    assert sales["headcount"] == 2
    support = (await client.get("/v1/reports/teams/Support", headers=headers)).json()
    assert support["headcount"] == 1

    before = await client.get("/v1/reports/organisation", headers=headers)
    # A resync that changes nothing leaves the stored report as it was (same ETag, nothing stale).
    assert (await client.post(f"/v1/roles/{pm}/sync", headers=headers)).status_code == 200
    again = await client.get("/v1/reports/organisation", headers={**headers, "If-None-Match": before.headers["etag"]})
    assert again.status_code == 304


async def test_a_requirement_change_updates_the_holders_of_the_role_incrementally(client, headers, staff, gap_app, org):
    await client.get("/v1/reports/organisation", headers=headers)
    async with gap_app.state.database.sessions() as session:
        listening = await session.scalar(
            select(RoleRequirement).where(
                RoleRequirement.org_id == org,
                RoleRequirement.role_id == staff["Project Manager"],
                RoleRequirement.skill_name == "Active listening",
            )
        )
        async with snapshots.keeping_reports_current(session, org, role_ids=[listening.role_id]):
            listening.required_level = 1  # as a sync from a changed taxonomy writes it (domain/roles.py)
        await session.commit()
        states = (await session.scalars(select(GapReportState).where(GapReportState.org_id == org))).all()
    assert states and not any(state.stale for state in states)  # adjusted, not recomputed
    report = (await client.get("/v1/reports/organisation", headers=headers)).json()
    # A (listening 1) now meets it: A 100, B 33.33, C 0.
    assert ("Project Manager", "Active listening", 2, 2, 1.0, 0.0) in _cells(report)
    assert report["mean_readiness"] == pytest.approx(44.44)


async def test_issuer_weight_scales_the_verified_level(client, headers, staff, gap_app, org, demo):
    """A level 4 from an issuer trusted at 0.5 counts as 2: enough for C's listening 2 as an agent."""
    await client.get("/v1/reports/organisation", headers=headers)
    async with gap_app.state.database.sessions() as session:
        c = await session.scalar(select(Employee).where(Employee.org_id == org, Employee.hris_id == "C"))
        async with snapshots.keeping_reports_current(session, org, employee_ids=[c.id]):
            session.add(
                SkillFact(
                    org_id=org,
                    employee_id=c.id,
                    skill_id=demo["Active listening"],
                    level=4,
                    weight=0.5,
                    credential_id="urn:uuid:weighted",
                    issuer_id="did:web:half.example",
                    earned_at=utcnow(),
                )
            )
            session.add(
                SkillFact(
                    org_id=org,
                    employee_id=c.id,
                    skill_id=demo["Conflict navigation"],
                    level=1,
                    weight=0.25,
                    credential_id="urn:uuid:quarter",
                    issuer_id="did:web:quarter.example",
                    earned_at=utcnow(),
                )
            )
        await session.commit()
    gap = (
        await client.get(
            "/v1/employees/C/gap", params={"role_id": str(staff["Customer Service Agent"])}, headers=headers
        )
    ).json()
    levels = {r["skill_name"]: (r["verified_level"], r["shortfall"], r["met"]) for r in gap["requirements"]}
    assert levels == {"Active listening": (2.0, 0.0, True), "Conflict navigation": (0.25, 0.75, False)}
    # 100 × (2 × 1 + 1 × 0.25 / 1) / 3
    assert gap["readiness"] == pytest.approx(75.0)
    report = (await client.get("/v1/reports/organisation", headers=headers)).json()
    assert ("Customer Service Agent", "Conflict navigation", 1, 0, 0.0, 0.75) in _cells(report)
    assert [b["count"] for b in report["readiness_distribution"]] == [0, 1, 0, 2]  # 75 is in the last bucket


async def test_reports_need_gaps_read_and_stay_in_the_callers_organisation(client, bearer, org, staff, new_org):
    assert (await client.get("/v1/reports/organisation")).status_code == 401
    writer = bearer(org, "hris:write")
    assert (await client.get("/v1/reports/organisation", headers=writer)).status_code == 403
    other, _ = await new_org("other")
    intruder = bearer(other, "gaps:read")
    assert (await client.get("/v1/reports/teams/Support", headers=intruder)).status_code == 404
    assert (await client.get("/v1/reports/departments/Ops", headers=intruder)).status_code == 404
    empty = (await client.get("/v1/reports/organisation", headers=intruder)).json()
    assert (empty["headcount"], empty["requirements"], empty["top_gaps"]) == (0, [], [])
    too_long = "x" * 201
    assert (await client.get(f"/v1/reports/teams/{too_long}", headers=bearer(org))).status_code == 422


async def test_the_formulas_are_documented_in_the_api_schema(gap_app):
    schemas = gap_app.openapi()["components"]["schemas"]
    assert "max(level × issuer weight)" in schemas["RequirementGap"]["properties"]["verified_level"]["description"]
    assert "max(level × issuer weight)" in schemas["GapReport"]["properties"]["readiness"]["description"]
    assert (
        "weight × Σ max(required − verified, 0)"
        in (schemas["RoleSkillCell"]["properties"]["weighted_shortfall"]["description"])
    )
