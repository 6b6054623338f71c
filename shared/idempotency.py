"""Idempotency-Key for POSTs that create: the first response is stored with the created rows, in the
same transaction, and replayed for any retry with the same key; a unique constraint settles races."""

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Integer, String, UniqueConstraint, Uuid, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.db import JSONType, UTCDateTime, utcnow
from shared.errors import Unprocessable

MAX_KEY_LENGTH = 255
IDEMPOTENCY_HEADER = "Idempotency-Key"


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


class IdempotencyKeyHeader:
    """Dependency declaring a route's Idempotency-Key header, optional or required; the OpenAPI
    document marks the required one required (shared/api_docs.py reads `required`)."""

    def __init__(self, *, required: bool, description: str) -> None:
        self.required = required
        self.description = description

    async def __call__(  # async: no I/O here, and a sync dependency costs each request a thread hop
        self,
        request: Request,
        # Declared for the OpenAPI document; read (trimmed, bounded) by idempotency_key below.
        _: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                description="The caller's unique id for this request: a retry with the same key gets the first answer.",
            ),
        ] = None,
    ) -> str | None:
        key = idempotency_key(request)
        if key is None and self.required:
            raise Unprocessable(
                f"The {IDEMPOTENCY_HEADER} header is required: {self.description}", header=IDEMPOTENCY_HEADER
            )
        return key


# `dependencies=[HONOURS_IDEMPOTENCY_KEY]` on a creating route that replays a retry (create_once).
HONOURS_IDEMPOTENCY_KEY = Depends(
    IdempotencyKeyHeader(required=False, description="send a unique id for this request.")
)


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
    Idempotency-Key (if any), commit. The key's request is identified by method, path and body.

    A new key is the common case, so nothing is read first: the key's row goes in with the created
    rows, and only when the commit hits the unique constraint (a retry, or a concurrent twin that
    committed first) is everything rolled back and the stored response read and replayed. A retry thus
    redoes the work before being rolled back (a status index it took stays unused); that saves a read
    on every first attempt. If `create` fails, a stored response for the key still wins, so a retry
    whose world has changed since (say, a deleted issuer) gets the first answer, not the new error."""
    key = idempotency_key(request)
    fingerprint = request_fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    if key is None:
        status_code, body = await create()
        await session.commit()
        return JSONResponse(body, status_code=status_code)
    try:
        status_code, body = await create()
    except Exception as error:
        try:
            replay = await _replay_after_rollback(session, model, org_id, key, fingerprint)
        except SQLAlchemyError:
            raise error from None  # the database is away: the first error says more
        if replay is None:
            raise
        return replay
    session.add(model(org_id=org_id, key=key, request_hash=fingerprint, status_code=status_code, response_body=body))
    try:
        await session.commit()
    except IntegrityError:
        replay = await _replay_after_rollback(session, model, org_id, key, fingerprint)
        if replay is None:
            raise
        return replay
    return JSONResponse(body, status_code=status_code)


async def _replay_after_rollback(session: AsyncSession, model: type, org_id: uuid.UUID, key: str, fingerprint: str):
    await session.rollback()
    return await _replay(session, model, org_id, key, fingerprint)
