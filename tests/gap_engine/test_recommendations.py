"""Recommendations: the shortest ordered list of achievements closing an employee's must-have gaps.

The demo taxonomy (services/taxonomy_api/provisioning.py): badges Active listening (foundational,
certifies listening 1), Conflict navigation (intermediate, conflict 2, needs Active listening) and the
capstone Strategic storytelling (advanced, storytelling 3, needs every step of the pathway).
  Customer Service Agent: listening 2 (must), conflict 1 (should)
  Project Manager:        listening 2 (must), conflict 2 (must)
  Bid Manager:            conflict 2 (must), storytelling 3 (must)
"""

import uuid

import httpx
import pytest

from services.gap_engine.analysis.recommendations import (
    EXACT_MAX_CANDIDATES,
    CatalogueAchievement,
    CoverProblem,
    direct_prerequisites,
    greedy_cover,
    recommend,
)
from shared.schemas.gaps import RequirementGap
from tests.gap_engine.conftest import employee


@pytest.fixture
async def synced(client, headers, roles) -> dict[str, uuid.UUID]:
    for role_id in roles.values():
        assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    staff = [
        employee("R1", target_role_id=str(roles["Bid Manager"])),
        employee("R2", current_role_id=str(roles["Project Manager"])),
        employee("R3", target_role_id=str(roles["Bid Manager"])),
        employee("R4"),
    ]
    assert (await client.post("/v1/employees/bulk", json={"employees": staff}, headers=headers)).status_code == 200
    return roles


async def _recommend(client, headers, hris_id: str, **params) -> dict:
    response = await client.get(f"/v1/employees/{hris_id}/recommendations", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _names(body: dict) -> list[str]:
    return [step["name"] for step in body["steps"]]


async def test_the_capstone_comes_with_its_pathway_prerequisites_first(client, headers, synced, demo):
    body = await _recommend(client, headers, "R1")
    assert body["role_name"] == "Bid Manager" and body["method"] == "exact"
    assert _names(body) == [
        "Active listening (Foundational)",
        "Conflict navigation (Intermediate)",
        "Strategic storytelling (Advanced)",
    ]
    listening, conflict, storytelling = body["steps"]
    assert [s["position"] for s in body["steps"]] == [1, 2, 3]
    assert listening["closes"] == [] and set(listening["prerequisite_for"]) == {
        str(demo["badge:Conflict navigation"]),
        str(demo["badge:Strategic storytelling"]),
    }
    assert [(g["skill_name"], g["required_level"], g["certified_level"]) for g in conflict["closes"]] == [
        ("Conflict navigation", 2, 2)
    ]
    assert conflict["prerequisite_for"] == [str(demo["badge:Strategic storytelling"])]
    assert [g["skill_name"] for g in storytelling["closes"]] == ["Strategic storytelling"]
    assert body["unclosable"] == [] and body["closes_all_must_haves"] is True
    assert body["must_have_gaps"] == 2


async def test_what_no_achievement_closes_is_said(client, headers, synced):
    body = await _recommend(client, headers, "R2")  # the current role: Project Manager
    assert body["role_name"] == "Project Manager"
    assert _names(body) == ["Active listening (Foundational)", "Conflict navigation (Intermediate)"]
    assert [u["message"] for u in body["unclosable"]] == [
        "no achievement certifies Active listening at level ≥ 2 (the highest certified is 1)"
    ]
    assert body["unclosable"][0]["best_certified_level"] == 1
    assert body["closes_all_must_haves"] is False

    agent = await _recommend(client, headers, "R2", role_id=str(synced["Customer Service Agent"]))
    # Listening 2 cannot be closed, so nothing is recommended for the role, and it says why.
    assert (agent["method"], agent["steps"], len(agent["unclosable"])) == ("none_possible", [], 1)


async def test_a_taxonomy_change_is_seen_and_the_shortest_list_wins(
    client, headers, synced, taxonomy_app, gap_app, demo
):
    gap_app.state.taxonomy.CATALOGUE_PAGE_SIZE = 2  # the catalogue now spans pages, read through the cursor
    before = await _recommend(client, headers, "R2")
    assert len(before["steps"]) == 2
    badge = {
        "name": "Service excellence",
        "criteria_narrative": "Pass the service simulation.",
        "tier": "intermediate",
        "skills": [
            {"skill_id": str(demo["Active listening"]), "level": 2},
            {"skill_id": str(demo["Conflict navigation"]), "level": 2},
        ],
        "result_description": {"kind": "score", "pass_mark": 70, "max_score": 100},
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://taxonomy.test"
    ) as taxonomy:
        created = await taxonomy.post("/v1/achievements", json=badge, headers=headers)
    assert created.status_code == 201, created.text
    after = await _recommend(client, headers, "R2")  # the cached catalogue page is revalidated by ETag
    assert _names(after) == ["Service excellence"]
    assert sorted(g["skill_name"] for g in after["steps"][0]["closes"]) == ["Active listening", "Conflict navigation"]
    assert after["unclosable"] == [] and after["method"] == "exact"


async def test_a_catalogue_beyond_the_bound_is_refused(client, headers, synced, gap_app):
    gap_app.state.taxonomy.MAX_CATALOGUE_ITEMS = 2
    response = await client.get("/v1/employees/R1/recommendations", headers=headers)
    assert response.status_code == 422
    assert "more than 2 achievements" in response.json()["detail"]


async def test_a_held_prerequisite_is_not_recommended_again(client, headers, synced, demo, issuer_client):
    """R3 holds the listening badge through the real pipeline: issued, verified, from a trusted issuer."""
    profile = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@credstack.example"}
    issuer = await issuer_client.post("/v1/issuers", json=profile, headers=headers)
    assert issuer.status_code == 201, issuer.text
    assessment = {
        "learner": {"hris_id": "R3", "email": "r3@example.com"},
        "achievement_id": str(demo["badge:Active listening"]),
        "issuer_id": issuer.json()["id"],
        "score": 86,
        "evidence": {"urls": ["https://lms.example/attempts/4711"]},
        "assessor": "Grace Hopper",
        "completed_at": "2026-01-15T09:30:00Z",
    }
    issued = await issuer_client.post(
        "/v1/assessment-results", json=assessment, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert issued.status_code == 201, issued.text
    trusted = await client.post("/v1/trusted-issuers", json={"issuer_id": issuer.json()["did"]}, headers=headers)
    assert trusted.status_code == 201, trusted.text
    document = issued.json()["credential"]["credential"]
    received = await client.post("/v1/employees/R3/credentials", json=document, headers=headers)
    assert received.status_code == 201 and received.json()["status"] == "verified", received.text

    body = await _recommend(client, headers, "R3")
    assert _names(body) == ["Conflict navigation (Intermediate)", "Strategic storytelling (Advanced)"]
    assert body["steps"][0]["prerequisite_for"] == [str(demo["badge:Strategic storytelling"])]


async def test_refusals_are_problems(client, headers, synced, bearer, org, new_org):
    no_role = await client.get("/v1/employees/R4/recommendations", headers=headers)
    assert no_role.status_code == 422
    assert no_role.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/employees/nobody/recommendations", headers=headers)).status_code == 404
    unsynced = await client.get(
        "/v1/employees/R1/recommendations", params={"role_id": str(uuid.uuid4())}, headers=headers
    )
    assert unsynced.status_code == 404
    other, _ = await new_org("other")
    assert (await client.get("/v1/employees/R1/recommendations", headers=bearer(other))).status_code == 404
    # gaps:read alone: the catalogue read from taxonomy_api is refused, and said so.
    refused = await client.get("/v1/employees/R1/recommendations", headers=bearer(org, "gaps:read"))
    assert refused.status_code == 403
    assert "taxonomy:read" in refused.json()["detail"]


# --- the search itself, on catalogues built for the purpose ---------------------------------------


def _gap(skill: uuid.UUID, level: int, criticality: str = "must") -> RequirementGap:
    return RequirementGap(
        skill_id=skill,
        skill_name=f"skill {str(skill)[:4]}",
        criticality=criticality,
        weight=1.0,
        required_level=level,
        verified_level=None,
        shortfall=level,
        met=False,
    )


def _catalogue(*items: tuple[str, str, dict[uuid.UUID, int]]) -> dict[uuid.UUID, CatalogueAchievement]:
    catalogue = {}
    for name, tier, levels in items:
        achievement_id = uuid.uuid5(uuid.NAMESPACE_URL, name)
        catalogue[achievement_id] = CatalogueAchievement(achievement_id, name, tier, levels)
    return catalogue


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, name)


SKILLS = [uuid.uuid5(uuid.NAMESPACE_DNS, f"skill{i}") for i in range(8)]


def test_exact_search_beats_greedy_where_greedy_is_known_to_fail():
    """Six gaps; A closes four, B and C three each and together all six. Greedy takes A, then B and C."""
    s = SKILLS
    catalogue = _catalogue(
        ("A", "foundational", {s[0]: 1, s[1]: 1, s[2]: 1, s[3]: 1}),
        ("B", "advanced", {s[0]: 1, s[1]: 1, s[4]: 1}),
        ("C", "advanced", {s[2]: 1, s[3]: 1, s[5]: 1}),
    )
    gaps = [_gap(skill, 1) for skill in s[:6]]
    steps, unclosable, method, candidates = recommend(gaps, catalogue, {}, set())
    assert (method, candidates, unclosable) == ("exact", 3, [])
    assert [step.name for step in steps] == ["B", "C"]
    problem = CoverProblem(
        closers=[[a for a in catalogue if catalogue[a].levels.get(g.skill_id, 0) >= 1] for g in gaps],
        cost={a: frozenset({a}) for a in catalogue},
        closes={
            a: frozenset(i for i, g in enumerate(gaps) if g.skill_id in item.levels) for a, item in catalogue.items()
        },
        catalogue=catalogue,
    )
    assert len(greedy_cover(problem)) == 3


def test_prerequisites_count_in_the_length_and_held_ones_do_not():
    s = SKILLS
    catalogue = _catalogue(
        ("Basics", "foundational", {}),
        ("Deep", "intermediate", {s[0]: 3}),
        ("Standalone", "advanced", {s[0]: 3}),
    )
    pathways = [
        {
            "steps": [
                {"achievement_id": _id("Basics")},
                {"achievement_id": _id("Deep"), "prerequisites": [_id("Basics")]},
            ]
        }
    ]
    prerequisites = direct_prerequisites(pathways)
    steps, *_ = recommend([_gap(s[0], 3)], catalogue, prerequisites, set())
    assert [step.name for step in steps] == ["Standalone"]  # one achievement beats two, whatever the tier
    steps, *_ = recommend([_gap(s[0], 3)], catalogue, prerequisites, {_id("Basics")})
    assert [step.name for step in steps] == ["Deep"]  # equal length now: the lower tier wins


def test_ties_go_to_the_lower_tier_then_the_name_and_should_haves_are_a_bonus():
    s = SKILLS
    catalogue = _catalogue(
        ("Zeta", "foundational", {s[0]: 2, s[1]: 1}),
        ("Alpha", "advanced", {s[0]: 2}),
        ("Beta", "foundational", {s[0]: 2}),
    )
    gaps = [_gap(s[0], 2), _gap(s[1], 1, "should")]
    steps, _, method, _ = recommend(gaps, catalogue, {}, set())
    assert method == "exact"
    assert [step.name for step in steps] == ["Beta"]  # foundational before advanced, then by name
    assert steps[0].bonus == []
    steps, *_ = recommend(gaps, {k: v for k, v in catalogue.items() if v.name != "Beta"}, {}, set())
    assert [step.name for step in steps] == ["Zeta"]
    assert [g.skill_id for g in steps[0].bonus] == [s[1]] and steps[0].bonus[0].criticality == "should"


def test_a_capstone_needs_every_step_of_its_pathway():
    s = SKILLS
    catalogue = _catalogue(("One", "foundational", {}), ("Two", "intermediate", {}), ("Cap", "advanced", {s[0]: 3}))
    pathways = [
        {
            "steps": [{"achievement_id": _id("One")}, {"achievement_id": _id("Two")}],
            "capstone_achievement_id": _id("Cap"),
        }
    ]
    steps, *_ = recommend([_gap(s[0], 3)], catalogue, direct_prerequisites(pathways), set())
    assert [step.name for step in steps] == ["One", "Two", "Cap"]
    assert steps[0].prerequisite_for == [_id("Cap")]


def test_above_the_bound_the_greedy_fallback_is_used_and_still_closes_everything():
    s = SKILLS
    items = [(f"Badge {i:02d}", "foundational", {s[i % 4]: 1}) for i in range(EXACT_MAX_CANDIDATES + 4)]
    catalogue = _catalogue(*items, ("Wide", "advanced", {s[0]: 1, s[1]: 1, s[2]: 1, s[3]: 1}))
    gaps = [_gap(skill, 1) for skill in s[:4]]
    steps, unclosable, method, candidates = recommend(gaps, catalogue, {}, set())
    assert (method, candidates, unclosable) == ("greedy", EXACT_MAX_CANDIDATES + 5, [])
    assert [step.name for step in steps] == ["Wide"]
    again = recommend(gaps, catalogue, {}, set())
    assert [step.achievement_id for step in again[0]] == [step.achievement_id for step in steps]


def test_none_needed_only_when_no_must_have_gap_is_open():
    """Issue 15: "none_needed" came beside closes_all_must_haves false, when gaps were open but no
    achievement closed them. Nothing is needed only when every must-have is met."""
    s = SKILLS
    catalogue = _catalogue(("A", "foundational", {s[0]: 1}))
    only_should = [_gap(s[0], 1, "should")]
    steps, unclosable, method, _ = recommend(only_should, catalogue, {}, set())
    assert (steps, unclosable, method) == ([], [], "none_needed")

    nobody_certifies = [_gap(s[1], 1)]
    steps, unclosable, method, _ = recommend(nobody_certifies, catalogue, {}, set())
    assert (steps, len(unclosable), method) == ([], 1, "none_possible")

    needs_missing_prerequisite = [_gap(s[0], 1)]
    steps, unclosable, method, _ = recommend(needs_missing_prerequisite, catalogue, {_id("A"): {_id("gone")}}, set())
    assert (steps, len(unclosable), method) == ([], 1, "none_possible")
