"""The incremental path against a full recompute: random credential, revocation, weight, HR and requirement events
through every kind of write (ORM flush, bulk statements), each through the one explicit path the domain uses,
then the stored organisation report must equal a fresh full recompute of the same data."""

import random
import uuid

import orjson
import pytest
from sqlalchemy import delete, select, update

from services.gap_engine.analysis import snapshots
from services.gap_engine.db.tables import Employee, GapReportState, RoleRequirement, SkillFact
from services.gap_engine.domain.employees import upsert_employees
from shared.db import utcnow
from shared.schemas.gaps import EmployeeBulkItem
from tests.gap_engine.conftest import employee

TEAMS = ("Support", "Sales", "Bids", None)
DEPARTMENTS = ("Ops", "Commercial", None)


async def _report(session, org_id, basis) -> dict:
    body, _ = await snapshots.stored_report(session, org_id, "organisation", basis=basis)
    report = orjson.loads(body)
    del report["as_of"]
    return report


async def _random_event(session, rng: random.Random, org_id, people, skills, roles) -> None:
    """One write of each kind a domain function makes (ORM flush, bulk statement), each inside the
    explicit path the domain functions use (snapshots.keeping_reports_current) with the ids it names."""
    kind = rng.choice(["fact", "fact", "revoke", "delete", "weight", "move", "expire", "requirement"])
    person = rng.choice(people)
    if kind == "requirement":  # a role sync bringing a changed requirement: ORM update, bulk UPDATE or delete
        requirements = (await session.scalars(select(RoleRequirement).where(RoleRequirement.org_id == org_id))).all()
        chosen = rng.choice(requirements)
        how = rng.choice(["level", "weight", "drop"])
        async with snapshots.keeping_reports_current(session, org_id, role_ids=[chosen.role_id]):
            if how == "level":
                chosen.required_level = rng.randint(0, 3)
            elif how == "weight":
                await session.execute(
                    update(RoleRequirement).where(RoleRequirement.id == chosen.id).values(weight=rng.choice([0.5, 2.0]))
                )
            elif len(requirements) > 3:
                await session.delete(chosen)
    elif kind == "fact":  # a credential issued: ORM insert
        async with snapshots.keeping_reports_current(session, org_id, employee_ids=[person]):
            session.add(
                SkillFact(
                    org_id=org_id,
                    employee_id=person,
                    skill_id=rng.choice(skills),
                    level=rng.randint(1, 4),
                    weight=rng.choice([1.0, 0.5, 0.75]),
                    credential_id=f"urn:uuid:{uuid.uuid4()}",
                    issuer_id="did:web:issuer.example",
                    earned_at=utcnow(),
                )
            )
    elif kind == "move":  # the HRIS moves someone: the domain's INSERT … ON CONFLICT, which wraps itself
        row = await session.get(Employee, person)
        item = EmployeeBulkItem(
            hris_id=row.hris_id,
            name=row.name,
            team=rng.choice(TEAMS),
            department=rng.choice(DEPARTMENTS),
            current_role_id=rng.choice([*roles, None]),
            target_role_id=rng.choice([*roles, None]),
        )
        await upsert_employees(session, org_id, [item])
    else:
        facts = (await session.scalars(select(SkillFact).where(SkillFact.org_id == org_id))).all()
        chosen = rng.choice(facts) if facts else None
        if chosen is None:
            return
        async with snapshots.keeping_reports_current(session, org_id, employee_ids=[chosen.employee_id]):
            if kind == "revoke":  # a credential revoked: ORM update
                chosen.revoked = True
            elif kind == "delete":  # re-derivation: bulk DELETE
                await session.execute(delete(SkillFact).where(SkillFact.id == chosen.id))
            elif kind == "weight":  # an issuer's trust changed: bulk UPDATE
                await session.execute(update(SkillFact).where(SkillFact.id == chosen.id).values(weight=0.5))
            elif kind == "expire":  # already lapsed when it arrives
                chosen.expires_at = utcnow().replace(year=2000)
    await session.flush()


async def test_a_nested_change_is_refused_so_no_difference_counts_twice(gap_app, org):
    async with gap_app.state.database.sessions() as session, snapshots.keeping_reports_current(session, org):
        with pytest.raises(RuntimeError, match="nested"):
            async with snapshots.keeping_reports_current(session, org):
                pass


async def test_random_events_leave_the_same_report_as_a_full_recompute(client, headers, roles, demo, gap_app, org):
    for role_id in roles.values():
        assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    role_ids = [str(role_id) for role_id in roles.values()]
    rng = random.Random(9)
    staff = [
        employee(
            f"P{i}",
            team=rng.choice(TEAMS),
            department=rng.choice(DEPARTMENTS),
            current_role_id=rng.choice(role_ids),
            target_role_id=rng.choice([*role_ids, None]),
        )
        for i in range(12)
    ]
    assert (await client.post("/v1/employees/bulk", json={"employees": staff}, headers=headers)).status_code == 200
    skills = list(demo.values())[:6]
    database = gap_app.state.database
    async with database.sessions() as session:
        people = list((await session.scalars(select(Employee.id).where(Employee.org_id == org))).all())
        for basis in snapshots.BASES:  # both stored reports exist before the events
            await _report(session, org, basis)
        revision = await session.scalar(select(GapReportState.revision).where(GapReportState.org_id == org))
        for batch in range(8):
            for _ in range(rng.randint(1, 6)):
                await _random_event(session, rng, org, people, skills, [uuid.UUID(r) for r in role_ids])
            await session.commit()
            if batch % 3 == 0:  # read in between, so the stored body is rebuilt from the adjusted aggregates
                await _report(session, org, "current")
        states = (await session.scalars(select(GapReportState).where(GapReportState.org_id == org))).all()
        assert all(not state.stale for state in states)  # no event needed a full recompute
        assert all(state.revision > revision for state in states)
        incremental = {basis: await _report(session, org, basis) for basis in snapshots.BASES}
        for basis in snapshots.BASES:
            await snapshots.recompute_organisation(session, org, basis)
            await session.commit()
            recomputed = await _report(session, org, basis)
            assert recomputed["assessed"] > 0 and recomputed["requirements"]
            assert incremental[basis] == recomputed, basis


async def test_an_event_for_an_organisation_without_a_stored_report_costs_nothing_there(
    client, headers, roles, demo, gap_app, org
):
    pm = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{pm}/sync", headers=headers)).status_code == 200
    body = {"employees": [employee("Z", team="T", current_role_id=pm)]}
    assert (await client.post("/v1/employees/bulk", json=body, headers=headers)).status_code == 200
    async with gap_app.state.database.sessions() as session:
        assert (await session.scalar(select(GapReportState).where(GapReportState.org_id == org))) is None
    report = (await client.get("/v1/reports/organisation", headers=headers)).json()
    assert (report["headcount"], report["assessed"], report["mean_readiness"]) == (1, 1, 0)
