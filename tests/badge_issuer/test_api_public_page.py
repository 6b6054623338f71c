"""The public credential URL as a page for people: negotiation, escaping, privacy, revocation."""

import html
import json
import re
from datetime import datetime

import httpx
import pytest

from shared.web.negotiation import prefers_html
from tests.badge_issuer.conftest import idempotent

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
PAGE = {"Accept": BROWSER}


async def _issue(client, headers, assessment, **overrides) -> dict:
    response = await client.post("/v1/assessment-results", json=assessment(**overrides), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def _page(client, credential_id: str) -> str:
    response = await client.get(f"/v1/public/credentials/{credential_id}", headers={"Accept": BROWSER})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    return response.text


@pytest.mark.parametrize(
    ("accept", "html_wanted"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("application/ld+json", False),
        ("application/ld+json, text/html", False),  # a tie keeps the default
        ("text/html", True),
        (BROWSER, True),
        ("application/json;q=0.5, text/html", True),
        ("text/html;q=0", False),
        ("text/html;q=0.4, application/ld+json;q=0.9", False),
    ],
)
def test_negotiation_prefers_json_unless_html_ranks_higher(accept, html_wanted):
    assert prefers_html(accept) is html_wanted


@pytest.mark.anyio
async def test_json_stays_the_default_for_programs(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    path = f"/v1/public/credentials/{issued['id']}"
    for accept in ("application/json", "application/ld+json", "*/*"):
        response = await client.get(path, headers={"Accept": accept})
        assert response.headers["content-type"] == "application/ld+json", accept
        assert response.json() == issued["credential"]
    assert (await client.get(f"{path}?format=json", headers={"Accept": BROWSER})).json() == issued["credential"]
    assert (await client.get(f"{path}?format=html")).headers["content-type"].startswith("text/html")
    jwt_issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    token = await client.get(f"/v1/public/credentials/{jwt_issued['id']}", headers={"Accept": "*/*"})
    assert token.headers["content-type"] == "application/vc+jwt" and token.text == jwt_issued["jwt"]


@pytest.mark.anyio
async def test_the_page_shows_the_badge_and_never_the_learners_email_or_hris_id(client, headers, assessment, issuer):
    issued = await _issue(client, headers, assessment)
    page = await _page(client, issued["id"])
    achievement = issued["credential"]["credentialSubject"]["achievement"]
    assert f"<h1>{html.escape(achievement['name'])}</h1>" in page
    assert html.escape(issuer["name"]) in page and 'href="https://academy.credstack.example/"' in page
    assert 'data-testid="verdict" data-verdict="valid"' in page
    assert html.escape(achievement["criteria"]["narrative"]) in page
    for alignment in achievement["alignment"]:
        assert html.escape(alignment["targetName"]) in page
    valid_from = datetime.fromisoformat(issued["credential"]["validFrom"].replace("Z", "+00:00"))
    assert f'<dd data-testid="issued-on">{valid_from.day} {valid_from:%B %Y}</dd>' in page
    for suffix in ("?format=json", "/baked.png", "/baked.svg"):
        link = f'href="/v1/public/credentials/{issued["id"]}{suffix}"'
        assert link in page
    for private in ("ada@example.com", "E-1001", "sha256$"):
        assert private not in page
    assert '<html lang="en">' in page and '<main id="main"' in page
    for href in re.findall(r'href="([^"]+)"', page):
        target = await client.get(html.unescape(href)) if href.startswith("/") else None
        assert target is None or target.status_code == 200, href


@pytest.mark.anyio
async def test_a_revoked_credential_is_shown_revoked(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    revoked = await client.post(f"/v1/credentials/{issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers)
    assert revoked.status_code == 200, revoked.text
    page = await _page(client, issued["id"])
    assert 'data-verdict="revoked"' in page and 'data-verdict="valid"' not in page
    assert "withdrawn" not in page  # the reason is the organisation's, not the public's


@pytest.mark.anyio
async def test_markup_in_an_achievement_is_escaped(client, headers, assessment, issuer, taxonomy_app):
    """On the credential's page and on the verify page it is pasted into: text, never markup."""
    hostile = {
        "name": "<script>alert(1)</script> & Co",
        "description": "<img src=x onerror=alert(1)>",
        "criteria_narrative": "Pass </p><script>steal()</script>",
        "tier": "foundational",
        "result_description": {"kind": "score", "pass_mark": 50, "max_score": 100},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://t") as taxonomy:
        created = await taxonomy.post("/v1/achievements", json=hostile, headers=headers)
        assert created.status_code == 201, created.text
    issued = await _issue(client, headers, assessment, achievement_id=created.json()["id"], score=80)
    pasted = await client.post("/verify", data={"credential": json.dumps(issued["credential"])}, headers=PAGE)
    assert pasted.status_code == 200 and 'data-verdict="valid"' in pasted.text
    for page in (await _page(client, issued["id"]), pasted.text):
        assert "<script>" not in page and "<img src=x" not in page and "steal()</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_only_http_links_are_made_from_credential_content():
    from services.badge_issuer.domain.credential_page import describe_credential

    document = {
        "id": "urn:uuid:1",
        "issuer": {"id": "did:key:z6Mk", "name": "Evil", "url": "javascript:alert(1)"},
        "validFrom": "2026-02-01T00:00:00Z",
        "evidence": [{"id": "javascript:alert(3)", "name": "E"}, {"id": "https://lms.example/1", "name": "F"}],
        "credentialSubject": {
            "achievement": {"name": "X", "alignment": [{"targetName": "Y", "targetUrl": "javascript:alert(2)"}]}
        },
    }
    view = describe_credential(document)
    assert view.issuer_url is None and view.skills[0].url is None
    assert [item.url for item in view.evidence] == [None, "https://lms.example/1"]
    assert view.issued_on == "1 February 2026"
