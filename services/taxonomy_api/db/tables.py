"""The taxonomy service's tables. Every organisation-owned row carries org_id (TenantMixin)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.rate_limit import RateLimitWindowMixin

NAME_LENGTH = 200


class Base(DeclarativeBase):
    pass


class Organisation(IdMixin, TimestampMixin, Base):
    """A tenant. The taxonomy service is the token authority, so it owns organisations and clients."""

    __tablename__ = "organisations"
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    # Bumped in the same transaction as every change to the organisation's taxonomy (revisions.py);
    # read caches and ETags key on it.
    taxonomy_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OAuthClient(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "oauth_clients"
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    revoked: Mapped[bool] = mapped_column(default=False)


EXTERNAL_ID_LENGTH = 512


class FrameworkOrigin:
    """Where a row came from when an import brought it: the framework, the framework's own id for it
    (ESCO concept URI, O*NET code, CASE CFItem identifier) and its record as the framework wrote it,
    kept so an export gives back what came in. Plus the review cycle: who owns it, when it is next due."""

    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), nullable=True)
    framework_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("frameworks.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH), default="", server_default="")
    review_by: Mapped[date | None] = mapped_column(Date, nullable=True)


class Framework(IdMixin, TenantMixin, TimestampMixin, Base):
    """An external framework an organisation imported (one ESCO release, the O*NET database, one CASE
    CFDocument, a CSV file): its document and the definitions rows refer to (CASE item types,
    concepts, subjects, licences, rubrics, association groupings)."""

    __tablename__ = "frameworks"
    __table_args__ = (UniqueConstraint("org_id", "kind", "identifier", name="uq_framework_org_kind_identifier"),)
    kind: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    uri: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    release: Mapped[str] = mapped_column(String(64), default="")
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    definitions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class FrameworkAssociation(IdMixin, TenantMixin, Base):
    """A relation the framework states between two of its nodes (CASE CFAssociation, ESCO broader
    and skill-skill relations), by the nodes' external ids; kept whether or not both ends were imported."""

    __tablename__ = "framework_associations"
    __table_args__ = (
        UniqueConstraint("framework_id", "identifier", name="uq_association_framework_identifier"),
        Index("ix_framework_associations_org_origin", "org_id", "origin"),
    )
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    association_type: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    destination: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    source: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class ProficiencyScale(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "proficiency_scales"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_scale_org_name"),)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    # Ordered levels: [{"value": 0, "name": "...", "descriptor": "..."}]; values strictly increase.
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


class Capability(FrameworkOrigin, IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "capabilities"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_capability_org_name"),
        UniqueConstraint("org_id", "external_id", name="uq_capability_org_external_id"),
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    # Skill groups nest (ESCO's hierarchy has four levels); a capability may sit under a broader one.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("capabilities.id", ondelete="SET NULL"), nullable=True, index=True
    )


class Skill(FrameworkOrigin, IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "skills"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_skill_org_name"),
        UniqueConstraint("org_id", "external_id", name="uq_skill_org_external_id"),
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    alternative_labels: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    # ESCO's skillType ("skill/competence", "knowledge") and reuseLevel ("transversal", "cross-sector",
    # "sector-specific", "occupation-specific"); empty where the framework has none.
    skill_type: Mapped[str] = mapped_column(String(64), default="", server_default="")
    reuse_level: Mapped[str] = mapped_column(String(64), default="", server_default="")
    capability_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("capabilities.id", ondelete="RESTRICT"), index=True
    )
    scale_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proficiency_scales.id", ondelete="RESTRICT"))
    behaviours: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tags: Mapped[list["SkillTag"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SkillTag.tag"
    )
    alignments: Mapped[list["SkillAlignment"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SkillAlignment.target_code"
    )


class SkillTag(Base):
    __tablename__ = "skill_tags"
    skill_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class SkillAlignment(IdMixin, Base):
    """An external framework's identifier for the skill (ESCO URI, O*NET element id, CASE CFItem URI)."""

    __tablename__ = "skill_alignments"
    skill_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), index=True)
    framework: Mapped[str] = mapped_column(String(16))
    target_code: Mapped[str] = mapped_column(String(512), index=True)
    target_url: Mapped[str | None] = mapped_column(String(2048))
    target_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))


class Role(FrameworkOrigin, IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_role_org_name"),
        UniqueConstraint("org_id", "external_id", name="uq_role_org_external_id"),
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    job_family: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    grade: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    requirements: Mapped[list["RoleRequirement"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RoleRequirement.position"
    )


class RoleRequirement(IdMixin, Base):
    __tablename__ = "role_requirements"
    __table_args__ = (UniqueConstraint("role_id", "skill_id", name="uq_requirement_role_skill"),)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("skills.id", ondelete="RESTRICT"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    criticality: Mapped[str] = mapped_column(String(8), default="must")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Achievement(FrameworkOrigin, IdMixin, TenantMixin, TimestampMixin, Base):
    """A credential definition: the Open Badges 3.0 Achievement that credentials will carry."""

    __tablename__ = "achievements"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_achievement_org_name"),
        UniqueConstraint("org_id", "external_id", name="uq_achievement_org_external_id"),
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    achievement_type: Mapped[str] = mapped_column(String(64), default="Badge")
    criteria_narrative: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    tier: Mapped[str] = mapped_column(String(64), index=True)
    result_description: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evidence_required: Mapped[list[str]] = mapped_column(JSONType, default=list)
    kpi_anchors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    tags: Mapped[list["AchievementTag"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AchievementTag.tag"
    )
    skills: Mapped[list["AchievementSkill"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AchievementSkill.position"
    )


class AchievementTag(Base):
    __tablename__ = "achievement_tags"
    achievement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class AchievementSkill(Base):
    """A skill the achievement certifies, and the level on the skill's scale it certifies it at."""

    __tablename__ = "achievement_skills"
    achievement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("skills.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    level: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Pathway(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "pathways"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_pathway_org_name"),)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    capstone_achievement_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("achievements.id", ondelete="RESTRICT")
    )
    steps: Mapped[list["PathwayStep"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PathwayStep.position"
    )


class PathwayStep(Base):
    __tablename__ = "pathway_steps"
    pathway_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pathways.id", ondelete="CASCADE"), primary_key=True)
    achievement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("achievements.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    # Achievement ids (members of the same pathway) that must be held before this step.
    prerequisites: Mapped[list[str]] = mapped_column(JSONType, default=list)


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    __tablename__ = "idempotency_records"


class User(IdMixin, TenantMixin, TimestampMixin, Base):
    """A person of the organisation who signs in to the pages (API clients are programs, not users).
    Emails are unique across organisations, so the sign-in form needs nothing but email and password."""

    __tablename__ = "users"
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(16))
    # The employee this person is, as the HRIS knows them: a manager sees the teams of the employees
    # who report to this id; an employee sees the wallet of this id.
    hris_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # argon2id; None until the invitation is accepted.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disabled: Mapped[bool] = mapped_column(default=False)


class UserSession(IdMixin, Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is kept."""

    __tablename__ = "user_sessions"
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UserLink(IdMixin, Base):
    """A single-use link mailed to a person: an invitation (set a first password) or a password reset."""

    __tablename__ = "user_links"
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInFailure(IdMixin, Base):
    """A failed sign-in, kept for the throttle window (per email and per address, across replicas)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email", "at"),
        Index("ix_sign_in_failures_address_at", "address", "at"),
    )
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdentityProvider(IdMixin, TenantMixin, TimestampMixin, Base):
    """An organisation's OpenID Connect provider (one at most): its people may sign in through it.
    The client secret is sealed with the service's master key, bound to this organisation."""

    __tablename__ = "identity_providers"
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), unique=True)
    issuer: Mapped[str] = mapped_column(String(2048))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # When not empty, the ID token's email must be at one of these domains (lower case).
    allowed_email_domains: Mapped[list[str]] = mapped_column(JSONType, default=list)


class SingleSignOnAttempt(IdMixin, Base):
    """One trip to an identity provider and back: its state (only a SHA-256 kept; the browser holds the
    value in a cookie), nonce and PKCE verifier, used once and only within minutes."""

    __tablename__ = "single_sign_on_attempts"
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_url: Mapped[str] = mapped_column(String(2048), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- imports -------------------------------------------------------------------------------------


class ImportJob(IdMixin, TenantMixin, Base):
    """A framework import run in the background. The row is the job: a worker leases it (lease_until),
    so a restarted service, or another replica, picks up a job whose worker died."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_status_lease", "status", "lease_until"),)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Server paths (admins only) or the names of uploaded files (ImportUpload rows).
    inputs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    stage: Mapped[str] = mapped_column(String(64), default="")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    framework_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportUpload(IdMixin, Base):
    """A file uploaded for an import job, kept until the job ends so a restart can run it again."""

    __tablename__ = "import_uploads"
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)


# --- governance ----------------------------------------------------------------------------------


class TaxonomyVersion(IdMixin, TenantMixin, Base):
    """A version of the organisation's taxonomy. The working tables are the open draft; submitting
    freezes them into VersionEntity rows, which reviews judge and publication makes current.
    A published version is never changed again; its id is what credentials' alignments cite."""

    __tablename__ = "taxonomy_versions"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_version_org_number"),)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    title: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # Everyone who changed the draft (API clients' and people's subjects): none of them may approve it.
    authors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # SHA-256 over the frozen entities' digests, in order: the version's content, citable.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entity_count: Mapped[int] = mapped_column(Integer, default=0)


class VersionEntity(Base):
    """One object as it stood in a version: its API representation (body), and a digest of it so two
    versions are compared in SQL without reading bodies."""

    __tablename__ = "version_entities"
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taxonomy_versions.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ReviewPolicy(TenantMixin, Base):
    """How an organisation reviews a draft: the rubric's criteria and weights, how many approvals
    publish, and the weighted score an approval must reach."""

    __tablename__ = "review_policies"
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)
    pass_score: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VersionReview(IdMixin, Base):
    """One reviewer's decision on a submitted version, scored against the rubric criterion by criterion."""

    __tablename__ = "version_reviews"
    __table_args__ = (UniqueConstraint("version_id", "reviewer", name="uq_review_version_reviewer"),)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("taxonomy_versions.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(NAME_LENGTH))
    decision: Mapped[str] = mapped_column(String(16))
    # [{"criterion": key, "score": n, "comment": "..."}]
    scores: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    weighted_score: Mapped[float] = mapped_column(Float, default=0.0)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GovernanceEvent(IdMixin, TenantMixin, Base):
    """The append-only, hash-chained audit log of governance (DESIGN §4): each event's hash covers its
    content and the previous event's hash, so a changed or removed event breaks the chain."""

    __tablename__ = "governance_events"
    __table_args__ = (UniqueConstraint("org_id", "sequence", name="uq_governance_event_org_sequence"),)
    sequence: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class RateLimitWindow(RateLimitWindowMixin, Base):
    """Requests counted per client and minute for the public rate limit (shared/rate_limit.py), here so
    that every replica of the service counts against one budget."""

    __tablename__ = "rate_limit_windows"
