"""An employer checks a candidate's badge: by pasting it, by dropping its baked image, by its link;
and opens the badge's own page. Valid, tampered and revoked badges each get their verdict, and a badge
whose name carries a script shows the script as text."""

import json
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from services.badge_issuer.baking.png import bake_credential
from tests.browser.conftest import create_issuer, issue, serious_accessibility_violations


@pytest.fixture(scope="module")
def issued(live) -> dict:
    """Three credentials of the live issuer: one to keep, one to revoke, one whose badge name is a script."""
    with httpx.Client(headers=live.api_headers, timeout=20.0) as http:
        issuer = create_issuer(http, live, "CredStack Academy")
        hostile = http.post(
            f"{live.taxonomy}/v1/achievements",
            json={
                "name": "<script>window.__pwned = 1</script>Listening",
                "criteria_narrative": '<img src=x onerror="window.__pwned = 2">',
                "tier": "foundational",
                "skills": [{"skill_id": str(live.demo["Active listening"]), "level": 1}],
                "result_description": {"kind": "score", "pass_mark": 1, "max_score": 100},
            },
        )
        assert hostile.status_code == 201, hostile.text

        badge = str(live.demo["badge:Active listening"])
        kept, revoked, scripted = (
            issue(http, live, issuer, achievement, {"hris_id": f"E-{uuid.uuid4().hex[:6]}", "email": "ana@example.com"})
            for achievement in (badge, badge, hostile.json()["id"])
        )
        answer = http.post(f"{live.issuer}/v1/credentials/{revoked['id']}/revoke", json={"reason": "issued in error"})
        assert answer.status_code == 200, answer.text
    return {"kept": kept, "revoked": revoked, "scripted": scripted}


def _paste(page, live, credential: dict) -> None:
    page.goto(f"{live.issuer}/verify")
    page.get_by_label("Credential (its JSON, or a compact VC-JWT)").fill(json.dumps(credential))
    page.get_by_role("button", name="Verify the pasted credential").click()


def test_a_pasted_valid_badge_is_valid_with_every_check_in_words(page, live, issued):
    _paste(page, live, issued["kept"]["credential"])
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(page.get_by_test_id("check-signature")).to_have_attribute("data-outcome", "passed")
    expect(page.get_by_test_id("achievement-name")).to_contain_text("Active listening")
    assert serious_accessibility_violations(page) == []
    assert page.csp_violations == []


def test_a_pasted_badge_with_a_changed_name_is_tampered(page, live, issued):
    tampered = json.loads(json.dumps(issued["kept"]["credential"]))
    tampered["credentialSubject"]["achievement"]["name"] = "Chief Everything Officer"
    _paste(page, live, tampered)
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "tampered")
    expect(page.get_by_test_id("check-signature")).to_have_attribute("data-outcome", "failed")
    assert serious_accessibility_violations(page) == []


def test_a_revoked_badge_is_revoked_by_paste_and_on_its_own_page(page, live, issued):
    _paste(page, live, issued["revoked"]["credential"])
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "revoked")
    page.goto(issued["revoked"]["public_url"])
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "revoked")


def test_a_dropped_baked_image_and_a_link_are_verified_too(page, live, issued, tmp_path):
    public_url = issued["kept"]["public_url"]
    png = tmp_path / "badge.png"
    png.write_bytes(httpx.get(f"{public_url}/baked.png", timeout=10).content)
    page.goto(f"{live.issuer}/verify")
    page.get_by_label("Badge image with the credential baked in (PNG or SVG)").set_input_files(str(png))
    page.get_by_role("button", name="Verify the image").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "valid")
    page.goto(f"{live.issuer}/verify")
    page.get_by_label("Address of the credential (https)").fill(public_url)
    page.get_by_role("button", name="Verify the link").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "valid")
    assert serious_accessibility_violations(page) == []


def test_the_shareable_page_shows_the_badge_a_live_verdict_and_unfurls(page, live, issued):
    response = page.goto(issued["kept"]["public_url"])
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "valid")
    image = page.get_by_test_id("badge-image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    og_image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert og_image.startswith("http://127.0.0.1:") and httpx.get(og_image, timeout=10).status_code == 200
    assert serious_accessibility_violations(page) == []


def test_a_badge_whose_name_is_a_script_renders_it_as_text(page, live, issued):
    page.goto(issued["scripted"]["public_url"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("<script>window.__pwned = 1</script>")
    _paste(page, live, issued["scripted"]["credential"])
    expect(page.get_by_test_id("achievement-name")).to_contain_text("<script>")
    assert page.evaluate("window.__pwned") is None
    assert page.csp_violations == []


def test_the_verify_page_works_on_a_phone(browser, live, issued):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        _paste(phone, live, issued["kept"]["credential"])
        expect(phone.get_by_test_id("verdict")).to_have_attribute("data-verdict", "valid")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.goto(issued["kept"]["public_url"])
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


@pytest.mark.parametrize("held", ["kept", "revoked", "tampered"])
def test_each_verdict_also_comes_from_a_dropped_image(page, live, issued, tmp_path, held):
    """The employer may only have the badge image: the verdict is the same as for the pasted credential."""
    source = issued["revoked" if held == "revoked" else "kept"]
    png = httpx.get(f"{source['public_url']}/baked.png", timeout=10).content
    if held == "tampered":  # someone re-bakes the image with a better achievement name
        tampered = json.loads(json.dumps(source["credential"]))
        tampered["credentialSubject"]["achievement"]["name"] = "Chief Everything Officer"
        png = bake_credential(png, tampered)
    image = tmp_path / f"{held}.png"
    image.write_bytes(png)
    page.goto(f"{live.issuer}/verify")
    page.get_by_label("Badge image with the credential baked in (PNG or SVG)").set_input_files(str(image))
    page.get_by_role("button", name="Verify the image").click()
    expected = {"kept": "valid", "revoked": "revoked", "tampered": "tampered"}[held]
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", expected)


def test_a_revoked_badge_is_revoked_by_its_link_too(page, live, issued):
    page.goto(f"{live.issuer}/verify")
    page.get_by_label("Address of the credential (https)").fill(issued["revoked"]["public_url"])
    page.get_by_role("button", name="Verify the link").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "revoked")
