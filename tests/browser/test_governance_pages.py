"""An analyst opens the taxonomy's versions: a submitted draft awaiting review, what is overdue, and
what the draft has changed since, on accessible pages. (Nothing is published here: the other browser
tests share this organisation and expect it ungoverned.)"""

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import serious_accessibility_violations, sign_in


def test_an_analyst_reads_the_versions_the_overdue_reviews_and_the_changes(page, live):
    with httpx.Client(headers=live.api_headers, timeout=20.0) as http:
        skill_id = str(live.demo["Active listening"])
        skill = http.get(f"{live.taxonomy}/v1/skills/{skill_id}").json()
        due = {k: skill[k] for k in ("name", "description", "scale_id", "capability_id", "tags", "alignments")}
        due |= {"owner": "Communication council", "review_by": "2026-03-31"}
        assert http.put(f"{live.taxonomy}/v1/skills/{skill_id}", json=due).status_code == 200
        version = http.post(f"{live.taxonomy}/v1/versions/draft/submit", json={"title": "Spring council"})
        assert version.status_code == 201, version.text
        changed = {**due, "description": "Listens, checks understanding, asks good questions."}
        assert http.put(f"{live.taxonomy}/v1/skills/{skill_id}", json=changed).status_code == 200

    sign_in(page, live, "analyst", next_url=f"{live.taxonomy}/taxonomy/versions")
    page.goto(f"{live.taxonomy}/taxonomy/versions")
    row = page.get_by_test_id("version").filter(has_text="Spring council")
    expect(row.get_by_test_id("version-status")).to_have_text("in review")
    expect(page.get_by_test_id("overdue-item").filter(has_text="Active listening")).to_contain_text(
        "Communication council"
    )
    assert serious_accessibility_violations(page) == []

    page.goto(f"{live.taxonomy}/taxonomy/versions/{version.json()['id']}/diff/draft")
    expect(page.get_by_test_id("change").filter(has_text="description")).to_contain_text(
        "Listens, checks understanding"
    )
    assert serious_accessibility_violations(page) == []
