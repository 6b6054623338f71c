"""One verdict for a person from the verifier's checks: valid, revoked, expired, tampered, issuer not
proved, could not check, or not valid.

Derived here, once, from each check's outcome and stable `code` (never from its wording), so the verify
page and the credential page say the same thing about the same answer, and a test can pin each code
to its verdict. Order matters when several checks fail: a broken signature means nothing else the
credential says can be believed, so "tampered" comes first; a key that could not be reached means
nothing was judged, so "could not check" comes before what the unauthenticated content claims.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from shared.schemas.issuer import VerificationCheck, VerificationOut

VerdictKind = Literal["valid", "revoked", "expired", "tampered", "issuer_unbound", "unchecked", "invalid"]
Tone = Literal["valid", "invalid", "unknown"]

# The signature does not match what is shown: altered after signing, or spliced from another credential.
TAMPERED_CODES = frozenset(
    {
        "invalid_signature",
        "claim_mismatch",
        "algorithm_mismatch",
        "wrong_key_type",
        "malformed_proof_value",
        "canonicalization_failed",  # terms outside the context: the padding attack on Data Integrity
        "hosted_mismatch",  # OB 2.0: the hosted copy differs from the one shown
    }
)
# Nothing was judged: the key, the status list or the hosted copy could not be had (try again later).
UNCHECKED_CODES = frozenset(
    {
        "key_unreachable",
        "unresolvable_verification_method",
        "unresolvable_key",
        "unsupported_key",
        "status_unavailable",
        "hosted_unavailable",
    }
)
REVOKED_CODES = frozenset({"revoked", "suspended"})

CHECK_NAMES: Mapping[str, str] = {
    "format": "Readable credential",
    "signature": "Signature intact",
    "issuer": "Signing key belongs to the issuer",
    "schema": "Open Badges structure (1EdTech schema)",
    "validity_window": "Within its validity dates",
    "status": "Not revoked",
    "credentials": "Credentials it holds",
    "recipient": "Recipient identified",
    "badge_class": "Badge definition found",
    "hosted": "Matches the issuer's hosted copy",
}
OUTCOME_WORDS: Mapping[str, str] = {
    "passed": "Passed",
    "failed": "Failed",
    "warning": "Needs your judgement",
    "skipped": "Not checked",
}


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One check in words: what was checked, how it came out, and the verifier's reason."""

    check: str
    name: str
    outcome: str
    outcome_words: str
    reason: str
    code: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    tone: Tone
    title: str
    summary: str
    checks: tuple[CheckLine, ...]
    issuer: str | None
    issuer_bound: bool | None


_TEXT: Mapping[VerdictKind, tuple[Tone, str, str]] = {
    "valid": (
        "valid",
        "Valid",
        "The signature is intact, the signing key is the issuer's, it is within its validity dates "
        "and its issuer has not revoked it.",
    ),
    "revoked": ("invalid", "Revoked", "Its issuer has revoked this credential: it no longer counts."),
    "expired": ("invalid", "Expired", "Its validity period is over: it no longer counts."),
    "tampered": (
        "invalid",
        "Tampered or forged",
        "The signature does not match what is shown: it was changed after it was issued, or was never "
        "signed by the key it names. Do not rely on anything it says.",
    ),
    "issuer_unbound": (
        "unknown",
        "Issuer not proved",
        "The signature is intact, but nothing proves the signing key belongs to the issuer it names. "
        "Ask the issuer, or trust it only if you already trust that key.",
    ),
    "unchecked": (
        "unknown",
        "Could not check",
        "A key or a status list needed to check it could not be reached or is not supported. This is "
        "not a judgement that it is invalid; try again later.",
    ),
    "invalid": ("invalid", "Not valid", "At least one check failed; the checks below say which and why."),
}


def _kind(result: VerificationOut) -> VerdictKind:
    by_name: dict[str, VerificationCheck] = {check.check: check for check in result.checks}
    failed = [check for check in result.checks if check.outcome == "failed"]
    codes = {check.code for check in failed}
    format_check = by_name.get("format")
    if format_check is not None and format_check.outcome == "failed":
        return "invalid"
    signature = by_name.get("signature")
    signature_failed = signature is not None and signature.outcome == "failed"
    if codes & TAMPERED_CODES:
        return "tampered"
    if signature_failed and signature is not None and signature.code in UNCHECKED_CODES:
        return "unchecked"
    if signature_failed or "issuer_mismatch" in codes or "key_compromised" in codes:
        return "invalid"  # no proof, a key that is not to be trusted, or someone else's key
    if codes & REVOKED_CODES:
        return "revoked"
    if "expired" in codes:
        return "expired"
    if codes & UNCHECKED_CODES:
        return "unchecked"
    if failed:
        return "invalid"
    issuer = by_name.get("issuer")
    if result.issuer_bound is False or (issuer is not None and issuer.outcome in ("warning", "skipped")):
        return "issuer_unbound"
    return "valid"


def check_line(check: VerificationCheck) -> CheckLine:
    return CheckLine(
        check=check.check,
        name=CHECK_NAMES.get(check.check, check.check.replace("_", " ").capitalize()),
        outcome=check.outcome,
        outcome_words=OUTCOME_WORDS[check.outcome],
        reason=check.reason or "",
        code=check.code,
    )


def verdict_of(result: VerificationOut) -> Verdict:
    """The verifier's answer for a person: one of seven verdicts, and every check in words."""
    kind = _kind(result)
    tone, title, summary = _TEXT[kind]
    if kind == "revoked" and any(check.code == "suspended" for check in result.checks):
        title, summary = "Suspended", "Its issuer has suspended this credential: it does not count for now."
    unreadable = [check for check in result.checks if check.check == "format" and check.outcome == "failed"]
    if unreadable:
        title = "Not a readable credential"
        summary = f"What was shown is not a credential this verifier can read: {unreadable[0].reason}"
    return Verdict(
        kind=kind,
        tone=tone,
        title=title,
        summary=summary,
        checks=tuple(check_line(check) for check in result.checks),
        issuer=result.issuer,
        issuer_bound=result.issuer_bound,
    )
