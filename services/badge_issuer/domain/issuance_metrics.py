"""What one assessment result's answer adds to the issuance metrics, the same for the single POST and
each item of a bulk one, recorded after the answer is committed (a rolled-back credential never counts)."""

from typing import Any

from shared.observability import ServiceMetrics

NO_CREDENTIAL = "none"  # the format label of an answer that carries no credential


def record_answer(
    metrics: ServiceMetrics | None, status: int, body: dict[str, Any], seconds: float, *, replayed: bool
) -> None:
    """Issued (with each capstone it completed), refused (criteria not met), failed (any other
    problem) or replayed (an Idempotency-Key seen before: nothing new was signed)."""
    if metrics is None:
        return
    if status == 201:
        outcome = "replayed" if replayed else "issued"
        credential_format = body["credential"]["proof_format"]
        metrics.observe_issuance(credential_format, outcome, None if replayed else seconds)
        for capstone in body.get("capstones", []):
            metrics.observe_issuance(capstone["proof_format"], outcome)
        return
    refused = body.get("outcome") == "refused"
    metrics.observe_issuance(NO_CREDENTIAL, "replayed" if replayed else "refused" if refused else "failed")
