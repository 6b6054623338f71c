"""People sign in: passwords, sessions, the page token, CSRF, throttle, invitations and resets."""

import logging
import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from services.taxonomy_api.db.tables import SignInFailure, User
from services.taxonomy_api.domain import people
from shared.web.session import PAGE_COOKIE, SESSION_COOKIE
from tests.taxonomy_api.conftest import PASSWORD

PAGES = "http://127.0.0.1:8003/dashboard"


async def _form_token(client: httpx.AsyncClient, path: str = "/sign-in") -> str:
    page = await client.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    return re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    token = await _form_token(client)
    form = {"email": email, "password": password, "form_token": token, "next": PAGES, **extra}
    return await client.post("/sign-in", data=form, headers={"accept": "text/html"})


async def test_a_person_signs_in_and_gets_a_session_and_a_page_token_no_api_accepts(client, add_person):
    email = await add_person("analyst")
    response = await _sign_in(client, email)
    assert response.status_code == 303 and response.headers["location"] == PAGES
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    for name in (SESSION_COOKIE, PAGE_COOKIE):
        assert "HttpOnly" in cookies[name] and "SameSite=lax" in cookies[name]
    page_token = client.cookies[PAGE_COOKIE]
    # The page token is for the pages' audience: an API route refuses it as a bearer token.
    api = await client.get("/v1/roles", headers={"Authorization": f"Bearer {page_token}"})
    assert api.status_code == 401
    landing = await client.get("/", headers={"accept": "text/html"})
    assert "Pat Example" in landing.text and "(analyst)" in landing.text


async def test_a_wrong_password_an_unknown_email_and_a_disabled_person_are_refused_alike(
    client, add_person, taxonomy_app
):
    email = await add_person()
    wrong = await _sign_in(client, email, "not the password at all")
    unknown = await _sign_in(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not right." in wrong.text and PAGE_COOKIE not in wrong.headers.get(
        "set-cookie", ""
    )
    async with taxonomy_app.state.database.sessions() as session:
        user = await session.scalar(select(User).where(User.email == email))
        user.disabled = True
        await session.commit()
    assert (await _sign_in(client, email)).status_code == 401


async def test_the_sign_in_is_throttled_per_email_with_retry_after(client, add_person):
    email = await add_person()
    for _ in range(people.MAX_FAILURES_PER_EMAIL):
        assert (await _sign_in(client, email, "wrong password here")).status_code == 401
    throttled = await _sign_in(client, email)  # even the right password waits out the window
    assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text
    window = int(people.THROTTLE_WINDOW.total_seconds())
    assert window - 30 <= int(throttled.headers["Retry-After"]) <= window


async def test_retry_after_is_when_the_throttle_lifts_not_a_constant(client, add_person, taxonomy_app):
    email = await add_person()
    for _ in range(people.MAX_FAILURES_PER_EMAIL):
        assert (await _sign_in(client, email, "wrong password here")).status_code == 401
    async with taxonomy_app.state.database.sessions() as session:  # the failures happened 10 minutes ago
        for failure in await session.scalars(select(SignInFailure).where(SignInFailure.email == email)):
            failure.at -= timedelta(minutes=10)
        await session.commit()
    throttled = await _sign_in(client, email)
    assert throttled.status_code == 429
    assert 270 <= int(throttled.headers["Retry-After"]) <= 300  # 15 minutes' window, 10 of them gone


async def test_forms_need_their_token_and_must_come_from_our_own_pages(client, add_person):
    email = await add_person()
    no_token = await client.post("/sign-in", data={"email": email, "password": PASSWORD, "form_token": "forged"})
    assert no_token.status_code == 403
    token = await _form_token(client)
    foreign = await client.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "form_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 403


async def test_next_must_be_one_of_the_platforms_pages(client, add_person):
    email = await add_person("employee")
    response = await _sign_in(client, email, next="https://evil.example/steal")
    assert response.status_code == 303
    assert response.headers["location"] == "http://127.0.0.1:8002/wallet"  # an employee's own landing page


async def test_a_live_session_renews_the_page_token_and_sign_out_ends_it(client, add_person):
    email = await add_person()
    await _sign_in(client, email)
    client.cookies.delete(PAGE_COOKIE)  # the page token lapsed
    renewed = await client.get(f"/sign-in?next={PAGES}", headers={"accept": "text/html"})
    assert renewed.status_code == 303 and renewed.headers["location"] == PAGES
    csrf = re.search(
        r'name="csrf_token" value="([^"]+)"', (await client.get("/", headers={"accept": "text/html"})).text
    )
    out = await client.post("/sign-out", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303
    # The browser may keep an old session cookie: the database says it ended.
    client.cookies.set(SESSION_COOKIE, renewed.request.headers["cookie"].split(f"{SESSION_COOKIE}=")[1].split(";")[0])
    again = await client.get("/sign-in", headers={"accept": "text/html"})
    assert again.status_code == 200 and "Sign in" in again.text


async def test_sign_out_without_the_session_csrf_token_is_refused(client, add_person):
    await _sign_in(client, await add_person())
    assert (await client.post("/sign-out", data={"csrf_token": "guess"})).status_code == 403


async def test_an_invitation_mails_a_single_use_link_that_sets_the_password(client, bearer, org, caplog):
    caplog.set_level(logging.INFO, logger="credstack.mail")
    created = await client.post(
        "/v1/users",
        json={"email": "New.Person@Example.com", "name": "New Person", "role": "manager", "hris_id": "E-7"},
        headers=bearer(org, "admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["invitation_pending"] is True and "invitations/" not in created.text
    link = re.search(r"http://\S+/invitations/(\S+)", caplog.text)
    assert link, caplog.text
    path = f"/invitations/{link.group(1)}"
    token = await _form_token(client, path)
    mismatch = await client.post(
        path, data={"password": PASSWORD, "password_again": PASSWORD + "x", "form_token": token}
    )
    assert mismatch.status_code == 422 and "differ" in mismatch.text
    accepted = await client.post(path, data={"password": PASSWORD, "password_again": PASSWORD, "form_token": token})
    assert accepted.status_code == 303 and PAGE_COOKIE in accepted.headers.get("set-cookie", "")
    reused = await client.get(path, headers={"accept": "text/html"})
    assert reused.status_code == 404 and "not valid" in reused.text
    listed = await client.get("/v1/users", headers=bearer(org, "admin"))
    assert [(u["email"], u["invitation_pending"]) for u in listed.json()["items"]] == [
        ("new.person@example.com", False)
    ]
    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with fresh:
        assert (await _sign_in(fresh, "new.person@example.com")).status_code == 303


async def test_a_password_reset_answers_the_same_for_anyone_and_ends_every_session(client, add_person, caplog):
    caplog.set_level(logging.INFO, logger="credstack.mail")
    email = await add_person()
    await _sign_in(client, email)
    old_session = client.cookies[SESSION_COOKIE]
    token = await _form_token(client, "/password-reset")
    for address in ("nobody@example.com", email):
        answer = await client.post("/password-reset", data={"email": address, "form_token": token})
        assert answer.status_code == 200 and "If that address has an account" in answer.text
    links = re.findall(r"http://\S+/password-reset/(\S+)", caplog.text)
    assert len(links) == 1  # only the real account got mail
    path = f"/password-reset/{links[0]}"
    new_password = "an entirely new passphrase"
    reset = await client.post(
        path, data={"password": new_password, "password_again": new_password, "form_token": token}
    )
    assert reset.status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old_session)
    assert (await client.get("/sign-in", headers={"accept": "text/html"})).status_code == 200  # old session ended
    client.cookies.clear()
    assert (await _sign_in(client, email)).status_code == 401
    assert (await _sign_in(client, email, new_password)).status_code == 303


async def test_people_are_managed_by_admins_only(client, bearer, org, add_person):
    assert (await client.get("/v1/users", headers=bearer(org, "taxonomy:read"))).status_code == 403
    bad_role = await client.post(
        "/v1/users", json={"email": "x@example.com", "name": "X", "role": "owner"}, headers=bearer(org, "admin")
    )
    assert bad_role.status_code == 422
    email = await add_person()
    duplicate = await client.post(
        "/v1/users", json={"email": email, "name": "Again", "role": "analyst"}, headers=bearer(org, "admin")
    )
    assert duplicate.status_code == 409
