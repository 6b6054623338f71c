"""Governed versions through the API: draft -> review against the rubric -> published, separation of
duties, immutability, diffs, overdue reviews, the hash-chained audit log, and reads that follow
publication."""

import uuid
from datetime import date

import pytest
from sqlalchemy import update

from services.taxonomy_api.db.tables import GovernanceEvent
from services.taxonomy_api.domain.versions import REVIEW_BOARD_RUBRIC

pytestmark = pytest.mark.anyio


async def _skill_and_role(client, headers) -> tuple[dict, dict]:
    scale = (await client.get("/v1/scales", headers=headers)).json()["items"]
    if not scale:
        scale_id = (
            await client.post(
                "/v1/scales",
                json={"name": "0-5", "levels": [{"value": v, "name": str(v)} for v in range(6)]},
                headers=headers,
            )
        ).json()["id"]
    else:
        scale_id = scale[0]["id"]
    skill = (
        await client.post(
            "/v1/skills",
            json={"name": "Negotiation", "scale_id": scale_id, "owner": "Sales council", "review_by": "2026-01-31"},
            headers=headers,
        )
    ).json()
    role = (
        await client.post(
            "/v1/roles",
            json={"name": "Buyer", "requirements": [{"skill_id": skill["id"], "level": 2}]},
            headers=headers,
        )
    ).json()
    return skill, role


def _scores(value: int) -> list[dict]:
    return [{"criterion": c["key"], "score": value, "comment": f"{c['name']} ok"} for c in REVIEW_BOARD_RUBRIC]


async def _publish(client, author, reviewers, title: str) -> dict:
    submitted = await client.post("/v1/versions/draft/submit", json={"title": title}, headers=author)
    assert submitted.status_code == 201, submitted.text
    version = submitted.json()
    for reviewer in reviewers:
        answer = await client.post(
            f"/v1/versions/{version['id']}/reviews",
            json={"decision": "approve", "scores": _scores(3)},
            headers=reviewer,
        )
        assert answer.status_code == 201, answer.text
    published = await client.post(f"/v1/versions/{version['id']}/publish", headers=reviewers[0])
    assert published.status_code == 200, published.text
    return published.json()


async def test_a_draft_is_reviewed_against_the_rubric_by_others_and_published(client, as_client) -> None:
    author, first, second = as_client("author"), as_client("reviewer-1"), as_client("reviewer-2")
    policy = {"criteria": REVIEW_BOARD_RUBRIC, "required_approvals": 2, "pass_score": 0.6}
    assert (await client.put("/v1/review-policy", json=policy, headers=first)).status_code == 200
    assert (
        await client.put("/v1/review-policy", json=policy, headers=as_client("x", "taxonomy:write"))
    ).status_code == 403
    await _skill_and_role(client, author)
    version = (await client.post("/v1/versions/draft/submit", json={"title": "Q1 council"}, headers=author)).json()
    assert version["status"] == "in_review" and "author" in version["authors"]
    url = f"/v1/versions/{version['id']}/reviews"

    own = await client.post(url, json={"decision": "approve", "scores": _scores(4)}, headers=author)
    assert own.status_code == 403 and "may not review" in own.json()["detail"]
    missing = await client.post(url, json={"decision": "approve", "scores": _scores(3)[:11]}, headers=first)
    assert missing.status_code == 422 and "soft_skills" in missing.json()["detail"]
    too_low = await client.post(url, json={"decision": "approve", "scores": _scores(2)}, headers=first)
    assert too_low.status_code == 422 and "weighted score" in too_low.json()["detail"]

    approved_once = await client.post(url, json={"decision": "approve", "scores": _scores(3)}, headers=first)
    assert approved_once.status_code == 201 and approved_once.json()["weighted_score"] == 0.75
    early = await client.post(f"/v1/versions/{version['id']}/publish", headers=first)
    assert early.status_code == 409  # one approval of the two the policy asks for
    twice = await client.post(url, json={"decision": "approve", "scores": _scores(3)}, headers=first)
    assert twice.status_code == 409
    assert (
        await client.post(url, json={"decision": "approve", "scores": _scores(4)}, headers=second)
    ).status_code == 201
    published = await client.post(f"/v1/versions/{version['id']}/publish", headers=second)
    assert published.status_code == 200 and published.json()["status"] == "published"
    reviews = (await client.get(url, headers=author)).json()
    assert sorted(r["reviewer"] for r in reviews) == ["reviewer-1", "reviewer-2"]
    assert len(reviews[0]["scores"]) == 12


async def test_a_rejected_draft_is_not_published(client, as_client) -> None:
    author, reviewer = as_client("author"), as_client("reviewer")
    await _skill_and_role(client, author)
    version = (await client.post("/v1/versions/draft/submit", json={}, headers=author)).json()
    await client.post("/v1/capabilities", json={"name": "Later"}, headers=author)
    second = await client.post("/v1/versions/draft/submit", json={}, headers=author)
    assert second.status_code == 409 and "still in review" in second.json()["detail"]
    rejected = await client.post(
        f"/v1/versions/{version['id']}/reviews",
        json={"decision": "reject", "comment": "levels unclear"},
        headers=reviewer,
    )
    assert rejected.status_code == 201
    assert (await client.get(f"/v1/versions/{version['id']}", headers=author)).json()["status"] == "rejected"
    assert (await client.post(f"/v1/versions/{version['id']}/publish", headers=reviewer)).status_code == 409


async def test_published_versions_stay_as_they_were_and_reads_follow_publication(client, as_client) -> None:
    author, reviewer = as_client("author"), as_client("reviewer")
    skill, role = await _skill_and_role(client, author)
    first = await _publish(client, author, [reviewer], "v1")
    nothing = await client.post("/v1/versions/draft/submit", json={}, headers=author)
    assert nothing.status_code == 409 and "Nothing changed" in nothing.json()["detail"]

    changed = {"name": "Buyer", "requirements": [{"skill_id": skill["id"], "level": 4}]}
    assert (await client.put(f"/v1/roles/{role['id']}", json=changed, headers=author)).status_code == 200
    draft = (await client.get(f"/v1/roles/{role['id']}", headers=author)).json()
    published = (await client.get(f"/v1/roles/{role['id']}", params={"version": "published"}, headers=author)).json()
    assert draft["requirements"][0]["level"] == 4 and published["requirements"][0]["level"] == 2

    text = await client.get(f"/v1/versions/{first['id']}/diff/draft", params={"format": "text"}, headers=author)
    assert "role 'Buyer': requirements[Negotiation].level 2 -> 4" in text.text
    second = await _publish(client, author, [reviewer], "v2")
    now = (await client.get(f"/v1/roles/{role['id']}", params={"version": "published"}, headers=author)).json()
    assert now["requirements"][0]["level"] == 4
    old = await client.get(f"/v1/versions/{first['id']}/roles/{role['id']}", headers=author)
    assert old.status_code == 200 and old.json()["requirements"][0]["level"] == 2
    assert (await client.get(f"/v1/versions/{first['id']}", headers=author)).json()["status"] == "superseded"
    diff = (await client.get(f"/v1/versions/{first['id']}/diff/{second['id']}", headers=author)).json()
    role_changes = diff["kinds"]["role"]["changed"][0]["changes"]
    assert role_changes == [{"field": "requirements[Negotiation].level", "from": 2, "to": 4}]
    # Nothing writes a frozen version: its object reads the same after further drafts.
    assert (
        await client.put(f"/v1/roles/{role['id']}", json={"name": "Buyer II", "requirements": []}, headers=author)
    ).status_code == 200
    assert (await client.get(f"/v1/versions/{first['id']}/roles/{role['id']}", headers=author)).json() == old.json()


async def test_overdue_reviews_list_what_is_due_with_its_owner(client, as_client) -> None:
    author = as_client("author")
    skill, _ = await _skill_and_role(client, author)
    due = (await client.get("/v1/reviews/overdue", params={"before": "2026-02-01"}, headers=author)).json()
    assert [(d["kind"], d["name"], d["owner"]) for d in due] == [("skill", "Negotiation", "Sales council")]
    assert (await client.get("/v1/reviews/overdue", params={"before": "2026-01-01"}, headers=author)).json() == []
    assert date.fromisoformat(due[0]["review_by"]) == date(2026, 1, 31)


async def test_the_audit_log_chains_and_a_tampered_event_breaks_it(client, as_client, taxonomy_app, org) -> None:
    author, reviewer = as_client("author"), as_client("reviewer")
    await _skill_and_role(client, author)
    await _publish(client, author, [reviewer], "v1")
    events = (await client.get("/v1/governance/events", headers=reviewer)).json()["items"]
    assert [e["action"] for e in events] == ["version.submitted", "version.reviewed.approve", "version.published"]
    assert events[2]["detail"]["approved_by"] == ["reviewer"]
    check = (await client.get("/v1/governance/events/verification", headers=reviewer)).json()
    assert check == {"valid": True, "events": 3, "first_broken_sequence": None}
    async with taxonomy_app.state.database.sessions() as session:
        await session.execute(
            update(GovernanceEvent)
            .where(GovernanceEvent.org_id == org, GovernanceEvent.sequence == 2)
            .values(actor="someone else")
        )
        await session.commit()
    check = (await client.get("/v1/governance/events/verification", headers=reviewer)).json()
    assert check == {"valid": False, "events": 3, "first_broken_sequence": 2}


async def test_credentials_cite_the_published_version_and_the_draft_stays_out(client, as_client, demo) -> None:
    author, reviewer = as_client("author"), as_client("reviewer")
    version = await _publish(client, author, [reviewer], "v1")
    badge = demo["badge:Active listening"]
    public = (await client.get(f"/v1/public/achievements/{badge}", params={"format": "json"})).json()
    ours = next(a for a in public["alignment"] if a["targetFramework"] == "CredStack")
    assert ours["targetUrl"].endswith(f"?version={version['id']}")
    skill_id = str(demo["Active listening"])
    skill = (await client.get(f"/v1/skills/{skill_id}", headers=author)).json()
    renamed = {k: skill[k] for k in ("name", "description", "scale_id", "capability_id", "tags")} | {
        "name": "Listening"
    }
    assert (await client.put(f"/v1/skills/{skill_id}", json=renamed, headers=author)).status_code == 200
    cited = await client.get(f"/v1/public/skills/{skill_id}", params={"version": version["id"]})
    assert cited.status_code == 200 and cited.json()["name"] == "Active listening"
    again = (await client.get(f"/v1/public/achievements/{badge}", params={"format": "json"})).json()
    assert (
        next(a for a in again["alignment"] if a["targetFramework"] == "CredStack")["targetName"] == "Active listening"
    )
    unpublished = await client.get(f"/v1/public/skills/{skill_id}", params={"version": str(uuid.uuid4())})
    assert unpublished.status_code == 404


async def test_only_skills_an_achievement_certifies_are_public(client, as_client, demo) -> None:
    """A public skill is the target of a credential's alignment; the rest of an organisation's taxonomy
    (here a skill no achievement certifies) is not anyone's to read without a token, in the draft or
    in a published version."""
    author, reviewer = as_client("author"), as_client("reviewer")
    certified = (await client.get(f"/v1/skills/{demo['Active listening']}", headers=author)).json()
    body = {k: certified[k] for k in ("description", "scale_id", "capability_id", "tags")} | {"name": "Budgeting"}
    private = await client.post("/v1/skills", json=body, headers=author)
    assert private.status_code == 201, private.text
    version = await _publish(client, author, [reviewer], "v1")

    for params in ({}, {"version": version["id"]}):
        shown = await client.get(f"/v1/public/skills/{certified['id']}", params=params)
        assert shown.status_code == 200 and shown.json()["name"] == "Active listening"
        hidden = await client.get(f"/v1/public/skills/{private.json()['id']}", params=params)
        assert hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"
    # the skill is in the version all the same, for those who may read the taxonomy
    frozen = await client.get(f"/v1/versions/{version['id']}/skills/{private.json()['id']}", headers=author)
    assert frozen.status_code == 200
