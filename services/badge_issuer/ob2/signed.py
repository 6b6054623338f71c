"""OB 2.0 signed assertions: a compact JWS whose payload is the assertion itself (OB 2.0
§SignedBadge), checked with the issuer's CryptographicKey (`publicKeyPem`).

The algorithm is pinned to the key's type (RS256 for RSA, as the spec recommends; ES256 for P-256,
EdDSA for Ed25519): the header's `alg` must name that one, so `none` or HS256 with a public key
never verifies.
"""

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from services.badge_issuer.proofs import keys

MAX_JWS_CHARS = 1_048_576
MAX_PEM_CHARS = 16_384
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class SignatureFailure(ValueError):
    """The JWS or its key is unusable, or the signature does not match; the message says which."""


def _segments(token: Any) -> list[str] | None:
    if not isinstance(token, str) or len(token) > MAX_JWS_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        return None
    return parts


def _json_segment(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def unverified_payload(token: Any) -> dict[str, Any] | None:
    """The payload as a JSON object, unverified (to route it and check its shape before any fetch).
    None, without parsing JSON, unless it mentions openbadges: every VC-JWT verified passes here."""
    parts = _segments(token)
    if parts is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        # No slash in the marker: some JSON encoders (PHP's) write the context as https:\/\/w3id.org\/...
        payload = json.loads(raw) if b"openbadges" in raw else None
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def public_key_from_pem(pem: Any) -> keys.PublicKey:
    if not isinstance(pem, str) or not pem.strip() or len(pem) > MAX_PEM_CHARS:
        raise SignatureFailure("publicKeyPem is missing or not a PEM text")
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
        keys.key_type_of(key)  # type: ignore[arg-type]
    except (ValueError, UnicodeEncodeError, TypeError, keys.KeyFormatError) as error:
        raise SignatureFailure(f"publicKeyPem is not a usable RSA, P-256 or Ed25519 public key: {error}") from error
    return key  # type: ignore[return-value]


def verify_jws(token: str, public_key: keys.PublicKey) -> dict[str, Any]:
    """The verified payload (the assertion), or `SignatureFailure`."""
    parts = _segments(token)
    if parts is None:
        raise SignatureFailure("not a compact JWS (header.payload.signature)")
    try:
        header = _json_segment(parts[0])
    except (ValueError, RecursionError) as error:
        raise SignatureFailure(f"unreadable JOSE header: {error}") from error
    expected = keys.jws_algorithm_for(public_key)
    algorithm = header.get("alg") if isinstance(header, Mapping) else None
    if algorithm != expected:
        raise SignatureFailure(f"the JWS alg {algorithm!r} is not {expected}, the algorithm of the issuer's key")
    try:
        payload = jwt.PyJWS().decode(token, key=public_key, algorithms=[expected])  # type: ignore[arg-type]
    except jwt.InvalidSignatureError as error:
        reason = "the signature does not match: the assertion was altered or signed by another key"
        raise SignatureFailure(reason) from error
    except jwt.InvalidTokenError as error:
        raise SignatureFailure(f"the JWS does not verify: {error}") from error
    try:
        assertion = json.loads(payload)
    except (ValueError, RecursionError) as error:
        raise SignatureFailure("the JWS payload is not JSON") from error
    if not isinstance(assertion, dict):
        raise SignatureFailure("the JWS payload is not a JSON object")
    return assertion
