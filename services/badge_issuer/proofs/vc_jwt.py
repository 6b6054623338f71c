"""VC-JWT proofs (Open Badges 3.0 §8.2, VC-JOSE): RS256, ES256 and EdDSA.

The JWT payload is the credential itself with the registered claims derived from it
(iss, jti, sub, nbf, exp); the header carries ``kid`` so a verifier can find the key
in the issuer's JWKS or DID document. Verification pins the algorithm to the key's
type *before* checking the signature: the token's own ``alg`` never picks the
algorithm (no ``none``, no HS256 keyed with a public key, no RS256/ES256 swap).

Signing writes the compact JWS itself, byte for byte what ``jwt.encode`` writes, and asks PyJWT's
algorithm objects only for the signature (for Ed25519 libsodium's: the same bytes, sooner). Measured
on the sample credential (bench/bench_signing.py, cProfile), ``jwt.encode`` spent about a third in
Ed25519, a quarter in ``json.dumps`` of the ~2 KB payload and the rest in its own bookkeeping and
base64: the payload is serialised with orjson here (about 30x faster), checked to be what
``json.dumps`` would have written. Verification stays PyJWT's.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any

import jwt
import nacl.bindings
import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import get_default_algorithms

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


_SIGNERS = {
    name: algorithm for name, algorithm in get_default_algorithms().items() if name in ("EdDSA", "ES256", "RS256")
}
# orjson writes what json.dumps(separators=(",", ":")) writes for JSON values, except: characters
# outside printable ASCII (json escapes them, orjson writes UTF-8: re-escaped below) and floats under
# 1e-4 (json writes 1e-05, orjson 0.00001 or 1e-7). Such a number token ends in `e-<digits>` or is
# `0.0000<digits>`, followed by `,`, `}` or `]`: output where either pattern occurs is written by
# json.dumps itself (a string that happens to read so only costs the slow path). Each pattern starts
# with a literal, which the regular expression engine scans for in C: on a 2 KB payload holding UUIDs
# (`…1e-9d55…`) that took 1.2 us, where bytes.find and a match at each `e-` in Python took 2.9. NaN and
# infinities, which orjson writes as null and json as NaN / Infinity, send any output holding `null`
# there too.
_SMALL_FLOAT_EXPONENT = re.compile(rb"e-[0-9]+[,}\]]")
_SMALL_FLOAT_DECIMAL = re.compile(rb"0\.0000[0-9]*[,}\]]")
_JSON_ESCAPES = "credstack-json-ascii"


def _written_otherwise_by_json(text: bytes) -> bool:
    return (
        b"null" in text
        or _SMALL_FLOAT_EXPONENT.search(text) is not None
        or _SMALL_FLOAT_DECIMAL.search(text) is not None
    )


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what json.dumps writes for characters beyond ASCII (json's own C escaper;
    surrogate pairs past the BMP), the quotes it adds around a string cut off."""
    assert isinstance(error, UnicodeEncodeError)
    return encode_basestring_ascii(error.object[error.start : error.end])[1:-1], error.end


codecs.register_error(_JSON_ESCAPES, _json_escapes)


def compact_json(value: Mapping[str, Any]) -> bytes:
    """``json.dumps(value, separators=(",", ":")).encode()`` (what PyJWT signs), byte for byte, fast.

    Anything orjson does not write as json would (non-str keys, str/dict subclasses, dates, ints past
    64 bits, lone surrogates) raises in orjson and goes to json.dumps, as do small floats and NaN."""
    try:
        text = orjson.dumps(
            value,
            default=_refuse,
            option=orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS,
        )
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()
    if _written_otherwise_by_json(text):
        return json.dumps(value, separators=(",", ":")).encode()
    if not text.isascii():  # the ASCII codec in C, calling the handler only for what it cannot write
        text = text.decode("utf-8").encode("ascii", _JSON_ESCAPES)
    return text.replace(b"\x7f", b"\\u007f") if b"\x7f" in text else text


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is left to json.dumps")


def _base64url(data: bytes) -> bytes:
    """Two replaces rather than bytes.translate: each finds its few bytes with memchr, where translate
    maps every byte of a 3 KB segment one by one (ten times as long)."""
    return binascii.b2a_base64(data, newline=False).replace(b"+", b"-").replace(b"/", b"_").rstrip(b"=")


@functools.lru_cache(maxsize=256)
def _encoded_header(algorithm: str, kid: str) -> bytes:
    """The protected header as PyJWT writes it (its fields, sorted): one per key, so remembered."""
    header = {"typ": "JWT", "alg": algorithm, "kid": kid}
    return _base64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


_SEGMENT_ALPHABET = re.compile(rb"[A-Za-z0-9_-]*")


class _FastSegmentJws(jwt.PyJWS):
    """PyJWS, its segment decoder's alphabet check made one regular expression.

    PyJWT checks each segment's base64url alphabet with a Python loop over every byte: for a 4 KB
    VC-JWT that loop was most of a verification's time outside Ed25519. The rules are PyJWT 2.x's own
    (at most two trailing '=' and then a length that is a multiple of 4, no length of 1 mod 4, only the
    URL-safe alphabet, canonical encoding); header, algorithm and signature checks stay PyJWT's."""

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2 or (padding and len(segment) % 4 != 0):
            raise jwt.DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or not _SEGMENT_ALPHABET.fullmatch(stripped):
            raise jwt.DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
        except (TypeError, binascii.Error) as error:
            raise jwt.DecodeError(f"Invalid {name} padding") from error
        if _base64url(decoded) != stripped:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


_VERIFIER = jwt.PyJWT()
if hasattr(jwt.PyJWS, "_decode_base64url_segment"):  # the PyJWT this was written against; else PyJWT's own
    _VERIFIER._jws = _FastSegmentJws(options=_VERIFIER._get_sig_options())


def _timestamp(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


# dict is named before Mapping: a plain dict, what a credential holds, is told apart in C without the
# Mapping ABC's check, which took a third of registered_claims' time.
_OBJECT_TYPES = (dict, Mapping)


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, _OBJECT_TYPES) else issuer


def _subject_id(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    return subject.get("id") if isinstance(subject, _OBJECT_TYPES) else None


def registered_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """OB 3.0 §8.2.4.2: iss, jti, sub, nbf, exp mirrored from the credential (those it has, in this order)."""
    claims: dict[str, Any] = {}
    issuer, credential_id, subject = _issuer_id(credential), credential.get("id"), _subject_id(credential)
    if issuer:
        claims["iss"] = issuer
    if credential_id:
        claims["jti"] = credential_id
    if subject:
        claims["sub"] = subject
    valid_from = credential.get("validFrom") or credential.get("issuanceDate")
    if valid_from:
        claims["nbf"] = _timestamp(valid_from)
    valid_until = credential.get("validUntil") or credential.get("expirationDate")
    if valid_until:
        claims["exp"] = _timestamp(valid_until)
    return claims


@dataclass(frozen=True, slots=True)
class _KeySigner:
    """What signing needs of one private key, worked out once: its JWS algorithm, its own kid (for
    calls that name none) and the signature primitive bound to it."""

    algorithm: str
    kid: str
    sign: Callable[[bytes], bytes] = field(repr=False)


def _libsodium_ed25519(private_key: ed25519.Ed25519PrivateKey) -> Callable[[bytes], bytes]:
    """Ed25519 by libsodium (PyNaCl): the signature cryptography's writes (RFC 8032 signatures are
    deterministic), about 9 us sooner on a 3 KB signing input. The key stays cryptography's: libsodium's
    secret key (seed and public key) is derived from the raw seed here, once, and kept only in the
    closure returned; its public half must be the key's own before anything is signed with it."""
    public, secret = nacl.bindings.crypto_sign_seed_keypair(private_key.private_bytes_raw())
    if public != private_key.public_key().public_bytes_raw():
        raise keys.KeyFormatError("libsodium derived another Ed25519 public key from this private key")
    crypto_sign, signature_bytes = nacl.bindings.crypto_sign, nacl.bindings.crypto_sign_BYTES
    return lambda message: crypto_sign(message, secret)[:signature_bytes]  # signature, then the message


def _es256(private_key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    """PyJWT's ES256 signature (r and s, 32 bytes each, big-endian, RFC 7518 §3.4) without rebuilding
    the ECDSA(SHA-256) parameters per call or PyJWT's hex round trip from DER: about 3.5 us of ~33."""
    algorithm = ec.ECDSA(hashes.SHA256())

    def sign(message: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(message, algorithm))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


@functools.lru_cache(maxsize=1024)
def _signer_for(private_key: keys.PrivateKey) -> _KeySigner:
    """Per key object (they hash by identity; the cache holds each one it names, so an id is never
    reused while remembered). As many as the key vault keeps opened: the service signs with those."""
    algorithm = keys.jws_algorithm_for(private_key)
    kid = keys.key_id(private_key.public_key())
    if algorithm == "EdDSA":
        return _KeySigner(algorithm, kid, _libsodium_ed25519(private_key))  # type: ignore[arg-type]
    if algorithm == "ES256":
        return _KeySigner(algorithm, kid, _es256(private_key))  # type: ignore[arg-type]
    primitive = _SIGNERS[algorithm]
    return _KeySigner(algorithm, kid, lambda message: primitive.sign(message, private_key))


def sign(credential: Mapping[str, Any], private_key: keys.PrivateKey, kid: str | None = None) -> str:
    """Compact JWS of ``credential``; the algorithm follows from the key type."""
    if "proof" in credential:
        raise ValueError("a VC-JWT carries no embedded proof; pass the unsecured credential")
    signer = _signer_for(private_key)
    kid = kid or signer.kid
    if not isinstance(kid, str):
        raise TypeError("kid must be a string")
    payload = {**credential, **registered_claims(credential)}
    if "iss" in payload and not isinstance(payload["iss"], str):
        raise TypeError("Issuer (iss) must be a string.")
    signing_input = _encoded_header(signer.algorithm, kid) + b"." + _base64url(compact_json(payload))
    return (signing_input + b"." + _base64url(signer.sign(signing_input))).decode("ascii")


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
    return _credential_from_claims(_unverified_claims(token))


def _unverified_claims(token: str) -> dict[str, Any]:
    """The payload segment read by hand, as PyJWT reads it (base64url, then json.loads to an object).

    Nothing is verified here, so PyJWT's decoder, which checks the base64url alphabet of a kilobytes
    long token one character at a time in Python, is kept for the one decode that verifies: reading
    through it here as well cost a verification about a third of its time."""
    segments = token.split(".")
    if len(segments) != 3 or not all(_BASE64URL.fullmatch(segment) for segment in segments[1:]):
        raise JwtVerificationError("malformed_token", "unreadable JWT payload: Invalid payload padding")
    payload = segments[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except RecursionError as error:
        raise JwtVerificationError("malformed_token", "unreadable JWT payload: nested too deeply") from error
    except ValueError as error:
        raise JwtVerificationError("malformed_token", f"unreadable JWT payload: {error}") from error
    if not isinstance(claims, dict):
        raise JwtVerificationError("malformed_token", "unreadable JWT payload: must be a json object")
    return claims


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
        return _VERIFIER.decode(token, public_key, algorithms=[algorithm], options=options, leeway=leeway)
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
