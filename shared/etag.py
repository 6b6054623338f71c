"""ETag / If-None-Match for reads that clients poll."""

import hashlib
from typing import Any

import orjson
from fastapi import Request, Response
from pydantic import BaseModel


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def if_none_match(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return etag in candidates or "*" in candidates


def json_bytes(payload: Any) -> bytes:
    if isinstance(payload, BaseModel):
        return orjson.dumps(payload.model_dump(mode="json"))
    return orjson.dumps(payload, default=_json_default)


def json_with_etag(request: Request, payload: Any, *, media_type: str = "application/json") -> Response:
    """Serialise once, tag the bytes, and answer 304 when the client already holds them."""
    return bytes_with_etag(request, json_bytes(payload), media_type=media_type)


def bytes_with_etag(request: Request, body: bytes, *, media_type: str = "application/json") -> Response:
    etag = etag_for(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)
