"""Single sign-on through an organisation's OpenID Connect provider (a real one on loopback), and its
admin settings: who gets in, every way the provider's answer is refused, and where the secret goes."""

import html
import logging
import re
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from services.taxonomy_api.app import _secret_box
from services.taxonomy_api.db.tables import IdentityProvider
from services.taxonomy_api.domain import people, single_sign_on
from services.taxonomy_api.settings import TaxonomySettings
from shared.errors import Unprocessable
from shared.safe_fetch import FetchPolicy, SafeFetcher
from shared.web.session import PAGE_COOKIE, SESSION_COOKIE

PAGES = "http://127.0.0.1:8003/dashboard"
CALLBACK = "http://127.0.0.1:8001/sign-in/sso/callback"
HTML = {"accept": "text/html"}


@pytest.fixture
def configure(client, bearer, identity_provider):
    """Registers a client at the provider and configures it for `org`; returns the client id."""

    async def configure_for(org: uuid.UUID, **extra: object) -> str:
        client_id = f"client-{uuid.uuid4().hex[:8]}"
        identity_provider.clients[client_id] = f"secret {client_id} /+:%"
        body = {
            "issuer": identity_provider.issuer,
            "client_id": client_id,
            "client_secret": identity_provider.clients[client_id],
            **extra,
        }
        answer = await client.put("/v1/identity-provider", json=body, headers=bearer(org, "admin"))
        assert answer.status_code == 200, answer.text
        return client_id

    return configure_for


@pytest.fixture
def person(taxonomy_app):
    async def add(org: uuid.UUID, role: str = "analyst", *, disabled: bool = False) -> str:
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        async with taxonomy_app.state.database.sessions() as session:
            user = await people.add_user(session, org, email=email, name="Sam Example", role=role)
            user.disabled = disabled
            await session.commit()
        return email

    return add


async def _depart(client: httpx.AsyncClient, email: str, next_url: str = PAGES) -> str:
    """Starts the trip; returns the provider URL the departure page sends the browser to."""
    start = await client.get("/sign-in/sso", params={"email": email, "next": next_url}, headers=HTML)
    assert start.status_code == 200, start.text
    destination = html.unescape(re.search(r'id="sso-continue" href="([^"]+)"', start.text).group(1))
    assert f'content="0; url={html.escape(destination)}"' in start.text  # the page goes on by itself
    return destination


async def _at_provider(destination: str) -> httpx.URL:
    """The browser at the provider (real HTTP on loopback): where it is sent back to."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(destination)
    assert answer.status_code == 302, answer.text
    back = httpx.URL(answer.headers["location"])
    assert str(back.copy_with(query=None)) == CALLBACK
    return back


async def _return(client: httpx.AsyncClient, back: httpx.URL) -> httpx.Response:
    return await client.get(f"{back.path}?{back.query.decode()}", headers=HTML)


async def _sign_in(client: httpx.AsyncClient, email: str, next_url: str = PAGES) -> httpx.Response:
    return await _return(client, await _at_provider(await _depart(client, email, next_url)))


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 403, response.text
    assert words in html.unescape(response.text), response.text
    assert PAGE_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_person_signs_in_through_their_organisations_provider_and_lands_on_next(
    client, org, configure, person, identity_provider
):
    client_id = await configure(org)
    email = await person(org)
    identity_provider.email = email.upper()  # providers may spell it otherwise; emails compare lower-cased
    destination = httpx.URL(await _depart(client, email))
    sent = dict(destination.params)
    assert sent["client_id"] == client_id and sent["response_type"] == "code" and sent["redirect_uri"] == CALLBACK
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert "openid" in sent["scope"].split() and sent["nonce"] and sent["state"] and sent["login_hint"] == email
    response = await _return(client, await _at_provider(str(destination)))
    assert response.status_code == 303 and response.headers["location"] == PAGES
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    for name in (SESSION_COOKIE, PAGE_COOKIE):
        assert "HttpOnly" in cookies[name] and "SameSite=lax" in cookies[name]
    assert cookies["credstack_sso"].startswith('credstack_sso=""')  # the trip's state is spent
    verifier = identity_provider.token_requests[-1]["code_verifier"]
    assert len(verifier) >= 43 and "client_secret" not in identity_provider.token_requests[-1]  # sent as Basic
    landing = await client.get("/", headers=HTML)
    assert "Sam Example" in landing.text and "(analyst)" in landing.text
    # A live session renews the page token exactly as after a password sign-in.
    client.cookies.delete(PAGE_COOKIE)
    renewed = await client.get(f"/sign-in?next={PAGES}", headers=HTML)
    assert renewed.status_code == 303 and renewed.headers["location"] == PAGES


async def test_a_next_outside_the_platform_lands_on_the_persons_own_page(
    client, org, configure, person, identity_provider
):
    await configure(org)
    email = await person(org, "employee")
    identity_provider.email = email
    response = await _sign_in(client, email, "https://evil.example/steal")
    assert response.status_code == 303 and response.headers["location"] == "http://127.0.0.1:8002/wallet"


async def test_a_tampered_or_replayed_state_is_refused(client, org, configure, person, identity_provider):
    await configure(org)
    email = await person(org)
    identity_provider.email = email
    back = await _at_provider(await _depart(client, email))
    tampered = back.copy_set_param("state", back.params["state"][:-2] + "xx")
    _refused(await _return(client, tampered), "did not start in this browser")
    # The cookie holds the real state, but a callback from another browser (no cookie) is refused too.
    stranger = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with stranger:
        _refused(await _return(stranger, back), "did not start in this browser")
    assert (await _return(client, back)).status_code == 303
    # Used once: the same callback again (the cookie set back by hand) is refused.
    client.cookies.set("credstack_sso", back.params["state"], path="/sign-in/sso")
    _refused(await _return(client, back), "used already or has expired")


UNTRUSTWORTHY = {
    "nonce": ({"claims": {"nonce": "another trip's nonce"}}, "'nonce' claim is not right"),
    "audience": ({"claims": {"aud": "some-other-client"}}, "'aud' claim is not right"),
    "issuer": ({"claims": {"iss": "https://impostor.example"}}, "'iss' claim is not right"),
    "expired": ({"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}}, "it has expired"),
    "other key": ({"sign_with_other_key": True}, "its signature does not verify"),
    "unverified email": ({"email_verified": False}, "has not verified your email address"),
}


async def test_an_id_token_that_cannot_be_trusted_signs_nobody_in(client, org, configure, person, identity_provider):
    await configure(org)
    email = await person(org)
    for case, (bend, words) in UNTRUSTWORTHY.items():
        identity_provider.reset()
        identity_provider.email = email
        for name, value in bend.items():
            setattr(identity_provider, name, value)
        response = await _sign_in(client, email)
        assert response.status_code == 403, case
        _refused(response, words)
        assert SESSION_COOKIE not in client.cookies, case


async def test_only_an_active_person_of_the_providers_own_organisation_is_signed_in(
    client, org, new_org, configure, person, identity_provider
):
    await configure(org)
    email = await person(org)
    identity_provider.email = f"stranger-{uuid.uuid4().hex[:6]}@example.com"  # vouched for, but no account
    _refused(await _sign_in(client, email), "no active CredStack account")
    disabled = await person(org, disabled=True)
    identity_provider.email = disabled
    _refused(await _sign_in(client, email), "no active CredStack account")
    # Another organisation's provider vouches for this organisation's person: not signed in.
    other_org = await new_org("other")
    await configure(other_org)
    insider = await person(other_org)
    identity_provider.email = email
    _refused(await _sign_in(client, insider), "no active CredStack account")


async def test_allowed_email_domains_limit_who_the_provider_may_sign_in(
    client, org, configure, person, identity_provider
):
    await configure(org, allowed_email_domains=["Corp.Example"])
    email = await person(org)  # @example.com
    identity_provider.email = email
    _refused(await _sign_in(client, email), "does not accept addresses at example.com")


async def test_an_address_with_no_single_sign_on_is_told_to_use_its_password(client, org, person):
    email = await person(org)  # its organisation has no provider
    for address in (email, "nobody@example.com"):
        answer = await client.get("/sign-in/sso", params={"email": address}, headers=HTML)
        _refused(answer, "There is no single sign-on for this address")
    form = await client.get("/sign-in/sso", headers=HTML)
    assert form.status_code == 200 and 'name="email"' in form.text
    sign_in_page = await client.get("/sign-in", params={"next": PAGES}, headers=HTML)
    assert 'href="/sign-in/sso?next=http%3A//127.0.0.1%3A8003/dashboard"' in sign_in_page.text


async def test_the_client_secret_is_sealed_and_never_shown_nor_logged(
    client, org, configure, person, identity_provider, taxonomy_app, bearer, caplog
):
    caplog.set_level(logging.DEBUG)
    client_id = await configure(org, allowed_email_domains=["example.com"])
    secret = identity_provider.clients[client_id]
    shown = await client.get("/v1/identity-provider", headers=bearer(org, "admin"))
    assert shown.status_code == 200
    assert shown.json() == {
        "issuer": identity_provider.issuer,
        "client_id": client_id,
        "allowed_email_domains": ["example.com"],
        "redirect_uri": CALLBACK,
        "updated_at": shown.json()["updated_at"],
    }
    email = await person(org)
    identity_provider.email = email
    assert (await _sign_in(client, email)).status_code == 303
    identity_provider.sign_with_other_key = True
    _refused(await _sign_in(client, email), "signature does not verify")
    async with taxonomy_app.state.database.sessions() as session:
        row = await session.scalar(select(IdentityProvider).where(IdentityProvider.org_id == org))
    assert secret.encode() not in row.client_secret_sealed
    assert secret not in caplog.text and secret not in shown.text
    assert "ID token from" in caplog.text  # the refusal was logged, without the token or the secret


async def test_only_an_admin_configures_single_sign_on_and_delete_switches_it_off(
    client, org, configure, person, bearer, identity_provider
):
    body = {"issuer": identity_provider.issuer, "client_id": "c", "client_secret": "s"}
    for scopes in (("taxonomy:write",), ("taxonomy:read", "gaps:read")):
        assert (await client.put("/v1/identity-provider", json=body, headers=bearer(org, *scopes))).status_code == 403
    assert (await client.get("/v1/identity-provider", headers=bearer(org, "taxonomy:read"))).status_code == 403
    assert (await client.get("/v1/identity-provider", headers=bearer(org, "admin"))).status_code == 404
    await configure(org)
    email = await person(org)
    destination = await _depart(client, email)
    assert (await client.delete("/v1/identity-provider", headers=bearer(org, "admin"))).status_code == 204
    assert (await client.get("/v1/identity-provider", headers=bearer(org, "admin"))).status_code == 404
    identity_provider.email = email
    # A trip begun before single sign-on was switched off does not complete after it.
    _refused(await _return(client, await _at_provider(destination)), "used already or has expired")


async def test_a_provider_that_is_not_what_it_claims_is_not_accepted(client, org, bearer, identity_provider):
    admin = bearer(org, "admin")
    wrong_issuer = {"issuer": identity_provider.issuer + "/", "client_id": "c", "client_secret": "s"}
    answer = await client.put("/v1/identity-provider", json=wrong_issuer, headers=admin)
    assert answer.status_code == 422 and "calls itself" in answer.json()["detail"]
    nowhere = {"issuer": "https://idp.invalid", "client_id": "c", "client_secret": "s"}
    answer = await client.put("/v1/identity-provider", json=nowhere, headers=admin)
    assert answer.status_code == 422 and "cannot be read" in answer.json()["detail"]


async def test_production_reaches_only_https_providers_at_public_addresses(identity_provider):
    fetcher = SafeFetcher(FetchPolicy())  # the production defaults: no allowlist
    try:
        for issuer, why in (
            (identity_provider.issuer, "scheme 'http' is refused"),
            (identity_provider.issuer.replace("http:", "https:"), "loopback"),
        ):
            with pytest.raises(Unprocessable) as refused:
                await single_sign_on.discover(fetcher, issuer)
            assert why in refused.value.detail
    finally:
        await fetcher.aclose()


async def test_production_without_a_master_key_starts_but_cannot_configure_single_sign_on(
    client, org, bearer, identity_provider, taxonomy_app, tmp_path
):
    settings = TaxonomySettings(environment="production", master_key_file=tmp_path / "never-created")
    assert _secret_box(settings) is None and not (tmp_path / "never-created").exists()
    taxonomy_app.state.secret_box = _secret_box(settings)
    body = {"issuer": identity_provider.issuer, "client_id": "c", "client_secret": "s"}
    answer = await client.put("/v1/identity-provider", json=body, headers=bearer(org, "admin"))
    assert answer.status_code == 503 and "CREDSTACK_TAXONOMY_MASTER_KEY" in answer.json()["detail"]
