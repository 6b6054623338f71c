"""VC-JWT proofs (Open Badges 3.0 §8.2, VC-JOSE): RS256, ES256 and EdDSA with PyJWT.

The JWT payload is the credential itself with the registered claims derived from it
(iss, jti, sub, nbf, exp); the header carries ``kid`` so a verifier can find the key
in the issuer's JWKS or DID document. Verification pins the algorithm to the key's
type *before* checking the signature: the token's own ``alg`` never picks the
algorithm (no ``none``, no HS256 keyed with a public key, no RS256/ES256 swap).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt

from . import keys

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
JWT_TYPES = frozenset({"JWT", "vc+jwt", "vc+ld+json+jwt"})
REGISTERED_CLAIMS = ("iss", "jti", "sub", "nbf", "exp", "iat", "aud")

KeyResolver = Callable[[Mapping[str, Any]], "keys.PublicKey | Mapping[str, Any]"]
"""Given the JOSE header, return the public key (object or JWK) named by its ``kid``."""


class JwtVerificationError(ValueError):
    """The VC-JWT was rejected; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class VerifiedJwt:
    """A verified VC-JWT: the credential, plus the header and claims it came with."""

    credential: dict[str, Any]
    header: dict[str, Any]
    claims: dict[str, Any] = field(repr=False)


def _timestamp(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


def _subject_id(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    return subject.get("id") if isinstance(subject, Mapping) else None


def registered_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """OB 3.0 §8.2.4.2: iss, jti, sub, nbf, exp mirrored from the credential."""
    claims: dict[str, Any] = {}
    candidates = {"iss": _issuer_id(credential), "jti": credential.get("id"), "sub": _subject_id(credential)}
    claims.update({name: value for name, value in candidates.items() if value})
    valid_from = credential.get("validFrom") or credential.get("issuanceDate")
    if valid_from:
        claims["nbf"] = _timestamp(valid_from)
    valid_until = credential.get("validUntil") or credential.get("expirationDate")
    if valid_until:
        claims["exp"] = _timestamp(valid_until)
    return claims


def sign(credential: Mapping[str, Any], private_key: keys.PrivateKey, kid: str | None = None) -> str:
    """Compact JWS of ``credential``; the algorithm follows from the key type."""
    if "proof" in credential:
        raise ValueError("a VC-JWT carries no embedded proof; pass the unsecured credential")
    algorithm = keys.jws_algorithm_for(private_key)
    headers = {"kid": kid or keys.key_id(private_key.public_key()), "typ": "JWT"}
    payload = {**credential, **registered_claims(credential)}
    return jwt.encode(payload, private_key, algorithm=algorithm, headers=headers)


def read_header(token: str) -> dict[str, Any]:
    """Unverified JOSE header, for looking up the key by ``kid`` before verifying.

    Parsed here from the first segment only: PyJWT's own header reader validates the
    whole (kilobytes long) payload character by character, which doubled verify time.
    PyJWT still validates every segment when it checks the signature.
    """
    segments = token.split(".") if isinstance(token, str) else []
    if len(segments) != 3 or not _BASE64URL.fullmatch(segments[0]):
        raise JwtVerificationError("malformed_token", "not a compact JWS (header.payload.signature)")
    try:
        header = json.loads(base64.urlsafe_b64decode(segments[0] + "=" * (-len(segments[0]) % 4)))
    except ValueError as error:
        raise JwtVerificationError("malformed_token", f"unreadable JOSE header: {error}") from error
    if not isinstance(header, dict):
        raise JwtVerificationError("malformed_token", "JOSE header is not a JSON object")
    return header


def read_unverified_credential(token: str) -> dict[str, Any]:
    """The credential a token carries, *not* authenticated: only so that a verifier whose signature
    check failed can still report the token's dates, schema and status (each marked as unproved)."""
    read_header(token)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as error:
        raise JwtVerificationError("malformed_token", f"unreadable JWT payload: {error}") from error
    return _credential_from_claims(claims)


def verify(
    token: str,
    key: keys.PublicKey | Mapping[str, Any] | KeyResolver,
    *,
    leeway_seconds: int = 0,
    verify_times: bool = True,
) -> VerifiedJwt:
    """Verify a VC-JWT and return its credential, or raise :class:`JwtVerificationError`."""
    header = read_header(token)
    public_key = _public_key(key, header)
    expected = keys.jws_algorithm_for(public_key)
    algorithm = header.get("alg")
    if algorithm != expected:
        raise JwtVerificationError(
            "algorithm_mismatch", f"token alg {algorithm!r} does not match the {expected} key it names"
        )
    if "typ" in header and header["typ"] not in JWT_TYPES:
        raise JwtVerificationError("unexpected_type", f"typ {header['typ']!r} is not a VC-JWT type")
    claims = _decode(token, public_key, expected, leeway_seconds, verify_times)
    credential = _credential_from_claims(claims)
    _check_claims_match(credential, claims)
    return VerifiedJwt(credential=credential, header=header, claims=claims)


def _public_key(key: keys.PublicKey | Mapping[str, Any] | KeyResolver, header: Mapping[str, Any]) -> keys.PublicKey:
    if callable(key) and not hasattr(key, "public_bytes"):
        key = key(header)
    try:
        if isinstance(key, Mapping):
            return keys.public_key_from_jwk(dict(key))
        keys.key_type_of(key)
    except keys.KeyFormatError as error:
        raise JwtVerificationError("unsupported_key", str(error)) from error
    return key  # type: ignore[return-value]


def _decode(token: str, public_key: keys.PublicKey, algorithm: str, leeway: int, verify_times: bool) -> dict:
    options = {"verify_exp": verify_times, "verify_nbf": verify_times, "verify_aud": False, "verify_iat": False}
    try:
        return jwt.decode(token, public_key, algorithms=[algorithm], options=options, leeway=leeway)
    except jwt.InvalidSignatureError as error:
        reason = "signature does not match: token altered or wrong key"
        raise JwtVerificationError("invalid_signature", reason) from error
    except jwt.ExpiredSignatureError as error:
        raise JwtVerificationError("expired", "the credential has expired (exp)") from error
    except jwt.ImmatureSignatureError as error:
        raise JwtVerificationError("not_yet_valid", "the credential is not valid yet (nbf)") from error
    except jwt.InvalidTokenError as error:
        raise JwtVerificationError("malformed_token", str(error)) from error


def _credential_from_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Native OB 3.0 payload (the credential) or the VC 1.1 ``vc`` claim wrapper."""
    if isinstance(claims.get("vc"), Mapping):
        return dict(claims["vc"])
    credential = {name: value for name, value in claims.items() if name not in REGISTERED_CLAIMS}
    if "@context" not in credential or "type" not in credential:
        raise JwtVerificationError("not_a_credential", "the JWT payload is not a verifiable credential")
    return credential


def _check_claims_match(credential: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """Registered claims must agree with the credential they mirror (no spliced iss/sub)."""
    pairs = {"iss": _issuer_id(credential), "jti": credential.get("id"), "sub": _subject_id(credential)}
    for name, expected in pairs.items():
        if name in claims and expected is not None and claims[name] != expected:
            raise JwtVerificationError("claim_mismatch", f"JWT claim {name!r} does not match the credential")
