"""Open Badges 2.0 through the public verifier: hosted and signed assertions and OB 2.0 baked images.

The badge documents are written in the OB 2.0 specification's shapes (tests/badge_issuer/spec_documents.py)
and served by a real HTTP server on 127.0.0.1; the issuer's guarded fetcher reaches it over its real
transport because the test allows that one loopback host (as a deployment would allow a host it trusts),
everything else stays refused. Images are baked here the OB 2.0 way: a PNG written chunk by chunk or
re-encoded by Pillow with an `openbadges` iTXt chunk, an SVG with an `openbadges:assertion` element.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.domain import baked_images
from services.badge_issuer.ob2.fetching import MAX_FETCHES, BoundedFetcher, DocumentUnavailable
from services.badge_issuer.proofs import keys
from shared.safe_fetch import FetchPolicy, SafeFetcher
from tests.badge_issuer import spec_documents
from tests.badge_issuer.conftest import RECEIVER_HOST
from tests.conftest import asgi_client

LOOPBACK = "127.0.0.1"


class LoopbackWeb:
    """A real HTTP server on 127.0.0.1: path -> (status, content type, body); requests are logged."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.requested: list[str] = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                web.requested.append(self.path)
                status, content_type, body = web.pages.get(self.path, (404, "application/json", b"{}"))
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.origin = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self, url: str, document: Any, *, status: int = 200, content_type: str = "application/json") -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.pages[httpx.URL(url).path] = (status, content_type, body)


@pytest.fixture
def web() -> Iterator[LoopbackWeb]:
    server = LoopbackWeb()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
async def ob2_client(issuer_settings, taxonomy_app, web) -> AsyncIterator[httpx.AsyncClient]:
    """The issuer with its real fetch transport; the loopback server's names allowed (over http),
    every other private address still refused."""
    hosts = [RECEIVER_HOST, LOOPBACK, "localhost"]  # localhost: the same server under a second origin
    settings = issuer_settings(fetch_allowed_hosts=hosts, fetch_allow_http_hosts=hosts)
    app = create_issuer_app(settings, taxonomy_transport=httpx.ASGITransport(app=taxonomy_app))
    async for client in asgi_client(app):
        yield client
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()
    await taxonomy_app.state.database.dispose()


ESCO_SKILL = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


class Badge:
    """A hosted assertion, its BadgeClass (aligned to an ESCO skill) and issuer, on the loopback web."""

    def __init__(self, web: LoopbackWeb) -> None:
        self.web = web
        self.assertion, self.badge_class, self.issuer = spec_documents.ob2_badge(web.origin)
        self.badge_class["alignment"] = [{"targetName": "use robots", "targetUrl": ESCO_SKILL, "targetCode": "R-1"}]

    def publish(self, hosted: dict[str, Any] | None = None, **page: Any) -> None:
        self.web.serve(self.assertion["id"], self.assertion if hosted is None else hosted, **page)
        self.web.serve(self.badge_class["id"], self.badge_class)
        self.web.serve(self.issuer["id"], self.issuer)


class SignedBadge(Badge):
    """The same badge, signed: an RSA key published as the issuer's CryptographicKey, a
    RevocationList, and the assertion as a compact RS256 JWS made here."""

    def __init__(self, web: LoopbackWeb, key_type: keys.KeyType = "RSA") -> None:
        super().__init__(web)
        self.private_key = keys.generate_private_key(key_type)
        self.key_url = f"{web.origin}/keys/1"
        self.revocation_url = f"{web.origin}/revocations"
        self.issuer.update(publicKey=self.key_url, revocationList=self.revocation_url)
        self.assertion.update(
            id=f"urn:uuid:{uuid.uuid4()}", verification={"type": "SignedBadge", "creator": self.key_url}
        )

    def publish(self, *revoked: Any) -> None:  # type: ignore[override]
        self.web.serve(self.badge_class["id"], self.badge_class)
        self.web.serve(self.issuer["id"], self.issuer)
        pem = keys.public_key_to_pem(self.private_key.public_key()).decode()
        key = {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "CryptographicKey",
            "id": self.key_url,
            "owner": self.issuer["id"],
            "publicKeyPem": pem,
        }
        self.web.serve(self.key_url, key)
        revocations = {
            "@context": "https://w3id.org/openbadges/v2",
            "id": self.revocation_url,
            "type": "RevocationList",
            "issuer": self.issuer["id"],
            "revokedAssertions": list(revoked),
        }
        self.web.serve(self.revocation_url, revocations)

    def jws(self, assertion: dict[str, Any] | None = None, private_key: Any = None) -> str:
        payload = json.dumps(assertion or self.assertion).encode()
        private_key = private_key or self.private_key
        return jwt.PyJWS().encode(payload, private_key, algorithm=keys.jws_algorithm_for(private_key))


def _checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["check"]: check for check in result["checks"]}


async def _verify(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _verify_image(client: httpx.AsyncClient, data: bytes, name: str, media_type: str) -> dict[str, Any]:
    response = await client.post("/v1/verify", files={"file": (name, data, media_type)})
    assert response.status_code == 200, response.text
    return response.json()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- hosted ------------------------------------------------------------------------------------


async def test_a_hosted_assertion_verifies_from_its_issuers_documents(ob2_client, web):
    badge = Badge(web)
    badge.publish()
    result = await _verify(ob2_client, badge.assertion)
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "ob2-hosted"
    assert result["credential_id"] == badge.assertion["id"]
    assert result["issuer"] == badge.issuer["id"]
    assert result["badge_class"] == badge.badge_class["id"]
    assert result["extracted"] == badge.assertion
    assert result["alignment"] == [{"targetName": "use robots", "targetUrl": ESCO_SKILL, "targetCode": "R-1"}]
    assert result["recipient"]["identity"] == badge.assertion["recipient"]["identity"]
    # Awarded to learner@example.org: the identity hash binds it to that address.
    digest = hashlib.sha256(b"learner@example.org" + badge.assertion["recipient"]["salt"].encode()).hexdigest()
    assert result["recipient"]["identity"] == f"sha256${digest}"
    checks = _checks(result)
    assert checks["hosted"]["outcome"] == "passed" and checks["status"]["outcome"] == "passed"
    assert "Example Robotics Club" in checks["issuer"]["reason"]
    assert "hashed sha256, salted" in checks["recipient"]["reason"]
    assert sorted(web.requested) == sorted(
        httpx.URL(url).path for url in (badge.assertion["id"], badge.badge_class["id"], badge.issuer["id"])
    )


async def test_a_revoked_hosted_assertion_fails_with_its_reason(ob2_client, web):
    badge = Badge(web)
    badge.publish({**badge.assertion, "revoked": True, "revocationReason": "Awarded in error"})
    result = await _verify(ob2_client, badge.assertion)
    status = _checks(result)["status"]
    assert result["verified"] is False
    assert status["outcome"] == "failed" and "Awarded in error" in status["reason"]
    assert _checks(result)["hosted"]["outcome"] == "passed"
    # Stripped down to id and revoked, or answered with 410 Gone (OB 2.0 §Revoking Hosted Assertions).
    badge.publish({"id": badge.assertion["id"], "revoked": True})
    assert "revoked" in _checks(await _verify(ob2_client, badge.assertion))["status"]["reason"]
    badge.publish({"id": badge.assertion["id"], "revoked": True}, status=410)
    gone = await _verify(ob2_client, badge.assertion)
    assert gone["verified"] is False and "410 Gone" in _checks(gone)["status"]["reason"]


async def test_an_expired_hosted_assertion_fails_the_validity_window(ob2_client, web):
    badge = Badge(web)
    badge.assertion["expires"] = "2017-06-30T23:59:59Z"
    badge.publish()
    result = await _verify(ob2_client, badge.assertion)
    window = _checks(result)["validity_window"]
    assert result["verified"] is False
    assert window["outcome"] == "failed" and "expired at 2017-06-30T23:59:59Z" in window["reason"]


async def test_a_presented_assertion_that_is_not_the_hosted_one_fails(ob2_client, web):
    badge = Badge(web)
    badge.publish({**badge.assertion, "id": f"{web.origin}/someone-elses-badge.json"})
    hosted = _checks(await _verify(ob2_client, badge.assertion))["hosted"]
    assert hosted["outcome"] == "failed" and "someone-elses-badge.json" in hosted["reason"]
    # Same id, other content: a recipient swapped into the copy that was shown.
    badge.publish()
    forged = {**badge.assertion, "recipient": {**badge.assertion["recipient"], "identity": "sha256$" + "0" * 64}}
    result = await _verify(ob2_client, forged)
    hosted = _checks(result)["hosted"]
    assert result["verified"] is False
    assert hosted["outcome"] == "failed" and "differ in recipient" in hosted["reason"]
    assert _checks(result)["issuer"]["outcome"] == "skipped"


async def test_a_hosted_assertion_or_badge_class_outside_its_issuers_origin_fails(ob2_client, web):
    """OB 2.0 §HostedBadge: by default the assertion and its BadgeClass live on the issuer id's
    origin; `verification.allowedOrigins` / `startsWith` in the issuer Profile say otherwise."""
    badge = Badge(web)
    elsewhere = web.origin.replace(LOOPBACK, "localhost")  # the same server under another origin
    badge.badge_class["issuer"] = badge.issuer["id"] = f"{elsewhere}/issuer.json"
    badge.publish()
    issuer = _checks(await _verify(ob2_client, badge.assertion))["issuer"]
    assert issuer["outcome"] == "failed" and "hosted-verification scope" in issuer["reason"]
    assert f"the assertion {badge.assertion['id']} is not hosted" in issuer["reason"]
    badge.issuer["verification"] = {"allowedOrigins": [LOOPBACK]}
    badge.publish()
    result = await _verify(ob2_client, badge.assertion)
    assert result["verified"] is True, result["failures"]
    badge.issuer["verification"] = {"allowedOrigins": [LOOPBACK], "startsWith": f"{web.origin}/assertions/"}
    badge.publish()
    issuer = _checks(await _verify(ob2_client, badge.assertion))["issuer"]
    assert issuer["outcome"] == "failed" and "does not start with" in issuer["reason"]
    # Back on one origin, but the BadgeClass hosted on another.
    badge = Badge(web)
    badge.badge_class["id"] = badge.assertion["badge"] = f"{elsewhere}/badges/robotics.json"
    badge.publish()
    issuer = _checks(await _verify(ob2_client, badge.assertion))["issuer"]
    assert issuer["outcome"] == "failed" and "the BadgeClass" in issuer["reason"]


async def test_one_verification_fetches_a_bounded_number_of_documents(web):
    fetcher = SafeFetcher(FetchPolicy.build(allowed_hosts=[LOOPBACK], allow_http_hosts=[LOOPBACK]))
    for n in range(MAX_FETCHES + 1):
        web.serve(f"{web.origin}/doc/{n}", {"n": n})
    bounded = BoundedFetcher(fetcher)
    try:
        for n in range(MAX_FETCHES):
            assert (await bounded.json_object(f"{web.origin}/doc/{n}", "a document"))["n"] == n
        assert (await bounded.json_object(f"{web.origin}/doc/0", "a document"))["n"] == 0  # once per URL
        with pytest.raises(DocumentUnavailable, match=f"fetches at most {MAX_FETCHES}"):
            await bounded.json_object(f"{web.origin}/doc/{MAX_FETCHES}", "a document")
    finally:
        await fetcher.aclose()
    assert len(web.requested) == MAX_FETCHES


async def test_nothing_is_fetched_for_a_malformed_assertion_or_from_a_private_address(ob2_client, web):
    badge = Badge(web)
    badge.publish()
    bad_recipient = {**badge.assertion, "recipient": {"type": "email", "hashed": True, "identity": "sha1$abc"}}
    result = await _verify(ob2_client, bad_recipient)
    assert _checks(result)["recipient"]["outcome"] == "failed"
    assert "sha256$<64 hex>" in _checks(result)["recipient"]["details"][0]
    no_date = {k: v for k, v in badge.assertion.items() if k != "issuedOn"}
    assert "issuedOn is missing" in _checks(await _verify(ob2_client, no_date))["schema"]["details"][0]
    assert web.requested == []
    private = {**badge.assertion, "id": "http://10.1.2.3/awarded/robotics-17.json"}
    hosted = _checks(await _verify(ob2_client, private))["hosted"]
    assert hosted["outcome"] == "failed" and "(scheme)" in hosted["reason"]
    private["id"] = "https://10.1.2.3/awarded/robotics-17.json"
    hosted = _checks(await _verify(ob2_client, private))["hosted"]
    assert hosted["outcome"] == "failed" and "10.1.2.3, a private address" in hosted["reason"]
    assert web.requested == []


# --- signed ------------------------------------------------------------------------------------


async def test_a_signed_assertion_verifies_with_the_issuers_key(ob2_client, web):
    badge = SignedBadge(web)
    badge.publish("urn:uuid:someone-else")
    result = await _verify(ob2_client, {"jwt": badge.jws()})
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "ob2-signed"
    assert result["credential_id"] == badge.assertion["id"] and result["issuer"] == badge.issuer["id"]
    assert result["extracted"] == badge.assertion
    assert result["alignment"][0]["targetUrl"] == ESCO_SKILL
    checks = _checks(result)
    assert checks["signature"]["reason"].startswith(f"RS256 JWS by {badge.key_url}")
    assert "not in the issuer's revocationList" in checks["status"]["reason"]
    # Slashes escaped as PHP's json_encode writes them: the same JSON, still recognised as OB 2.0.
    escaped = json.dumps(badge.assertion).replace("/", "\\/").encode()
    token = jwt.PyJWS().encode(escaped, badge.private_key, algorithm="RS256")
    assert (await _verify(ob2_client, {"jwt": token}))["verified"] is True


async def test_es256_and_eddsa_keys_verify_with_their_own_algorithm(ob2_client, web):
    for key_type, algorithm in (("P-256", "ES256"), ("Ed25519", "EdDSA")):
        badge = SignedBadge(web, key_type)
        badge.publish()
        result = await _verify(ob2_client, {"jwt": badge.jws()})
        assert result["verified"] is True, (key_type, result["failures"])
        assert _checks(result)["signature"]["reason"].startswith(f"{algorithm} JWS by")
        rsa_signed = badge.jws(private_key=keys.generate_private_key("RSA"))
        reason = _checks(await _verify(ob2_client, {"jwt": rsa_signed}))["signature"]["reason"]
        assert f"is not {algorithm}" in reason, reason


async def test_a_tampered_or_foreign_signed_assertion_fails(ob2_client, web):
    badge = SignedBadge(web)
    badge.publish()
    header, _payload, signature = badge.jws().split(".")
    changed = {**badge.assertion, "recipient": {**badge.assertion["recipient"], "identity": "sha256$" + "1" * 64}}
    tampered = ".".join((header, _b64url(json.dumps(changed).encode()), signature))
    result = await _verify(ob2_client, {"jwt": tampered})
    assert result["verified"] is False
    assert "signature does not match" in _checks(result)["signature"]["reason"]
    assert _checks(result)["status"]["outcome"] == "skipped"
    stranger = await _verify(ob2_client, {"jwt": badge.jws(private_key=keys.generate_private_key("RSA"))})
    assert "signature does not match" in _checks(stranger)["signature"]["reason"]
    # alg pinned to the key type: an HS256 token "signed" with the public PEM is refused.
    pem = keys.public_key_to_pem(badge.private_key.public_key())
    header = _b64url(b'{"alg":"HS256"}')
    payload = _b64url(json.dumps(badge.assertion).encode())
    mac = _b64url(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    confused = await _verify(ob2_client, {"jwt": f"{header}.{payload}.{mac}"})
    assert "'HS256' is not RS256" in _checks(confused)["signature"]["reason"]
    # A key the issuer does not list is not trusted.
    other = {**badge.assertion, "verification": {"type": "signed", "creator": f"{web.origin}/keys/2"}}
    unlisted = await _verify(ob2_client, {"jwt": badge.jws(other)})
    assert "not one the issuer Profile lists" in _checks(unlisted)["signature"]["reason"]


async def test_a_signed_assertion_in_the_revocation_list_fails(ob2_client, web):
    badge = SignedBadge(web)
    badge.publish({"id": badge.assertion["id"], "revocationReason": "Violation of policy"})
    result = await _verify(ob2_client, {"jwt": badge.jws()})
    status = _checks(result)["status"]
    assert result["verified"] is False and _checks(result)["signature"]["outcome"] == "passed"
    assert status["outcome"] == "failed" and "Violation of policy" in status["reason"]
    badge.publish(badge.assertion["id"])  # the plain-string form of an entry
    assert "revoked by its issuer" in _checks(await _verify(ob2_client, {"jwt": badge.jws()}))["status"]["reason"]


async def test_a_signed_assertion_as_bare_json_is_not_taken_as_verified(ob2_client, web):
    badge = SignedBadge(web)
    badge.publish()
    result = await _verify(ob2_client, badge.assertion)
    assert result["verified"] is False and result["format"] == "ob2-signed"
    assert '{"jwt"' in _checks(result)["format"]["reason"]
    assert web.requested == []


# --- baked images ------------------------------------------------------------------------------


def _png_with_openbadges_itxt(text: str) -> bytes:
    """A PNG re-encoded by Pillow with an `openbadges` iTXt chunk (OB 2.0), where Pillow puts it."""
    image = Image.open(io.BytesIO(spec_documents.png_baked_ob2("{}")))
    info = PngInfo()
    info.add_itxt("openbadges", text)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_a_png_baked_as_ob2_bakers_write_it_yields_its_assertion():
    """Pretty-printed JSON in an uncompressed iTXt chunk right after IHDR, as OB 2.0 bakers write it:
    extraction only."""
    assertion, _, _ = spec_documents.ob2_badge("https://badges.example")
    baked = spec_documents.png_baked_ob2(spec_documents.pretty(assertion))
    presented = baked_images.presented_from_image(baked, 1_048_576)
    assert presented == assertion
    assert presented["@context"] == "https://w3id.org/openbadges/v2"
    assert presented["id"] == "https://badges.example/awarded/robotics-17.json"


async def test_a_baked_png_with_the_openbadges_keyword_verifies(ob2_client, web):
    badge = Badge(web)
    badge.publish()
    result = await _verify_image(
        ob2_client, _png_with_openbadges_itxt(json.dumps(badge.assertion)), "b.png", "image/png"
    )
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "ob2-hosted" and result["extracted"] == badge.assertion
    signed = SignedBadge(web)
    signed.publish()
    token = signed.jws()
    result = await _verify_image(ob2_client, _png_with_openbadges_itxt(token), "s.png", "image/png")
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "ob2-signed" and result["extracted"] == {"jwt": token}


async def test_a_baked_svg_with_an_openbadges_assertion_verifies(ob2_client, web):
    badge = Badge(web)
    badge.publish()
    element = (
        f'<openbadges:assertion verify="{badge.assertion["id"]}"><![CDATA[{json.dumps(badge.assertion)}]]>'
        "</openbadges:assertion>"
    )
    result = await _verify_image(ob2_client, spec_documents.svg_baked_ob2(element), "b.svg", "image/svg+xml")
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "ob2-hosted"
    signed = SignedBadge(web)
    signed.publish()
    element = f'<openbadges:assertion verify="{signed.jws()}"></openbadges:assertion>'
    result = await _verify_image(ob2_client, spec_documents.svg_baked_ob2(element), "s.svg", "image/svg+xml")
    assert result["verified"] is True, result["failures"]
    assert result["format"] == "ob2-signed"


async def test_ob2_baked_images_keep_the_bomb_and_entity_guards(ob2_client):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
        b"<openbadges:assertion>&b;</openbadges:assertion></svg>"
    )
    response = await ob2_client.post("/v1/verify", files={"file": ("bomb.svg", bomb, "image/svg+xml")})
    assert response.status_code == 422 and "Refused before decoding" in response.json()["detail"]
    unbaked = spec_documents.svg_baked_ob2("")
    response = await ob2_client.post("/v1/verify", files={"file": ("plain.svg", unbaked, "image/svg+xml")})
    assert response.status_code == 422 and "openbadges:assertion" in response.json()["detail"]


async def test_the_verify_page_gives_ob2_badges_the_same_verdicts(ob2_client, web):
    """A person dropping an OB 2.0 baked badge on the page reads the verdict the API's checks give."""
    from services.badge_issuer.domain.verdicts import verdict_of
    from shared.schemas.issuer import VerificationOut

    badge = Badge(web)
    badge.publish()
    image = _png_with_openbadges_itxt(json.dumps(badge.assertion))
    files = {"file": ("b.png", image, "image/png")}
    page = await ob2_client.post("/verify", files=files, headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-verdict="valid"' in page.text
    assert "Open Badges 2.0" in page.text
    badge.publish({**badge.assertion, "revoked": True, "revocationReason": "Awarded in error"})
    page = await ob2_client.post("/verify", data={"credential": json.dumps(badge.assertion)})
    api = VerificationOut.model_validate(await _verify(ob2_client, badge.assertion))
    assert verdict_of(api).kind == "revoked" and 'data-verdict="revoked"' in page.text
