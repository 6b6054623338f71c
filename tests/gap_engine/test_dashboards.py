"""The HR dashboards (pages): every number a page shows equals the JSON API's answer to the same query,
each table's CSV equals the table, a manager sees only their teams and direct reports, and names are
text (never markup, never a spreadsheet formula).

The organisation is test_reports.py's (A, B: Project Managers in Support; C: agent targeting PM, in
Sales; D: no role, in Bids), with managers: A and B report to M1, C to M2; plus X, whose name and team
are markup and a formula.
"""

import csv
import io
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest

from services.gap_engine.web.tables import csv_value
from services.taxonomy_api.domain import people
from shared.web.session import PAGE_COOKIE, issue_page_token
from tests.gap_engine.conftest import employee, fact
from tests.gap_engine.test_kpi_linkage import METRIC, scored  # noqa: F401 - the KPI fixture, reused

SCRIPT = "<script>alert(1)</script>"
FORMULA_TEAM = '=HYPERLINK("http://evil.example")' + SCRIPT


class _Cells(HTMLParser):
    """Tables by data-testid: rows of the cells' data-value; and every other data-value by data-testid."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.headers: dict[str, list[str]] = {}
        self.values: dict[str, str] = {}
        self._table: str | None = None
        self._in_th_head = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and (a.get("data-testid") or "").startswith("table-"):
            self._table = a["data-testid"].removeprefix("table-")
            self.tables[self._table], self.headers[self._table] = [], []
        elif self._table and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and tag == "th" and a.get("scope") == "col":
            self._in_th_head, self._text = True, []
        elif self._table and tag in ("td", "th") and "data-value" in a:
            self.tables[self._table][-1].append(a["data-value"])
        elif "data-value" in a and "data-testid" in a:
            self.values[a["data-testid"]] = a["data-value"]

    def handle_data(self, data):
        if self._in_th_head:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "th" and self._in_th_head:
            self.headers[self._table].append("".join(self._text).strip())
            self._in_th_head = False
        elif tag == "table" and self._table:
            self.tables[self._table] = [row for row in self.tables[self._table] if row]
            self._table = None


def parse(html: str) -> _Cells:
    cells = _Cells()
    cells.feed(html)
    return cells


def row(*values) -> list[str]:
    return [csv_value(v) for v in values]


def cell_rows(cells: list[dict]) -> list[list[str]]:
    keys = ("role_name", "skill_name", "criticality", "required_level", "weight", "headcount", "meeting")
    return [row(*(c[k] for k in keys), c["share_meeting"], c["weighted_shortfall"]) for c in cells]


@pytest.fixture
async def staff(client, headers, roles, demo) -> dict[str, uuid.UUID]:
    for role_id in roles.values():
        assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    pm, agent = str(roles["Project Manager"]), str(roles["Customer Service Agent"])
    staff = [
        employee("A", department="Ops", team="Support", current_role_id=pm, manager_hris_id="M1"),
        employee("B", department="Ops", team="Support", current_role_id=pm, manager_hris_id="M1"),
        employee("C", department="Ops", team="Sales", current_role_id=agent, target_role_id=pm, manager_hris_id="M2"),
        employee("D", department="Bids", team="Bids"),
        employee("X", name=SCRIPT, department="Bids", team=FORMULA_TEAM, current_role_id=agent, manager_hris_id="M2"),
    ]
    assert (await client.post("/v1/employees/bulk", json={"employees": staff}, headers=headers)).status_code == 200
    listening, conflict = demo["Active listening"], demo["Conflict navigation"]
    for body in (fact("A", listening, 1), fact("A", conflict, 2), fact("B", listening, 3), fact("X", conflict, 1)):
        assert (await client.post("/v1/skill-facts", json=body, headers=headers)).status_code == 201
    return roles


async def page_token(taxonomy_app, org: uuid.UUID, role: str, hris_id: str | None = None) -> tuple[str, uuid.UUID]:
    """The page token of a new person with a live session in the taxonomy app, and the person's id."""
    async with taxonomy_app.state.database.sessions() as session:
        user = await people.add_user(
            session,
            org,
            email=f"{uuid.uuid4().hex[:10]}@example.com",
            name=f"{role} {SCRIPT}",
            role=role,
            hris_id=hris_id,
        )
        live, _ = await people.start_session(session, user, timedelta(hours=1))
        await session.commit()
    token = issue_page_token(
        taxonomy_app.state.token_authority,
        taxonomy_app.state.settings,
        org_id=org,
        user_id=user.id,
        session_id=live.id,
        email=user.email,
        name=user.name,
        role=role,
        hris_id=hris_id,
        csrf=live.csrf_token,
    )
    return token, user.id


@pytest.fixture
def sign_in(taxonomy_app, gap_app, org):
    """A client of the gap engine carrying the page token of a new person with a live session."""

    async def make(role: str, hris_id: str | None = None) -> httpx.AsyncClient:
        token, _ = await page_token(taxonomy_app, org, role, hris_id)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gap_app),
            base_url="http://testserver",
            cookies={PAGE_COOKIE: token},
            headers={"Accept": "text/html"},
        )
        return client

    return make


async def _page(browser: httpx.AsyncClient, path: str, **params) -> _Cells:
    response = await browser.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


async def _api(client, headers, path: str, **params) -> dict:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _csv_equals_tables(browser, path: str, page: _Cells, **params) -> None:
    for name, rows in page.tables.items():
        response = await browser.get(path, params={**params, "format": "csv", "table": name})
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        header, *body = list(csv.reader(io.StringIO(response.text)))
        assert header == page.headers[name], name
        assert body == rows, name


async def test_the_organisation_dashboard_shows_the_apis_numbers(client, headers, staff, sign_in):
    analyst = await sign_in("analyst")
    for basis in ("current", "target"):
        await _organisation_matches(client, headers, analyst, basis)


async def _organisation_matches(client, headers, analyst, basis: str) -> None:
    page = await _page(analyst, "/dashboard", basis=basis)
    report = await _api(client, headers, "/v1/reports/organisation", basis=basis)
    assert page.values["headcount"] == str(report["headcount"])
    assert page.values["assessed"] == str(report["assessed"])
    assert page.values["mean-readiness"] == csv_value(report["mean_readiness"])
    assert page.tables["top_gaps"] == cell_rows(report["top_gaps"])
    assert page.tables["requirements"] == cell_rows(report["requirements"])
    assert [r[1:] for r in page.tables["readiness"]] == [row(b["count"]) for b in report["readiness_distribution"]]
    assert page.tables["departments"] == [
        row(g["group"], g["headcount"], g["assessed"], g["mean_readiness"]) for g in report["groups"]
    ]
    # The heatmap: one row per role, a column per required skill, each cell the API's share meeting.
    skills = page.headers["heatmap"][1:]
    shares = {(c["role_name"], c["skill_name"]): csv_value(c["share_meeting"]) for c in report["requirements"]}
    shown = {(r[0], skill): value for r in page.tables["heatmap"] for skill, value in zip(skills, r[1:], strict=True)}
    assert {k: v for k, v in shown.items() if v} == shares
    await _csv_equals_tables(analyst, "/dashboard", page, basis=basis)


async def test_the_basis_switch_changes_the_numbers_as_the_api_does(client, headers, staff, sign_in):
    admin = await sign_in("admin")
    current = await _page(admin, "/dashboard")
    target = await _page(admin, "/dashboard", basis="target")
    assert current.tables["requirements"] != target.tables["requirements"]
    api_target = await _api(client, headers, "/v1/reports/organisation", basis="target")
    assert target.tables["requirements"] == cell_rows(api_target["requirements"])
    html = (await admin.get("/dashboard", params={"basis": "target"})).text
    assert 'aria-current="page" data-testid="basis-target"' in html
    assert (await admin.get("/dashboard", params={"basis": "x"})).status_code == 422


async def test_department_and_team_views_show_the_apis_team_heatmap(client, headers, staff, sign_in):
    analyst = await sign_in("analyst")
    for path, api in (
        ("/dashboard/departments/Ops", "/v1/reports/departments/Ops"),
        ("/dashboard/teams/Support", "/v1/reports/teams/Support"),
    ):
        for basis in ("current", "target"):
            page = await _page(analyst, path, basis=basis)
            report = await _api(client, headers, api, basis=basis)
            skills = page.headers["team_heatmap"][1:]
            shown = {
                (r[0], skill): value
                for r in page.tables["team_heatmap"]
                for skill, value in zip(skills, r[1:], strict=True)
                if value
            }
            assert shown == {(c["group"], c["skill_name"]): csv_value(c["share_meeting"]) for c in report["heatmap"]}
            assert page.tables["top_gaps"] == cell_rows(report["top_gaps"])
            assert [r[1:] for r in page.tables["readiness"]] == [
                row(b["count"]) for b in report["readiness_distribution"]
            ]
            assert page.values["mean-readiness"] == csv_value(report["mean_readiness"])
            if "departments" in path:
                assert page.tables["teams"] == [
                    row(g["group"], g["headcount"], g["assessed"], g["mean_readiness"]) for g in report["groups"]
                ]
            await _csv_equals_tables(analyst, path, page, basis=basis)
    teams = await _page(analyst, "/dashboard/teams")
    assert [r[0] for r in teams.tables["teams"]] == [
        csv_value(t) for t in sorted(["Support", "Sales", "Bids", FORMULA_TEAM])
    ]


async def test_one_employee_against_a_role_with_the_recommended_path(client, headers, staff, sign_in):
    analyst = await sign_in("analyst")
    steps = 0
    for params in ({}, {"role_id": str(staff["Bid Manager"])}):
        page = await _page(analyst, "/dashboard/employees/A", **params)
        gap = await _api(client, headers, "/v1/employees/A/gap", **params)
        path = await _api(client, headers, "/v1/employees/A/recommendations", **params)
        assert page.values["readiness"] == csv_value(gap["readiness"])
        assert page.values["must-have-gaps"] == csv_value(gap["must_have_gaps"])
        assert page.tables["gaps"] == [
            row(
                r["skill_name"],
                r["criticality"],
                r["weight"],
                r["required_level"],
                r["verified_level"],
                r["shortfall"],
                "yes" if r["met"] else "no",
            )
            for r in gap["requirements"]
        ]
        assert [r[:3] for r in page.tables.get("path", [])] == [
            row(s["position"], s["name"], s["tier"]) for s in path["steps"]
        ]
        assert [r[:3] for r in page.tables.get("unclosable", [])] == [
            row(u["skill_name"], u["required_level"], u["best_certified_level"]) for u in path["unclosable"]
        ]
        steps += len(path["steps"])
    assert steps, "the demo catalogue closes some of A's gaps"
    # D has no role: the page says so and offers the roles, not a 500.
    response = await analyst.get("/dashboard/employees/D")
    assert response.status_code == 200 and 'data-testid="problem"' in response.text


async def test_candidates_for_a_role_are_the_apis_ranking(client, headers, staff, sign_in):
    analyst = await sign_in("analyst")
    role = staff["Project Manager"]
    page = await _page(analyst, f"/dashboard/roles/{role}/candidates")
    ranking = await _api(client, headers, f"/v1/roles/{role}/candidates")
    assert [r[1:6] for r in page.tables["candidates"]] == [
        row(c["name"], c["hris_id"], c["team"], c["readiness"], c["must_have_gaps"]) for c in ranking["candidates"]
    ]
    await _csv_equals_tables(analyst, f"/dashboard/roles/{role}/candidates", page)
    picked = await analyst.get("/dashboard/roles", params={"role_id": str(role)})
    assert picked.status_code == 303 and picked.headers["location"] == f"/dashboard/roles/{role}/candidates"


async def test_a_manager_sees_only_their_teams_and_reports(client, headers, staff, sign_in):
    manager = await sign_in("manager", hris_id="M1")
    overview = await _page(manager, "/dashboard")
    assert [r[0] for r in overview.tables["teams"]] == ["Support"]
    assert [r[0] for r in (await _page(manager, "/dashboard/teams")).tables["teams"]] == ["Support"]
    support = await _page(manager, "/dashboard/teams/Support")
    api = await _api(client, headers, "/v1/reports/teams/Support")
    assert support.tables["top_gaps"] == cell_rows(api["top_gaps"])
    for path in (
        "/dashboard/teams/Sales",
        f"/dashboard/teams/{quote(FORMULA_TEAM, safe='')}",
        "/dashboard/employees/C",
    ):
        assert (await manager.get(path)).status_code == 404, path
    for path in ("/dashboard/departments/Ops", "/dashboard/kpis"):
        assert (await manager.get(path)).status_code == 403, path
    assert (await manager.get("/dashboard/teams/Sales", params={"format": "csv"})).status_code == 404
    assert (await manager.get("/dashboard/employees/A")).status_code == 200
    ranking = await _page(manager, f"/dashboard/roles/{staff['Project Manager']}/candidates")
    assert sorted(r[2] for r in ranking.tables["candidates"]) == ["A", "B"]
    nobody = await sign_in("manager")  # a manager with no hris_id manages no one
    assert (await _page(nobody, "/dashboard/teams")).tables.get("teams", []) == []
    assert (await nobody.get("/dashboard/teams/Support")).status_code == 404


async def test_who_may_see_the_dashboards(gap_app, staff, sign_in):
    employee_user = await sign_in("employee", hris_id="A")
    assert (await employee_user.get("/dashboard")).status_code == 403
    assert (await employee_user.get("/dashboard/roi")).status_code == 403
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gap_app), base_url="http://testserver") as anon:
        browser = await anon.get("/dashboard/teams/Support", headers={"Accept": "text/html"})
        assert browser.status_code == 303
        assert "/sign-in?next=" in browser.headers["location"]
        assert (await anon.get("/dashboard")).status_code == 401
        landing = await anon.get("/", headers={"Accept": "text/html"})
        assert 'href="/dashboard"' in landing.text


async def test_markup_in_names_is_text_and_formulas_are_inert(client, headers, staff, sign_in):
    admin = await sign_in("admin")
    team_path = f"/dashboard/teams/{quote(FORMULA_TEAM, safe='')}"
    for path in (
        "/dashboard/teams",
        team_path,
        "/dashboard/departments/Bids",
        "/dashboard/employees/X",
        f"/dashboard/roles/{staff['Customer Service Agent']}/candidates",
    ):
        response = await admin.get(path)
        assert response.status_code == 200, (path, response.text)
        assert SCRIPT not in response.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    teams_csv = (await admin.get("/dashboard/teams", params={"format": "csv"})).text
    cells = [r[0] for r in csv.reader(io.StringIO(teams_csv))]
    assert "'" + FORMULA_TEAM in cells and FORMULA_TEAM not in cells
    candidates_csv = await admin.get(
        f"/dashboard/roles/{staff['Customer Service Agent']}/candidates", params={"format": "csv"}
    )
    assert SCRIPT in candidates_csv.text  # text in a CSV cell: harmless, and the name as it is
    # (The JSON route's {team} cannot hold the "/" of "</script>"; the page's path can.)
    assert (await _page(admin, team_path)).values["headcount"] == "1"
    assert (await admin.get("/dashboard/teams/Support", params={"format": "csv", "table": "nope"})).status_code == 404


async def test_kpi_linkage_shows_the_apis_figures(client, headers, scored, sign_in):  # noqa: F811
    analyst = await sign_in("analyst")
    listening = str(scored["listening"])
    page = await _page(analyst, "/dashboard/kpis", metric=METRIC, badge=listening)
    linkage = await _api(client, headers, f"/v1/kpis/{METRIC}/linkage")
    assert page.values["employees"] == str(linkage["employees"])
    assert page.values["top-quartile"] == csv_value(linkage["top_quartile_threshold"])
    assert page.tables["achievements"] == [
        row(
            a["name"] if a["name"] is not None else f"(not in the catalogue: {a['achievement_id']})",
            a["holders"],
            a["non_holders"],
            a["status"],
            a["mean_holders"],
            a["mean_non_holders"],
            a["difference"],
            a["ci_low"],
            a["ci_high"],
        )
        for a in linkage["achievements"]
    ]
    assert page.tables["pairs"] == [
        row(*p["names"], p["support"], p["support_top"], p["lift"]) for p in linkage["top_pairs"]
    ]
    html = (await analyst.get("/dashboard/kpis", params={"metric": METRIC, "badge": listening})).text
    assert 'data-testid="selected-badge"' in html and 'data-testid="interval-chart"' in html
    await _csv_equals_tables(analyst, "/dashboard/kpis", page, metric=METRIC)
    lower = await _page(analyst, "/dashboard/kpis", metric=METRIC, direction="decrease")
    api_lower = await _api(client, headers, f"/v1/kpis/{METRIC}/linkage", direction="decrease")
    assert lower.tables["pairs"] == [
        row(*p["names"], p["support"], p["support_top"], p["lift"]) for p in api_lower["top_pairs"]
    ]
    assert (await analyst.get("/dashboard/kpis", params={"metric": "nothing"})).status_code == 404


async def test_the_roi_calculator_starts_from_the_worked_example(client, headers, org, sign_in):
    manager = await sign_in("manager", hris_id="M1")
    page = await _page(manager, "/dashboard/roi")
    example = {
        "seats": 5000,
        "cost_per_seat": 500,
        "revenue_per_head": 150000,
        "expected_uplift": 0.2,
        "retention": 0.5,
    }
    api = (await client.post("/v1/roi", json=example, headers=headers)).json()
    assert [r[1] for r in page.tables["roi"]] == row(
        api["total_cost"], api["first_year_gain"], api["gross_multiple"], api["net_multiple"], api["payback_months"]
    )
    assert round(api["net_multiple"]) == 29
    changed = await _page(manager, "/dashboard/roi", seats="100", retention="1")
    api = (await client.post("/v1/roi", json={**example, "seats": 100, "retention": 1}, headers=headers)).json()
    assert changed.tables["roi"][0][1] == csv_value(api["total_cost"])
    bad = await manager.get("/dashboard/roi", params={"retention": "2", "seats": "x"})
    assert bad.status_code == 422
    assert 'data-testid="error-retention"' in bad.text and 'data-testid="error-seats"' in bad.text
    csv_text = (await manager.get("/dashboard/roi", params={"format": "csv"})).text
    assert csv_text.splitlines()[1].startswith("Total cost,2500000.0,")


async def test_a_page_token_is_exchanged_only_while_its_session_lives(taxonomy_app, org):
    token, user_id = await page_token(taxonomy_app, org, "manager")
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": "urn:credstack:params:oauth:token-type:page",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://t") as taxonomy:
        granted = await taxonomy.post("/oauth/token", data=form)
        assert granted.status_code == 200, granted.text
        # Only the catalogue: an API token with gaps:read would not be narrowed to the manager's teams.
        assert granted.json()["scope"] == "taxonomy:read"
        read = await taxonomy.get("/v1/roles", headers={"Authorization": f"Bearer {granted.json()['access_token']}"})
        assert read.status_code == 200
        # The page token itself is no API token.
        assert (await taxonomy.get("/v1/roles", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        assert (await taxonomy.post("/oauth/token", data={**form, "subject_token_type": "x"})).status_code == 422
        async with taxonomy_app.state.database.sessions() as session:
            await people.end_sessions_of(session, user_id)
            await session.commit()
        assert (await taxonomy.post("/oauth/token", data=form)).status_code == 401
