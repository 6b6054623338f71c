"""The taxonomy service's tables. Every organisation-owned row carries org_id (TenantMixin)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow
from shared.idempotency import IdempotencyRecordMixin

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


class ProficiencyScale(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "proficiency_scales"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_scale_org_name"),)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    # Ordered levels: [{"value": 0, "name": "...", "descriptor": "..."}]; values strictly increase.
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


class Capability(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "capabilities"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_capability_org_name"),)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")


class Skill(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_skill_org_name"),)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
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


class Role(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_role_org_name"),)
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


class Achievement(IdMixin, TenantMixin, TimestampMixin, Base):
    """A credential definition: the Open Badges 3.0 Achievement that credentials will carry."""

    __tablename__ = "achievements"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_achievement_org_name"),)
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
