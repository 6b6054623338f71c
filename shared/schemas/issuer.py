"""Wire schemas of the badge issuer: issuer profiles, assessment results, credentials, verification."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator, model_validator

from shared.timestamps import StorableDatetime

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
ProofFormat = Literal["data-integrity", "vc-jwt"]
# A plausibility check only (one @, no spaces); mail delivery is not this service's concern.
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- issuers -----------------------------------------------------------------------------------


KeyType = Literal["Ed25519", "P-256", "RSA"]
IssuerIdentifier = Literal["did:key", "did:web", "https"]


class IssuerIn(Schema):
    name: Name
    url: HttpUrl | None = None
    email: Email | None = None
    description: Text = ""
    image: HttpUrl | None = Field(None, description="URL of the issuer's logo.")
    identifier: IssuerIdentifier = Field(
        "did:key",
        description="The issuer id in credentials: `did:key` of its Ed25519 key (the default, resolves offline), "
        "`did:web` (path form under this service's public URL, DID document at /issuers/{id}/did.json), or "
        "`https` (the public profile URL; each key's kid is an https URL serving its JWK). Fixed at creation.",
    )
    jwt_key_type: KeyType = Field(
        "Ed25519",
        description="Key type VC-JWTs are signed with: Ed25519 (EdDSA), P-256 (ES256) or RSA (RS256, RSA-2048). "
        "An Ed25519 key is always created too: Data Integrity proofs and status lists are signed with it.",
    )
    default_proof_format: ProofFormat = "data-integrity"


class KeyRevocationIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    compromised_since: StorableDatetime | None = Field(
        None,
        description="From when the key is distrusted; credentials it signed since then are revoked. "
        "Defaults to the key's creation (everything it signed).",
    )

    @model_validator(mode="after")
    def has_a_timezone(self) -> "KeyRevocationIn":
        if self.compromised_since is not None and self.compromised_since.tzinfo is None:
            raise ValueError("compromised_since must carry a timezone (e.g. 2026-01-15T09:30:00Z)")
        return self


class IssuerKeyOut(BaseModel):
    id: uuid.UUID = Field(description="The key's id, as in /v1/issuers/{issuer_id}/keys/{key_id}/revoke.")
    kid: str = Field(description="What proofs name: the verification method id or the https URL of the JWK.")
    key_type: KeyType
    verification_method: str | None = Field(description="The verification method (DID URL or https URL) proofs name.")
    status: Literal["active", "retired", "compromised"]
    created_at: datetime
    retired_at: datetime | None
    compromised_since: datetime | None = None
    revocation_reason: str | None = None


class IssuerOut(BaseModel):
    id: uuid.UUID
    did: str = Field(
        description="The issuer id inside credentials: the did:key of the current Ed25519 key, the did:web, "
        "or the public profile URL (identifier https)."
    )
    identifier: IssuerIdentifier
    jwt_key_type: KeyType
    name: str
    url: str | None
    email: str | None
    description: str
    image: str | None
    default_proof_format: ProofFormat
    public_profile_url: str
    jwks_url: str
    did_document_url: str | None = Field(None, description="Where the did:web DID document is served.")
    keys: list[IssuerKeyOut]
    created_at: datetime


# --- assessment results ------------------------------------------------------------------------


class LearnerIn(Schema):
    hris_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    email: Email | None = None
    did: Annotated[str, StringConstraints(pattern=r"^did:[a-z0-9]+:\S+$", max_length=500)] | None = None

    @model_validator(mode="after")
    def identifies_someone(self) -> "LearnerIn":
        if not (self.hris_id or self.email):
            raise ValueError("a learner needs an hris_id or an email")
        return self


class EvidenceIn(Schema):
    urls: list[HttpUrl] = Field(default_factory=list, max_length=20)
    narrative: Text = ""


# A platform's clock may run a little ahead of ours; more than this and the date is wrong, not skewed.
COMPLETED_AT_CLOCK_SKEW = timedelta(minutes=5)
_ACHIEVEMENT_PATH = "/v1/public/achievements/"


def _achievement_id_in(url: HttpUrl) -> uuid.UUID | None:
    """The achievement id at the end of a taxonomy_api public achievement URL, else None."""
    path = url.path or ""
    if _ACHIEVEMENT_PATH not in path:
        return None
    tail = path.rsplit(_ACHIEVEMENT_PATH, 1)[1].rstrip("/")
    try:
        return uuid.UUID(tail)
    except ValueError:
        return None


class AssessmentResultIn(Schema):
    learner: LearnerIn
    achievement_id: uuid.UUID | None = Field(
        None, description="The achievement (credential definition) in taxonomy_api; or give achievement_url."
    )
    achievement_url: HttpUrl | None = Field(
        None,
        description="The achievement's public URL as taxonomy_api serves it (…/v1/public/achievements/{id}), "
        "the `achievement.id` of the credentials issued for it: an alternative to achievement_id.",
    )
    issuer_id: uuid.UUID
    score: float | None = Field(None, ge=0, le=1_000_000)
    rubric_level: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="Id of the rubric level reached, for rubric-judged achievements."
    )
    evidence: EvidenceIn = Field(default_factory=EvidenceIn)
    assessor: Annotated[str, StringConstraints(max_length=200)] | None = None
    completed_at: StorableDatetime
    proof_format: ProofFormat | None = Field(None, description="Defaults to the issuer's default (data-integrity).")

    @model_validator(mode="after")
    def has_a_result(self) -> "AssessmentResultIn":
        from_url = _achievement_id_in(self.achievement_url) if self.achievement_url else None
        if self.achievement_url and from_url is None:
            raise ValueError("achievement_url must be an achievement's public URL: …/v1/public/achievements/{uuid}")
        if self.achievement_id and from_url and self.achievement_id != from_url:
            raise ValueError("achievement_id and achievement_url name different achievements")
        self.achievement_id = self.achievement_id or from_url
        if self.achievement_id is None:
            raise ValueError("an assessment result needs an achievement_id or an achievement_url")
        if self.score is None and self.rubric_level is None:
            raise ValueError("an assessment result needs a score or a rubric_level")
        return self

    @field_validator("completed_at")
    @classmethod
    def has_happened(cls, value: datetime) -> datetime:
        # On the field, not the model, so the 422 names body.completed_at (issue 15).
        if value.tzinfo is None:
            raise ValueError("completed_at must carry a timezone (e.g. 2026-01-15T09:30:00Z)")
        if value > datetime.now(UTC) + COMPLETED_AT_CLOCK_SKEW:
            raise ValueError(
                f"completed_at is in the future (more than {COMPLETED_AT_CLOCK_SKEW.seconds // 60} minutes ahead): "
                "an assessment is recorded once it has happened"
            )
        return value


class CredentialStatusOut(BaseModel):
    revoked: bool
    revoked_at: datetime | None = None
    reason: str | None = None
    status_list_url: str
    status_list_index: int


class CredentialOut(BaseModel):
    id: uuid.UUID
    issuer_id: uuid.UUID
    achievement_id: uuid.UUID
    learner_hris_id: str | None
    learner_email: str | None = Field(None, description="The learner's email, when no HRIS id was given.")
    proof_format: ProofFormat
    credential: dict[str, Any] = Field(description="The credential (with its proof when Data Integrity).")
    jwt: str | None = Field(None, description="The compact VC-JWT, when the proof format is vc-jwt.")
    public_url: str
    status: CredentialStatusOut
    issued_at: datetime


class IssuanceOut(BaseModel):
    assessment_result_id: uuid.UUID
    outcome: Literal["issued"]
    credential: CredentialOut
    capstones: list[CredentialOut] = Field(
        default_factory=list, description="Capstone credentials of the pathways this issuance completed."
    )


class BulkAssessmentItemIn(AssessmentResultIn):
    idempotency_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = Field(
        description="The platform's id for this result, as the Idempotency-Key header of a single POST."
    )


class BulkAssessmentIn(Schema):
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=500,
        description="Up to 500 assessment results, each as for POST /v1/assessment-results plus its own "
        "`idempotency_key`. Each is validated and issued on its own, so one bad item fails alone.",
    )


class BulkItemOut(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    idempotency_key: str | None
    status: int = Field(description="The status a single POST of this item would have answered (201, 422, 404...).")
    outcome: Literal["issued", "refused", "failed"]
    replayed: bool = Field(description="True when the key had been used before: this is the stored answer.")
    assessment_result_id: uuid.UUID | None = None
    credential_id: uuid.UUID | None = None
    capstone_ids: list[uuid.UUID] = Field(default_factory=list)
    problem: dict[str, Any] | None = Field(None, description="The problem+json body, when not issued.")


class BulkOut(BaseModel):
    issued: int
    refused: int
    failed: int
    items: list[BulkItemOut]


class RevocationIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


# --- verification ------------------------------------------------------------------------------


CheckName = Literal[
    "format",
    "signature",
    "issuer",
    "schema",
    "validity_window",
    "status",
    "credentials",
    "recipient",
    "badge_class",
    "hosted",
]


class VerificationCheck(BaseModel):
    check: CheckName
    outcome: Literal["passed", "failed", "skipped", "warning"] = Field(
        description="`warning`: the check did not fail but needs a person's (or a trust registry's) judgement, "
        "e.g. a signature by a key nobody vouches for (`issuer_unbound`) or a legacy cryptosuite."
    )
    reason: str | None = None
    code: str | None = Field(
        None, description="Stable machine code of the outcome (`expired`, `invalid_signature`, `issuer_unbound`...)."
    )
    details: list[str] = Field(default_factory=list)


class VerificationOut(BaseModel):
    verified: bool = Field(
        description="True when no check failed. Warnings do not make it false: a valid signature by a key that "
        "is not bound to the issuer is `verified` with `issuer_bound: false`; whether to trust it is the relying "
        "party's decision (the gap engine counts only bound ones)."
    )
    format: Literal["data-integrity", "vc-jwt", "ob2-hosted", "ob2-signed", "unknown"]
    credential_id: str | None = None
    issuer: str | None = Field(None, description="The issuer the credential names (proved only if `issuer_bound`).")
    issuer_bound: bool | None = Field(
        None,
        description="True when the signing key is proved to be the issuer's (its DID document, its JWKS, this "
        "service's own keys); false when the key is only self-asserted (a `jwk` header, a did:jwk, a key named "
        "by its own fragment); null when no signature verified.",
    )
    key_source: str | None = Field(None, description="Where the verifying key came from, in words.")
    checks: list[VerificationCheck]
    failures: list[str] = Field(description="One line per failed check: which, and why.")
    warnings: list[str] = Field(default_factory=list, description="One line per check that warned: which, and why.")
    credentials: list["VerificationOut"] = Field(
        default_factory=list,
        description="For a CLR 2.0 ClrCredential: the verification of each credential it holds, in order.",
    )
    extracted: dict[str, Any] | None = Field(
        None,
        description="For a baked image: the credential found in it, as it would be sent as JSON (the "
        'credential, or {"jwt": ...}), so a relying party can keep what it verified. For an Open Badges 2.0 '
        "assertion presented as JSON or JWS: the assertion (its hosted copy, or the JWS payload).",
    )
    badge_class: str | None = Field(None, description="Open Badges 2.0: the id of the assertion's BadgeClass.")
    alignment: list[dict[str, str]] | None = Field(
        None,
        description="Open Badges 2.0: the BadgeClass's AlignmentObjects (targetName, targetUrl, targetCode, "
        "targetFramework, targetDescription), which map a third-party badge to skills.",
    )
    recipient: dict[str, Any] | None = Field(
        None,
        description="Open Badges 2.0: the assertion's recipient IdentityObject (type, hashed, salt, identity), "
        "to bind the badge to a person.",
    )


# --- webhook subscriptions ---------------------------------------------------------------------

EventType = Literal["credential.issued", "credential.revoked"]


class WebhookSubscriptionIn(Schema):
    url: HttpUrl = Field(
        description="Where events are POSTed, signed per Standard Webhooks: https, to a public address "
        "(unless the deployment allows the host or network); checked here and again at each delivery."
    )
    event_types: list[EventType] = Field(
        default_factory=lambda: ["credential.issued", "credential.revoked"], min_length=1, max_length=10
    )


class WebhookSubscriptionOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[EventType]
    active: bool
    created_at: datetime


DeliveryStatus = Literal["pending", "delivered", "dead"]


class WebhookDeliveryOut(BaseModel):
    """One event owed to one subscription. A dead one (every attempt failed) is kept until replayed."""

    id: uuid.UUID
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class WebhookReplayOut(BaseModel):
    replayed: int = Field(description="Deliveries put back in the queue, to be attempted at once.")


class WebhookSubscriptionCreatedOut(WebhookSubscriptionOut):
    secret: str = Field(description="The Standard Webhooks signing secret (whsec_...); shown only this once.")


MAX_ISSUED_VERIFICATIONS = 200


class IssuedVerificationIn(Schema):
    """Credentials of the caller's organisation to read and verify, by id (a page of a listing, or one)."""

    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ISSUED_VERIFICATIONS)


class IssuedVerificationItem(BaseModel):
    id: uuid.UUID
    found: bool = Field(description="False when the organisation has no credential with this id (nothing else set).")
    presented: dict[str, Any] | None = Field(
        None,
        description='The credential as its public URL serves it to a verifier: {"jwt": ...} for a VC-JWT, else '
        "the signed document.",
    )
    verification: VerificationOut | None = Field(
        None, description="What POST /v1/verify answers for `presented`, computed by the same verifier."
    )


class IssuedVerificationOut(BaseModel):
    items: list[IssuedVerificationItem] = Field(description="One per requested id, in the request's order.")
