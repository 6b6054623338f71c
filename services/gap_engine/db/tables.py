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
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import IdMixin, TenantMixin, TimestampMixin, UTCDateTime, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.rate_limit import RateLimitWindowMixin


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
    """An issuer (DID or URL, as credentials name it) whose verified credentials count in this
    organisation. Rows with origin "own" were added automatically for the organisation's own issuers
    at the badge issuer: `issuer_ref` is that issuer's UUID there, which outlives a did:key rotation
    (every DID it has issued under gets a row with the same ref). An admin distrusting an own issuer
    keeps the row with `distrusted_at` set, so the next delivery does not trust it again."""

    __tablename__ = "trusted_issuers"
    __table_args__ = (
        UniqueConstraint("org_id", "issuer_id", name="uq_trusted_issuers_org_issuer"),
        Index("ix_trusted_issuers_org_ref", "org_id", "issuer_ref"),
    )

    issuer_id: Mapped[str] = mapped_column(String(500))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    origin: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    issuer_ref: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    distrusted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlignmentMapping(IdMixin, TenantMixin, Base):
    """An admin's reading of a third-party alignment target (a framework code or URL found in foreign
    badges' `alignment[]`) as one of our skills at a level."""

    __tablename__ = "alignment_mappings"
    __table_args__ = (UniqueConstraint("org_id", "target", name="uq_alignment_mappings_org_target"),)

    target: Mapped[str] = mapped_column(String(512))
    framework: Mapped[str | None] = mapped_column(String(100), nullable=True)
    skill_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    level: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceivedCredential(IdMixin, TenantMixin, Base):
    """Every credential posted for an employee, with the verifier's outcome. The skills it certifies are
    kept so that trusting its issuer later turns it into skill facts without the credential being re-posted."""

    __tablename__ = "received_credentials"
    __table_args__ = (
        Index("ix_received_credentials_org_employee", "org_id", "employee_id"),
        Index("ix_received_credentials_org_issuer_status", "org_id", "issuer_id", "status"),
        Index("ix_received_credentials_org_hint", "org_id", "learner_hint"),
        Index("ix_received_credentials_checked_at", "checked_at"),
    )

    # None while the credential waits for the HRIS to create its learner (`learner_hint` says who).
    employee_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("employees.id", ondelete="CASCADE"), nullable=True
    )
    learner_hint: Mapped[str | None] = mapped_column(String(400), nullable=True)
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
    # Whether the credential is about this employee (domain/recipients.py): bound, mismatch,
    # unverified, or unchecked (received before binding existed; the status sweep binds it).
    recipient: Mapped[str] = mapped_column(String(16), default="unchecked", server_default="unchecked")
    # Alignment targets the verifier read outside the credential itself (an OB 2.0 BadgeClass).
    alignment: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # The last re-verification by the status sweep (domain/status_sweep.py) and since when the
    # verifier could not be asked (counts until the grace period ends).
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    check_outcome: Mapped[str | None] = mapped_column(String(500), nullable=True)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How the sweep re-checks it: None until it has read the credential's credentialStatus, "lists"
    # (its entries are in received_status_entries, decided from kept list copies) or "verifier"
    # (no status list the sweep reads itself: asked of the issuer's verifier one by one).
    status_path: Mapped[str | None] = mapped_column(String(16), nullable=True)


class ReceivedStatusEntry(IdMixin, TenantMixin, Base):
    """One credentialStatus entry of a received credential, as the sweep reads it: which list, and
    for a Bitstring list which bit for which purpose. The sweep goes list by list, not credential by
    credential, so it must find a list's credentials without reading every credential's JSON."""

    __tablename__ = "received_status_entries"
    __table_args__ = (Index("ix_received_status_entries_list_url", "list_url"),)

    received_credential_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("received_credentials.id", ondelete="CASCADE"), index=True
    )
    list_url: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(16))  # "bitstring" | "1edtech"
    purpose: Mapped[str | None] = mapped_column(String(20), nullable=True)
    list_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StatusListCopy(Base):
    """The gap engine's copy of one status list (a public document, shared by every organisation
    whose credentials point at it): what it last said, under which ETag, and whether it is believed.
    `checked_at` is the last attempt, `validated_at` the last answer (200 or 304)."""

    __tablename__ = "status_list_copies"

    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    etag: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The list's issuer as its proof established (Bitstring) or as it names itself (1EdTech):
    # believed only for credentials of that issuer.
    issuer_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    believed: Mapped[bool] = mapped_column(Boolean, default=False)
    status_purpose: Mapped[str | None] = mapped_column(String(20), nullable=True)
    encoded_list: Mapped[str | None] = mapped_column(Text, nullable=True)
    revoked: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(500), nullable=True)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EmployeeEmail(IdMixin, TenantMixin, Base):
    """Every address the HRIS has recorded for an employee: a credential issued to an old address
    is still theirs (recipient binding matches against all of them)."""

    __tablename__ = "employee_emails"
    __table_args__ = (
        UniqueConstraint("org_id", "employee_id", "email", name="uq_employee_emails_org_employee_email"),
        Index("ix_employee_emails_org_email", "org_id", "email"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("employees.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmployeeDid(IdMixin, TenantMixin, Base):
    """A DID the employee proved control of, by signing a challenge this service issued with it."""

    __tablename__ = "employee_dids"
    __table_args__ = (UniqueConstraint("org_id", "employee_id", "did", name="uq_employee_dids_org_employee_did"),)

    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("employees.id", ondelete="CASCADE"))
    did: Mapped[str] = mapped_column(String(500))
    proved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DidChallenge(IdMixin, TenantMixin, Base):
    """A nonce the employee's wallet signs to prove a DID is theirs: single use, short-lived."""

    __tablename__ = "did_challenges"

    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("employees.id", ondelete="CASCADE"))
    did: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WorkerLease(Base):
    """One row per background job: the replica whose lease is unexpired does the work, so two
    replicas never sweep the same credentials at once."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookSource(IdMixin, TenantMixin, Base):
    """An issuer subscription this organisation receives events from. Its secret is sealed with the
    service's SecretBox (bound to this row) and never returned by the API."""

    __tablename__ = "webhook_sources"

    name: Mapped[str] = mapped_column(String(200))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An API client of this organisation (credentials:read) the gap engine signs in with to call the
    # issuer: verification and reconciliation then never go through the public rate limit.
    client_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sealed_client_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Reconciliation (domain/reconciliation.py): credentials issued up to this moment are known here,
    # and when that was last established.
    reconciled_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where an unfinished listing goes on next round (the issuer's next_cursor), so a pass longer
    # than one round still advances instead of restarting from the same place.
    reconcile_cursor: Mapped[str | None] = mapped_column(String(512), nullable=True)


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


# --- stored gap report snapshots (analysis/snapshots.py) -------------------------------------------
# Derived data, rebuilt by a full recompute at any time. Each is kept per basis: "current" measures
# every employee against their current role, "target" against their target (else current) role.


class GapReportState(Base):
    """The organisation's stored report for one basis: facts are counted as current at `as_of`."""

    __tablename__ = "gap_report_states"

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    # The first fact expiry after as_of: from then on the aggregates are out of date (full recompute).
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set when a change cannot be applied incrementally (requirements, bulk upserts): recompute on read.
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GapReportEmployee(Base):
    """One employee's place in the stored report: the role, groups and readiness last counted. Only the
    primary key is indexed: a full recompute writes every row, and each index would cost it more than
    it saves a read."""

    __tablename__ = "gap_report_employees"

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    employee_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    department: Mapped[str | None] = mapped_column(String(200), nullable=True)
    readiness: Mapped[float | None] = mapped_column(Float, nullable=True)


class GapReportCell(Base):
    """Per role × required skill: how many are measured, how many meet it, Σ weight × shortfall."""

    __tablename__ = "gap_report_cells"

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    skill_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    headcount: Mapped[int] = mapped_column(Integer)
    meeting: Mapped[int] = mapped_column(Integer)
    weighted_shortfall: Mapped[float] = mapped_column(Float)


class GapReportBody(Base):
    """A serialised report (organisation, one department or one team) and its ETag, until marked stale."""

    __tablename__ = "gap_report_bodies"

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateLimitWindow(RateLimitWindowMixin, Base):
    """Requests counted per client and minute for the public rate limit (shared/rate_limit.py), here so
    that every replica of the service counts against one budget."""

    __tablename__ = "rate_limit_windows"
