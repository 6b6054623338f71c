"""The dashboards' tables, laid out from what the domain functions return (the stored reports' JSON,
GapReport, Recommendation, CandidateList, KpiLinkage, RoiOut): no figure is computed here."""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from services.gap_engine.web.charts import BarChart, IntervalChart, bar_chart, interval_chart
from services.gap_engine.web.tables import Cell, Column, Table, number, share, text
from shared.errors import NotFound
from shared.schemas.gap_insights import KpiLinkage, Recommendation
from shared.schemas.gaps import CandidateList, GapReport, RoiIn, RoiOut

ROLES_PER_PAGE = 15
SKILL_COLUMNS = 12
MAX_LISTED_ROWS = 200
BASIS_LABELS = {"current": "current role", "target": "target role (else current)"}


def url(path: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{path}?{query}" if query else path


def team_url(team: str, basis: str) -> str:
    return url(f"/dashboard/teams/{quote(team, safe='')}", basis=basis)


def department_url(department: str, basis: str) -> str:
    return url(f"/dashboard/departments/{quote(department, safe='')}", basis=basis)


def employee_url(hris_id: str, role_id: Any = None) -> str:
    return url(f"/dashboard/employees/{quote(hris_id, safe='')}", role_id=role_id)


def candidates_url(role_id: Any) -> str:
    return f"/dashboard/roles/{role_id}/candidates"


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    pages: int
    previous: str | None
    next: str | None


def _bucket_label(bucket: dict[str, Any]) -> str:
    """Each bucket includes its lower bound, not its upper one, except the last, which includes 100."""
    return f"{bucket['lower']:g}–{bucket['upper']:g} %"


def readiness(distribution: Sequence[dict[str, Any]], title: str) -> tuple[Table, BarChart]:
    """The readiness distribution as a table and the bar chart drawn from the same counts."""
    table = Table("readiness", "Readiness distribution", [Column("Readiness"), Column("People", num=True)])
    items = []
    for bucket in distribution:
        label = _bucket_label(bucket)
        table.rows.append([text(label), number(bucket["count"])])
        items.append((label, int(bucket["count"])))
    return table, bar_chart(title, items)


def _cell_row(cell: dict[str, Any]) -> list[Cell]:
    return [
        text(cell["role_name"], candidates_url(cell["role_id"])),
        text(cell["skill_name"]),
        text(cell["criticality"]),
        number(cell["required_level"]),
        number(cell["weight"]),
        number(cell["headcount"]),
        number(cell["meeting"]),
        number(cell["share_meeting"]),
        number(cell["weighted_shortfall"]),
    ]


CELL_COLUMNS = [
    Column("Role"),
    Column("Skill"),
    Column("Criticality"),
    Column("Required level", num=True),
    Column("Weight", num=True),
    Column("Headcount", num=True),
    Column("Meeting", num=True),
    Column("Share meeting", num=True),
    Column("Weighted shortfall", num=True),
]


def top_gaps(cells: Iterable[dict[str, Any]]) -> Table:
    return Table(
        "top_gaps",
        "Top gaps by weighted shortfall",
        CELL_COLUMNS,
        [_cell_row(c) for c in cells],
        note="Weighted shortfall = weight × Σ max(required − verified, 0) over the people measured against the role.",
    )


def requirements(cells: Sequence[dict[str, Any]]) -> Table:
    return Table("requirements", "Every role × skill requirement", CELL_COLUMNS, [_cell_row(c) for c in cells])


def _page_of(items: list[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    pages = max(1, math.ceil(len(items) / per_page))
    if page < 1 or page > pages:
        raise NotFound(f"No page {page} of this heatmap: it has {pages}.")
    return items[(page - 1) * per_page : page * per_page], pages


def _skill_columns(cells: Iterable[dict[str, Any]], short: Any) -> tuple[list[tuple[Any, str]], int]:
    """The skills with the most shortfall first (at most SKILL_COLUMNS), then by name; and how many more."""
    totals: dict[Any, float] = defaultdict(float)
    names: dict[Any, str] = {}
    for cell in cells:
        totals[cell["skill_id"]] += short(cell)
        names[cell["skill_id"]] = cell["skill_name"]
    ranked = sorted(totals, key=lambda skill: (-totals[skill], names[skill], str(skill)))
    return [(skill, names[skill]) for skill in ranked[:SKILL_COLUMNS]], max(0, len(ranked) - SKILL_COLUMNS)


def by_role(cells: Iterable[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    """A report's role × skill cells grouped by role, in the report's order (by role name)."""
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for cell in cells:
        grouped.setdefault(cell["role_id"], []).append(cell)
    return grouped


def role_skill_heatmap(roles: dict[Any, list[dict[str, Any]]], page: int, link: Any) -> tuple[Table, Pager]:
    """Roles (a page of them) × the skills they require: the share of the people measured against the
    role who meet each requirement. `roles` is by_role(the report's cells)."""
    shown, pages = _page_of(list(roles), page, ROLES_PER_PAGE)
    shown_cells = [cell for role_id in shown for cell in roles[role_id]]
    skills, more = _skill_columns(shown_cells, lambda c: c["weighted_shortfall"])
    by_key = {(c["role_id"], c["skill_id"]): c for c in shown_cells}
    table = Table(
        "heatmap",
        "Role × skill: share of people meeting the requirement",
        [Column("Role"), *(Column(name, num=True) for _, name in skills)],
        heatmap=True,
        note=(f"{more} more skills required by these roles are in the requirements table (CSV)." if more else None),
    )
    for role_id in shown:
        row = [text(roles[role_id][0]["role_name"], candidates_url(role_id))]
        for skill_id, _ in skills:
            cell = by_key.get((role_id, skill_id))
            row.append(
                share(cell["meeting"], cell["headcount"], cell["share_meeting"]) if cell else Cell(None, "not required")
            )
        table.rows.append(row)
    return table, Pager(page, pages, link(page - 1) if page > 1 else None, link(page + 1) if page < pages else None)


def group_skill_heatmap(cells: Sequence[dict[str, Any]], basis: str) -> Table:
    """Teams × skills (a department's or a team's report): the share meeting, over every role of the
    team that requires the skill."""
    skills, more = _skill_columns(cells, lambda c: c["headcount"] - c["meeting"])
    groups: dict[Any, None] = {}
    for cell in cells:
        groups.setdefault(cell["group"], None)
    by_key = {(c["group"], c["skill_id"]): c for c in cells}
    table = Table(
        "team_heatmap",
        "Team × skill: share of people meeting the requirement",
        [Column("Team"), *(Column(name, num=True) for _, name in skills)],
        heatmap=True,
        note=(f"{more} more skills are in the requirements table (CSV)." if more else None),
    )
    for group in groups:
        row = [text(group, team_url(group, basis) if group is not None else None, empty="(no team)")]
        for skill_id, _ in skills:
            cell = by_key.get((group, skill_id))
            row.append(
                share(cell["meeting"], cell["headcount"], cell["share_meeting"]) if cell else Cell(None, "not required")
            )
        table.rows.append(row)
    return table


def groups(summaries: Sequence[dict[str, Any]], kind: str, basis: str, linked: bool) -> Table:
    """Departments of the organisation, or teams of a department, with their readiness summary."""
    link = department_url if kind == "department" else team_url
    table = Table(
        f"{kind}s",
        f"{kind.capitalize()}s",
        [
            Column(kind.capitalize()),
            Column("Headcount", num=True),
            Column("Assessed", num=True),
            Column("Mean readiness", num=True),
        ],
    )
    for group in summaries:
        name = group["group"]
        table.rows.append(
            [
                text(name, link(name, basis) if linked and name is not None else None, empty=f"(no {kind})"),
                number(group["headcount"]),
                number(group["assessed"]),
                number(group["mean_readiness"]),
            ]
        )
    return table


def teams(rows: Sequence[Any], basis: str) -> Table:
    return Table(
        "teams",
        "Teams",
        [Column("Team"), Column("Department"), Column("Headcount", num=True)],
        [[text(row.team, team_url(row.team, basis)), text(row.department), number(row.headcount)] for row in rows],
    )


def employee_gap(report: GapReport) -> Table:
    return Table(
        "gaps",
        f"{report.role_name}: requirement by requirement",
        [
            Column("Skill"),
            Column("Criticality"),
            Column("Weight", num=True),
            Column("Required level", num=True),
            Column("Verified level", num=True),
            Column("Shortfall", num=True),
            Column("Met"),
        ],
        [
            [
                text(r.skill_name),
                text(r.criticality),
                number(r.weight),
                number(r.required_level),
                number(r.verified_level),
                number(r.shortfall),
                Cell("yes" if r.met else "no", "met" if r.met else "not met"),
            ]
            for r in report.requirements
        ],
    )


def recommended_path(recommendation: Recommendation) -> Table:
    def closes(gaps: Iterable[Any]) -> str:
        return "; ".join(f"{g.skill_name} to level {g.certified_level}" for g in gaps)

    return Table(
        "path",
        "Recommended path: earn these in this order",
        [Column("Step", num=True), Column("Achievement"), Column("Tier"), Column("Closes"), Column("Also closes")],
        [
            [
                number(step.position),
                text(step.name),
                text(step.tier),
                text(closes(step.closes)),
                text(closes(step.bonus)),
            ]
            for step in recommendation.steps
        ],
    )


def unclosable(recommendation: Recommendation) -> Table:
    return Table(
        "unclosable",
        "Must-have gaps no achievement closes",
        [Column("Skill"), Column("Required level", num=True), Column("Best certified level", num=True), Column("Why")],
        [
            [text(g.skill_name), number(g.required_level), number(g.best_certified_level), text(g.message)]
            for g in recommendation.unclosable
        ],
    )


def candidates(ranking: CandidateList) -> Table:
    def remaining(gaps: Iterable[Any]) -> str:
        return "; ".join(f"{g.skill_name} ({g.criticality}, short {g.shortfall:g})" for g in gaps)

    return Table(
        "candidates",
        f"Candidates for {ranking.role_name}, readiest first",
        [
            Column("Rank", num=True),
            Column("Employee"),
            Column("HRIS id"),
            Column("Team"),
            Column("Readiness", num=True),
            Column("Must-have gaps", num=True),
            Column("Remaining gaps"),
        ],
        [
            [
                number(rank),
                text(c.name, employee_url(c.hris_id, ranking.role_id)),
                text(c.hris_id),
                text(c.team),
                number(c.readiness),
                number(c.must_have_gaps),
                text(remaining(c.gaps)),
            ]
            for rank, c in enumerate(ranking.candidates, start=1)
        ],
    )


def achievement_label(name: str | None, achievement_id: Any) -> str:
    return name if name is not None else f"(not in the catalogue: {achievement_id})"


def kpi_achievements(linkage: KpiLinkage, selected: str | None) -> tuple[Table, IntervalChart]:
    table = Table(
        "achievements",
        f"Holders against non-holders on {linkage.metric}",
        [
            Column("Achievement"),
            Column("Holders", num=True),
            Column("Non-holders", num=True),
            Column("Status"),
            Column("Mean (holders)", num=True),
            Column("Mean (non-holders)", num=True),
            Column("Difference", num=True),
            Column("95 % interval low", num=True),
            Column("95 % interval high", num=True),
        ],
    )
    intervals = []
    chosen = None
    for link in linkage.achievements:
        label = achievement_label(link.name, link.achievement_id)
        if str(link.achievement_id) == selected:
            chosen = label
        table.rows.append(
            [
                text(label),
                number(link.holders),
                number(link.non_holders),
                text(link.status),
                number(link.mean_holders),
                number(link.mean_non_holders),
                number(link.difference),
                number(link.ci_low),
                number(link.ci_high),
            ]
        )
        if link.status == "ok" and None not in (link.ci_low, link.difference, link.ci_high):
            intervals.append((label, link.ci_low, link.difference, link.ci_high))
    return table, interval_chart(f"Difference in mean {linkage.metric}, holders − non-holders", intervals, chosen)


def kpi_pairs(linkage: KpiLinkage) -> Table:
    return Table(
        "pairs",
        "Achievement pairs over-represented in the top quartile",
        [
            Column("First achievement"),
            Column("Second achievement"),
            Column("Holding both", num=True),
            Column("Of them in the top quartile", num=True),
            Column("Lift", num=True),
        ],
        [
            [
                text(achievement_label(p.names[0], p.achievement_ids[0])),
                text(achievement_label(p.names[1], p.achievement_ids[1])),
                number(p.support),
                number(p.support_top),
                number(p.lift),
            ]
            for p in linkage.top_pairs
        ],
    )


def roi(inputs: RoiIn, result: RoiOut) -> Table:
    return Table(
        "roi",
        "Estimate",
        [Column("Figure"), Column("Value", num=True), Column("How")],
        [
            [text("Total cost"), number(result.total_cost, 2), text("seats × cost per seat")],
            [
                text("First-year gain"),
                number(result.first_year_gain, 2),
                text("seats × revenue per head × expected uplift × retention"),
            ],
            [text("Gross multiple"), number(result.gross_multiple, 2, "×"), text("gain ÷ cost")],
            [text("Net multiple"), number(result.net_multiple, 2, "×"), text("(gain − cost) ÷ cost")],
            [text("Payback (months)"), number(result.payback_months, 2), text("cost ÷ (gain ÷ 12)")],
        ],
    )
