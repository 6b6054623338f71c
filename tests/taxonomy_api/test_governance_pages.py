"""The governance pages for people: versions with their reviews, what is overdue, what changed."""

import pytest

from tests.taxonomy_api.test_sign_in import _sign_in
from tests.taxonomy_api.test_versions import _publish, _skill_and_role

pytestmark = pytest.mark.anyio
HTML = {"accept": "text/html"}


async def test_keepers_see_versions_reviews_overdue_items_and_changes(client, add_person, as_client) -> None:
    author, reviewer = as_client("hr-author"), as_client("council-chair")
    skill, role = await _skill_and_role(client, author)
    first = await _publish(client, author, [reviewer], "Q1 council")
    changed = {"name": "Buyer", "requirements": [{"skill_id": skill["id"], "level": 4}]}
    assert (await client.put(f"/v1/roles/{role['id']}", json=changed, headers=author)).status_code == 200

    await _sign_in(client, await add_person("analyst"))
    page = await client.get("/taxonomy/versions", headers=HTML)
    assert page.status_code == 200, page.text
    assert "Q1 council" in page.text and "council-chair: approve" in page.text and "published" in page.text
    assert "Negotiation" in page.text and "Sales council" in page.text  # overdue since 2026-01-31
    diff = await client.get(f"/taxonomy/versions/{first['id']}/diff/draft", headers=HTML)
    assert diff.status_code == 200
    assert "requirements[Negotiation].level" in diff.text and "Buyer" in diff.text


async def test_the_page_shows_a_draft_in_review_before_anything_is_published(client, add_person, as_client) -> None:
    author = as_client("hr-author")
    await _skill_and_role(client, author)
    version = (await client.post("/v1/versions/draft/submit", json={"title": "First council"}, headers=author)).json()
    await client.post("/v1/capabilities", json={"name": "Later"}, headers=author)
    await _sign_in(client, await add_person("admin"))
    page = await client.get("/taxonomy/versions", headers=HTML)
    assert page.status_code == 200, page.text
    assert "First council" in page.text and "in review" in page.text and "draft-diff" not in page.text
    diff = await client.get(f"/taxonomy/versions/{version['id']}/diff/draft", headers=HTML)
    assert diff.status_code == 200 and "Later" in diff.text


async def test_employees_do_not_see_the_governance_pages(client, add_person) -> None:
    anonymous = await client.get("/taxonomy/versions", headers=HTML)
    assert anonymous.status_code in (303, 401)
    await _sign_in(client, await add_person("employee", hris_id="E-1"))
    assert (await client.get("/taxonomy/versions", headers=HTML)).status_code == 403
