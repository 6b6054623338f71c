"""The text a baked image carries: a compact JWS (VC-JWT) or the credential's JSON (OB 3.0 §5.3)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from services.badge_issuer.baking.errors import BakingError, InvalidImageError
from shared import input_guard

BakedCredential = str | dict[str, Any]
"""A compact JWS string, or the credential as a JSON object."""

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def is_compact_jws(text: str) -> bool:
    return bool(_COMPACT_JWS.fullmatch(text))


def serialize_credential(credential: str | Mapping[str, Any], *, max_bytes: int, ascii_only: bool = False) -> str:
    """Text to bake: the JWS unchanged, or compact JSON (whitespace is not signed).

    ``ascii_only`` escapes non-ASCII as ``\\uXXXX``: the same JSON value, and safe in XML, which
    forbids some characters a JSON string may hold.
    """
    if isinstance(credential, str):
        text = credential.strip()
        if not is_compact_jws(text):
            raise BakingError("a credential given as a string must be a compact JWS (header.payload.sig)")
    elif isinstance(credential, Mapping):
        try:
            text = json.dumps(credential, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise BakingError(f"credential is not serializable as JSON: {exc}") from exc
    else:
        raise BakingError(f"credential must be a JWS string or a JSON object, not {type(credential).__name__}")
    if len(text.encode("utf-8")) > max_bytes:
        raise BakingError(f"credential is larger than {max_bytes} bytes")
    return text


def parse_credential_text(text: str) -> BakedCredential:
    """Classify extracted text: a JSON object, or a compact JWS; anything else is malformed. The JSON
    gets the edge's screening (shared/input_guard.py), which cannot see into an image: a NUL, a number
    past 64 bits or double range, or deep nesting is refused here, before it is parsed or stored."""
    stripped = text.strip()
    if stripped.startswith("{"):
        refused = input_guard.json_problem(stripped.encode("utf-8"), "the baked credential")
        if refused:
            raise InvalidImageError(refused)
        try:
            parsed = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            raise InvalidImageError(f"baked credential is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise InvalidImageError("baked credential JSON is not an object")
        return parsed
    if is_compact_jws(stripped):
        return stripped
    raise InvalidImageError("baked credential is neither a JSON object nor a compact JWS")
