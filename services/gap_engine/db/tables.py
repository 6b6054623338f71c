"""Tables of the gap_engine service (its own database and migration history).

Role ids and skill ids are taxonomy_api's UUIDs; the gap engine never reads taxonomy tables, it keeps
its own snapshot of role requirements, refreshed by a sync through taxonomy_api's HTTP API.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import IdMixin, TenantMixin, TimestampMixin, UTCDateTime, utcnow
from shared.idempotency import IdempotencyRecordMixin


class Base(DeclarativeBase):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    __tablename__ = "idempotency_records"


class Employee(IdMixin, TenantMixin, TimestampMixin, Base):
    """A person as the HRIS knows them; the HRIS id is the key clients use."""

    __tablename__ = "employees"
    __table_args__ = (
        UniqueConstraint("org_id", "hris_id", name="uq_employees_org_hris_id"),
        Index("ix_employees_org_team", "org_id", "team"),
    )

    hris_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    manager_hris_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    department: Mapped[str | None] = mapped_column(String(200), nullable=True)
    hire_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    current_role_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    target_role_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class SyncedRole(IdMixin, TenantMixin, Base):
    """A role whose requirements have been copied from taxonomy_api, and when."""

    __tablename__ = "synced_roles"
    __table_args__ = (UniqueConstraint("org_id", "role_id", name="uq_synced_roles_org_role"),)

    role_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoleRequirement(IdMixin, TenantMixin, Base):
    """The gap engine's copy of one competency requirement of a role (replaced as a whole on sync)."""

    __tablename__ = "role_requirements"
    __table_args__ = (UniqueConstraint("org_id", "role_id", "skill_id", name="uq_role_requirements_org_role_skill"),)

    role_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    skill_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    skill_name: Mapped[str] = mapped_column(String(200))
    required_level: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    criticality: Mapped[str] = mapped_column(String(16))


class SkillFact(IdMixin, TenantMixin, Base):
    """One skill level an employee has proven, derived from one verified credential (re-derivable)."""

    __tablename__ = "skill_facts"
    __table_args__ = (
        UniqueConstraint(
            "org_id", "employee_id", "skill_id", "credential_id", name="uq_skill_facts_org_employee_skill_credential"
        ),
        Index("ix_skill_facts_org_employee_skill", "org_id", "employee_id", "skill_id"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("employees.id", ondelete="CASCADE"))
    skill_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    level: Mapped[int] = mapped_column(Integer)
    credential_id: Mapped[str] = mapped_column(String(500))
    issuer_id: Mapped[str] = mapped_column(String(500))
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # The trusted issuer's weight (0 < w <= 1) when the fact was derived; the gap maths counts
    # level x weight, so a half-trusted issuer's level 4 counts as 2.
    weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KpiObservation(IdMixin, TenantMixin, Base):
    """A KPI value for one employee over one period; re-posting the same period replaces the value."""

    __tablename__ = "kpi_observations"
    __table_args__ = (
        UniqueConstraint(
            "org_id", "employee_id", "metric", "period_start", "period_end", name="uq_kpi_observations_period"
        ),
        Index("ix_kpi_observations_org_metric", "org_id", "metric"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("employees.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)


class TrustedIssuer(IdMixin, TenantMixin, Base):
    """An issuer (DID or URL) whose verified credentials count in this organisation."""

    __tablename__ = "trusted_issuers"
    __table_args__ = (UniqueConstraint("org_id", "issuer_id", name="uq_trusted_issuers_org_issuer"),)

    issuer_id: Mapped[str] = mapped_column(String(500))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceivedCredential(IdMixin, TenantMixin, Base):
    """Every credential posted for an employee, with the verifier's outcome. The skills it certifies are
    kept so that trusting its issuer later turns it into skill facts without the credential being re-posted."""

    __tablename__ = "received_credentials"
    __table_args__ = (
        Index("ix_received_credentials_org_employee", "org_id", "employee_id"),
        Index("ix_received_credentials_org_issuer_status", "org_id", "issuer_id", "status"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("employees.id", ondelete="CASCADE"))
    credential_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    issuer_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    achievement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    format: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    presented: Mapped[dict[str, Any]] = mapped_column(JSON)
    earned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookSource(IdMixin, TenantMixin, Base):
    """An issuer subscription this organisation receives events from. Its secret is sealed with the
    service's SecretBox (bound to this row) and never returned by the API."""

    __tablename__ = "webhook_sources"

    name: Mapped[str] = mapped_column(String(200))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceivedWebhook(IdMixin, TenantMixin, Base):
    """One accepted delivery per webhook-id and source: the issuer delivers at least once, so a
    replay finds its id here and does nothing."""

    __tablename__ = "received_webhooks"
    __table_args__ = (UniqueConstraint("source_id", "message_id", name="uq_received_webhooks_source_message"),)

    source_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_sources.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(1000))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
