"""Issuer signing keys: generation, multikey / did:key, JWK, kid, serialisation.

Ed25519 is the default because did:key (offline, no hosting) and eddsa-rdfc-2022
need it; P-256 and RSA-2048 exist for VC-JWT (RS256 is required for OB 3.0
conformance). P-384 is read, never generated: credentials signed elsewhere with ecdsa-rdfc-2019
on P-384 must verify. The service encrypts the serialised private keys; that is not done here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

KeyType = Literal["Ed25519", "P-256", "P-384", "RSA"]
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# Multicodec varint prefixes (https://github.com/multiformats/multicodec/blob/master/table.csv).
ED25519_PUBLIC_MULTICODEC = b"\xed\x01"
ED25519_PRIVATE_MULTICODEC = b"\x80\x26"
MULTIBASE_BASE58BTC = "z"
DID_KEY_PREFIX = "did:key:"
DID_WEB_PREFIX = "did:web:"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
JWK_CONTEXT = "https://w3id.org/security/jwk/v1"
KEY_TYPES: tuple[KeyType, ...] = ("Ed25519", "P-256", "RSA")  # what an issuer may sign with
RSA_KEY_BITS = 2048


class KeyFormatError(ValueError):
    """A key, multikey or did:key could not be decoded."""


def generate_private_key(key_type: KeyType = "Ed25519") -> PrivateKey:
    """Fresh signing key of the requested type."""
    if key_type == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "P-256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    raise ValueError(f"unsupported key type {key_type!r}")


def key_type_of(key: PrivateKey | PublicKey) -> KeyType:
    """Which of our key types a cryptography key object is (rejects other curves)."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "P-256"
        if isinstance(key.curve, ec.SECP384R1):
            return "P-384"
        raise KeyFormatError(f"unsupported curve {key.curve.name}")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < RSA_KEY_BITS:
            raise KeyFormatError(f"RSA key of {key.key_size} bits is too short")
        return "RSA"
    raise KeyFormatError(f"unsupported key object {type(key).__name__}")


# -- multibase / multikey ---------------------------------------------------------------


def _raw_ed25519_public(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encode_multibase_base58btc(data: bytes) -> str:
    """Multibase 'z' (base58btc) text, as used by proofValue and publicKeyMultibase."""
    return MULTIBASE_BASE58BTC + base58.b58encode(data).decode("ascii")


def decode_multibase_base58btc(text: str) -> bytes:
    """Inverse of :func:`encode_multibase_base58btc`; other multibase prefixes are refused."""
    if not isinstance(text, str) or not text.startswith(MULTIBASE_BASE58BTC):
        raise KeyFormatError("expected multibase base58btc text starting with 'z'")
    try:
        return base58.b58decode(text[1:])
    except ValueError as error:
        raise KeyFormatError(f"invalid base58btc: {error}") from error


def ed25519_public_key_to_multikey(public_key: ed25519.Ed25519PublicKey) -> str:
    """publicKeyMultibase of a Multikey: 'z' + base58btc(0xed01 || raw key), 'z6Mk...'."""
    return encode_multibase_base58btc(ED25519_PUBLIC_MULTICODEC + _raw_ed25519_public(public_key))


def ed25519_public_key_from_multikey(multikey: str) -> ed25519.Ed25519PublicKey:
    """Decode a 'z6Mk...' publicKeyMultibase (checks the multicodec and the length)."""
    data = decode_multibase_base58btc(multikey)
    if not data.startswith(ED25519_PUBLIC_MULTICODEC) or len(data) != 34:
        raise KeyFormatError("not an Ed25519 public multikey (multicodec 0xed01, 32 bytes)")
    return ed25519.Ed25519PublicKey.from_public_bytes(data[2:])


def ed25519_private_key_to_multikey(private_key: ed25519.Ed25519PrivateKey) -> str:
    """secretKeyMultibase: 'z' + base58btc(0x8026 || 32-byte seed)."""
    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return encode_multibase_base58btc(ED25519_PRIVATE_MULTICODEC + seed)


def ed25519_private_key_from_multikey(multikey: str) -> ed25519.Ed25519PrivateKey:
    """Decode a secretKeyMultibase (as in the W3C vc-di-eddsa test vector)."""
    data = decode_multibase_base58btc(multikey)
    if not data.startswith(ED25519_PRIVATE_MULTICODEC) or len(data) != 34:
        raise KeyFormatError("not an Ed25519 secret multikey (multicodec 0x8026, 32 bytes)")
    return ed25519.Ed25519PrivateKey.from_private_bytes(data[2:])


# -- did:key ------------------------------------------------------------------------------


def did_key_for(public_key: ed25519.Ed25519PublicKey) -> str:
    """did:key identifier of an Ed25519 public key."""
    return DID_KEY_PREFIX + ed25519_public_key_to_multikey(public_key)


def did_key_verification_method(did: str) -> str:
    """Verification method id of a did:key: ``did:key:z6Mk…#z6Mk…`` (what verifiers dereference)."""
    multikey = _did_key_multikey(did)
    return f"{DID_KEY_PREFIX}{multikey}#{multikey}"


def _did_key_multikey(did_or_method: str) -> str:
    if not did_or_method.startswith(DID_KEY_PREFIX):
        raise KeyFormatError(f"not a did:key: {did_or_method!r}")
    identifier, _, fragment = did_or_method[len(DID_KEY_PREFIX) :].partition("#")
    if fragment and fragment != identifier:
        raise KeyFormatError("did:key fragment does not name the key of the DID")
    return identifier


def public_key_from_did_key(did_or_method: str) -> ed25519.Ed25519PublicKey:
    """Ed25519 key of a did:key, with or without its '#fragment' (both name the same key)."""
    return ed25519_public_key_from_multikey(_did_key_multikey(did_or_method))


P256_PUBLIC_MULTICODEC = b"\x80\x24"  # varint of 0x1200 (p256-pub); a compressed point follows
P384_PUBLIC_MULTICODEC = b"\x81\x24"  # varint of 0x1201 (p384-pub)
_EC_MULTICODECS: tuple[tuple[bytes, ec.EllipticCurve, int], ...] = (
    (P256_PUBLIC_MULTICODEC, ec.SECP256R1(), 33),
    (P384_PUBLIC_MULTICODEC, ec.SECP384R1(), 49),
)
DID_JWK_PREFIX = "did:jwk:"


def public_key_from_multikey(multibase: str) -> PublicKey:
    """An Ed25519, P-256 or P-384 Multikey (``z6Mk…`` / ``zDna…`` / ``z82L…``), as verifiers meet them
    in did:key and verification methods; any other multicodec is refused by name."""
    data = decode_multibase_base58btc(multibase)
    if data.startswith(ED25519_PUBLIC_MULTICODEC):
        return ed25519_public_key_from_multikey(multibase)
    return ec_public_key_from_multicodec(data)


def ec_public_key_from_multicodec(data: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 / P-384 public key from multicodec bytes (header + compressed point); ecdsa-sd-2023
    carries its per-credential key in this form inside the proof value."""
    for header, curve, point_length in _EC_MULTICODECS:
        if data.startswith(header) and len(data) == len(header) + point_length:
            try:
                return ec.EllipticCurvePublicKey.from_encoded_point(curve, data[len(header) :])
            except ValueError as error:
                raise KeyFormatError(f"not a {curve.name} point: {error}") from error
    raise KeyFormatError("the multikey is neither an Ed25519, a P-256 nor a P-384 public key")


def verification_key_from_did_key(did_or_method: str) -> PublicKey:
    """The key of any did:key this verifier reads (Ed25519 or P-256), with or without its fragment."""
    return public_key_from_multikey(_did_key_multikey(did_or_method))


def public_key_from_did_jwk(did_or_method: str) -> PublicKey:
    """did:jwk (the JWK itself, base64url in the DID); its one verification method is ``#0``."""
    if not did_or_method.startswith(DID_JWK_PREFIX):
        raise KeyFormatError(f"not a did:jwk: {did_or_method!r}")
    encoded, _, fragment = did_or_method[len(DID_JWK_PREFIX) :].partition("#")
    if fragment not in ("", "0"):
        raise KeyFormatError("a did:jwk has one verification method, #0")
    try:
        jwk = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except ValueError as error:
        raise KeyFormatError(f"the did:jwk does not hold a JSON JWK: {error}") from error
    if not isinstance(jwk, dict) or "d" in jwk:
        raise KeyFormatError("the did:jwk does not hold a public JWK")
    return public_key_from_jwk(jwk)


def resolve_did_key(did_or_method: str) -> dict[str, Any]:
    """Offline did:key resolution to a DID document with one Multikey method."""
    multikey = _did_key_multikey(did_or_method)
    ed25519_public_key_from_multikey(multikey)  # validate before describing it
    did = DID_KEY_PREFIX + multikey
    method_id = f"{did}#{multikey}"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {"id": method_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
        ],
        "authentication": [method_id],
        "assertionMethod": [method_id],
        "capabilityDelegation": [method_id],
        "capabilityInvocation": [method_id],
    }


# -- did:web ------------------------------------------------------------------------------


def did_web_for(base_url: str, *path: str) -> str:
    """did:web of the document at ``base_url/<path...>/did.json`` (did:web spec, "path" form).

    The host's port colon is percent-encoded (``%3A``), path segments become ``:``-separated."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise KeyFormatError(f"no host in {base_url!r}")
    host = parts.hostname.lower() + (f"%3A{parts.port}" if parts.port else "")
    segments = [segment for segment in parts.path.split("/") if segment] + [str(item) for item in path]
    return DID_WEB_PREFIX + ":".join([host, *(quote(segment, safe="") for segment in segments)])


def did_web_document_url(did: str) -> str:
    """Where a did:web's DID document lives: the spec's DID-to-HTTPS mapping (no fragment allowed)."""
    if not did.startswith(DID_WEB_PREFIX) or "#" in did:
        raise KeyFormatError(f"not a did:web: {did!r}")
    host, *segments = did[len(DID_WEB_PREFIX) :].split(":")
    path = "/".join(unquote(segment) for segment in segments) if segments else ".well-known"
    return f"https://{unquote(host)}/{path}/did.json"


def verification_method(method_id: str, controller: str, public_key: PublicKey) -> dict[str, Any]:
    """A DID document verification method: Multikey for Ed25519 (what eddsa-rdfc-2022 verifiers
    expect), JsonWebKey with only the public JWK members for P-256 and RSA."""
    entry: dict[str, Any] = {"id": method_id, "controller": controller}
    if key_type_of(public_key) == "Ed25519":
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        return {**entry, "type": "Multikey", "publicKeyMultibase": ed25519_public_key_to_multikey(public_key)}
    return {**entry, "type": "JsonWebKey", "publicKeyJwk": _public_jwk_members(public_key)}


# -- JWK / kid ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


def jws_algorithm_for(key: PrivateKey | PublicKey) -> str:
    """The one JWS algorithm each key type is used with (RFC 7518 / RFC 8037)."""
    return {"Ed25519": "EdDSA", "P-256": "ES256", "P-384": "ES384", "RSA": "RS256"}[key_type_of(key)]


def _public_jwk_members(public_key: PublicKey) -> dict[str, str]:
    key_type = key_type_of(public_key)
    if key_type == "Ed25519":
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_raw_ed25519_public(public_key))}
    if key_type in ("P-256", "P-384"):
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        numbers, size = public_key.public_numbers(), (public_key.curve.key_size + 7) // 8
        x, y = _b64url(_int_bytes(numbers.x, size)), _b64url(_int_bytes(numbers.y, size))
        return {"kty": "EC", "crv": key_type, "x": x, "y": y}
    assert isinstance(public_key, rsa.RSAPublicKey)
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url(_int_bytes(numbers.n)), "e": _b64url(_int_bytes(numbers.e))}


def key_id(public_key: PublicKey) -> str:
    """Stable kid: the RFC 7638 JWK SHA-256 thumbprint (same key, same kid, anywhere)."""
    members = _public_jwk_members(public_key)
    canonical = json.dumps(dict(sorted(members.items())), separators=(",", ":")).encode("ascii")
    return _b64url(hashlib.sha256(canonical).digest())


def public_jwk(public_key: PublicKey, kid: str | None = None) -> dict[str, str]:
    """Public JWK for a JWKS entry, with kid, alg and use so verifiers can pin the algorithm."""
    return {
        **_public_jwk_members(public_key),
        "kid": kid or key_id(public_key),
        "alg": jws_algorithm_for(public_key),
        "use": "sig",
    }


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """Load a public JWK (OKP Ed25519, EC P-256 / P-384 or RSA); private members are ignored."""

    def member(name: str) -> bytes:
        value = jwk.get(name)
        if not isinstance(value, str):
            raise KeyFormatError(f"JWK member {name!r} missing")
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))

    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(member("x"))
    if kty == "EC" and crv in ("P-256", "P-384"):
        x, y = (int.from_bytes(member(name), "big") for name in ("x", "y"))
        curve = ec.SECP256R1() if crv == "P-256" else ec.SECP384R1()
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    if kty == "RSA":
        n, e = (int.from_bytes(member(name), "big") for name in ("n", "e"))
        return rsa.RSAPublicNumbers(e, n).public_key()
    raise KeyFormatError(f"unsupported JWK kty={kty!r} crv={crv!r}")


# -- serialisation -----------------------------------------------------------------------


def private_key_to_pem(private_key: PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM (optionally password-encrypted) for storage by the service."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_key_from_pem(pem: bytes, password: bytes | None = None) -> PrivateKey:
    """Inverse of :func:`private_key_to_pem`; refuses key types we do not sign with."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyFormatError(f"unsupported private key type {type(key).__name__}")
    key_type_of(key)
    return key


def public_key_to_pem(public_key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, for interop with tools that want PEM."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
