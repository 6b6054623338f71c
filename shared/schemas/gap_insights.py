"""Wire schemas of the gap engine's insights: achievement recommendations and KPI linkage.

The formulas live in the field descriptions so that they appear in the OpenAPI document.
"""

import uuid
from datetime import date
from typing import Literal

from pydantic import Field

from shared.schemas.taxonomy import Schema

# --- recommendations -----------------------------------------------------------------------------


class CertifiedLevel(Schema):
    skill_id: uuid.UUID
    level: int = Field(description="The level on the skill's scale the achievement certifies.")


class ClosedGap(Schema):
    skill_id: uuid.UUID
    skill_name: str
    criticality: Literal["must", "should"]
    required_level: int
    verified_level: float | None = Field(description="The employee's verified level now (null if none).")
    certified_level: int = Field(description="The level this step certifies; ≥ required_level.")


class RecommendationStep(Schema):
    position: int = Field(ge=1, description="1-based place in the list; prerequisites come before their dependants.")
    achievement_id: uuid.UUID
    name: str
    tier: str
    certifies: list[CertifiedLevel]
    closes: list[ClosedGap] = Field(
        description="Unmet must-have requirements this step is the first in the list to close "
        "(certified level ≥ required level)."
    )
    bonus: list[ClosedGap] = Field(
        description="Unmet should-have requirements this step is the first in the list to close, as a bonus."
    )
    prerequisite_for: list[uuid.UUID] = Field(
        description="Later steps that need this one first (pathway prerequisites, or a capstone needing every step)."
    )


class UnclosableGap(Schema):
    skill_id: uuid.UUID
    skill_name: str
    required_level: int
    best_certified_level: int | None = Field(
        description="The highest level any achievement the employee does not already hold certifies for this skill."
    )
    message: str


class Recommendation(Schema):
    hris_id: str
    role_id: uuid.UUID
    role_name: str
    method: Literal["exact", "greedy", "none_needed", "none_possible"] = Field(
        description="exact: a branch-and-bound search proved no shorter list exists (candidate set ≤ the exact "
        "bound and the search finished within its node budget). greedy: above the bound, repeatedly the "
        "achievement closing the most remaining must-have gaps per achievement added (itself plus its missing "
        "prerequisites); not guaranteed shortest. none_needed: every must-have is met (so all are closed). "
        "none_possible: must-have gaps are open but no achievement in the catalogue closes any (see unclosable)."
    )
    candidates_considered: int = Field(
        description="Achievements the employee does not hold that close at least one must-have gap."
    )
    must_have_gaps: int = Field(description="Unmet must-have requirements of the role now.")
    closes_all_must_haves: bool = Field(description="True when no must-have gap is left unclosable.")
    steps: list[RecommendationStep] = Field(
        description="The shortest list found (counting required prerequisites the employee does not hold), "
        "prerequisites first; ties broken by fewer advanced tiers (foundational < intermediate < advanced < "
        "other), then by names."
    )
    unclosable: list[UnclosableGap] = Field(description="Must-have gaps no achievement in the catalogue closes.")


# --- KPI linkage -----------------------------------------------------------------------------------

MEAN_DIFFERENCE = "mean(metric | holders) − mean(metric | non-holders)"


class AchievementLinkage(Schema):
    achievement_id: uuid.UUID
    name: str | None = Field(description="From taxonomy_api; null if it is no longer in the catalogue.")
    holders: int = Field(description="Employees holding it, earned before the start of their observation's period.")
    non_holders: int
    status: Literal["ok", "insufficient_data"] = Field(
        description="insufficient_data when either group has fewer than `min_group_size` employees; the "
        "statistics are then null."
    )
    mean_holders: float | None
    mean_non_holders: float | None
    difference: float | None = Field(description=MEAN_DIFFERENCE)
    ci_low: float | None = Field(
        description="2.5th percentile of the difference over the bootstrap resamples (stratified percentile "
        "bootstrap: each resample draws as many holders from the holders and as many non-holders from the "
        "non-holders, with replacement, so group sizes stay those observed; for a group of 500 or more the "
        "resampled mean is drawn from its normal limit: the group's mean, variance / n and a Cornish-Fisher "
        "skewness term, which matches the drawn resamples to O(1/n))."
    )
    ci_high: float | None = Field(description="97.5th percentile of the bootstrap differences.")


class AchievementPair(Schema):
    achievement_ids: tuple[uuid.UUID, uuid.UUID]
    names: tuple[str | None, str | None]
    support: int = Field(description="Employees holding both.")
    support_top: int = Field(description="Employees holding both who are in the top quartile.")
    lift: float = Field(
        description="(support_top / top_quartile_size) / (support / employees) = P(top quartile | both) / "
        "P(top quartile); 1 means no over-representation."
    )


class KpiLinkage(Schema):
    metric: str
    direction: Literal["increase", "decrease"] = Field(
        description="increase: higher values are better (top quartile = highest); decrease: lower are better."
    )
    period_from: date | None
    period_to: date | None
    employees: int = Field(
        description="Employees with an observation in the filter; each counts once, with their latest "
        "observation (latest period_start)."
    )
    top_quartile_threshold: float = Field(
        description="The 75th (direction increase) or 25th (decrease) percentile of the values, linear "
        "interpolation; the top quartile is the employees at or beyond it."
    )
    top_quartile_size: int
    min_group_size: int = Field(description="Fewer holders or non-holders than this gives insufficient_data.")
    min_pair_support: int = Field(description="Pairs held together by fewer employees are not ranked.")
    resamples: int = Field(description="Bootstrap resamples per achievement (seeded: see `seed`).")
    seed: int = Field(description="Seed of the bootstrap's random generator: the same data gives the same interval.")
    achievements: list[AchievementLinkage] = Field(
        description="Every achievement some observed employee held; analysable ones first, by difference "
        "(best first for the direction), then by name."
    )
    top_pairs: list[AchievementPair] = Field(
        description="Pairs of achievements most over-represented in the top quartile: lift descending, then "
        "support_top descending."
    )
