"""The credential's shareable page and the issuer's page: a live verification (the API's verdict),
the badge image, downloads, link previews with absolute URLs, and HTML 404s for browsers."""

import html
import re
import uuid

import pytest

from services.badge_issuer.domain.verdicts import verdict_of
from shared.schemas.issuer import VerificationOut
from tests.badge_issuer.conftest import ISSUER_BASE_URL
from tests.badge_issuer.test_pages_verify import PAGE, _issue, verdict_on

pytestmark = pytest.mark.anyio


def meta(page: str, name: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', page)
    assert match, f"no {name} meta tag"
    return html.unescape(match.group(1))


async def test_the_page_verifies_the_stored_credential_as_the_api_does(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    path = f"/v1/public/credentials/{issued['id']}"
    page = (await client.get(path, headers=PAGE)).text
    api = VerificationOut.model_validate((await client.post("/v1/verify", json=issued["credential"])).json())
    assert verdict_on(page) == verdict_of(api).kind == "valid"
    for check in api.checks:
        assert f'data-testid="check-{check.check}" data-outcome="{check.outcome}"' in page
    await client.post(f"/v1/credentials/{issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers)
    assert verdict_on((await client.get(path, headers=PAGE)).text) == "revoked"


async def test_badge_image_downloads_and_link_previews(client, headers, assessment):
    issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    path = f"/v1/public/credentials/{issued['id']}"
    response = await client.get(path, headers=PAGE)
    assert response.status_code == 200 and "content-security-policy" in response.headers
    assert response.headers["vary"] == "Accept"
    page = response.text
    name = issued["credential"]["credentialSubject"]["achievement"]["name"]
    assert f'<img class="badge-image" src="{path}/baked.png" alt="Badge image for {html.escape(name)}"' in page
    assert meta(page, "og:title") == name
    assert meta(page, "og:url") == f"{ISSUER_BASE_URL}{path}"
    assert meta(page, "og:image") == f"{ISSUER_BASE_URL}{path}/baked.png"
    assert meta(page, "twitter:card") == "summary" and name in meta(page, "og:description")
    assert re.match(r"https?://", meta(page, "og:image"))
    downloads = {
        f"{path}/baked.png": "image/png",
        f"{path}/baked.svg": "image/svg+xml",
        f"{path}?format=jwt": "application/vc+jwt",
        f"{path}?format=json": "application/ld+json",
    }
    for href, media_type in downloads.items():
        assert f'href="{html.escape(href)}"' in page, href
        got = await client.get(href, headers=PAGE)
        assert got.status_code == 200 and got.headers["content-type"].startswith(media_type), href
    assert (await client.get(f"{path}?format=jwt")).text == issued["jwt"]
    assert (await client.get(f"{path}?format=json")).json() == issued["credential"]
    assert "Verify it elsewhere" in page and f'data-copy="{ISSUER_BASE_URL}{path}"' in page


async def test_a_data_integrity_credential_has_no_jwt_download(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    path = f"/v1/public/credentials/{issued['id']}"
    assert "?format=jwt" not in (await client.get(path, headers=PAGE)).text
    assert (await client.get(f"{path}?format=jwt")).status_code == 404


async def test_an_unknown_credential_is_an_html_404_for_a_browser_and_json_for_programs(client):
    path = f"/v1/public/credentials/{uuid.uuid4()}"
    browser = await client.get(path, headers=PAGE)
    assert browser.status_code == 404 and browser.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in browser.text and "content-security-policy" in browser.headers
    program = await client.get(path)
    assert program.status_code == 404 and program.headers["content-type"] == "application/problem+json"


async def test_the_issuer_page(client, headers, assessment, issuer):
    issued = await _issue(client, headers, assessment)
    path = f"/v1/public/issuers/{issuer['id']}"
    response = await client.get(path, headers=PAGE)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f"<h1>{html.escape(issuer['name'])}</h1>" in page and html.escape(issuer["did"]) in page
    assert '<a href="https://academy.credstack.example/">' in page
    for key in issuer["keys"]:
        assert html.escape(key["kid"]) in page
    achievement = issued["credential"]["credentialSubject"]["achievement"]
    assert f'<a href="{html.escape(achievement["id"])}">{html.escape(achievement["name"])}</a>' in page
    credential_page = (await client.get(f"/v1/public/credentials/{issued['id']}", headers=PAGE)).text
    assert f'href="{path}"' in credential_page  # the credential page leads to its issuer
    program = await client.get(path)
    assert program.headers["content-type"] == "application/ld+json" and program.json()["id"] == issuer["did"]
    assert (await client.get(f"{path}?format=json", headers=PAGE)).json()["id"] == issuer["did"]
    for href in re.findall(r'href="(/[^"]*)"', page):
        assert (await client.get(html.unescape(href))).status_code == 200, href
    missing = await client.get(f"/v1/public/issuers/{uuid.uuid4()}", headers=PAGE)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
