"""The public achievement JSON is a valid Open Badges 3.0 Achievement (1EdTech's own schema)."""

import json

import jsonschema

from tests.material import SHARED_DIR

SHARED = SHARED_DIR
SCHEMA = SHARED / "ob3" / "schema" / "ob_v3p0_achievementcredential_schema.json"


def achievement_validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(SCHEMA.read_text())
    achievement_schema = {**schema["$defs"]["Achievement"], "$defs": schema["$defs"]}
    return jsonschema.Draft201909Validator(achievement_schema)


async def test_public_achievement_validates_against_the_1edtech_schema(client, demo):
    badge = demo["badge:Active listening"]
    response = await client.get(f"/v1/public/achievements/{badge}")
    assert response.status_code == 200
    document = response.json()
    errors = [f"{list(e.path)}: {e.message}" for e in achievement_validator().iter_errors(document)]
    assert errors == []
    assert document["id"].endswith(f"/v1/public/achievements/{badge}")
    frameworks = {alignment["targetFramework"] for alignment in document["alignment"]}
    assert frameworks == {"CredStack", "ESCO"}
    assert document["resultDescription"][0]["requiredValue"] == "70"
    skill_url = document["alignment"][0]["targetUrl"].replace("http://127.0.0.1:8001", "")
    assert (await client.get(skill_url)).json()["name"] == "Active listening"


async def test_the_schema_check_can_fail(client, demo):
    document = (await client.get(f"/v1/public/achievements/{demo['badge:Active listening']}")).json()
    del document["criteria"]
    assert list(achievement_validator().iter_errors(document))


async def test_rubric_results_become_rubric_criterion_levels(client, headers, demo):
    body = {
        "name": "Rubric badge",
        "criteria_narrative": "Observed.",
        "tier": "advanced",
        "skills": [{"skill_id": str(demo["Strategic storytelling"]), "level": 3}],
        "result_description": {
            "kind": "rubric",
            "required_level": "b",
            "rubric_levels": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        },
    }
    created = (await client.post("/v1/achievements", json=body, headers=headers)).json()
    document = (await client.get(f"/v1/public/achievements/{created['id']}")).json()
    assert list(achievement_validator().iter_errors(document)) == []
    result = document["resultDescription"][0]
    assert result["resultType"] == "RubricCriterionLevel"
    assert result["requiredLevel"] == result["rubricCriterionLevel"][1]["id"]


async def test_unknown_public_achievement_is_a_404_problem(client):
    response = await client.get("/v1/public/achievements/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
