"""Tables of the badge_issuer service (its own database and migration history)."""

from sqlalchemy.orm import DeclarativeBase

from shared.idempotency import IdempotencyRecordMixin


class Base(DeclarativeBase):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    __tablename__ = "idempotency_records"
