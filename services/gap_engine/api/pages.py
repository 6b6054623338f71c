"""The HR dashboards (pages for people, not API): thin routes over the same domain functions as the JSON
routes (stored reports, role gaps, recommendations, candidates, KPI linkage, ROI), laid out by
web/dashboards.py. Every table is also a CSV download (`?format=csv&table=<name>`)."""

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import gaps, kpi_linkage, recommendations, snapshots
from services.gap_engine.api.deps import taxonomy
from services.gap_engine.domain import employees, roi, roles, visibility
from services.gap_engine.web import dashboards as views
from services.gap_engine.web.tables import Table, Tables, csv_response
from shared.db import get_session
from shared.errors import Forbidden, ServiceUnavailable, Unprocessable
from shared.schemas.gap_reports import Basis, Scope
from shared.schemas.gaps import RoiIn
from shared.web.session import PAGE_COOKIE, PageUser, signed_in

router = APIRouter(prefix="/dashboard", tags=["pages"], include_in_schema=False)
Viewer = signed_in("admin", "analyst", "manager")
Analyst = signed_in("admin", "analyst")
BasisQuery = Annotated[Basis, Query()]
Format = Annotated[Literal["html", "csv"], Query(alias="format")]
TableName = Annotated[str | None, Query(max_length=40)]
GroupPath = Annotated[str, Path(min_length=1, max_length=200)]
HrisIdPath = Annotated[str, Path(min_length=1, max_length=128)]
# The worked example, a thought experiment on reported figures:
# 5,000 seats at $500, $150,000 revenue per head, 20 % uplift, half sticks.
ROI_EXAMPLE = RoiIn(seats=5_000, cost_per_seat=500, revenue_per_head=150_000, expected_uplift=0.2, retention=0.5)


def _respond(
    request: Request,
    template: str,
    tables: list[Table] | Tables,
    fmt: str,
    table: str | None,
    filename: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The page, or one of its tables as CSV: the same Table either way, so the export equals the table."""
    if not isinstance(tables, Tables):
        tables = Tables.of(*tables)
    if fmt == "csv":
        return csv_response(tables, table, filename)
    return request.app.state.pages.render(request, template, status=status, tables=tables, **context)


def csv_link(request: Request, table: str) -> str:
    """This page's own URL (path and query) asking for one of its tables as CSV."""
    url = request.url.include_query_params(format="csv", table=table)
    return f"{url.path}?{url.query}"


@dataclass(frozen=True, slots=True)
class Parsed:
    etag: str
    report: dict[str, Any]
    roles: dict[Any, list[dict[str, Any]]]


# Reports this process has parsed, by report, under the ETag they were parsed at: the organisation's is
# 2.8 MB of JSON at 100k employees (10,000 role × skill cells), and parsing and grouping it for every
# page view cost more than the rest of the page.
_PARSED: "OrderedDict[tuple, Parsed]" = OrderedDict()
MAX_PARSED = 16


async def _report(request: Request, user: PageUser, scope: Scope, name: str | None, basis: Basis) -> Parsed:
    """The stored report the JSON route serves, as its JSON says it; the stored ETag, read on every
    request, decides whether the parse kept from an earlier view is still that report."""
    key = (user.org_id, scope, name, basis)
    kept = _PARSED.get(key)
    body, etag = await snapshots.serve_report(
        request.app.state.database, user.org_id, scope, name, basis, lambda etag: kept is not None and kept.etag == etag
    )
    if body is None and kept is not None:
        _PARSED.move_to_end(key)
        return kept
    assert body is not None
    report = orjson.loads(body)
    parsed = _PARSED[key] = Parsed(etag, report, views.by_role(report["requirements"]))
    while len(_PARSED) > MAX_PARSED:
        _PARSED.popitem(last=False)
    return parsed


async def _visibility(session: AsyncSession, user: PageUser) -> visibility.Visibility:
    return await visibility.visibility_for(session, user.org_id, user.role, user.hris_id)


async def _as_person(request: Request) -> str:
    """The signed-in person's API authorization, for the reads taxonomy_api authorizes (the catalogue)."""
    return await request.app.state.page_authorizations.authorization(request.cookies[PAGE_COOKIE])


def _common(request: Request, basis: str | None = None) -> dict[str, Any]:
    return {"basis": basis, "basis_labels": views.BASIS_LABELS, "csv_link": lambda t: csv_link(request, t)}


@router.get("")
async def organisation(
    request: Request,
    user: Viewer,
    basis: BasisQuery = "current",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    fmt: Format = "html",
    table: TableName = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Admin, analyst: the organisation's role × skill heatmap, top gaps, readiness and departments, from
    the stored organisation report. A manager gets their teams instead (never the organisation's)."""
    if user.role == "manager":
        return await _teams_page(request, user, basis, fmt, table, session, heading="Your teams")
    parsed = await _report(request, user, "organisation", None, basis)
    report = parsed.report
    heatmap, pager = views.role_skill_heatmap(
        parsed.roles, page, lambda p: views.url("/dashboard", basis=basis, page=p)
    )
    ready, chart = views.readiness(report["readiness_distribution"], "People by readiness")
    tables = Tables(
        {
            "heatmap": lambda: heatmap,
            "top_gaps": lambda: views.top_gaps(report["top_gaps"]),
            "readiness": lambda: ready,
            "departments": lambda: views.groups(report["groups"], "department", basis, linked=True),
            "requirements": lambda: views.requirements(report["requirements"]),
        }
    )
    return _respond(
        request,
        "dashboard.html",
        tables,
        fmt,
        table,
        f"organisation-{basis}",
        report=report,
        pager=pager,
        chart=chart,
        listed=len(report["requirements"]) <= views.MAX_LISTED_ROWS,
        requirement_count=len(report["requirements"]),
        **_common(request, basis),
    )


async def _teams_page(
    request: Request,
    user: PageUser,
    basis: Basis,
    fmt: str,
    table: str | None,
    session: AsyncSession,
    heading: str = "Teams",
) -> Response:
    seen = await _visibility(session, user)
    rows = await visibility.visible_teams(session, seen)
    return _respond(
        request,
        "teams.html",
        [views.teams(rows, basis)],
        fmt,
        table,
        "teams",
        heading=heading,
        whole=seen.whole_organisation,
        here=request.url.path,
        **_common(request, basis),
    )


@router.get("/teams")
async def team_list(
    request: Request,
    user: Viewer,
    basis: BasisQuery = "current",
    fmt: Format = "html",
    table: TableName = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Admin, analyst: every team; a manager: the teams of the people who report to them."""
    return await _teams_page(request, user, basis, fmt, table, session)


async def _group_page(
    request: Request, user: PageUser, scope: Scope, name: str, basis: Basis, fmt: str, table: str | None
) -> Response:
    parsed = await _report(request, user, scope, name, basis)
    report = parsed.report
    ready, chart = views.readiness(report["readiness_distribution"], "People by readiness")
    cells = report["requirements"]
    builders = {
        "team_heatmap": lambda: views.group_skill_heatmap(report["heatmap"], basis),
        "heatmap": lambda: views.role_skill_heatmap(parsed.roles, 1, lambda p: "")[0],
        "top_gaps": lambda: views.top_gaps(report["top_gaps"]),
        "readiness": lambda: ready,
        "teams": lambda: views.groups(report["groups"], "team", basis, linked=True),
        "requirements": lambda: views.requirements(cells),
    }
    if len(cells) > views.MAX_LISTED_ROWS:
        del builders["heatmap"]
    if scope != "department":
        del builders["teams"]
    return _respond(
        request,
        "group.html",
        Tables(builders),
        fmt,
        table,
        f"{scope}-{name}-{basis}",
        report=report,
        chart=chart,
        listed=len(cells) <= views.MAX_LISTED_ROWS,
        requirement_count=len(cells),
        here=(views.department_url if scope == "department" else views.team_url)(name, ""),
        **_common(request, basis),
    )


@router.get("/departments/{department:path}")
async def department(
    request: Request,
    department: GroupPath,
    user: Analyst,
    basis: BasisQuery = "current",
    fmt: Format = "html",
    table: TableName = None,
) -> Response:
    """Admin, analyst: a department's report with its team × skill heatmap (a department spans teams a
    manager may not see, so managers are refused)."""
    return await _group_page(request, user, "department", department, basis, fmt, table)


@router.get("/teams/{team:path}")
async def team(
    request: Request,
    team: GroupPath,
    user: Viewer,
    basis: BasisQuery = "current",
    fmt: Format = "html",
    table: TableName = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Admin, analyst: any team's report; a manager: only one of their teams (404 otherwise)."""
    (await _visibility(session, user)).check_team(team)
    await session.close()
    return await _group_page(request, user, "team", team, basis, fmt, table)


@router.get("/employees/{hris_id}")
async def employee(
    request: Request,
    hris_id: HrisIdPath,
    user: Viewer,
    role_id: Annotated[uuid.UUID | None, Query()] = None,
    fmt: Format = "html",
    table: TableName = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Admin, analyst: any employee; a manager: their direct reports (404 otherwise). The gap against a
    role (default: target, else current) and the recommended path of achievements closing it."""
    person = await visibility.visible_employee(session, await _visibility(session, user), hris_id)
    choices = await roles.synced_roles(session, user.org_id)
    report = recommendation = None
    problem = None
    try:
        report = await gaps.compute_role_gap(session, user.org_id, hris_id, role_id)
    except Unprocessable as exc:
        problem = exc.detail
    if report is not None:
        try:
            recommendation = await recommendations.recommend_achievements(
                session,
                user.org_id,
                hris_id,
                role_id,
                taxonomy=taxonomy(request),
                authorization=await _as_person(request),
            )
        except (ServiceUnavailable, Forbidden, Unprocessable) as exc:
            problem = f"No recommended path: {exc.detail}"
    tables = []
    if report is not None:
        tables.append(views.employee_gap(report))
    if recommendation is not None:
        tables += [views.recommended_path(recommendation), views.unclosable(recommendation)]
    return _respond(
        request,
        "employee.html",
        tables,
        fmt,
        table,
        f"employee-{hris_id}",
        person=person,
        here=views.employee_url(hris_id),
        team_href=views.team_url(person.team, "") if person.team else None,
        report=report,
        recommendation=recommendation,
        problem=problem,
        choices=choices,
        role_id=str(role_id or (report.role_id if report else "")),
        **_common(request),
    )


@router.get("/roles/{role_id}/candidates")
async def candidates(
    request: Request,
    role_id: uuid.UUID,
    user: Viewer,
    team: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    fmt: Format = "html",
    table: TableName = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Admin, analyst: the organisation's employees by readiness for the role (internal mobility); a
    manager: their direct reports only."""
    seen = await _visibility(session, user)
    ranking = await gaps.rank_candidates(
        session,
        user.org_id,
        role_id,
        team=team or None,
        limit=limit,
        people=None if seen.whole_organisation else seen.people(),
    )
    return _respond(
        request,
        "candidates.html",
        [views.candidates(ranking)],
        fmt,
        table,
        f"candidates-{role_id}",
        ranking=ranking,
        here=views.candidates_url(role_id),
        choices=await roles.synced_roles(session, user.org_id),
        team=team or "",
        limit=limit,
        whole=seen.whole_organisation,
        **_common(request),
    )


@router.get("/roles")
async def choose_role(request: Request, role_id: Annotated[uuid.UUID, Query()], user: Viewer) -> Response:
    """Signed-in viewers: the role picker's GET form lands here and goes on to that role's candidates."""
    return Response(status_code=303, headers={"Location": views.candidates_url(role_id)})


@router.get("/kpis")
async def kpis(
    request: Request,
    user: Analyst,
    metric: Annotated[str | None, Query(max_length=200)] = None,
    direction: Annotated[Literal["increase", "decrease"], Query()] = "increase",
    badge: Annotated[str | None, Query(max_length=64)] = None,
    pairs: Annotated[int, Query(ge=0, le=50)] = 10,
    fmt: Format = "html",
    table: TableName = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Admin, analyst (organisation-wide statistics): holders against non-holders of each achievement on a
    KPI, with bootstrap intervals, and the pairs over-represented in its top quartile."""
    metrics = await employees.kpi_metrics(session, user.org_id)
    metric = metric or (metrics[0] if metrics else None)
    linkage = None
    problem = None
    if metric is not None:
        names = await taxonomy(request).achievement_names(user.org_id, await _as_person(request))
        try:
            linkage = await kpi_linkage.kpi_linkage(
                session, user.org_id, metric, names=names, direction=direction, pairs=pairs
            )
        except Unprocessable as exc:
            problem = exc.detail
    tables: list[Table] = []
    chart = None
    if linkage is not None:
        achievements, chart = views.kpi_achievements(linkage, badge)
        tables = [achievements, views.kpi_pairs(linkage)]
    return _respond(
        request,
        "kpis.html",
        tables,
        fmt,
        table,
        f"kpi-{metric or 'none'}",
        metrics=metrics,
        metric=metric,
        direction=direction,
        badge=badge or "",
        linkage=linkage,
        chart=chart,
        problem=problem,
        **_common(request),
    )


@router.get("/roi")
async def roi_calculator(
    request: Request,
    user: Viewer,
    seats: Annotated[str | None, Query(max_length=40)] = None,
    cost_per_seat: Annotated[str | None, Query(max_length=40)] = None,
    revenue_per_head: Annotated[str | None, Query(max_length=40)] = None,
    expected_uplift: Annotated[str | None, Query(max_length=40)] = None,
    retention: Annotated[str | None, Query(max_length=40)] = None,
    fmt: Format = "html",
    table: TableName = None,
) -> Response:
    """Signed-in viewers: the ROI arithmetic (POST /v1/roi's), pre-filled with its worked example."""
    given = {
        "seats": seats,
        "cost_per_seat": cost_per_seat,
        "revenue_per_head": revenue_per_head,
        "expected_uplift": expected_uplift,
        "retention": retention,
    }
    values = {k: (v if v is not None else getattr(ROI_EXAMPLE, k)) for k, v in given.items()}
    errors: dict[str, str] = {}
    tables: list[Table] = []
    try:
        inputs = RoiIn.model_validate(values)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"] for e in exc.errors()}
    else:
        tables = [views.roi(inputs, roi.estimate_roi(inputs))]
    return _respond(
        request,
        "roi.html",
        tables,
        fmt,
        table,
        "roi",
        status=422 if errors else 200,
        values=values,
        errors=errors,
        **_common(request),
    )
