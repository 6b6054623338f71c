"""Pathways: a DAG of achievements, checked on the way in, and what a learner has left to do."""

import uuid

import pytest

from services.taxonomy_api.domain.pathways import ordered_steps
from shared.errors import Unprocessable
from shared.schemas.taxonomy import PathwayStepIn

A, B, C, D = (uuid.UUID(int=n) for n in range(1, 5))


def steps(*pairs):
    return [PathwayStepIn(achievement_id=a, prerequisites=list(pre)) for a, pre in pairs]


def test_topological_order_keeps_the_given_order_where_free():
    order = ordered_steps(steps((C, [A]), (A, []), (B, []), (D, [C, B])))
    # C comes first in the given order, so it follows A as soon as A is placed.
    assert [s.achievement_id for s in order] == [A, C, B, D]


def test_a_cycle_is_refused_naming_its_members():
    with pytest.raises(Unprocessable) as raised:
        ordered_steps(steps((A, [C]), (B, [A]), (C, [B]), (D, [])))
    cycle = raised.value.extensions["cycle"]
    assert set(cycle) == {str(A), str(B), str(C)} and cycle[0] == cycle[-1]


def test_a_dangling_prerequisite_and_a_repeated_step_are_refused():
    with pytest.raises(Unprocessable) as dangling:
        ordered_steps(steps((A, [D])))
    assert dangling.value.extensions["dangling"] == str(D)
    with pytest.raises(Unprocessable, match="more than once"):
        ordered_steps(steps((A, []), (A, [])))


async def test_pathway_api_refuses_a_cycle_and_reports_progress(client, headers, demo):
    listening, conflict, story = (
        demo[f"badge:{name}"] for name in ("Active listening", "Conflict navigation", "Strategic storytelling")
    )
    cyclic = {
        "name": "Loop",
        "steps": [
            {"achievement_id": str(listening), "prerequisites": [str(conflict)]},
            {"achievement_id": str(conflict), "prerequisites": [str(listening)]},
        ],
    }
    refused = await client.post("/v1/pathways", json=cyclic, headers=headers)
    assert refused.status_code == 422 and "cycle" in refused.json()["detail"]
    capstone_as_step = {
        "name": "Odd",
        "capstone_achievement_id": str(listening),
        "steps": [{"achievement_id": str(listening)}],
    }
    assert (await client.post("/v1/pathways", json=capstone_as_step, headers=headers)).status_code == 422

    pathway = (await client.get("/v1/pathways", headers=headers)).json()["items"][0]
    url = f"/v1/pathways/{pathway['id']}/progress"
    empty = (await client.get(url, headers=headers)).json()
    assert [s["achievement_id"] for s in empty["remaining"]] == [str(listening), str(conflict)]
    assert empty["available_now"] == [str(listening)] and not empty["complete"]
    halfway = (await client.get(url, params={"held": [str(listening)]}, headers=headers)).json()
    assert halfway["available_now"] == [str(conflict)]
    done = (await client.get(url, params={"held": [str(listening), str(conflict)]}, headers=headers)).json()
    assert done["complete"] and done["capstone_achievement_id"] == str(story) and not done["capstone_held"]


async def test_a_pathway_cannot_reference_another_organisations_achievement(client, demo, bearer, new_org):
    other = bearer(await new_org())
    body = {"name": "Borrowed", "steps": [{"achievement_id": str(demo["badge:Active listening"])}]}
    response = await client.post("/v1/pathways", json=body, headers=other)
    assert response.status_code == 404
