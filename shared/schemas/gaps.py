"""Wire schemas of the gap engine: HRIS inputs, skill facts, gap reports, ROI."""

import base64
import binascii
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.schemas.taxonomy import Name, Schema
from shared.timestamps import StorableDatetime

HrisId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^/\s][^/]*$")]
Label = Annotated[str, Field(min_length=1, max_length=200)]
MAX_BULK_EMPLOYEES = 5_000
MAX_BULK_OBSERVATIONS = 10_000

# --- employees (from the HRIS) -----------------------------------------------------------------


class EmployeeFields(Schema):
    name: Name
    email: Annotated[str, Field(max_length=320)] | None = None
    manager_hris_id: HrisId | None = None
    team: Label | None = None
    department: Label | None = None
    hire_date: date | None = None
    current_role_id: uuid.UUID | None = Field(None, description="A taxonomy_api role id.")
    target_role_id: uuid.UUID | None = Field(None, description="A taxonomy_api role id; the default for gap reports.")


class EmployeeIn(EmployeeFields):
    """The body of `PUT /v1/employees/{hris_id}`: the whole record, replacing what was there."""


class EmployeeBulkItem(EmployeeFields):
    hris_id: HrisId


class EmployeeBulkIn(Schema):
    employees: list[EmployeeBulkItem] = Field(min_length=1, max_length=MAX_BULK_EMPLOYEES)

    @field_validator("employees")
    @classmethod
    def one_record_per_hris_id(cls, employees: list[EmployeeBulkItem]) -> list[EmployeeBulkItem]:
        seen: set[str] = set()
        for employee in employees:
            if employee.hris_id in seen:
                raise ValueError(f"HRIS id {employee.hris_id!r} appears more than once")
            seen.add(employee.hris_id)
        return employees


class EmployeeOut(EmployeeBulkItem):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class BulkUpsertOut(Schema):
    received: int
    created: int
    updated: int


# --- KPI observations --------------------------------------------------------------------------


class KpiObservationIn(Schema):
    hris_id: HrisId
    metric: Label
    value: float = Field(allow_inf_nan=False)
    period_start: date
    period_end: date

    @model_validator(mode="after")
    def period_is_ordered(self) -> "KpiObservationIn":
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class KpiObservationBulkIn(Schema):
    observations: list[KpiObservationIn] = Field(min_length=1, max_length=MAX_BULK_OBSERVATIONS)


# --- role requirements snapshot ----------------------------------------------------------------


class RequirementSnapshot(Schema):
    skill_id: uuid.UUID
    skill_name: str
    required_level: int
    weight: float
    criticality: Literal["must", "should"]


class RoleSnapshotOut(Schema):
    role_id: uuid.UUID
    name: str
    synced_at: datetime
    requirements: list[RequirementSnapshot]


# --- skill facts -------------------------------------------------------------------------------


class SkillFactIn(Schema):
    """A verified skill level. Posted by an admin for now; credential webhooks will derive these."""

    hris_id: HrisId
    skill_id: uuid.UUID
    level: int = Field(ge=0, le=100)
    credential_id: Annotated[str, Field(min_length=1, max_length=500)]
    issuer_id: Annotated[str, Field(min_length=1, max_length=500)]
    earned_at: StorableDatetime
    expires_at: StorableDatetime | None = None
    revoked: bool = False


class SkillFactOut(SkillFactIn):
    id: uuid.UUID


# --- gap analysis ------------------------------------------------------------------------------

VERIFIED_LEVEL_FORMULA = (
    "verified = max(level × issuer weight) over the employee's skill facts for the skill that are neither "
    "revoked nor expired (0 if none); the issuer weight (0 < w ≤ 1, default 1, set by an admin per trusted issuer) "
    "comes from the trusted-issuer registry, so a level 4 from a half-trusted issuer counts as 2."
)
READINESS_FORMULA = (
    "readiness = 100 × Σ(weight × min(verified, required) / required) / Σ weight, over the role's "
    "requirements; " + VERIFIED_LEVEL_FORMULA + " A requirement at level 0 counts as met, and one is met "
    "when verified ≥ required (within 1e-9). A role with no requirements gives 100."
)


class RequirementGap(Schema):
    skill_id: uuid.UUID
    skill_name: str
    criticality: Literal["must", "should"]
    weight: float
    required_level: int
    verified_level: float | None = Field(
        description=VERIFIED_LEVEL_FORMULA + " Null if no current fact; rounded to 4 decimals."
    )
    shortfall: float = Field(description="max(required − verified, 0), rounded to 4 decimals.")
    met: bool = Field(description="verified ≥ required (within 1e-9).")


class GapReport(Schema):
    hris_id: str
    role_id: uuid.UUID
    role_name: str
    readiness: float = Field(ge=0, le=100, description=READINESS_FORMULA)
    must_have_gaps: int
    requirements: list[RequirementGap] = Field(
        description="Unmet must-haves first, then unmet should-haves, then met requirements; "
        "within each, by weight × shortfall, largest first."
    )


class Candidate(Schema):
    hris_id: str
    name: str
    team: str | None
    readiness: float = Field(ge=0, le=100, description=READINESS_FORMULA)
    must_have_gaps: int
    gaps: list[RequirementGap] = Field(description="The requirements this employee does not yet meet.")


class CandidateList(Schema):
    role_id: uuid.UUID
    role_name: str
    candidates: list[Candidate]


# --- ROI ---------------------------------------------------------------------------------------


def _fraction(value: float) -> float:
    # A percentage given by mistake (5 for 5 %) would multiply the estimate a hundredfold: say what is wanted.
    if not 0 <= value <= 1:
        raise PydanticCustomError(
            "fraction", "Must be a fraction: 0.05 for 5 % (between 0 and 1), not {value}.", {"value": value}
        )
    return value


Fraction = Annotated[
    float, Field(allow_inf_nan=False, json_schema_extra={"minimum": 0, "maximum": 1}), AfterValidator(_fraction)
]


class RoiIn(Schema):
    seats: int = Field(ge=1, le=10_000_000)
    # At least a cent: a cost just above 0 (5e-324) made the multiples infinite, answered as nulls.
    cost_per_seat: float = Field(ge=0.01, le=1_000_000, allow_inf_nan=False)
    revenue_per_head: float = Field(ge=0, le=1_000_000_000, allow_inf_nan=False)
    expected_uplift: Fraction = Field(description="The revenue uplift per head, a fraction: 0.05 for 5 %, at most 1.")
    retention: Fraction = Field(description="Share of the uplift that sticks, a fraction: 0.5 for 50 %.")


class RoiOut(Schema):
    total_cost: float = Field(description="seats × cost_per_seat")
    first_year_gain: float = Field(description="seats × revenue_per_head × expected_uplift × retention")
    gross_multiple: float = Field(description="first_year_gain / total_cost")
    net_multiple: float = Field(description="(first_year_gain − total_cost) / total_cost")
    payback_months: float | None = Field(description="total_cost / (first_year_gain / 12); null if no gain")


class TeamRequirementGap(Schema):
    role_id: uuid.UUID
    role_name: str
    skill_id: uuid.UUID
    skill_name: str
    criticality: Literal["must", "should"]
    required_level: int
    headcount: int = Field(description="Team members assessed against this requirement.")
    meeting: int = Field(description="Of those, how many meet the required level.")
    share_meeting: float = Field(ge=0, le=1, description="meeting / headcount (a heatmap cell).")
    weighted_shortfall: float = Field(description="Σ weight × shortfall over the team members: the gap's size.")


class ReadinessBucket(Schema):
    lower: float
    upper: float = Field(description="Exclusive, except the last bucket, which includes 100.")
    count: int


class TeamGapReport(Schema):
    team: str
    role_id: uuid.UUID | None = Field(
        description="The role asked for; null when each member is measured against their own."
    )
    headcount: int = Field(description="Employees in the team.")
    assessed: int = Field(description="Of those, how many have a synced role to measure against.")
    mean_readiness: float | None = Field(description=READINESS_FORMULA + " Averaged over assessed members.")
    readiness_distribution: list[ReadinessBucket]
    requirements: list[TeamRequirementGap] = Field(description="Largest weighted shortfall first.")


class SkillEvidence(Schema):
    credential_id: str
    issuer_id: str
    level: int
    earned_at: datetime
    expires_at: datetime | None


class VerifiedSkill(Schema):
    skill_id: uuid.UUID
    skill_name: str | None = Field(
        description="As the taxonomy named it when the credential was mapped, or as a synced role names it; "
        "null when neither has (an alignment mapping to a skill no synced role requires)."
    )
    level: int = Field(description="The highest level among current (not revoked, not expired) facts.")
    earned_at: datetime = Field(description="When that level was first proven.")
    expires_at: datetime | None = Field(description="When the level lapses unless renewed; null if it does not.")
    expiring: bool = Field(description="The level lapses within the window asked for.")
    credentials: list[SkillEvidence] = Field(description="The credentials proving that level.")


class SkillProfile(Schema):
    hris_id: str
    skills: list[VerifiedSkill]


# --- trusted issuers and received credentials --------------------------------------------------


TRUST_WEIGHT = (
    "How much this issuer's credentials are worth, 0 < w ≤ 1: every skill fact derived from its credentials "
    "carries it, and gap reports count level × weight."
)


class TrustedIssuerIn(Schema):
    issuer_id: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^(did:|https?://)\S+$")] = Field(
        description="The issuer's DID (did:key:…, did:web:…) or URL, as it appears in its credentials."
    )
    weight: float = Field(1.0, gt=0, le=1, description=TRUST_WEIGHT)
    note: Annotated[str, Field(max_length=500)] | None = None


class TrustedIssuerUpdate(Schema):
    """The body of `PATCH /v1/trusted-issuers/{id}`: only what is sent changes."""

    weight: float | None = Field(None, gt=0, le=1, description=TRUST_WEIGHT)
    note: Annotated[str, Field(max_length=500)] | None = None


class TrustedIssuerOut(TrustedIssuerIn):
    id: uuid.UUID
    origin: Literal["admin", "own"] = Field(
        description="admin: added by an admin. own: one of the organisation's own issuers at the badge issuer, "
        "trusted automatically when its first credential arrived through a webhook source (or an HRIS post "
        "whose token may list the organisation's issuers)."
    )
    issuer_ref: uuid.UUID | None = Field(
        description="For own issuers, the issuer's id at the badge issuer. Trust follows it: after a did:key "
        "rotation the new DID is trusted automatically with the same weight."
    )
    trusted: bool = Field(description="False for an own issuer an admin stopped trusting (kept so it stays so).")
    distrusted_at: datetime | None
    created_at: datetime


class TrustedIssuerList(Schema):
    items: list[TrustedIssuerOut]


CredentialStatus = Literal[
    "verified",
    "issuer_not_trusted",
    "unmapped",
    "recipient_mismatch",
    "recipient_unverified",
    "awaiting_employee",
    "status_unknown",
    "rejected",
]
EXTERNAL_ID_LEVEL = 1
SkillSource = Literal["achievement", "external_id", "mapping"]


class CertifiedSkill(Schema):
    skill_id: uuid.UUID
    level: int
    source: SkillSource = Field(
        "achievement",
        description="achievement: one of our achievements, at its certified level (taxonomy_api). external_id: a "
        "third-party alignment whose targetCode/targetUrl is an ESCO/O*NET/CASE id kept on our skill, at level "
        f"{EXTERNAL_ID_LEVEL} (an external framework says what a badge is about, not how well). mapping: an "
        "admin-defined alignment mapping, at its level (it wins over an external-id match for the same target).",
    )
    target: str | None = Field(None, description="The third-party alignment target that matched.")
    skill_name: str | None = Field(None, description="The skill's name as the taxonomy gave it when mapped.")


class ReceivedCredentialOut(Schema):
    id: uuid.UUID
    hris_id: str
    credential_id: str | None
    issuer_id: str | None
    achievement_id: uuid.UUID | None
    format: str
    status: CredentialStatus = Field(
        description="verified: counts. issuer_not_trusted: valid, but counts only once an admin trusts its "
        "issuer (no re-posting needed). unmapped: valid, but none of its alignments maps to our skills yet; it "
        "is re-mapped when an alignment mapping is added or the taxonomy is refreshed. recipient_mismatch: "
        "valid, but its recipient identifiers name someone else (counts once the HRIS records the matching email "
        "or HRIS id). recipient_unverified: valid, but nothing in it can be matched to an HRIS record. "
        "awaiting_employee: valid, delivered before the HRIS created its learner; matched when they appear. "
        "status_unknown: counted before, but the verifier could not be asked for longer than the grace period. "
        "rejected: failed verification, revoked or expired; see reasons."
    )
    reasons: list[str] = Field(description="Why it was rejected (the verifier's failures), or why it does not count.")
    skills: list[CertifiedSkill] = Field(description="The skill levels it certifies, and where each comes from.")
    earned_at: datetime | None = Field(description="awardedDate when the credential has one, else validFrom.")
    expires_at: datetime | None
    received_at: datetime
    recipient: str = Field(
        description="bound (names this employee), mismatch, unverified, or unchecked (received before binding)."
    )
    checked_at: datetime | None = Field(description="The last re-verification by the status sweep.")
    check_outcome: str | None = Field(description="What that re-verification found.")


class ReceivedCredentialList(Schema):
    items: list[ReceivedCredentialOut]


# --- third-party alignment mappings and taxonomy refresh ---------------------------------------


class AlignmentMappingIn(Schema):
    target: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^\S+$")] = Field(
        description="A third-party alignment's targetCode or targetUrl, compared exactly (e.g. an ESCO concept "
        "URI, an O*NET element id, a CASE CFItem URI, or a partner's own code)."
    )
    framework: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="The targetFramework it belongs to, for people; matching is by target alone."
    )
    skill_id: uuid.UUID = Field(description="A taxonomy_api skill of this organisation.")
    level: int = Field(ge=1, le=100, description="The level a credential aligned to the target certifies.")
    note: Annotated[str, Field(max_length=500)] | None = None


class AlignmentMappingOut(AlignmentMappingIn):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class AlignmentMappingList(Schema):
    items: list[AlignmentMappingOut]


class TaxonomyRefreshOut(Schema):
    roles_synced: int = Field(description="Synced roles whose requirements were read again.")
    roles_missing: list[uuid.UUID] = Field(description="Synced roles taxonomy_api no longer has (left as they were).")
    credentials_checked: int
    credentials_remapped: int = Field(description="Received credentials whose certified skills changed.")


# --- webhook sources ---------------------------------------------------------------------------


class WebhookSourceIn(Schema):
    id: uuid.UUID | None = Field(
        None,
        description="Optional, chosen by the caller: the delivery URL contains it, and the issuer only hands out "
        "the secret when the subscription (with that URL) is created. Generated when omitted.",
    )
    name: str = Field(min_length=1, max_length=200, description="Which issuer subscription this is, for people.")
    secret: str = Field(
        min_length=10,
        max_length=200,
        pattern=r"^whsec_\S+$",
        description="The signing secret the issuer returned when the subscription was created (whsec_…).",
    )
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="An API client of this organisation with credentials:read: the gap engine signs in with it to "
        "verify delivered credentials through the issuer's authenticated path (outside the public rate limit) "
        "and to re-check them. Strongly recommended: without it, intake is bound by the public rate limit.",
    )
    client_secret: str | None = Field(None, min_length=1, max_length=200, description="That client's secret.")

    @field_validator("secret")
    @classmethod
    def secret_is_a_signing_key(cls, secret: str) -> str:
        """Standard Webhooks secrets are whsec_ + base64 of the key: a secret that does not decode to a
        key of at least 8 bytes would make every delivery fail, so it is refused when registered."""
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the secret after whsec_ must be base64") from exc
        if len(key) < 8:
            raise ValueError("the secret must decode to a key of at least 8 bytes")
        return secret

    @model_validator(mode="after")
    def client_pair(self) -> "WebhookSourceIn":
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret go together")
        return self


class WebhookSourceOut(Schema):
    """The secrets are never returned."""

    id: uuid.UUID
    name: str
    created_at: datetime
    client_id: str | None = None
    webhook_path: str = Field(description="Where the issuer delivers: POST this path on the gap engine.")


class WebhookReceiptOut(Schema):
    message_id: str
    event_type: str
    outcome: str = Field(description="What the delivery did (or why it was ignored).")
    duplicate: bool = Field(description="True when this webhook-id was already received; nothing was done again.")


class DidChallengeIn(Schema):
    did: str = Field(min_length=8, max_length=500, pattern=r"^did:[a-z0-9]+:\S+$", description="The holder's DID.")


class DidChallengeOut(Schema):
    did: str
    challenge: str = Field(description="Sign it as the presentation's `nonce`; single use.")
    audience: str = Field(description="The presentation's `aud`.")
    expires_at: datetime


class DidProofIn(Schema):
    presentation: str = Field(
        min_length=20,
        max_length=65_536,
        description="A Verifiable Presentation as a compact JWT (EdDSA), signed with the DID's key: `iss` the DID, "
        "`nonce` the challenge, `aud` the audience.",
    )


class EmployeeDidOut(Schema):
    did: str
    proved_at: datetime


class EmployeeDidList(Schema):
    items: list[EmployeeDidOut]
