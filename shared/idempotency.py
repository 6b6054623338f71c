"""Idempotency-Key for POSTs that create: the first response is stored with the created rows, in the
same transaction, and replayed for any retry with the same key; a unique constraint settles races."""

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Integer, String, UniqueConstraint, Uuid, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.db import JSONType, UTCDateTime, utcnow
from shared.errors import Unprocessable

MAX_KEY_LENGTH = 255


class IdempotencyRecordMixin:
    """Each service declares its own table from this (services never share tables)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:  # noqa: N805
        return (UniqueConstraint("org_id", "key", name=f"uq_{cls.__tablename__}_org_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Unprocessable(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
    return key


def request_fingerprint(method: str, path: str, body: Any) -> str:
    return hashlib.sha256(orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)).hexdigest()


async def _replay(session: AsyncSession, model: type, org_id: uuid.UUID, key: str, fingerprint: str):
    record = await session.scalar(select(model).where(model.org_id == org_id, model.key == key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request; use a new key.",
        )
    return JSONResponse(record.response_body, status_code=record.status_code, headers={"Idempotent-Replay": "true"})


async def create_once(
    session: AsyncSession,
    model: type,
    request: Request,
    body: BaseModel,
    *,
    org_id: uuid.UUID,
    create: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run `create` (which adds rows but does not commit), store its response under the request's
    Idempotency-Key (if any), commit. The key's request is identified by method, path and body."""
    key = idempotency_key(request)
    fingerprint = request_fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    if key is not None:
        replay = await _replay(session, model, org_id, key, fingerprint)
        if replay is not None:
            return replay
    status_code, body = await create()
    if key is not None:
        session.add(
            model(org_id=org_id, key=key, request_hash=fingerprint, status_code=status_code, response_body=body)
        )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if key is None:
            raise
        replay = await _replay(session, model, org_id, key, fingerprint)
        if replay is None:
            raise
        return replay
    return JSONResponse(body, status_code=status_code)
