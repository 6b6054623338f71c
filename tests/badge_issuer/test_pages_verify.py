"""The verify page (public, no account): paste, upload or link a badge and read one verdict with every
check; the same verdict as the JSON API's answer; bounded, escaped, rate limited, framed by the CSP."""

import copy
import html
import json
import re
import uuid

import jwt as pyjwt
import pytest

from services.badge_issuer.domain.verdicts import verdict_of
from services.badge_issuer.proofs import data_integrity, keys
from shared.rate_limit import SharedWindowLimiter
from shared.schemas.issuer import VerificationOut
from tests.badge_issuer.conftest import ISSUER_BASE_URL, idempotent
from tests.badge_issuer.test_verify_remote import RemoteIssuer
from tests.material import SHARED_DIR

pytestmark = pytest.mark.anyio

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PAGE = {"Accept": BROWSER}


def verdict_on(page: str) -> str:
    match = re.search(r'data-testid="verdict" data-verdict="([a-z_]+)"', page)
    assert match, "no verdict on the page"
    return match.group(1)


def outcome_on(page: str, check: str) -> str:
    match = re.search(rf'data-testid="check-{check}" data-outcome="([a-z]+)"', page)
    assert match, f"no {check} check on the page"
    return match.group(1)


async def _issue(client, headers, assessment, **overrides) -> dict:
    response = await client.post("/v1/assessment-results", json=assessment(**overrides), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def _paste(client, text: str, status: int = 200) -> str:
    response = await client.post("/verify", data={"credential": text}, headers=PAGE)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def _api_verdict(client, body: dict) -> str:
    answer = await client.post("/v1/verify", json=body)
    return verdict_of(VerificationOut.model_validate(answer.json())).kind


def _expired_example() -> dict:
    """1EdTech's simple example, re-signed by a did:key issuer, expired in 2020."""
    example = json.loads((SHARED_DIR / "ob3" / "examples" / "simple.json").read_text())
    unsigned = {key: value for key, value in example.items() if key not in ("proof", "credentialStatus")}
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    issuer = unsigned["issuer"]
    unsigned["issuer"] = {**issuer, "id": did} if isinstance(issuer, dict) else did
    unsigned["validUntil"] = "2020-01-01T00:00:00Z"
    return data_integrity.sign(unsigned, private_key, keys.did_key_verification_method(did))


# --- the page itself --------------------------------------------------------------------------------


async def test_the_page_is_public_labelled_and_under_the_strict_csp(client):
    response = await client.get("/verify", headers=PAGE)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page = response.text
    for field in ("credential", "file", "url"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert 'enctype="multipart/form-data"' in page and 'data-drop-target="file"' in page
    assert "style=" not in page and "<script>" not in page
    landing = await client.get("/", headers=PAGE)
    assert 'href="/verify"' in landing.text and "Verify a badge" in landing.text


async def test_the_api_address_in_a_browser_leads_to_the_page(client):
    browser = await client.get("/v1/verify", headers=PAGE)
    assert browser.status_code == 303 and browser.headers["location"] == "/verify"
    program = await client.get("/v1/verify", headers={"Accept": "application/json"})
    assert program.status_code == 405 and program.headers["allow"] == "POST"
    assert program.headers["content-type"] == "application/problem+json"


# --- one verdict per kind of badge ------------------------------------------------------------------


async def test_a_pasted_valid_credential_and_jwt(client, headers, assessment, issuer):
    issued = await _issue(client, headers, assessment)
    page = await _paste(client, json.dumps(issued["credential"]))
    assert verdict_on(page) == "valid" and 'Verdict:</span> <span data-testid="verdict-title">Valid' in page
    for check in ("format", "signature", "issuer", "schema", "validity_window", "status"):
        assert outcome_on(page, check) == "passed"
    achievement = issued["credential"]["credentialSubject"]["achievement"]
    assert html.escape(achievement["name"]) in page and html.escape(issuer["name"]) in page
    for alignment in achievement["alignment"]:
        assert html.escape(alignment["targetName"]) in page
    assert "Certified at level" in page  # the level each skill is certified at
    assert '<a href="https://lms.example/attempts/4711">' in page  # evidence, an http(s) link
    assert '<details class="raw"' in page and html.escape(issued["credential"]["id"]) in page
    jwt_issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    jwt_page = await _paste(client, f"  {jwt_issued['jwt']}\n")
    assert verdict_on(jwt_page) == "valid" and jwt_issued["jwt"] in jwt_page


async def test_a_tampered_credential(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    page = await _paste(client, json.dumps(tampered))
    assert verdict_on(page) == "tampered" and "Tampered or forged" in page
    assert outcome_on(page, "signature") == "failed" and "invalid_signature" in page
    assert await _api_verdict(client, tampered) == "tampered"


async def test_a_revoked_credential(client, headers, assessment):
    issued = await _issue(client, headers, assessment)
    await client.post(f"/v1/credentials/{issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers)
    page = await _paste(client, json.dumps(issued["credential"]))
    assert verdict_on(page) == "revoked" and "Revoked" in page
    assert outcome_on(page, "status") == "failed" and outcome_on(page, "signature") == "passed"
    assert await _api_verdict(client, issued["credential"]) == "revoked"


async def test_an_expired_credential(client):
    expired = _expired_example()
    page = await _paste(client, json.dumps(expired))
    assert verdict_on(page) == "expired" and "Expired" in page
    assert outcome_on(page, "validity_window") == "failed" and "2020-01-01T00:00:00Z" in page
    assert await _api_verdict(client, expired) == "expired"


async def test_a_key_nobody_vouches_for_is_issuer_not_proved(client, sample_credential):
    credential = sample_credential
    private_key = keys.generate_private_key()
    jwk = {k: v for k, v in keys.public_jwk(private_key.public_key()).items() if k != "kid"}
    token = pyjwt.encode(credential, private_key, algorithm="EdDSA", headers={"jwk": jwk, "typ": "vc+jwt"})
    page = await _paste(client, token)
    assert verdict_on(page) == "issuer_unbound" and "Issuer not proved" in page
    assert outcome_on(page, "issuer") == "warning"


async def test_a_third_party_badge_whose_key_cannot_be_reached_could_not_be_checked(
    client, remote_web, sample_credential
):
    remote = RemoteIssuer(remote_web, "did:web:badges.unreachable.example")  # its DID document is not served
    sample_credential["issuer"]["id"] = remote.did
    page = await _paste(client, json.dumps(remote.sign(sample_credential)))
    assert verdict_on(page) == "unchecked" and "Could not check" in page
    assert "key_unreachable" in page


async def test_something_that_is_not_a_credential(client):
    page = await _paste(client, '{"hello": "world"}')
    assert verdict_on(page) == "invalid" and "Not a readable credential" in page


# --- images and links --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "media_type"), [("png", "image/png"), ("svg", "image/svg+xml")])
async def test_an_uploaded_baked_image(client, headers, assessment, kind, media_type):
    issued = await _issue(client, headers, assessment)
    image = (await client.get(f"/v1/public/credentials/{issued['id']}/baked.{kind}")).content
    response = await client.post("/verify", files={"file": (f"badge.{kind}", image, media_type)}, headers=PAGE)
    assert response.status_code == 200, response.text
    assert verdict_on(response.text) == "valid"


async def test_an_image_that_is_not_a_badge_is_answered_on_the_page(client):
    response = await client.post("/verify", files={"file": ("x.png", b"not an image", "image/png")}, headers=PAGE)
    assert response.status_code == 422 and 'data-testid="input-error"' in response.text
    assert 'data-testid="verdict"' not in response.text


async def test_the_link_of_one_of_our_credentials_is_read_from_the_database(client, headers, assessment, remote_web):
    issued = await _issue(client, headers, assessment, proof_format="vc-jwt")
    link = f"{ISSUER_BASE_URL}/v1/public/credentials/{issued['id']}"
    response = await client.post("/verify", data={"url": link}, headers=PAGE)
    assert response.status_code == 200 and verdict_on(response.text) == "valid"
    assert remote_web.requests == []  # nothing fetched: not even from ourselves
    missing = await client.post(
        "/verify", data={"url": f"{ISSUER_BASE_URL}/v1/public/credentials/{'0' * 8}-0000-4000-8000-{'0' * 12}"}
    )
    assert missing.status_code == 404 and 'data-testid="input-error"' in missing.text


async def test_a_third_party_link_is_fetched_through_the_guarded_fetcher(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web)
    remote.publish()
    sample_credential["issuer"]["id"] = remote.did
    remote_web.serve("https://badges.remote.example/c/1.json", remote.sign(sample_credential))
    response = await client.post("/verify", data={"url": "https://badges.remote.example/c/1.json"}, headers=PAGE)
    assert response.status_code == 200 and verdict_on(response.text) == "valid"
    private = await client.post("/verify", data={"url": "https://127.0.0.1/c/1.json"}, headers=PAGE)
    assert private.status_code == 422 and "loopback" in private.text


# --- hostile and oversized input ---------------------------------------------------------------------


async def test_a_paste_over_the_bound_is_a_readable_413_and_bad_json_a_422(client, issuer_app):
    bound = issuer_app.state.settings.max_body_bytes - issuer_app.state.settings.max_body_bytes // 16
    too_big = await _paste(client, "{" + " " * bound + "}", status=413)
    assert "exceeds the limit" in too_big and 'data-testid="input-error"' in too_big
    not_json = await _paste(client, '{"a": ', status=422)
    assert "not a JSON object" in not_json and 'aria-invalid="true"' in not_json
    gibberish = await _paste(client, "hello there", status=422)
    assert "neither JSON nor a compact JWT" in gibberish
    nothing = await client.post("/verify", data={}, headers=PAGE)
    assert nothing.status_code == 422 and "Nothing to check" in nothing.text


async def test_an_image_over_the_bound_is_a_readable_413(client, issuer_app):
    bound = issuer_app.state.settings.max_body_bytes - issuer_app.state.settings.max_body_bytes // 16
    image = b"\x89PNG\r\n\x1a\n" + b"\0" * bound
    response = await client.post("/verify", files={"file": ("big.png", image, "image/png")}, headers=PAGE)
    assert response.status_code == 413 and 'data-testid="input-error"' in response.text


async def test_the_page_spends_the_public_rate_limit_of_the_api(client, issuer_app):
    issuer_app.state.public_limiter = SharedWindowLimiter(2, budget=f"public-{uuid.uuid4().hex}")
    assert (await client.post("/v1/verify", json={"jwt": "not-a-jwt"})).status_code == 200
    assert (await client.post("/verify", data={"credential": "a.b.c"}, headers=PAGE)).status_code == 200
    limited = await client.post("/verify", data={"credential": "a.b.c"}, headers=PAGE)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["content-type"].startswith("text/html")


async def test_a_form_posted_from_another_site_is_refused(client):
    response = await client.post(
        "/verify", data={"credential": "a.b.c"}, headers={**PAGE, "Origin": "https://evil.example"}
    )
    assert response.status_code == 403
