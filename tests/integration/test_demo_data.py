"""The demo organisation seeded through the public APIs of the three real apps on loopback ports:
the counts the plan promises, a second run that changes nothing, reports with something to say, and
the demo people able to sign in."""

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from services import demo_data
from services.taxonomy_api.provisioning import seed_demo_organisation
from tests.integration.test_three_services import own_databases  # noqa: F401
from tests.live_platform import build_platform, serving_platform

PLAN = demo_data.build_plan()


def test_the_plan_is_fixed_and_says_enough():
    """Drawn from the fixed seed (the same people every time), with the spread the pages need."""
    assert demo_data.build_plan() == PLAN
    departments = {p.department for p in PLAN.people}
    teams = {p.team for p in PLAN.people if p.team}
    assert 40 <= len(PLAN.people) <= 60 and len(departments) == 2 and 4 <= len(teams) <= 6
    hris_ids = {p.hris_id for p in PLAN.people}
    assert all(p.manager_hris_id in hris_ids for p in PLAN.people if p.manager_hris_id)
    earned = [r.completed_at for r in PLAN.results]
    assert min(earned) >= demo_data.WINDOW_START and max(earned) <= demo_data.LAST_ASSESSMENT
    assert PLAN.capstones >= 1 and len(PLAN.revoked) == 3 and PLAN.refused >= 1
    employee = PLAN.counted(PLAN.employee_hris_id)
    assert len(employee) >= 3 and demo_data.PC not in employee  # several badges; Coaching partway
    assert PLAN.person(PLAN.employee_hris_id).manager_hris_id == PLAN.manager_hris_id


def _expected_readiness(requirements: list[dict], levels: dict[str, int]) -> float:
    """The readiness formula (GapReport's description) worked by hand from the plan's badges."""
    total = sum(r["weight"] for r in requirements)
    met = sum(
        r["weight"] * min(levels.get(r["skill_id"], 0), r["required_level"]) / r["required_level"] for r in requirements
    )
    return round(100 * met / total, 2)


async def _sign_in(taxonomy_url: str, email: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=taxonomy_url) as browser:
        form = await browser.get("/sign-in")
        token = re.search(r'name="form_token" value="([^"]+)"', form.text).group(1)
        return await browser.post(
            "/sign-in", data={"email": email, "password": password, "form_token": token, "next": ""}
        )


@pytest.fixture
def platform(own_databases, auth_key_file):  # noqa: F811
    return build_platform(own_databases, auth_key_file)


async def test_the_demo_is_seeded_through_the_apis_once(platform):
    taxonomy_settings = platform.taxonomy.state.settings
    admin = await seed_demo_organisation(taxonomy_settings)
    org_id = uuid.UUID(admin["org_id"])
    users = await demo_data.ensure_demo_users(taxonomy_settings, org_id, PLAN)
    assert await demo_data.ensure_demo_users(taxonomy_settings, org_id, PLAN) == {}  # once

    with serving_platform(platform):
        taxonomy_url, issuer_url, gap_url = (platform.urls[s] for s in ("taxonomy_api", "badge_issuer", "gap_engine"))
        urls = demo_data.ServiceUrls(taxonomy_url, issuer_url, gap_url)
        lines: list[str] = []
        first = await demo_data.seed_demo_people(
            urls, org_id, admin["client_id"], admin["client_secret"], wait_seconds=45, progress=lines.append
        )
        print("\n" + first.line(), *lines, sep="\n")
        assert (first.employees, first.credentials, first.revoked) == (len(PLAN.people), PLAN.credentials, 3)
        assert first.counted_credentials == PLAN.credentials - 3 == first.skill_facts
        assert first.by_status == {"verified": PLAN.credentials - 3, "rejected": 3}

        async with httpx.AsyncClient(base_url=gap_url, timeout=30.0) as gap:
            token = await _token(taxonomy_url, admin)
            gap.headers["Authorization"] = f"Bearer {token}"
            report = (await gap.get("/v1/reports/organisation")).json()
            assert report["headcount"] == len(PLAN.people) and report["assessed"] == len(PLAN.people)
            assert report["top_gaps"] and {g["group"] for g in report["groups"]} == {
                "Customer Operations",
                "Delivery and Sales",
            }
            etag = (await gap.get("/v1/reports/organisation")).headers["etag"]

            second = await demo_data.seed_demo_people(
                urls, org_id, admin["client_id"], admin["client_secret"], wait_seconds=45, progress=lines.append
            )
            print(second.line())
            assert (second.employees, second.credentials, second.revoked, second.skill_facts) == (
                first.employees,
                first.credentials,
                first.revoked,
                first.skill_facts,
            )
            assert (await gap.get("/v1/reports/organisation")).headers["etag"] == etag  # nothing changed

            await _the_demo_employee_is_as_planned(gap, taxonomy_url, token)
            await _kpi_linkage_has_something_to_say(gap)

        for role in ("manager", "employee"):
            signed_in = await _sign_in(taxonomy_url, users[f"{role}_email"], users[f"{role}_password"])
            assert signed_in.status_code == 303, signed_in.text
            assert "credstack_page" in signed_in.cookies


async def _token(taxonomy_url: str, admin: dict) -> str:
    async with httpx.AsyncClient(base_url=taxonomy_url) as taxonomy:
        form = {
            "grant_type": "client_credentials",
            "client_id": admin["client_id"],
            "client_secret": admin["client_secret"],
        }
        return (await taxonomy.post("/oauth/token", data=form)).json()["access_token"]


async def _the_demo_employee_is_as_planned(gap: httpx.AsyncClient, taxonomy_url: str, token: str) -> None:
    """Readiness against the target role, worked from the badges the plan gives them and the levels
    their achievements certify in the taxonomy."""
    hris_id = PLAN.employee_hris_id
    async with httpx.AsyncClient(base_url=taxonomy_url, headers={"Authorization": f"Bearer {token}"}) as taxonomy:
        catalogue = (await taxonomy.get("/v1/achievements", params={"limit": 200})).json()["items"]
    levels: dict[str, int] = {}
    for achievement in catalogue:
        if achievement["name"] in PLAN.counted(hris_id):
            for skill in achievement["skills"]:
                levels[skill["skill_id"]] = max(levels.get(skill["skill_id"], 0), skill["level"])
    report = (await gap.get(f"/v1/employees/{hris_id}/gap")).json()
    assert report["role_name"] == demo_data.PM
    assert report["readiness"] == _expected_readiness(report["requirements"], levels) == 83.33
    held = (await gap.get(f"/v1/employees/{hris_id}/credentials")).json()["items"]
    assert len(held) == len(PLAN.earned(hris_id)) and {c["status"] for c in held} == {"verified"}


async def _kpi_linkage_has_something_to_say(gap: httpx.AsyncClient) -> None:
    for metric, direction in demo_data.LINKED_METRICS.items():
        linkage = await gap.get(f"/v1/kpis/{metric}/linkage", params={"direction": direction})
        assert linkage.status_code == 200, linkage.text
    assert datetime.now(UTC) > demo_data.ANCHOR  # the plan's results are all in the past
