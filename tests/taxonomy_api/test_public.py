"""The public achievement JSON is a valid Open Badges 3.0 Achievement (1EdTech's own schema)."""

import html
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


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_a_browser_gets_the_achievement_page_with_the_api_numbers(client, headers, demo):
    badge = demo["badge:Active listening"]
    path = f"/v1/public/achievements/{badge}"
    response = await client.get(path, headers=BROWSER)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in response.headers and response.headers["vary"] == "Accept"
    page = response.text
    definition = (await client.get(f"/v1/achievements/{badge}", headers=headers)).json()
    assert f"<h1>{html.escape(definition['name'])}</h1>" in page
    assert f'<dd data-testid="tier">{definition["tier"].capitalize()}</dd>' in page
    assert html.escape(definition["criteria_narrative"]) in page
    assert "A score of at least 70 out of 100." in page
    for skill in definition["skills"]:
        assert html.escape(skill["skill_name"]) in page and html.escape(skill["level_name"]) in page
        assert f'<td class="num" data-testid="skill-level">{skill["level"]}</td>' in page
    (anchor,) = definition["kpi_anchors"]
    assert html.escape(anchor["metric"]) in page
    assert '<td class="num" data-testid="kpi-change">−10 % to −15 %</td>' in page
    assert '<a href="http://data.europa.eu/esco/skill/' in page  # the ESCO alignment links out
    json_default = await client.get(path)
    assert json_default.headers["content-type"] == "application/ld+json" and json_default.json()["id"].endswith(path)
    assert (await client.get(f"{path}?format=json", headers=BROWSER)).json()["name"] == definition["name"]
    missing = await client.get("/v1/public/achievements/00000000-0000-4000-8000-000000000000", headers=BROWSER)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


async def test_markup_in_an_achievement_page_is_text(client, headers):
    body = {
        "name": "<script>alert(1)</script>",
        "description": "<img src=x onerror=alert(2)>",
        "criteria_narrative": "</p><script>steal()</script>",
        "tier": "foundational",
        "result_description": {"kind": "score", "pass_mark": 1, "max_score": 2},
        "kpi_anchors": [{"metric": "<b>x</b>", "direction": "increase", "expected_uplift_low": 3}],
    }
    created = await client.post("/v1/achievements", json=body, headers=headers)
    assert created.status_code == 201, created.text
    page = (await client.get(f"/v1/public/achievements/{created.json()['id']}", headers=BROWSER)).text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "+3 %" in page
