"""W3C Data Integrity proofs: eddsa-rdfc-2022 signed (vc-di-eddsa §3.3); read also in the forms
credentials people hold were issued in.

hashData = SHA-256(canonical proof configuration) || SHA-256(canonical document),
signed with Ed25519 and written as multibase base58btc. The proof is attached as a
one-element array because the 1EdTech OB 3.0 JSON schema requires ``proof`` to be
an array.

Verified suites (:data:`SUITES`), all RDFC-1.0 with the same hash layout:
``DataIntegrityProof`` + ``eddsa-rdfc-2022``; + ``eddsa-2022`` (the pre-standard name of the same
algorithm, reported with a warning); ``Ed25519Signature2020`` (no cryptosuite; Digital Credentials
Consortium wallets and issuers, vc-di-eddsa "legacy" section); ``DataIntegrityProof`` +
``ecdsa-rdfc-2019`` with a P-256 or P-384 key (vc-di-ecdsa §3.2: IEEE P1363 r||s signatures, SHA-384
hashes on P-384). ``ecdsa-sd-2023`` (selective disclosure, base and derived proofs) hashes differently
and is verified in :mod:`ecdsa_sd`. The suite fixes the key types: a proof never picks its algorithm from
the key it names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import ecdsa_sd, keys
from .canonicalization import CanonicalizationError, canonicalize

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
ED25519_SIGNATURE_LENGTH = 64

ED25519_SIGNATURE_2020 = "Ed25519Signature2020"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"
LEGACY_EDDSA = "eddsa-2022"
ECDSA_RDFC = "ecdsa-rdfc-2019"

PublicKeyResolver = Callable[[str], "keys.PublicKey"]
"""Turns a verificationMethod id into the key it names (raise if it cannot); the suite checks its type."""


ECDSA_SD = ecdsa_sd.CRYPTOSUITE
SIGNATURE_LENGTHS: Mapping[keys.KeyType, int] = {"Ed25519": ED25519_SIGNATURE_LENGTH, "P-256": 64, "P-384": 96}


@dataclass(frozen=True, slots=True)
class Suite:
    """How one proof form is verified: which key types it takes, and what to warn about."""

    name: str
    key_types: tuple[keys.KeyType, ...]
    warning: str | None = None


SUITES: Mapping[tuple[str, str | None], Suite] = {
    (PROOF_TYPE, CRYPTOSUITE): Suite(CRYPTOSUITE, ("Ed25519",)),
    (PROOF_TYPE, LEGACY_EDDSA): Suite(
        LEGACY_EDDSA,
        ("Ed25519",),
        "eddsa-2022 is the draft name of eddsa-rdfc-2022 (legacy: the issuer should re-sign with eddsa-rdfc-2022)",
    ),
    (ED25519_SIGNATURE_2020, None): Suite(ED25519_SIGNATURE_2020, ("Ed25519",)),
    (PROOF_TYPE, ECDSA_RDFC): Suite(ECDSA_RDFC, ("P-256", "P-384")),
    (PROOF_TYPE, ECDSA_SD): Suite(ECDSA_SD, ("P-256",)),
}


class SigningError(ValueError):
    """The credential cannot be signed as given (e.g. it holds terms JSON-LD would drop)."""


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Outcome of verifying a credential's Data Integrity proof(s).

    ``reason`` says what failed in words a person can act on; ``code`` is stable for
    programs (e.g. problem+json types).
    """

    valid: bool
    code: str = "ok"
    reason: str | None = None
    verification_method: str | None = None
    suite: str | None = None
    warnings: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.valid


def resolve_did_key_method(verification_method: str) -> keys.PublicKey:
    """Default resolver: did:key only (offline). ``did:key:z6Mk…`` without a fragment
    names the same key as ``did:key:z6Mk…#z6Mk…`` and is read as that key."""
    return keys.verification_key_from_did_key(verification_method)


def format_created(moment: datetime | None = None) -> str:
    """XSD dateTime in UTC to the second, the form verifiers expect for ``created``."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    credential: Mapping[str, Any],
    private_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: datetime | str | None = None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """Return a copy of ``credential`` with an eddsa-rdfc-2022 proof array attached."""
    if "proof" in credential:
        raise SigningError("credential already has a proof; sign the unsecured credential")
    proof_options = {
        "type": PROOF_TYPE,
        "created": created if isinstance(created, str) else format_created(created),
        "verificationMethod": verification_method,
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": proof_purpose,
    }
    try:
        hash_data = _hash_data(credential, proof_options, credential.get("@context"))
    except CanonicalizationError as error:
        raise SigningError(f"cannot canonicalize the credential: {error}") from error
    proof_value = keys.encode_multibase_base58btc(private_key.sign(hash_data))
    return {**credential, "proof": [{**proof_options, "proofValue": proof_value}]}


def verify(
    credential: Mapping[str, Any],
    resolve_public_key: PublicKeyResolver = resolve_did_key_method,
    expected_proof_purpose: str = ASSERTION_METHOD,
) -> VerificationResult:
    """Verify every proof on ``credential``; the first failure is reported."""
    proofs = credential.get("proof")
    if proofs is None:
        return VerificationResult(False, "no_proof", "the credential has no proof")
    unsecured = {key: value for key, value in credential.items() if key != "proof"}
    proof_list = proofs if isinstance(proofs, list) else [proofs]
    if not proof_list:
        return VerificationResult(False, "no_proof", "the credential's proof array is empty")
    result = VerificationResult(True)
    warnings: list[str] = []
    for proof in proof_list:
        result = _verify_proof(unsecured, proof, resolve_public_key, expected_proof_purpose)
        if not result.valid:
            return result
        warnings.extend(warning for warning in result.warnings if warning not in warnings)
    return VerificationResult(True, "ok", None, result.verification_method, result.suite, tuple(warnings))


def _verify_proof(
    unsecured: Mapping[str, Any],
    proof: Any,
    resolve_public_key: PublicKeyResolver,
    expected_proof_purpose: str,
) -> VerificationResult:
    if not isinstance(proof, Mapping):
        return VerificationResult(False, "malformed_proof", "proof is not an object")
    method = proof.get("verificationMethod")
    problem = _proof_shape_problem(proof, expected_proof_purpose)
    if problem:
        return VerificationResult(False, problem[0], problem[1], method if isinstance(method, str) else None)
    assert isinstance(method, str)
    suite = SUITES[(proof["type"], proof.get("cryptosuite"))]
    try:
        signature = _proof_value(suite, proof["proofValue"])
    except (keys.KeyFormatError, ecdsa_sd.SelectiveProofError) as error:
        code = error.code if isinstance(error, ecdsa_sd.SelectiveProofError) else "malformed_proof_value"
        return VerificationResult(False, code, f"proofValue: {error}", method, suite.name)
    try:
        public_key = resolve_public_key(method)
    except Exception as error:  # noqa: BLE001 - any resolver failure is a verification failure
        return VerificationResult(False, "unresolvable_verification_method", f"{method}: {error}", method, suite.name)
    held = keys.key_type_of(public_key)
    if held not in suite.key_types:
        reason = f"{suite.name} needs a {' or '.join(suite.key_types)} key; {method} is a {held} key"
        return VerificationResult(False, "wrong_key_type", reason, method, suite.name)
    if isinstance(signature, bytes) and len(signature) != SIGNATURE_LENGTHS[held]:
        reason = f"proofValue is not a {SIGNATURE_LENGTHS[held]}-byte {suite.name} signature by a {held} key"
        return VerificationResult(False, "malformed_proof_value", reason, method, suite.name)
    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    context = proof_options.pop("@context", None) or unsecured.get("@context")
    if suite.name == ED25519_SIGNATURE_2020 and ED25519_2020_CONTEXT not in _context_urls(context):
        reason = f"an Ed25519Signature2020 proof needs the {ED25519_2020_CONTEXT} context in the credential"
        return VerificationResult(False, "missing_suite_context", reason, method, suite.name)
    if not isinstance(signature, bytes):
        return _verify_selective(unsecured, proof_options, context, public_key, signature, method)
    try:
        hash_data = _hash_data(unsecured, proof_options, context, _hash_for(held))
    except CanonicalizationError as error:
        return VerificationResult(False, "canonicalization_failed", str(error), method, suite.name)
    matches = _signature_matches(public_key, signature, hash_data)
    if not matches and suite.name == LEGACY_EDDSA:
        matches = _matches_as_first_hashed(unsecured, proof_options, context, public_key, signature)
    if not matches:
        return VerificationResult(
            False,
            "invalid_signature",
            "signature does not match: the credential or its proof was altered, or the key is wrong",
            method,
            suite.name,
        )
    warnings = (suite.warning,) if suite.warning else ()
    return VerificationResult(True, "ok", None, method, suite.name, warnings)


def _proof_value(suite: Suite, proof_value: str) -> bytes | ecdsa_sd.BaseProof | ecdsa_sd.DerivedProof:
    """The signature bytes (multibase base58btc), or an ecdsa-sd-2023 proof's parts (base64url CBOR)."""
    if suite.name == ECDSA_SD:
        return ecdsa_sd.parse_proof_value(proof_value)
    return keys.decode_multibase_base58btc(proof_value)


def _verify_selective(
    unsecured: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    context: Any,
    public_key: keys.PublicKey,
    parts: ecdsa_sd.BaseProof | ecdsa_sd.DerivedProof,
    method: str,
) -> VerificationResult:
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    try:
        verified = ecdsa_sd.verify(unsecured, _proof_hash(proof_options, context), public_key, parts)
    except CanonicalizationError as error:
        return VerificationResult(False, "canonicalization_failed", str(error), method, ECDSA_SD)
    except ecdsa_sd.SelectiveProofError as error:
        return VerificationResult(False, error.code, str(error), method, ECDSA_SD)
    return VerificationResult(True, "ok", None, method, f"{ECDSA_SD} ({verified})")


def _hash_for(key_type: keys.KeyType) -> str:
    """vc-di-ecdsa §2.3 / §3.2.4: SHA-384 with a P-384 key (RDFC-1.0's hash too); SHA-256 otherwise."""
    return "sha384" if key_type == "P-384" else "sha256"


def _matches_as_first_hashed(
    unsecured: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    context: Any,
    public_key: keys.PublicKey,
    signature: bytes,
) -> bool:
    """eddsa-2022 proofs were made (2022-23) when the contexts left ``cryptosuite`` an untyped string;
    the Data Integrity context has since typed it ``cryptosuiteString``, which changes the hashed proof
    configuration. The untyped form is given as a JSON-LD value object (no term coercion applies),
    so the same canonicalizer, not a hand edit, produces what those issuers signed."""
    as_then = {**proof_options, "cryptosuite": {"@value": proof_options["cryptosuite"]}}
    try:
        hash_data = _hash_data(unsecured, as_then, context)
    except CanonicalizationError:
        return False
    return _signature_matches(public_key, signature, hash_data)


def _signature_matches(public_key: keys.PublicKey, signature: bytes, hash_data: bytes) -> bool:
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, hash_data)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            half = len(signature) // 2
            der = encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
            digest = hashes.SHA384() if isinstance(public_key.curve, ec.SECP384R1) else hashes.SHA256()
            public_key.verify(der, hash_data, ec.ECDSA(digest))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _context_urls(context: Any) -> list[str]:
    return [item for item in (context if isinstance(context, list) else [context]) if isinstance(item, str)]


def _proof_shape_problem(proof: Mapping[str, Any], expected_proof_purpose: str) -> tuple[str, str] | None:
    if proof.get("type") not in {proof_type for proof_type, _ in SUITES}:
        known = ", ".join(sorted({proof_type for proof_type, _ in SUITES}))
        return "unsupported_proof_type", f"proof type {proof.get('type')!r} is not one of {known}"
    if (proof.get("type"), proof.get("cryptosuite")) not in SUITES:
        known = ", ".join(sorted(suite for proof_type, suite in SUITES if suite and proof_type == proof["type"]))
        return "unsupported_cryptosuite", f"cryptosuite {proof.get('cryptosuite')!r} is not one of {known or 'none'}"
    if proof.get("proofPurpose") != expected_proof_purpose:
        return "wrong_proof_purpose", f"proofPurpose {proof.get('proofPurpose')!r} is not {expected_proof_purpose}"
    if not isinstance(proof.get("verificationMethod"), str):
        return "malformed_proof", "verificationMethod is missing"
    if not isinstance(proof.get("proofValue"), str):
        return "malformed_proof_value", "proofValue is missing"
    return None


def _hash_data(
    document: Mapping[str, Any], proof_options: Mapping[str, Any], context: Any, algorithm: str = "sha256"
) -> bytes:
    """vc-di-eddsa §3.3.4-3.3.5: proof config hash first, then the document hash."""
    document_hash = hashlib.new(algorithm, canonicalize(document, algorithm).encode("utf-8")).digest()
    return _proof_hash(proof_options, context, algorithm) + document_hash


def _proof_hash(proof_options: Mapping[str, Any], context: Any, algorithm: str = "sha256") -> bytes:
    """Hash of the canonical proof configuration: the proof without its value, in the document's context."""
    canonical = canonicalize({"@context": context, **proof_options}, algorithm)
    return hashlib.new(algorithm, canonical.encode("utf-8")).digest()
