"""A person signs in, is sent where they were going, sees who they are on every service, signs out."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import serious_accessibility_violations, sign_in


def test_each_service_greets_a_first_time_visitor_with_a_page_not_a_404(page, live):
    for url in (live.taxonomy, live.issuer, live.gap_engine):
        response = page.goto(url + "/")
        assert response.status == 200
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_role("link", name="Interactive API docs")).to_be_visible()
        assert serious_accessibility_violations(page) == []
        assert page.csp_violations == []


def test_a_wrong_password_is_said_plainly_then_the_right_one_goes_where_the_person_was_going(page, live):
    page.goto(f"{live.taxonomy}/sign-in?next={live.issuer}/")
    page.get_by_label("Email").fill(live.emails["analyst"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")
    assert serious_accessibility_violations(page) == []
    page.get_by_label("Password").fill("browser test passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live.issuer}/")
    # Signed in on the taxonomy service, recognised by the issuer (another port, one cookie jar).
    expect(page.locator(".account")).to_contain_text("Analyst Person")
    page.goto(f"{live.gap_engine}/")
    expect(page.locator(".account")).to_contain_text("(analyst)")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(re.escape(f"{live.taxonomy}/sign-in")))
    page.goto(f"{live.gap_engine}/")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def test_a_browser_asking_for_something_unknown_gets_a_page_that_says_so(page, live):
    response = page.goto(f"{live.issuer}/v1/public/credentials/00000000-0000-4000-8000-000000000000")
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert serious_accessibility_violations(page) == []


def test_sign_in_and_the_reset_form_work_on_a_phone(browser, live):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        sign_in(phone, live, "employee", next_url=f"{live.issuer}/")
        expect(phone.locator(".account")).to_contain_text("Employee Person")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    finally:
        context.close()
