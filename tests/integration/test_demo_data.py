"""The demo organisation seeded by `credstack demo` into the three real apps served on loopback ports
(an install that is already running): the counts the plan promises, a second run that changes
nothing, the planted KPI effect found by the KPI-linkage view (worked out here from the plan's own
data), the README's figures equal to the plan's, and the demo people able to sign in."""

import contextlib
import io
import itertools
import json
import re
import statistics
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from services import cli, demo_data
from shared.settings import REPO_ROOT
from tests.live_platform import build_platform, migrated_databases, serving_platform

PLAN = demo_data.build_plan()


def test_the_plan_is_fixed_and_says_enough():
    """Drawn from the fixed seed (the same people every time), with the spread the pages need."""
    assert demo_data.build_plan() == PLAN
    departments = {p.department for p in PLAN.people}
    teams = {p.team for p in PLAN.people if p.team}
    roles = {p.current_role for p in PLAN.people}
    assert 250 <= len(PLAN.people) <= 350 and len(departments) == 3 and len(teams) >= 10 and len(roles) == 4
    hris_ids = {p.hris_id for p in PLAN.people}
    assert len(hris_ids) == len(PLAN.people)
    assert all(p.manager_hris_id in hris_ids for p in PLAN.people if p.manager_hris_id)
    earned = [r.completed_at for r in PLAN.results]
    assert min(earned) >= demo_data.WINDOW_START and max(earned) <= demo_data.LAST_ASSESSMENT
    assert PLAN.capstones >= 1 and len(PLAN.revoked) == 3 and PLAN.refused >= 1
    employee = PLAN.counted(PLAN.employee_hris_id)
    assert len(employee) >= 3 and demo_data.PC not in employee  # several badges; Coaching partway
    assert PLAN.person(PLAN.employee_hris_id).manager_hris_id == PLAN.manager_hris_id


def test_the_readme_tells_the_plans_numbers():
    """The README's demo paragraph, number by number, against the plan."""
    readme = (REPO_ROOT / "README.md").read_text()
    paragraph = readme[readme.index("`scripts/run-platform` prints") :]
    paragraph = " ".join(paragraph[: paragraph.index("\n\n")].split())

    def number(pattern: str) -> int:
        found = re.search(pattern, paragraph)
        assert found, pattern
        return int(found.group(1).replace(",", ""))

    teams = {p.team for p in PLAN.people if p.team}
    assert number(r"([\d,]+) employees") == len(PLAN.people)
    assert number(r"(\d+) teams") == len(teams)
    assert number(r"([\d,]+) Open Badges") == PLAN.credentials
    assert number(r"(\d+) capstones") == PLAN.capstones
    assert number(r"(\d+) revoked") == len(PLAN.revoked)
    assert number(r"(\d+) failed attempts refused") == PLAN.refused
    assert number(r"([\d,]+) monthly KPI observations") == len(PLAN.observations)
    assert f"seed {demo_data.SEED}" in paragraph
    for person in (PLAN.person(PLAN.manager_hris_id), PLAN.person(PLAN.employee_hris_id)):
        assert f"`{person.email}`" in readme and f"{person.name}" in readme and f"({person.hris_id})" in readme


@dataclass(frozen=True)
class Seeded:
    urls: demo_data.ServiceUrls
    admin: dict[str, str]
    output: str
    credentials_file: Path

    def token(self) -> str:
        form = {"grant_type": "client_credentials"}
        auth = (self.admin["client_id"], self.admin["client_secret"])
        return httpx.post(f"{self.urls.taxonomy}/oauth/token", data=form, auth=auth).json()["access_token"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, auth_key_file: Path) -> Iterator[Seeded]:
    """`credstack demo` run against the three apps already serving (its organisation, admin client
    and users through the taxonomy database named by the environment, as an operator would)."""
    folder = tmp_path_factory.mktemp("demo")
    credentials_file = folder / "demo-credentials.json"
    with migrated_databases(folder, "demo") as databases, pytest.MonkeyPatch.context() as env:
        platform = build_platform(databases, auth_key_file)
        env.setenv("CREDSTACK_TAXONOMY_DATABASE_URL", databases["taxonomy_api"])
        env.setenv("CREDSTACK_AUTH_PRIVATE_KEY_FILE", str(auth_key_file))
        with serving_platform(platform):
            urls = demo_data.ServiceUrls(*(platform.urls[s] for s in ("taxonomy_api", "badge_issuer", "gap_engine")))
            output = io.StringIO()
            with contextlib.redirect_stderr(output):
                status = cli.main(
                    [
                        "demo",
                        "--taxonomy-url",
                        urls.taxonomy,
                        "--issuer-url",
                        urls.issuer,
                        "--gap-url",
                        urls.gap_engine,
                        "--credentials-file",
                        str(credentials_file),
                    ]
                )
            print(output.getvalue())
            assert status == 0, output.getvalue()
            admin = json.loads(credentials_file.read_text())
            yield Seeded(urls, admin, output.getvalue(), credentials_file)


def test_credstack_demo_seeds_a_running_install_once(seeded):
    summary = next(line for line in seeded.output.splitlines() if line.startswith("Demo organisation:"))
    counted = PLAN.credentials - len(PLAN.revoked)
    assert summary.startswith(
        f"Demo organisation: {len(PLAN.people)} employees, {PLAN.credentials} credentials issued "
        f"({PLAN.capstones} capstones, 3 revoked; {PLAN.refused} failed attempts refused); "
        f"the gap engine counts {counted} of them as {counted} skill facts"
    )
    # Where to look: every page of the story, on the URLs the demo was seeded through.
    for url in (
        f"{seeded.urls.taxonomy}/sign-in",
        f"{seeded.urls.gap_engine}/dashboard",
        f"{seeded.urls.gap_engine}/dashboard/kpis?metric={quote(demo_data.CSAT)}",
        f"{seeded.urls.issuer}/verify",
        f"{seeded.urls.issuer}/wallet",
        f"{seeded.urls.taxonomy}/docs",
        str(seeded.credentials_file),
    ):
        assert url in seeded.output, url

    headers = {"Authorization": f"Bearer {seeded.token()}"}
    with httpx.Client(base_url=seeded.urls.gap_engine, headers=headers, timeout=30.0) as gap:
        report = gap.get("/v1/reports/organisation").json()
        assert report["headcount"] == len(PLAN.people) == report["assessed"]
        assert {g["group"] for g in report["groups"]} == {p.department for p in PLAN.people}
        etag = gap.get("/v1/reports/organisation").headers["etag"]

        again = cli.main(
            [
                "demo",
                *("--taxonomy-url", seeded.urls.taxonomy, "--issuer-url", seeded.urls.issuer),
                *("--gap-url", seeded.urls.gap_engine, "--credentials-file", str(seeded.credentials_file)),
            ]
        )
        assert again == 0
        assert gap.get("/v1/reports/organisation").headers["etag"] == etag  # nothing changed
    assert json.loads(seeded.credentials_file.read_text()) == seeded.admin


def _expected_readiness(requirements: list[dict], levels: dict[str, int]) -> float:
    """The readiness formula (GapReport's description) worked by hand from the plan's badges."""
    total = sum(r["weight"] for r in requirements)
    met = sum(
        r["weight"] * min(levels.get(r["skill_id"], 0), r["required_level"]) / r["required_level"] for r in requirements
    )
    return round(100 * met / total, 2)


def test_the_demo_employee_is_as_planned(seeded):
    """Readiness against the target role, worked from the badges the plan gives them and the levels
    their achievements certify in the taxonomy."""
    hris_id = PLAN.employee_hris_id
    headers = {"Authorization": f"Bearer {seeded.token()}"}
    catalogue = httpx.get(f"{seeded.urls.taxonomy}/v1/achievements", params={"limit": 200}, headers=headers)
    levels: dict[str, int] = {}
    for achievement in catalogue.json()["items"]:
        if achievement["name"] in PLAN.counted(hris_id):
            for skill in achievement["skills"]:
                levels[skill["skill_id"]] = max(levels.get(skill["skill_id"], 0), skill["level"])
    with httpx.Client(base_url=seeded.urls.gap_engine, headers=headers, timeout=30.0) as gap:
        report = gap.get(f"/v1/employees/{hris_id}/gap").json()
        assert report["role_name"] == demo_data.PM
        assert report["readiness"] == _expected_readiness(report["requirements"], levels) == 83.33
        held = gap.get(f"/v1/employees/{hris_id}/credentials").json()["items"]
    assert len(held) == len(PLAN.earned(hris_id)) and {c["status"] for c in held} == {"verified"}


def _latest_values_and_holdings(metric: str) -> tuple[list[float], list[set[str]]]:
    """Per observed employee their latest value of the metric and the badges they held (counted,
    earned before that period started): what the linkage reads, worked from the plan."""
    latest: dict[str, dict] = {}
    for observation in PLAN.observations:
        if observation["metric"] == metric:
            known = latest.get(observation["hris_id"])
            if known is None or observation["period_start"] > known["period_start"]:
                latest[observation["hris_id"]] = observation
    values, holdings = [], []
    for hris_id, observation in sorted(latest.items()):
        start = datetime.combine(date.fromisoformat(observation["period_start"]), datetime.min.time(), tzinfo=UTC)
        values.append(observation["value"])
        holdings.append(PLAN.counted(hris_id, before=start))
    return values, holdings


def _pair_lifts(values: list[float], holdings: list[set[str]]) -> dict[frozenset[str], float]:
    """P(top quartile | holds both) / P(top quartile) for every pair held by at least 5 employees."""
    threshold = statistics.quantiles(values, n=4, method="inclusive")[2]  # numpy's linear 75th percentile
    top = [value >= threshold for value in values]
    badges = sorted(set().union(*holdings))
    lifts = {}
    for pair in itertools.combinations(badges, 2):
        both = [set(pair) <= held for held in holdings]
        if sum(both) >= 5:
            in_top = sum(b and t for b, t in zip(both, top, strict=True))
            lifts[frozenset(pair)] = (in_top / sum(top)) / (sum(both) / len(values))
    return lifts


def test_the_kpi_linkage_finds_the_planted_effect(seeded):
    """ "Which two badges precede top-quartile client satisfaction?" The view's answer is the pair the
    plan's own numbers give (the planted one, or its capstone that holding both awards), and each step
    of it shows a difference whose interval excludes zero; every linked metric has something to say."""
    values, holdings = _latest_values_and_holdings(demo_data.CSAT)
    lifts = _pair_lifts(values, holdings)
    best = max(lifts.values())
    answers = {pair for pair, lift in lifts.items() if abs(lift - best) < 1e-9}
    assert frozenset(demo_data.PLANTED_PAIR) in answers
    runner_up = max(lift for pair, lift in lifts.items() if pair not in answers)
    assert best > 2 * runner_up  # planted, not noise

    headers = {"Authorization": f"Bearer {seeded.token()}"}
    with httpx.Client(base_url=seeded.urls.gap_engine, headers=headers, timeout=30.0) as gap:
        for metric, direction in demo_data.LINKED_METRICS.items():
            linkage = gap.get(f"/v1/kpis/{quote(metric)}/linkage", params={"direction": direction})
            assert linkage.status_code == 200, linkage.text
        found = gap.get(f"/v1/kpis/{quote(demo_data.CSAT)}/linkage", params={"direction": "increase"}).json()
    assert found["employees"] == len(values)
    top = found["top_pairs"][0]
    assert frozenset(top["names"]) in answers and top["lift"] == pytest.approx(best, abs=1e-6)
    by_name = {link["name"]: link for link in found["achievements"]}
    for badge in demo_data.PLANTED_PAIR:
        holders = [value for value, held in zip(values, holdings, strict=True) if badge in held]
        others = [value for value, held in zip(values, holdings, strict=True) if badge not in held]
        link = by_name[badge]
        assert (link["holders"], link["non_holders"]) == (len(holders), len(others))
        assert link["difference"] == pytest.approx(statistics.fmean(holders) - statistics.fmean(others))
        assert link["ci_low"] > 0


def test_the_demo_people_sign_in(seeded):
    for role in ("manager", "employee"):
        with httpx.Client(base_url=seeded.urls.taxonomy) as browser:
            form = browser.get("/sign-in")
            token = re.search(r'name="form_token" value="([^"]+)"', form.text).group(1)
            signed_in = browser.post(
                "/sign-in",
                data={
                    "email": seeded.admin[f"{role}_email"],
                    "password": seeded.admin[f"{role}_password"],
                    "form_token": token,
                    "next": "",
                },
            )
        assert signed_in.status_code == 303, signed_in.text
        assert "credstack_page" in signed_in.cookies
    assert uuid.UUID(seeded.admin["org_id"])
