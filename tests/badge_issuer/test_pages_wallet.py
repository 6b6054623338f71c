"""The employee's wallet page, its signed links and its portable export, against the real taxonomy."""

import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from sqlalchemy import update

from services.badge_issuer.db.tables import WalletLink
from shared.db import utcnow
from shared.web.session import PAGE_COOKIE, issue_page_token
from tests.badge_issuer.conftest import idempotent, verify_json

HTML = {"Accept": "text/html"}
PAGE_ORIGIN = "http://127.0.0.1:8002"  # the issuer's page URL in the test settings (the dev default)


class Marked(HTMLParser):
    """Elements carrying data-testid, with their attributes and text (standard library only)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        attributes = dict(attrs)
        if tag in ("input", "meta", "link", "br", "img"):
            if "data-testid" in attributes:
                self.found.append({**attributes, "text": ""})
            return
        element = {**attributes, "text": ""} if "data-testid" in attributes else None
        if element is not None:
            self.found.append(element)
        self._open.append(element)

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag not in ("input", "meta", "link", "br", "img") and self._open:
            self._open.pop()

    def handle_data(self, data):  # noqa: ANN001
        for element in self._open:
            if element is not None:
                element["text"] += data

    def all(self, testid: str) -> list[dict]:
        return [element for element in self.found if element["data-testid"] == testid]


def marked(page: str) -> Marked:
    parser = Marked()
    parser.feed(page)
    return parser


@pytest.fixture
def person(issuer_app, taxonomy_app):
    """A signed-in person's client for the issuer (a page token minted by the token authority)."""

    def sign_in(org_id: uuid.UUID, hris_id: str | None, email: str, role: str = "employee") -> httpx.AsyncClient:
        token = issue_page_token(
            taxonomy_app.state.token_authority,
            issuer_app.state.settings,
            org_id=org_id,
            user_id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            email=email,
            name=f"Person {email}",
            role=role,
            hris_id=hris_id,
            csrf="csrf-" + uuid.uuid4().hex,
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=issuer_app), base_url="http://testserver", cookies={PAGE_COOKIE: token}
        )

    return sign_in


@pytest.fixture
async def anonymous(issuer_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=issuer_app), base_url="http://testserver") as c:
        yield c


async def _issue(client, headers, body) -> dict:
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _card_ids(page: str) -> set[str]:
    return {card["data-credential-id"] for card in marked(page).all("wallet-credential")}


async def _wallet(client) -> str:
    response = await client.get("/wallet", headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


async def test_an_employee_sees_their_own_credentials_and_no_one_elses(
    client, headers, bearer, assessment, demo, org, new_org, issuer_app, person
):
    own = await _issue(client, headers, assessment())
    by_email = await _issue(client, headers, assessment(learner={"email": "Ada@Example.com"}))
    revoked = await _issue(client, headers, assessment(learner={"hris_id": "E-1001"}))
    reason = {"reason": "issued in error"}
    await client.post(f"/v1/credentials/{revoked['credential']['id']}/revoke", json=reason, headers=headers)
    colleague = await _issue(client, headers, assessment(learner={"hris_id": "E-2002", "email": "grace@example.com"}))
    # Another organisation's learner with the same HRIS id and email.
    other_org, other_demo = await new_org("other")
    other_headers = bearer(other_org)
    other_issuer = await client.post("/v1/issuers", json={"name": "Other academy"}, headers=other_headers)
    foreign_body = assessment(
        achievement_id=str(other_demo["badge:Active listening"]), issuer_id=other_issuer.json()["id"]
    )
    foreign = await _issue(client, other_headers, foreign_body)

    async with person(org, "E-1001", "ada@example.com") as ada:
        page = await _wallet(ada)
    mine = {own["credential"]["id"], by_email["credential"]["id"], revoked["credential"]["id"]}
    assert _card_ids(page) == mine
    assert colleague["credential"]["id"] not in page and foreign["credential"]["id"] not in page
    statuses = {card["data-credential-id"]: card["text"] for card in marked(page).all("wallet-credential")}
    assert (
        "Revoked on" in statuses[revoked["credential"]["id"]]
        and "issued in error" in statuses[revoked["credential"]["id"]]
    )
    assert "Valid (not revoked)" in statuses[own["credential"]["id"]]
    assert marked(page).all("revoked-count")[0]["text"] == "1"
    # Each card: its public page, a copy-able share link and the downloads.
    credential_id = own["credential"]["id"]
    assert f'data-copy="{own["credential"]["public_url"]}"' in page
    for path in ("?format=html", "/baked.png", "/baked.svg", "?format=json"):
        assert f"/v1/public/credentials/{credential_id}{path}" in page
    assert "Active listening" in page and "CredStack Academy" in page
    # The same set as the JSON wallet of the API (one domain query).
    api = await client.get("/v1/credentials", params={"learner": "E-1001", "limit": 200}, headers=headers)
    api_by_email = await client.get("/v1/credentials", params={"learner": "ada@example.com"}, headers=headers)
    assert {item["id"] for item in api.json()["items"] + api_by_email.json()["items"]} == mine

    async with person(org, "E-2002", "grace@example.com", role="manager") as grace:
        assert _card_ids(await _wallet(grace)) == {colleague["credential"]["id"]}
    async with person(other_org, "E-1001", "ada@example.com") as namesake:
        assert _card_ids(await _wallet(namesake)) == {foreign["credential"]["id"]}


async def test_a_person_without_an_hris_id_is_told_how_to_fix_it(client, headers, assessment, org, person):
    by_email = await _issue(client, headers, assessment(learner={"email": "noor@example.com"}))
    await _issue(client, headers, assessment(learner={"hris_id": "E-3003"}))
    async with person(org, None, "noor@example.com") as noor:
        page = await _wallet(noor)
    [notice] = marked(page).all("no-hris-id")
    assert "Ask your organisation's admin to link your account to your HRIS id" in " ".join(notice["text"].split())
    assert _card_ids(page) == {by_email["credential"]["id"]}


async def test_pathway_progress_is_the_taxonomys_answer_for_the_same_held_set(
    client, headers, assessment, demo, org, person, taxonomy_app
):
    await _issue(client, headers, assessment())
    revoked = await _issue(client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"])))
    [capstone] = revoked["capstones"]
    reason = {"reason": "redo"}
    await client.post(f"/v1/credentials/{revoked['credential']['id']}/revoke", json=reason, headers=headers)
    async with person(org, "E-1001", "ada@example.com") as ada:
        page = await _wallet(ada)
    found = marked(page)
    [pathway] = found.all("pathway")
    # The revoked step does not count; the capstone, awarded before, is still held.
    held = sorted([str(demo["badge:Active listening"]), capstone["achievement_id"]])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://t") as taxonomy:
        answer = await taxonomy.get(
            f"/v1/pathways/{pathway['data-pathway-id']}/progress", params={"held": held}, headers=headers
        )
        definition = await taxonomy.get(f"/v1/pathways/{pathway['data-pathway-id']}", headers=headers)
    progress = answer.json()
    assert found.all("pathway-held-count")[0]["text"] == str(len(progress["held"])) == "1"
    assert found.all("pathway-step-count")[0]["text"] == str(len(definition.json()["steps"]))
    states = {row["data-achievement-id"]: row["data-state"] for row in found.all("pathway-step")}
    assert {step for step, state in states.items() if state == "held"} == set(progress["held"])
    assert {step for step, state in states.items() if state == "available"} == set(progress["available_now"])
    assert set(states) == {step["achievement_id"] for step in definition.json()["steps"]}
    [shown_capstone] = found.all("pathway-capstone")
    assert shown_capstone["data-capstone-held"] == "true" == str(progress["capstone_held"]).lower()
    assert "Strategic storytelling" in shown_capstone["text"]

    # Earning the step again: every step held.
    await _issue(client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"])))
    async with person(org, "E-1001", "ada@example.com") as ada:
        found = marked(await _wallet(ada))
    assert {row["data-state"] for row in found.all("pathway-step")} == {"held"}
    assert found.all("pathway-capstone")[0]["data-capstone-held"] == "true"


async def test_a_learner_with_no_pathway_started_sees_none(client, headers, org, person):
    async with person(org, "E-4004", "lin@example.com") as lin:
        page = await _wallet(lin)
    assert marked(page).all("wallet-empty") and marked(page).all("pathways-none")


async def test_a_signed_link_works_without_sign_in_until_revoked(
    client, headers, assessment, org, person, anonymous, issuer_app
):
    own = await _issue(client, headers, assessment())
    other = await _issue(client, headers, assessment(learner={"hris_id": "E-2002"}))
    async with person(org, "E-1001", "ada@example.com") as ada:
        page = await _wallet(ada)
        assert marked(page).all("wallet-links-none")
        created = await ada.post("/wallet/links", data={"csrf_token": _csrf(page), "days": "7"}, headers=HTML)
        assert created.status_code == 200, created.text
        [field] = marked(created.text).all("wallet-link-url")
        url = field["value"]
        assert url.startswith(f"{PAGE_ORIGIN}/wallet/shared/")
        token = url.rsplit("/", 1)[1]
        assert len(token) >= 43
        listed = marked(await _wallet(ada)).all("wallet-link")
        assert [link["data-state"] for link in listed] == ["active"]
        link_id = listed[0]["data-link-id"]

        shared = await anonymous.get(urlsplit(url).path, headers=HTML)
        assert shared.status_code == 200, shared.text
        assert _card_ids(shared.text) == {own["credential"]["id"]} and other["credential"]["id"] not in shared.text
        assert "Shared wallet of Person ada@example.com" in shared.text and "E-1001" not in shared.text
        assert 'name="csrf_token"' not in shared.text and "<form" not in shared.text.split("<main")[1]
        assert marked(shared.text).all("pathway")
        async with issuer_app.state.database.sessions() as session:
            stored = await session.get(WalletLink, uuid.UUID(link_id))
            assert stored.token_hash != token and len(stored.token_hash) == 64 and token not in repr(vars(stored))

        revoke_page = await ada.post(f"/wallet/links/{link_id}/revoke", data={"csrf_token": _csrf(page)})
        assert revoke_page.status_code == 303 and revoke_page.headers["location"] == "/wallet#links"
        assert [link["data-state"] for link in marked(await _wallet(ada)).all("wallet-link")] == ["revoked"]
    gone = await anonymous.get(urlsplit(url).path, headers=HTML)
    assert gone.status_code == 410 and "withdrew" in gone.text
    assert (await anonymous.get(urlsplit(url).path + "/export")).status_code == 410
    unknown = await anonymous.get("/wallet/shared/" + "x" * 43)
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")


async def test_an_admin_makes_a_link_through_the_api_and_it_expires(
    client, headers, bearer, assessment, org, anonymous, issuer_app, new_org
):
    own = await _issue(client, headers, assessment())
    reader = bearer(org, "credentials:read")
    created = await client.post("/v1/wallet-links", json={"learner_hris_id": "E-1001", "days": 2}, headers=reader)
    assert created.status_code == 201, created.text
    body = created.json()
    path = urlsplit(body["url"]).path
    assert (await anonymous.get(path, headers=HTML)).status_code == 200
    assert _card_ids((await anonymous.get(path, headers=HTML)).text) == {own["credential"]["id"]}
    assert "Shared wallet</h1>" in (await anonymous.get(path, headers=HTML)).text  # no name was given

    async with issuer_app.state.database.sessions() as session:
        await session.execute(
            update(WalletLink)
            .where(WalletLink.id == uuid.UUID(body["id"]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        await session.commit()
    expired = await anonymous.get(path, headers=HTML)
    assert expired.status_code == 410 and "expired on" in expired.text

    again = (await client.post("/v1/wallet-links", json={"learner_hris_id": "E-1001"}, headers=reader)).json()
    revoked = await client.post(f"/v1/wallet-links/{again['id']}/revoke", headers=reader)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] and revoked.json()["url"] is None
    assert (await anonymous.get(urlsplit(again["url"]).path)).status_code == 410

    too_long = await client.post("/v1/wallet-links", json={"learner_hris_id": "E-1001", "days": 91}, headers=reader)
    assert too_long.status_code == 422
    writer = bearer(org, "assessments:write")
    assert (
        await client.post("/v1/wallet-links", json={"learner_hris_id": "E-1001"}, headers=writer)
    ).status_code == 403
    intruder, _ = await new_org("intruder")
    foreign = await client.post(f"/v1/wallet-links/{again['id']}/revoke", headers=bearer(intruder))
    assert foreign.status_code == 404


async def test_the_export_holds_exactly_the_persons_current_credentials_and_each_verifies(
    client, headers, assessment, demo, org, person, anonymous
):
    data_integrity = await _issue(client, headers, assessment())
    jwt = await _issue(
        client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"]), proof_format="vc-jwt")
    )
    [capstone] = jwt["capstones"]
    revoked = await _issue(client, headers, assessment())
    await client.post(f"/v1/credentials/{revoked['credential']['id']}/revoke", json={"reason": "x"}, headers=headers)
    await _issue(client, headers, assessment(learner={"hris_id": "E-2002"}))

    async with person(org, "E-1001", "ada@example.com") as ada:
        response = await ada.get("/wallet/export")
        link = await ada.post("/wallet/links", data={"csrf_token": _csrf(await _wallet(ada)), "days": "1"})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="credstack-wallet-')
    exported = response.json()
    assert exported["type"] == ["VerifiablePresentation"]
    assert exported["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    for item in exported["verifiableCredential"]:
        if item.get("type") == "EnvelopedVerifiableCredential":
            prefix = "data:application/vc+jwt,"
            assert item["id"].startswith(prefix)
            result = await verify_json(client, {"jwt": unquote(item["id"][len(prefix) :])})
        else:
            result = await verify_json(client, item)
        assert result["verified"] is True, result
    # Exactly the person's current credentials: the Data Integrity one as its document, the VC-JWT
    # step and its capstone as their compact JWTs; the revoked one and the colleague's are absent.
    documents = [item for item in exported["verifiableCredential"] if "proof" in item]
    assert [item["id"] for item in documents] == [data_integrity["credential"]["credential"]["id"]]
    jwts = {item["id"].split(",", 1)[1] for item in exported["verifiableCredential"] if "proof" not in item}
    assert jwts == {jwt["credential"]["jwt"], capstone["jwt"]}
    assert len(exported["verifiableCredential"]) == 3

    url = marked(link.text).all("wallet-link-url")[0]["value"]
    shared_export = await anonymous.get(urlsplit(url).path + "/export")
    assert shared_export.status_code == 200 and shared_export.json() == exported


async def test_a_credential_named_with_markup_renders_as_text(client, headers, assessment, org, person, taxonomy_app):
    hostile = {
        "name": '<script>alert("wallet")</script>',
        "criteria_narrative": "Pass the check.",
        "tier": "foundational",
        "result_description": {"kind": "score", "pass_mark": 50, "max_score": 100},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://t") as taxonomy:
        created = await taxonomy.post("/v1/achievements", json=hostile, headers=headers)
        assert created.status_code == 201, created.text
    await _issue(client, headers, assessment(achievement_id=created.json()["id"], score=80))
    async with person(org, "E-1001", "ada@example.com") as ada:
        response = await ada.get("/wallet", headers=HTML)
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#34;wallet&#34;)&lt;/script&gt;" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>" not in response.text.replace('<script src="/static/credstack.js', "")


async def test_making_a_link_needs_the_csrf_token_and_this_site(org, person):
    async with person(org, "E-1001", "ada@example.com") as ada:
        page = await _wallet(ada)
        assert (await ada.post("/wallet/links", data={"days": "7"}, headers=HTML)).status_code == 403
        wrong = await ada.post("/wallet/links", data={"csrf_token": "guess", "days": "7"})
        assert wrong.status_code == 403
        elsewhere = {"Origin": "https://evil.example"}
        cross = await ada.post("/wallet/links", data={"csrf_token": _csrf(page), "days": "7"}, headers=elsewhere)
        assert cross.status_code == 403
        revoke = await ada.post(f"/wallet/links/{uuid.uuid4()}/revoke", data={})
        assert revoke.status_code == 403
        assert marked(await _wallet(ada)).all("wallet-links-none")  # nothing was made
        too_long = await ada.post("/wallet/links", data={"csrf_token": _csrf(page), "days": "365"}, headers=HTML)
        assert too_long.status_code == 422 and "1 to 90 days" in too_long.text


async def test_someone_elses_link_cannot_be_revoked_from_the_page(client, bearer, org, person, anonymous):
    created = await client.post("/v1/wallet-links", json={"learner_hris_id": "E-2002"}, headers=bearer(org))
    async with person(org, "E-1001", "ada@example.com") as ada:
        page = await _wallet(ada)
        assert created.json()["id"] not in page
        response = await ada.post(f"/wallet/links/{created.json()['id']}/revoke", data={"csrf_token": _csrf(page)})
        assert response.status_code == 404
    assert (await anonymous.get(urlsplit(created.json()["url"]).path)).status_code == 200


async def test_without_sign_in_a_browser_is_sent_to_sign_in_and_a_program_gets_401(anonymous):
    browser = await anonymous.get("/wallet", headers=HTML)
    assert browser.status_code == 303
    location = browser.headers["location"]
    assert location.startswith("http://127.0.0.1:8001/sign-in?next=")
    assert unquote(location.split("next=", 1)[1]) == "http://testserver/wallet"
    assert (await anonymous.get("/wallet/export")).status_code == 401
    assert (await anonymous.post("/wallet/links", data={"days": "7"})).status_code == 401


async def test_the_landing_page_links_the_wallet(anonymous):
    landing = await anonymous.get("/", headers=HTML)
    assert 'href="/wallet"' in landing.text and "My wallet" in landing.text
