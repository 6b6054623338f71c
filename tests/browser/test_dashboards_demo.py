"""HR people read the demo organisation's dashboards: the demo seeded through the public APIs (as
`scripts/run-platform` does), every dashboard opened in Chromium as the demo admin, its numbers equal
to the JSON API's, each page accessible and under 300 KB; the demo manager sees only their teams."""

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from services import demo_data
from services.taxonomy_api.provisioning import seed_demo_organisation
from tests.browser.conftest import (
    _off_the_browser_thread,
    platform_with_own_databases,
    serious_accessibility_violations,
)
from tests.live_platform import serving_platform

PAGE_BUDGET_BYTES = 300 * 1024
PLAN = demo_data.build_plan()


@dataclass(frozen=True)
class Demo:
    urls: dict[str, str]
    logins: dict[str, str]
    api: dict[str, str]  # headers of the demo admin client's token

    def url(self, service: str, path: str) -> str:
        return self.urls[service] + path


async def _seed(platform) -> tuple[dict[str, str], dict[str, str]]:  # noqa: ANN001
    settings = platform.taxonomy.state.settings
    admin = await seed_demo_organisation(settings)
    org_id = uuid.UUID(admin["org_id"])
    logins = {**admin, **await demo_data.ensure_demo_users(settings, org_id, PLAN)}
    urls = demo_data.ServiceUrls(*(platform.urls[s] for s in ("taxonomy_api", "badge_issuer", "gap_engine")))
    await demo_data.seed_demo_people(urls, org_id, admin["client_id"], admin["client_secret"])
    async with httpx.AsyncClient() as http:
        token = await http.post(
            f"{urls.taxonomy}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(admin["client_id"], admin["client_secret"]),
        )
    return logins, {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, auth_key_file: Path) -> Iterator[Demo]:
    with (
        platform_with_own_databases(tmp_path_factory.mktemp("demo"), auth_key_file) as platform,
        serving_platform(platform),
    ):
        logins, api = _off_the_browser_thread(lambda: asyncio.run(_seed(platform)))
        yield Demo(urls=platform.urls, logins=logins, api=api)


def _sign_in(page: Page, demo: Demo, role: str) -> None:
    page.goto(demo.url("taxonomy_api", "/sign-in"))
    page.get_by_label("Email").fill(demo.logins[f"{role}_email"])
    page.get_by_label("Password").fill(demo.logins[f"{role}_password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def _api(demo: Demo, path: str) -> dict:
    response = httpx.get(demo.url("gap_engine", path), headers=demo.api, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _open(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, f"{url}: {response.status}"
    size = len(response.body())
    assert size < PAGE_BUDGET_BYTES, f"{url} is {size} bytes"
    assert serious_accessibility_violations(page) == [], url
    assert page.csp_violations == [], url


def _number(page: Page, test_id: str) -> float | None:
    value = page.get_by_test_id(test_id).get_attribute("data-value")
    return float(value) if value not in (None, "") else None


def test_the_admin_lands_on_the_organisation_dashboard_whose_numbers_are_the_apis(page, demo):
    _sign_in(page, demo, "admin")
    expect(page).to_have_url(demo.url("gap_engine", "/dashboard"))
    for basis in ("current", "target"):
        _open(page, demo.url("gap_engine", f"/dashboard?basis={basis}"))
        report = _api(demo, f"/v1/reports/organisation?basis={basis}")
        assert _number(page, "headcount") == report["headcount"] > 0
        assert _number(page, "mean-readiness") == report["mean_readiness"]
        expect(page.get_by_test_id("basis")).to_be_visible()


def test_every_dashboard_of_the_demo_opens_accessible_and_small(page, demo):
    _sign_in(page, demo, "admin")
    roles = httpx.get(demo.url("taxonomy_api", "/v1/roles"), headers=demo.api, timeout=30).json()["items"]
    role_id = next(role["id"] for role in roles if role["name"] == "Project Manager")
    team = PLAN.person(PLAN.manager_hris_id).team
    pages = [
        "/dashboard/teams",
        f"/dashboard/teams/{quote(team)}",
        f"/dashboard/employees/{PLAN.employee_hris_id}?role_id={role_id}",
        f"/dashboard/roles/{role_id}/candidates",
        "/dashboard/kpis",
        "/dashboard/roi",
    ]
    for path in pages:
        _open(page, demo.url("gap_engine", path))
    employee = _api(demo, f"/v1/employees/{PLAN.employee_hris_id}/gap?role_id={role_id}")
    page.goto(demo.url("gap_engine", f"/dashboard/employees/{PLAN.employee_hris_id}?role_id={role_id}"))
    assert _number(page, "readiness") == employee["readiness"]
    page.goto(demo.url("gap_engine", "/dashboard/roi"))
    page.get_by_role("button", name=re.compile("Calculate|Estimate", re.I)).click()
    expect(page.locator("main")).to_contain_text("%")


def test_the_demo_manager_sees_their_teams_and_not_the_others(page, demo):
    _sign_in(page, demo, "manager")
    _open(page, demo.url("gap_engine", "/dashboard"))
    own_team = PLAN.person(PLAN.manager_hris_id).team
    expect(page.locator("main")).to_contain_text(own_team)
    others = sorted({p.team for p in PLAN.people if p.team and p.team != own_team})
    response = page.goto(demo.url("gap_engine", f"/dashboard/teams/{quote(others[0])}"))
    assert response.status in (403, 404)
    response = page.goto(demo.url("gap_engine", "/dashboard/kpis"))
    assert response.status == 403
