"""The taxonomy API through HTTP: what a client can do, and the clear errors it gets."""

import re
import uuid

SCALE = {"name": "Five", "levels": [{"value": v, "name": f"L{v}"} for v in range(1, 6)]}


async def make_skill(client, headers, name="Negotiation", **extra):
    scale = await client.post("/v1/scales", json={**SCALE, "name": f"scale for {name}"}, headers=headers)
    assert scale.status_code == 201, scale.text
    response = await client.post(
        "/v1/skills", json={"name": name, "scale_id": scale.json()["id"], **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_role_with_requirements_round_trips_with_skill_and_level_names(client, headers):
    skill = await make_skill(client, headers)
    created = await client.post(
        "/v1/roles",
        json={
            "name": "Buyer",
            "job_family": "Procurement",
            "requirements": [{"skill_id": skill["id"], "level": 4, "weight": 2.5, "criticality": "must"}],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    role = (await client.get(f"/v1/roles/{created.json()['id']}", headers=headers)).json()
    assert role["requirements"] == [
        {
            "skill_id": skill["id"],
            "level": 4,
            "weight": 2.5,
            "criticality": "must",
            "skill_name": "Negotiation",
            "level_name": "L4",
        }
    ]
    assert role["created_at"].endswith(("+00:00", "Z"))


async def test_replacing_a_role_can_keep_a_skill_with_a_new_level(client, headers):
    kept, dropped = await make_skill(client, headers, "Negotiation"), await make_skill(client, headers, "Forecasting")
    body = {
        "name": "Buyer",
        "requirements": [{"skill_id": kept["id"], "level": 2}, {"skill_id": dropped["id"], "level": 1}],
    }
    created = await client.post("/v1/roles", json=body, headers=headers)
    assert created.status_code == 201, created.text
    body["requirements"] = [{"skill_id": kept["id"], "level": 4, "criticality": "must"}]
    replaced = await client.put(f"/v1/roles/{created.json()['id']}", json=body, headers=headers)
    assert replaced.status_code == 200, replaced.text
    assert [(r["skill_id"], r["level"]) for r in replaced.json()["requirements"]] == [(kept["id"], 4)]


async def test_a_level_not_on_the_skills_scale_is_a_422_naming_the_valid_levels(client, headers):
    skill = await make_skill(client, headers)
    response = await client.post(
        "/v1/roles", json={"name": "Buyer", "requirements": [{"skill_id": skill["id"], "level": 9}]}, headers=headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "requirements.0.level"
    assert "1 (L1)" in problem["detail"] and "5 (L5)" in problem["detail"]


async def test_duplicate_names_in_one_organisation_conflict_but_not_across_organisations(
    client, headers, bearer, new_org
):
    await make_skill(client, headers, "Forecasting")
    again = await client.post("/v1/capabilities", json={"name": "Sales"}, headers=headers)
    assert again.status_code == 201
    duplicate = await client.post("/v1/capabilities", json={"name": "Sales"}, headers=headers)
    assert duplicate.status_code == 409
    assert "Sales" in duplicate.json()["detail"]
    other = bearer(await new_org())
    assert (await client.post("/v1/capabilities", json={"name": "Sales"}, headers=other)).status_code == 201


async def test_validation_errors_name_the_field_and_never_500(client, headers):
    response = await client.post("/v1/skills", json={"name": "", "scale_id": "not-a-uuid"}, headers=headers)
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"body.name", "body.scale_id"} <= fields
    malformed = await client.post(
        "/v1/skills", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert malformed.status_code == 422


async def test_oversized_body_is_a_413_problem(client, headers):
    response = await client.post(
        "/v1/capabilities", json={"name": "x", "description": "y" * 2_000_000}, headers=headers
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


async def test_etag_answers_304_until_the_object_changes(client, headers):
    skill = await make_skill(client, headers)
    first = await client.get(f"/v1/skills/{skill['id']}", headers=headers)
    etag = first.headers["etag"]
    cached = await client.get(f"/v1/skills/{skill['id']}", headers={**headers, "If-None-Match": etag})
    assert cached.status_code == 304
    changed = {**{k: skill[k] for k in ("name", "scale_id")}, "description": "now described"}
    assert (await client.put(f"/v1/skills/{skill['id']}", json=changed, headers=headers)).status_code == 200
    fresh = await client.get(f"/v1/skills/{skill['id']}", headers={**headers, "If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["description"] == "now described"


async def test_cursor_pagination_walks_every_item_once(client, headers):
    for index in range(7):
        await client.post("/v1/capabilities", json={"name": f"cap {index:02d}"}, headers=headers)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/capabilities", params=params, headers=headers)).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"cap {index:02d}" for index in range(7)]
    bad = await client.get("/v1/capabilities", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422


async def test_skill_search_by_name_tag_capability_and_external_id(client, headers):
    capability = (await client.post("/v1/capabilities", json={"name": "Service"}, headers=headers)).json()
    esco = "http://data.europa.eu/esco/skill/a17286c5-238d-4f0b-bc24-29e9121345de"
    await make_skill(
        client,
        headers,
        "Listening",
        tags=["soft"],
        capability_id=capability["id"],
        alignments=[{"framework": "esco", "target_code": esco, "target_url": esco, "target_name": "listen actively"}],
    )
    await make_skill(
        client, headers, "SQL", tags=["hard"], alignments=[{"framework": "onet", "target_code": "2.A.1.a"}]
    )

    async def names(**params):
        response = await client.get("/v1/skills", params=params, headers=headers)
        return [item["name"] for item in response.json()["items"]]

    assert await names(name="listen") == ["Listening"]
    assert await names(tag="hard") == ["SQL"]
    assert await names(capability_id=capability["id"]) == ["Listening"]
    assert await names(external_id=esco) == ["Listening"]
    assert await names(external_id="2.A.1.a") == ["SQL"]
    assert await names(tag="soft", name="sql") == []


async def test_referenced_objects_cannot_be_deleted(client, headers):
    skill = await make_skill(client, headers)
    await client.post(
        "/v1/roles", json={"name": "R", "requirements": [{"skill_id": skill["id"], "level": 1}]}, headers=headers
    )
    refused = await client.delete(f"/v1/skills/{skill['id']}", headers=headers)
    assert refused.status_code == 409
    assert (await client.get(f"/v1/skills/{skill['id']}", headers=headers)).status_code == 200
    capability = (await client.post("/v1/capabilities", json={"name": "Spare"}, headers=headers)).json()
    assert (await client.delete(f"/v1/capabilities/{capability['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/v1/capabilities/{capability['id']}", headers=headers)).status_code == 404


async def test_idempotency_key_replays_the_first_response_and_refuses_a_different_body(client, headers):
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/capabilities", json={"name": "Once"}, headers=keyed)
    second = await client.post("/v1/capabilities", json={"name": "Once"}, headers=keyed)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replay"] == "true"
    listed = (await client.get("/v1/capabilities", params={"name": "once"}, headers=headers)).json()["items"]
    assert len(listed) == 1
    different = await client.post("/v1/capabilities", json={"name": "Other"}, headers=keyed)
    assert different.status_code == 422


async def test_achievement_levels_are_checked_and_described(client, headers):
    skill = await make_skill(client, headers)
    body = {
        "name": "Negotiator",
        "criteria_narrative": "Close a mock deal.",
        "tier": "Intermediate",
        "skills": [{"skill_id": skill["id"], "level": 3}],
        "result_description": {
            "kind": "rubric",
            "rubric_levels": [{"id": "basic", "name": "Basic"}, {"id": "good", "name": "Good"}],
            "required_level": "good",
        },
        "kpi_anchors": [
            {"metric": "win-rate", "direction": "increase", "expected_uplift_low": 7, "expected_uplift_high": 11}
        ],
    }
    created = await client.post("/v1/achievements", json=body, headers=headers)
    assert created.status_code == 201, created.text
    achievement = created.json()
    assert achievement["tier"] == "intermediate"
    assert achievement["skills"][0]["level_name"] == "L3"
    assert achievement["public_url"].endswith(f"/v1/public/achievements/{achievement['id']}")
    wrong = {**body, "name": "Other", "skills": [{"skill_id": skill["id"], "level": 0}]}
    assert (await client.post("/v1/achievements", json=wrong, headers=headers)).status_code == 422
    bad_rubric = {
        **body,
        "name": "Third",
        "result_description": {"kind": "rubric", "rubric_levels": [{"id": "a", "name": "A"}], "required_level": "zzz"},
    }
    assert (await client.post("/v1/achievements", json=bad_rubric, headers=headers)).status_code == 422


async def test_reading_needs_the_read_scope_and_writing_the_write_scope(client, org, bearer):
    reader = bearer(org, "taxonomy:read")
    assert (await client.get("/v1/skills", headers=reader)).status_code == 200
    refused = await client.post("/v1/capabilities", json={"name": "x"}, headers=reader)
    assert refused.status_code == 403
    assert "taxonomy:write" in refused.json()["detail"]
    assert (await client.get("/v1/skills", headers=bearer(org, "gaps:read"))).status_code == 403


async def test_achievement_tag_filter_is_exact_and_pages_fully(client, headers, demo):
    for index in range(3):
        body = {
            "name": f"Tagged {index}",
            "criteria_narrative": "x",
            "tier": "foundational",
            "result_description": {"kind": "score", "pass_mark": 1, "max_score": 2},
            "tags": ["sales"] if index < 2 else ["sales-ops"],
        }
        assert (await client.post("/v1/achievements", json=body, headers=headers)).status_code == 201
    page = (await client.get("/v1/achievements", params={"tag": "sales", "limit": 1}, headers=headers)).json()
    assert [item["name"] for item in page["items"]] == ["Tagged 0"] and page["next_cursor"]
    rest = await client.get("/v1/achievements", params={"tag": "sales", "cursor": page["next_cursor"]}, headers=headers)
    assert [item["name"] for item in rest.json()["items"]] == ["Tagged 1"]


async def test_removing_a_scale_level_in_use_is_refused(client, headers):
    skill = await make_skill(client, headers)
    await client.post(
        "/v1/roles", json={"name": "Uses L5", "requirements": [{"skill_id": skill["id"], "level": 5}]}, headers=headers
    )
    scale = (await client.get(f"/v1/scales/{skill['scale_id']}", headers=headers)).json()
    narrowed = {"name": scale["name"], "levels": scale["levels"][:4]}
    refused = await client.put(f"/v1/scales/{skill['scale_id']}", json=narrowed, headers=headers)
    assert refused.status_code == 409 and refused.json()["levels"] == [5]
    renamed = {"name": scale["name"], "levels": [{**level, "name": level["name"] + "!"} for level in scale["levels"]]}
    assert (await client.put(f"/v1/scales/{skill['scale_id']}", json=renamed, headers=headers)).status_code == 200


async def test_a_refused_delete_names_what_still_refers_to_the_object(client, headers):
    """Issue 15: the 409 did not say what used the skill, so the user could not remove those references."""
    skill = await make_skill(client, headers)
    role = await client.post(
        "/v1/roles", json={"name": "Agent", "requirements": [{"skill_id": skill["id"], "level": 1}]}, headers=headers
    )
    achievement = await client.post(
        "/v1/achievements",
        json={
            "name": "Listener",
            "criteria_narrative": "Listen.",
            "tier": "foundational",
            "skills": [{"skill_id": skill["id"], "level": 1}],
            "result_description": {"kind": "score", "pass_mark": 70, "max_score": 100},
        },
        headers=headers,
    )
    assert role.status_code == achievement.status_code == 201, (role.text, achievement.text)
    refused = await client.delete(f"/v1/skills/{skill['id']}", headers=headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert sorted((r["kind"], r["id"], r["name"]) for r in problem["referenced_by"]) == [
        ("achievement", achievement.json()["id"], "Listener"),
        ("role", role.json()["id"], "Agent"),
    ]
    assert "Agent" in problem["detail"] and "Listener" in problem["detail"]


async def test_summaries_and_messages_built_from_a_noun_use_the_right_article(client, headers):
    """Issue 15: "Create a achievement" in the OpenAPI document, from summaries built off the noun."""
    document = (await client.get("/openapi.json")).json()
    texts = [
        text
        for operations in document["paths"].values()
        for operation in operations.values()
        for text in (operation.get("summary", ""), operation.get("description", ""))
    ]
    assert "Create an achievement" in texts
    assert [text for text in texts if re.search(r"\b[Aa] (?!user|uni)[aeiouAEIOU]", text)] == []
    skill = await make_skill(client, headers)
    body = {
        "name": "Twice",
        "criteria_narrative": "Listen.",
        "tier": "foundational",
        "skills": [{"skill_id": skill["id"], "level": 1}],
        "result_description": {"kind": "score", "pass_mark": 70, "max_score": 100},
    }
    assert (await client.post("/v1/achievements", json=body, headers=headers)).status_code == 201
    again = await client.post("/v1/achievements", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["detail"].startswith("An achievement named"), again.text


async def test_the_uploads_path_is_not_read_as_an_import_job(client, headers):
    """GET /v1/imports/uploads was taken for the job "uploads" (a 422 about a malformed id); it is a
    method the uploads route does not serve."""
    response = await client.get("/v1/imports/uploads", headers=headers)
    assert response.status_code == 405 and response.headers["allow"] == "POST"


async def test_no_identity_provider_is_a_documented_404(client, headers):
    for method in ("GET", "DELETE"):
        response = await client.request(method, "/v1/identity-provider", headers=headers)
        assert response.status_code == 404
        document = (await client.get("/openapi.json")).json()
        assert "404" in document["paths"]["/v1/identity-provider"][method.lower()]["responses"]
