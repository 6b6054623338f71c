"""Wire schemas of the taxonomy service; the issuer and the gap engine read the same shapes."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Url = Annotated[str, StringConstraints(max_length=2048)]
Tier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ReviewCycleIn(Schema):
    """Who answers for an object at the review council, and when it is next due for review."""

    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    review_by: date | None = Field(None, description="Listed as overdue by GET /v1/reviews/overdue after this day.")


class FrameworkOriginOut(BaseModel):
    """Where an imported object came from; null for objects made here."""

    external_id: str | None = Field(
        None, description="The framework's id: ESCO concept URI, O*NET code, CASE CFItem identifier."
    )
    framework_id: uuid.UUID | None = None
    source: dict[str, Any] | None = Field(None, description="The framework's record as imported, verbatim.")


# --- proficiency scales ------------------------------------------------------------------------


class ScaleLevel(Schema):
    value: int = Field(ge=0, le=100, description="Ordinal value; higher is more proficient.")
    name: Name
    descriptor: Text = ""


class ScaleIn(Schema):
    name: Name
    description: Text = ""
    levels: list[ScaleLevel] = Field(min_length=1, max_length=20)

    @field_validator("levels")
    @classmethod
    def levels_ascend(cls, levels: list[ScaleLevel]) -> list[ScaleLevel]:
        values = [level.value for level in levels]
        if values != sorted(set(values)):
            raise ValueError("level values must be unique and in ascending order")
        names = [level.name.lower() for level in levels]
        if len(set(names)) != len(names):
            raise ValueError("level names must be unique")
        return levels


class ScaleOut(ScaleIn):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


# --- capabilities and skills -------------------------------------------------------------------


class CapabilityIn(ReviewCycleIn):
    name: Name
    description: Text = ""
    parent_id: uuid.UUID | None = Field(None, description="A broader capability this one sits under.")


class CapabilityOut(CapabilityIn, FrameworkOriginOut):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class SkillAlignmentIn(Schema):
    framework: Literal["esco", "onet", "case", "other"]
    target_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)] = Field(
        description="The framework's identifier: ESCO concept URI, O*NET element id, CASE CFItem URI."
    )
    target_url: Url | None = None
    target_name: Name | None = None


class SkillIn(ReviewCycleIn):
    name: Name
    description: Text = ""
    alternative_labels: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=200
    )
    skill_type: Annotated[str, StringConstraints(max_length=64)] = Field(
        "", description='ESCO\'s "skill/competence" or "knowledge"; free text otherwise.'
    )
    reuse_level: Annotated[str, StringConstraints(max_length=64)] = Field(
        "", description="ESCO's transversal, cross-sector, sector-specific or occupation-specific."
    )
    capability_id: uuid.UUID | None = None
    scale_id: uuid.UUID
    behaviours: list[Annotated[str, StringConstraints(max_length=500)]] = Field(default_factory=list, max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    alignments: list[SkillAlignmentIn] = Field(default_factory=list, max_length=50)


class SkillOut(SkillIn, FrameworkOriginOut):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


# --- roles -------------------------------------------------------------------------------------


class RequirementIn(Schema):
    skill_id: uuid.UUID
    level: int = Field(ge=0, le=100, description="Required level, a value on the skill's scale.")
    weight: float = Field(1.0, gt=0, le=100)
    criticality: Literal["must", "should"] = "must"


class RoleIn(ReviewCycleIn):
    name: Name
    job_family: Annotated[str, StringConstraints(max_length=200)] = ""
    grade: Annotated[str, StringConstraints(max_length=64)] = ""
    description: Text = ""
    requirements: list[RequirementIn] = Field(default_factory=list, max_length=200)

    @field_validator("requirements")
    @classmethod
    def one_requirement_per_skill(cls, requirements: list[RequirementIn]) -> list[RequirementIn]:
        seen: set[uuid.UUID] = set()
        for requirement in requirements:
            if requirement.skill_id in seen:
                raise ValueError(f"skill {requirement.skill_id} is required more than once")
            seen.add(requirement.skill_id)
        return requirements


class RequirementOut(RequirementIn):
    skill_name: str
    level_name: str


class RoleOut(FrameworkOriginOut):
    model_config = ConfigDict(from_attributes=True, extra="forbid")
    id: uuid.UUID
    name: str
    job_family: str
    grade: str
    description: str
    requirements: list[RequirementOut]
    owner: str = ""
    review_by: date | None = None
    created_at: datetime
    updated_at: datetime


# --- achievements ------------------------------------------------------------------------------


class RubricLevel(Schema):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    name: Name
    description: Text = ""


class ResultDescriptionIn(Schema):
    """How an assessment result is judged: a pass mark on a score, or a required rubric level."""

    kind: Literal["score", "rubric"]
    name: Name = "Result"
    pass_mark: float | None = Field(None, ge=0)
    max_score: float | None = Field(None, gt=0)
    rubric_levels: list[RubricLevel] = Field(default_factory=list, max_length=20)
    required_level: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="Rubric level id at or above which the achievement is earned."
    )

    @model_validator(mode="after")
    def consistent(self) -> "ResultDescriptionIn":
        if self.kind == "score":
            if self.pass_mark is None or self.max_score is None:
                raise ValueError("a score result needs pass_mark and max_score")
            if self.pass_mark > self.max_score:
                raise ValueError("pass_mark cannot exceed max_score")
        else:
            if not self.rubric_levels or self.required_level is None:
                raise ValueError("a rubric result needs rubric_levels and required_level")
            if self.required_level not in {level.id for level in self.rubric_levels}:
                raise ValueError("required_level must be one of the rubric level ids")
        return self


class CertifiedSkillIn(Schema):
    skill_id: uuid.UUID
    level: int = Field(ge=0, le=100, description="The level on the skill's scale this achievement certifies.")


class KpiAnchor(Schema):
    metric: Name
    direction: Literal["increase", "decrease"]
    expected_uplift_low: float | None = Field(None, ge=-1000, le=1000, description="Percent, e.g. 10 for 10 %.")
    expected_uplift_high: float | None = Field(None, ge=-1000, le=1000)
    unit: Annotated[str, StringConstraints(max_length=32)] = "%"
    source: Annotated[str, StringConstraints(max_length=500)] = ""


OB3_ACHIEVEMENT_TYPES = (
    "Achievement",
    "ApprenticeshipCertificate",
    "Assessment",
    "Assignment",
    "AssociateDegree",
    "Award",
    "Badge",
    "BachelorDegree",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CommunityService",
    "Competency",
    "Course",
    "CoCurricular",
    "Degree",
    "Diploma",
    "DoctoralDegree",
    "Fieldwork",
    "GeneralEducationDevelopment",
    "JourneymanCertificate",
    "LearningProgram",
    "License",
    "Membership",
    "ProfessionalDoctorate",
    "QualityAssuranceCredential",
    "MasterCertificate",
    "MasterDegree",
    "MicroCredential",
    "ResearchDoctorate",
    "SecondarySchoolDiploma",
)


class AchievementIn(ReviewCycleIn):
    name: Name
    description: Text = ""
    achievement_type: Literal[OB3_ACHIEVEMENT_TYPES] = "Badge"  # type: ignore[valid-type]
    criteria_narrative: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    image_url: HttpUrl | None = None
    tier: Tier = Field(description="foundational, intermediate, advanced, or a custom tier name.")
    skills: list[CertifiedSkillIn] = Field(default_factory=list, max_length=50)
    result_description: ResultDescriptionIn
    evidence_required: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=20
    )
    kpi_anchors: list[KpiAnchor] = Field(default_factory=list, max_length=20)
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    @field_validator("skills")
    @classmethod
    def one_level_per_skill(cls, skills: list[CertifiedSkillIn]) -> list[CertifiedSkillIn]:
        if len({skill.skill_id for skill in skills}) != len(skills):
            raise ValueError("a skill is certified more than once")
        return skills


class CertifiedSkillOut(CertifiedSkillIn):
    skill_name: str
    level_name: str
    alignments: list[SkillAlignmentIn]


class AchievementOut(Schema):
    id: uuid.UUID
    public_url: str = Field(description="Stable public URL; the `achievement.id` in issued credentials.")
    name: str
    description: str
    achievement_type: str
    criteria_narrative: str
    image_url: str | None
    tier: str
    skills: list[CertifiedSkillOut]
    result_description: ResultDescriptionIn
    evidence_required: list[str]
    kpi_anchors: list[KpiAnchor]
    tags: list[str]
    owner: str = ""
    review_by: date | None = None
    external_id: str | None = None
    created_at: datetime
    updated_at: datetime


# --- pathways ----------------------------------------------------------------------------------


class PathwayStepIn(Schema):
    achievement_id: uuid.UUID
    prerequisites: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="Achievements of this pathway to hold first."
    )


class PathwayIn(Schema):
    name: Name
    description: Text = ""
    steps: list[PathwayStepIn] = Field(min_length=1, max_length=100)
    capstone_achievement_id: uuid.UUID | None = Field(
        None, description="Awarded automatically when every step is held."
    )


class PathwayStepOut(PathwayStepIn):
    achievement_name: str
    tier: str


class PathwayOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    steps: list[PathwayStepOut]
    capstone_achievement_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PathwayProgress(Schema):
    pathway_id: uuid.UUID
    complete: bool = Field(description="Every step is held; the capstone is due.")
    held: list[uuid.UUID]
    remaining: list[PathwayStepOut] = Field(description="Steps not yet held, in an order that respects prerequisites.")
    available_now: list[uuid.UUID] = Field(description="Remaining steps whose prerequisites are all held.")
    capstone_achievement_id: uuid.UUID | None
    capstone_held: bool


# --- organisations and clients ----------------------------------------------------------------


class ClientIn(Schema):
    name: Name
    scopes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(min_length=1, max_length=10)


class ClientOut(Schema):
    id: uuid.UUID
    client_id: str
    name: str
    scopes: list[str]
    revoked: bool
    created_at: datetime


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown once; only its hash is stored.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    scope: str
