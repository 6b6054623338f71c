"""One verdict from the verifier's checks, by their stable codes; the worst news first."""

import pytest

from services.badge_issuer.domain.verdicts import CHECK_NAMES, verdict_of
from shared.schemas.issuer import VerificationCheck, VerificationOut

PASSED = {
    "format": None,
    "signature": "valid_signature",
    "issuer": "issuer_bound",
    "schema": "schema_valid",
    "validity_window": "within_window",
    "status": "not_revoked",
}


def result(**changes: tuple[str, str | None]) -> VerificationOut:
    """A verification in which every check passed, except the ones given as (outcome, code)."""
    checks = []
    for name, code in PASSED.items():
        outcome, code = changes.get(name, ("passed", code))
        checks.append(VerificationCheck(check=name, outcome=outcome, reason=f"{name} said so", code=code))
    failures = [f"{c.check}: {c.reason}" for c in checks if c.outcome == "failed"]
    issuer = next(c for c in checks if c.check == "issuer")
    bound = None if changes.get("signature", ("passed",))[0] == "failed" else issuer.outcome == "passed"
    return VerificationOut(
        verified=not failures, format="data-integrity", checks=checks, failures=failures, issuer_bound=bound
    )


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({}, "valid"),
        ({"schema": ("warning", "schema_jsonld_adaptation")}, "valid"),
        ({"signature": ("warning", "legacy_cryptosuite")}, "valid"),
        ({"status": ("failed", "revoked")}, "revoked"),
        ({"status": ("failed", "suspended")}, "revoked"),
        ({"validity_window": ("failed", "expired")}, "expired"),
        ({"signature": ("failed", "invalid_signature")}, "tampered"),
        ({"signature": ("failed", "canonicalization_failed")}, "tampered"),
        ({"issuer": ("warning", "issuer_unbound")}, "issuer_unbound"),
        ({"issuer": ("skipped", "issuer_not_resolvable")}, "issuer_unbound"),
        ({"signature": ("failed", "key_unreachable")}, "unchecked"),
        ({"signature": ("failed", "unresolvable_verification_method")}, "unchecked"),
        ({"status": ("failed", "status_unavailable")}, "unchecked"),
        ({"signature": ("failed", "key_compromised")}, "invalid"),
        ({"signature": ("failed", "no_proof")}, "invalid"),
        ({"issuer": ("failed", "issuer_mismatch")}, "invalid"),
        ({"schema": ("failed", "schema_mismatch")}, "invalid"),
        ({"validity_window": ("failed", "not_yet_valid")}, "invalid"),
        ({"format": ("failed", "unrecognised_format")}, "invalid"),
        # Several at once: the worst news, and nothing the unauthenticated content claims, first.
        ({"signature": ("failed", "invalid_signature"), "status": ("failed", "revoked")}, "tampered"),
        ({"signature": ("failed", "key_unreachable"), "validity_window": ("failed", "expired")}, "unchecked"),
        ({"status": ("failed", "revoked"), "validity_window": ("failed", "expired")}, "revoked"),
        ({"issuer": ("failed", "issuer_mismatch"), "status": ("failed", "revoked")}, "invalid"),
        ({"validity_window": ("failed", "expired"), "status": ("failed", "status_unavailable")}, "expired"),
    ],
)
def test_each_code_has_its_verdict(changes, kind):
    assert verdict_of(result(**changes)).kind == kind


def test_a_suspension_is_named_and_every_check_is_in_words():
    verdict = verdict_of(result(status=("failed", "suspended")))
    assert verdict.title == "Suspended" and verdict.tone == "invalid"
    assert [line.name for line in verdict.checks] == [CHECK_NAMES[name] for name in PASSED]
    assert {line.outcome_words for line in verdict.checks} == {"Passed", "Failed"}
    assert all(line.reason for line in verdict.checks)


def test_tones_never_say_valid_for_what_is_not():
    assert verdict_of(result()).tone == "valid"
    assert verdict_of(result(issuer=("warning", "issuer_unbound"))).tone == "unknown"
    assert verdict_of(result(signature=("failed", "invalid_signature"))).tone == "invalid"
