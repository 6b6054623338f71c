"""Tables of the badge_issuer service (its own database and migration history)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.rate_limit import RateLimitWindowMixin


class Base(DeclarativeBase):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    __tablename__ = "idempotency_records"


class Issuer(IdMixin, TenantMixin, TimestampMixin, Base):
    """An issuing profile of an organisation. `did` is its id inside credentials: the did:key of its
    current Ed25519 key, its did:web, or (identifier "https") its public profile URL."""

    __tablename__ = "issuers"

    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2048))
    email: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2048))
    did: Mapped[str] = mapped_column(String(500), unique=True)
    default_proof_format: Mapped[str] = mapped_column(String(20), default="data-integrity")
    # "did:key", "did:web" or "https"; fixed at creation (changing it would orphan what was issued).
    identifier: Mapped[str] = mapped_column(String(20), default="did:key", server_default="did:key")
    # Which active key signs VC-JWTs: "Ed25519" (EdDSA), "P-256" (ES256) or "RSA" (RS256).
    jwt_key_type: Mapped[str] = mapped_column(String(20), default="Ed25519", server_default="Ed25519")


class IssuerKey(IdMixin, TenantMixin, Base):
    """A signing key; the private half only as AES-GCM ciphertext. Retired keys stay to verify;
    compromised ones are withdrawn from the DID document and JWKS and never sign again.

    `kid` is the full verification method id (did:key#…, did:web#<id>, or an https URL serving the
    JWK); verifiers look keys up by it. `did` is the issuer id the key speaks for (shared by every key
    of a did:web or https issuer), or None for a P-256/RSA key of a did:key issuer (found by JWKS)."""

    __tablename__ = "issuer_keys"
    # One active key per type and issuer, even when two rotations race (partial unique index).
    __table_args__ = (
        Index(
            "uq_issuer_keys_one_active_per_type",
            "issuer_id",
            "key_type",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issuers.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(500), unique=True)
    key_type: Mapped[str] = mapped_column(String(20))
    did: Mapped[str | None] = mapped_column(String(500))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    encryption_scheme: Mapped[str] = mapped_column(String(40))
    # "active" (one per key type and issuer), "retired" or "compromised".
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From when the key is distrusted: what it signed since then is revoked.
    compromised_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)


class IssuerKeyRevision(Base):
    """One row: a number that moves with every change to issuer_keys (insert, status change, delete).

    Database triggers bump it (see migration f2b7c4d9e113), so no write path can forget to, and a
    replica's cache of its own public keys is valid while the number it was read under still holds."""

    __tablename__ = "issuer_key_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class StatusList(IdMixin, TenantMixin, Base):
    """One Bitstring Status List, signed by the key whose credentials it covers.

    `next_index` is handed out by an atomic UPDATE ... RETURNING, so replicas sharing the database
    never hand out an index twice; `revision` moves on each revocation so the signed copy is redone.
    """

    __tablename__ = "status_lists"
    __table_args__ = (CheckConstraint("next_index <= size", name="ck_status_lists_next_index_within_size"),)

    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issuers.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issuer_keys.id", ondelete="CASCADE"), index=True)
    status_purpose: Mapped[str] = mapped_column(String(20), default="revocation")
    size: Mapped[int] = mapped_column(Integer)
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    signed_revision: Mapped[int | None] = mapped_column(Integer)
    signed_credential: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssessmentResult(IdMixin, TenantMixin, Base):
    """What a learning platform reported, and what the issuer decided (issued or refused, and why)."""

    __tablename__ = "assessment_results"

    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issuers.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    learner_hris_id: Mapped[str | None] = mapped_column(String(200), index=True)
    learner_email: Mapped[str | None] = mapped_column(String(320))
    learner_did: Mapped[str | None] = mapped_column(String(500))
    score: Mapped[float | None]
    rubric_level: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    assessor: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Credential(TenantMixin, Base):
    """An issued credential; its id is the credential's urn:uuid. Its status index is unique."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index", name="uq_credentials_status_list_index"),
        # A capstone is awarded once per learner: NULLs are distinct, so ordinary credentials are unaffected.
        UniqueConstraint("org_id", "learner_key", "capstone_achievement_id", name="uq_credentials_capstone_once"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issuers.id", ondelete="CASCADE"), index=True)
    # The key that signed it (indexed: a compromised key's credentials are found by it).
    key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issuer_keys.id"), index=True)
    # The result that earned it; none for a capstone (earned by the pathway, see the audit entry).
    assessment_result_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assessment_results.id"), unique=True)
    # Who holds it within the organisation: "hris:<id>", else "email:<lower-cased address>".
    learner_key: Mapped[str | None] = mapped_column(String(400), index=True)
    # Set only on capstones: the pathway completed, and the capstone's achievement (for the once-only rule).
    capstone_pathway_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    capstone_achievement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    achievement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    # The tier at issuance, for the default badge image a baked download is made from.
    achievement_tier: Mapped[str | None] = mapped_column(String(64))
    learner_hris_id: Mapped[str | None] = mapped_column(String(200), index=True)
    proof_format: Mapped[str] = mapped_column(String(20))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    compact_jwt: Mapped[str | None] = mapped_column(Text)
    status_list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class AuditEvent(IdMixin, TenantMixin, Base):
    """Append-only record of issuance, refusal, revocation and key events (who, what, when)."""

    __tablename__ = "audit_events"

    action: Mapped[str] = mapped_column(String(60))
    subject_id: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookSubscription(IdMixin, TenantMixin, Base):
    """Where an organisation wants its events; the signing secret only as AES-GCM ciphertext."""

    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSONType)
    encrypted_secret: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Per-subscription backoff: after a failed attempt none of its deliveries is tried before
    # backoff_until, so a dead endpoint gets one attempt per backoff, not one per owed event.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxEvent(TenantMixin, Base):
    """An event written in the transaction of the change it announces; its id is the webhook-id."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(IdMixin, TenantMixin, Base):
    """One event owed to one subscription: pending until a 2xx (delivered) or too many failures (dead)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscription_id", name="uq_webhook_deliveries_event_subscription"),)

    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A worker's claim: no row lock is held while it sends; another worker takes the delivery only
    # after lease_until (a crashed worker's claim lapses, a stopping one clears it).
    lease_owner: Mapped[str | None] = mapped_column(String(64), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WalletLink(IdMixin, TenantMixin, Base):
    """A signed link to one learner's wallet, read-only and without sign-in, until it expires or is
    revoked. Only the SHA-256 of its random token is kept: the link is shown once, to its creator."""

    __tablename__ = "wallet_links"
    __table_args__ = (
        CheckConstraint(
            "learner_hris_id IS NOT NULL OR learner_email IS NOT NULL", name="ck_wallet_links_names_a_learner"
        ),
    )

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    learner_hris_id: Mapped[str | None] = mapped_column(String(200), index=True)
    learner_email: Mapped[str | None] = mapped_column(String(320))
    # Shown on the shared page instead of any identifier (an HRIS id means nothing to an employer).
    holder_name: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateLimitWindow(RateLimitWindowMixin, Base):
    """Requests counted per client and minute for the public rate limit (shared/rate_limit.py), here so
    that every replica of the service counts against one budget."""

    __tablename__ = "rate_limit_windows"
