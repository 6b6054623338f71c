"""W3C Data Integrity proofs, cryptosuite eddsa-rdfc-2022 (vc-di-eddsa §3.3).

hashData = SHA-256(canonical proof configuration) || SHA-256(canonical document),
signed with Ed25519 and written as multibase base58btc. The proof is attached as a
one-element array because the 1EdTech OB 3.0 JSON schema requires ``proof`` to be
an array.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from . import keys
from .canonicalization import CanonicalizationError, canonicalize

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
ED25519_SIGNATURE_LENGTH = 64

PublicKeyResolver = Callable[[str], ed25519.Ed25519PublicKey]
"""Turns a verificationMethod id into the Ed25519 key it names (raise if it cannot)."""


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

    def __bool__(self) -> bool:
        return self.valid


def resolve_did_key_method(verification_method: str) -> ed25519.Ed25519PublicKey:
    """Default resolver: did:key only (offline). ``did:key:z6Mk…`` without a fragment
    names the same key as ``did:key:z6Mk…#z6Mk…`` and is read as that key."""
    return keys.public_key_from_did_key(verification_method)


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
    for proof in proof_list:
        result = _verify_proof(unsecured, proof, resolve_public_key, expected_proof_purpose)
        if not result.valid:
            return result
    return result


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
    try:
        signature = keys.decode_multibase_base58btc(proof["proofValue"])
    except keys.KeyFormatError as error:
        return VerificationResult(False, "malformed_proof_value", f"proofValue: {error}", method)
    if len(signature) != ED25519_SIGNATURE_LENGTH:
        reason = "proofValue is not a 64-byte Ed25519 signature"
        return VerificationResult(False, "malformed_proof_value", reason, method)
    try:
        public_key = resolve_public_key(method)
    except Exception as error:  # noqa: BLE001 - any resolver failure is a verification failure
        return VerificationResult(False, "unresolvable_verification_method", f"{method}: {error}", method)
    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    context = proof_options.pop("@context", None) or unsecured.get("@context")
    try:
        hash_data = _hash_data(unsecured, proof_options, context)
    except CanonicalizationError as error:
        return VerificationResult(False, "canonicalization_failed", str(error), method)
    try:
        public_key.verify(signature, hash_data)
    except InvalidSignature:
        return VerificationResult(
            False,
            "invalid_signature",
            "signature does not match: the credential or its proof was altered, or the key is wrong",
            method,
        )
    return VerificationResult(True, "ok", None, method)


def _proof_shape_problem(proof: Mapping[str, Any], expected_proof_purpose: str) -> tuple[str, str] | None:
    if proof.get("type") != PROOF_TYPE:
        return "unsupported_proof_type", f"proof type {proof.get('type')!r} is not {PROOF_TYPE}"
    if proof.get("cryptosuite") != CRYPTOSUITE:
        return "unsupported_cryptosuite", f"cryptosuite {proof.get('cryptosuite')!r} is not {CRYPTOSUITE}"
    if proof.get("proofPurpose") != expected_proof_purpose:
        return "wrong_proof_purpose", f"proofPurpose {proof.get('proofPurpose')!r} is not {expected_proof_purpose}"
    if not isinstance(proof.get("verificationMethod"), str):
        return "malformed_proof", "verificationMethod is missing"
    if not isinstance(proof.get("proofValue"), str):
        return "malformed_proof_value", "proofValue is missing"
    return None


def _hash_data(document: Mapping[str, Any], proof_options: Mapping[str, Any], context: Any) -> bytes:
    """vc-di-eddsa §3.3.4-3.3.5: proof config hash first, then the document hash."""
    proof_config = {"@context": context, **proof_options}
    proof_hash = hashlib.sha256(canonicalize(proof_config).encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonicalize(document).encode("utf-8")).digest()
    return proof_hash + document_hash
