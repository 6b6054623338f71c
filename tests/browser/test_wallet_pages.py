"""An employee signs in, sees their own badges and how far along each pathway they are, shares their
wallet by a link a recruiter opens without an account, and downloads everything."""

import json

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import create_issuer, issue, serious_accessibility_violations, sign_in

EMPLOYEE = "E-100"  # the browser conftest's employee user


@pytest.fixture(scope="module")
def holdings(live) -> dict:
    """The employee holds the first step of the Communication pathway; a colleague holds another badge."""
    with httpx.Client(headers=live.api_headers, timeout=20.0) as http:
        issuer = create_issuer(http, live, "Wallet Academy")
        pathways = http.get(f"{live.taxonomy}/v1/pathways").json()["items"]
        pathway = next(p for p in pathways if p["steps"])
        first_step = pathway["steps"][0]["achievement_id"]

        own = issue(http, live, issuer, first_step, {"hris_id": EMPLOYEE})
        colleague = issue(http, live, issuer, str(live.demo["badge:Active listening"]), {"hris_id": "E-200"})
        held = http.get(f"{live.taxonomy}/v1/pathways/{pathway['id']}/progress", params={"held": first_step}).json()
    return {"own": own, "colleague": colleague, "pathway": pathway, "progress": held}


def test_an_employee_sees_their_own_badges_and_pathway_progress(page, live, holdings):
    sign_in(page, live, "employee")
    expect(page).to_have_url(f"{live.issuer}/wallet")  # an employee lands on their wallet
    cards = page.get_by_test_id("wallet-credential")
    expect(cards).to_have_count(1)
    assert cards.first.get_attribute("data-credential-id") == holdings["own"]["id"]
    expect(page.locator(f'[data-credential-id="{holdings["colleague"]["id"]}"]')).to_have_count(0)
    pathway = page.locator(f'[data-testid="pathway"][data-pathway-id="{holdings["pathway"]["id"]}"]')
    expect(pathway.get_by_test_id("pathway-held-count")).to_have_text("1")
    expect(pathway.get_by_test_id("pathway-step-count")).to_have_text(str(len(holdings["pathway"]["steps"])))
    assert serious_accessibility_violations(page) == []


def test_a_shared_wallet_link_opens_without_an_account_and_the_export_holds_the_badges(page, live, holdings, browser):
    sign_in(page, live, "employee")
    page.get_by_label("Valid for (days, 1 to 90)").fill("7")
    page.get_by_role("button", name="Create a wallet link").click()
    url = page.get_by_test_id("wallet-link-url").input_value()
    assert url.startswith(f"{live.issuer}/wallet/shared/")
    with page.expect_download() as download:
        page.goto(f"{live.issuer}/wallet")
        page.get_by_role("link", name="Download all credentials").click()
    exported = json.loads(download.value.path().read_text())
    assert "VerifiablePresentation" in exported["type"]
    assert len(exported["verifiableCredential"]) == 1
    recruiter = browser.new_context()  # no cookies: not signed in
    try:
        shared = recruiter.new_page()
        shared.goto(url)
        expect(shared.get_by_test_id("shared-notice")).to_be_visible()
        expect(shared.get_by_test_id("wallet-credential")).to_have_count(1)
        expect(shared.locator("form[action='/wallet/links']")).to_have_count(0)
        assert serious_accessibility_violations(shared) == []
    finally:
        recruiter.close()


def test_the_wallet_needs_a_sign_in(page, live):
    page.goto(f"{live.issuer}/wallet")
    expect(page).to_have_url(
        f"{live.taxonomy}/sign-in?next={live.issuer.replace(':', '%3A').replace('/', '%2F')}%2Fwallet"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
