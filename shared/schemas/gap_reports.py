"""Wire schemas of the stored organisation, department and team gap reports."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.schemas.gaps import READINESS_FORMULA, VERIFIED_LEVEL_FORMULA, ReadinessBucket
from shared.schemas.taxonomy import Schema

Basis = Literal["current", "target"]
Scope = Literal["organisation", "department", "team"]
BASIS_DESCRIPTION = (
    "current: each employee against their current role; target: against their target role, else their "
    "current one. Employees with no role, or a role not synced into the gap engine, are counted in "
    "headcount but not assessed."
)


class RoleSkillCell(Schema):
    """One heatmap cell: a role's requirement, over the people in the report measured against that role."""

    role_id: uuid.UUID
    role_name: str
    skill_id: uuid.UUID
    skill_name: str
    criticality: Literal["must", "should"]
    required_level: int
    weight: float
    headcount: int = Field(description="People measured against this role.")
    meeting: int = Field(description="Of those, how many have verified ≥ required. " + VERIFIED_LEVEL_FORMULA)
    share_meeting: float = Field(ge=0, le=1, description="meeting / headcount, rounded to 4 decimals.")
    weighted_shortfall: float = Field(
        description="weight × Σ max(required − verified, 0) over those people (= weight × mean shortfall × "
        "headcount): the size of the gap, rounded to 4 decimals."
    )


class GroupSkillCell(Schema):
    """Heatmap cell per group (team) × skill, over every role in the group that requires the skill."""

    group: str | None
    skill_id: uuid.UUID
    skill_name: str
    headcount: int
    meeting: int
    share_meeting: float = Field(ge=0, le=1)


class GroupSummary(Schema):
    group: str | None = Field(description="The department or team; null for people without one.")
    headcount: int
    assessed: int
    mean_readiness: float | None
    readiness_distribution: list[ReadinessBucket]


class GapGroupReport(Schema):
    scope: Scope
    name: str | None = Field(description="The department or team; null for the organisation.")
    basis: Basis = Field(description=BASIS_DESCRIPTION)
    as_of: datetime = Field(description="Skill facts are counted as current (not expired) at this instant.")
    headcount: int
    assessed: int
    mean_readiness: float | None = Field(description=READINESS_FORMULA + " Averaged over assessed people.")
    readiness_distribution: list[ReadinessBucket]
    top_gaps: list[RoleSkillCell] = Field(description="The largest weighted shortfalls (at most 20).")
    requirements: list[RoleSkillCell] = Field(description="Every role × skill cell, by role name then skill name.")
    groups: list[GroupSummary] = Field(
        description="Departments of the organisation, or teams of a department; empty for a team."
    )
    heatmap: list[GroupSkillCell] = Field(
        description="Team × skill share meeting, for a department or team report; the organisation report gives "
        "role × skill cells (requirements) and per-department summaries, and each department's own report "
        "its team × skill cells."
    )
