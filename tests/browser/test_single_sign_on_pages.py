"""Single sign-on in a real browser: from the sign-in page through the organisation's provider (the
stub on loopback) and back, signed in where the person was going, with no CSP report on the way (the
departure page, not a redirect, is what lets the sign-in page's form-action stay strict)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from shared.auth import TokenAuthority, load_or_create_private_key
from tests.browser.conftest import serious_accessibility_violations
from tests.live_platform import free_port, serving
from tests.taxonomy_api.oidc_provider import StubOpenIDProvider, provider_app


@pytest.fixture(scope="module")
def provider(live, auth_key_file: Path) -> Iterator[StubOpenIDProvider]:  # noqa: ANN001
    """The stub provider, configured through the API as the live organisation's."""
    stub = StubOpenIDProvider(clients={"browser-client": "browser client secret"})
    port = free_port()
    stub.issuer = f"http://127.0.0.1:{port}"
    authority = TokenAuthority(
        load_or_create_private_key(auth_key_file, create=False),
        issuer="credstack",
        audience="credstack",
        ttl_seconds=900,
    )
    admin = authority.issue(org_id=live.org_id, client_id="browser-admin", scopes=frozenset({"admin"}))
    with serving(provider_app(stub), port):
        configured = httpx.put(
            f"{live.taxonomy}/v1/identity-provider",
            json={"issuer": stub.issuer, "client_id": "browser-client", "client_secret": "browser client secret"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert configured.status_code == 200, configured.text
        yield stub


def test_a_person_signs_in_through_their_organisations_provider(page, live, provider):
    provider.email = live.emails["manager"]
    page.goto(f"{live.taxonomy}/sign-in?next={live.issuer}/")
    page.get_by_role("link", name="Use your organisation's identity provider").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in through your organisation")
    assert serious_accessibility_violations(page) == []
    page.get_by_label("Work email").fill(live.emails["manager"])
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live.issuer}/")
    expect(page.locator(".account")).to_contain_text("(manager)")
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_person_the_provider_cannot_vouch_for_is_told_why(page, live, provider):
    provider.email = "someone.else@example.com"
    page.goto(f"{live.taxonomy}/sign-in/sso")
    page.get_by_label("Work email").fill(live.emails["employee"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("no active CredStack account for someone.else@example.com")
    assert serious_accessibility_violations(page) == []
