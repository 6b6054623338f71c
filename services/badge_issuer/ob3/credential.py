"""Building the unsigned Open Badges 3.0 credential (OB 3.0 §B.1, DESIGN.md §3)."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from services.badge_issuer.ob3.schema_validation import ACHIEVEMENT_CREDENTIAL_SCHEMA_ID

VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# Defines `1EdTechJsonSchemaValidator2019`; without it the credentialSchema type is not a JSON-LD
# term, so canonicalization would drop it and Data Integrity signing refuses the credential.
OB3_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
CREDENTIAL_CONTEXTS = [VC2_CONTEXT, OB3_CONTEXT, OB3_EXTENSIONS_CONTEXT]
SCHEMA_VALIDATOR_TYPE = "1EdTechJsonSchemaValidator2019"


def xsd_datetime(moment: datetime) -> str:
    """The moment in UTC to the second, as RFC 3339 / xsd:dateTime writes it. isoformat, not strftime:
    strftime leaves a year before 1000 unpadded (``999-01-01``, not a date-time) and costs more."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def hashed_identity(identity_type: str, value: str, salt: str | None = None) -> dict[str, Any]:
    """OB 3.0 IdentityObject with identityHash = 'sha256$' + hex(sha256(value + salt))."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256((value + salt).encode("utf-8")).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": identity_type,
        "hashed": True,
        "salt": salt,
    }


def recipient_identifiers(*, email: str | None, hris_id: str | None) -> list[dict[str, Any]]:
    """Salted hashes, never plain values: a public credential must not expose an email or HRIS id."""
    identifiers = []
    if email:
        identifiers.append(hashed_identity("emailAddress", email.strip().lower()))
    if hris_id:
        identifiers.append(hashed_identity("sourcedId", hris_id))
    return identifiers


def evidence_entries(urls: list[str], narrative: str, assessor: str | None) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [{"id": url, "type": ["Evidence"]} for url in urls]
    if narrative or assessor:
        note: dict[str, Any] = {"type": ["Evidence"]}
        if narrative:
            note["narrative"] = narrative
        if assessor:
            note["description"] = f"Assessed by {assessor}."
        entries.append(note)
    return entries


def build_achievement_credential(
    *,
    credential_id: uuid.UUID,
    issuer_profile: dict[str, Any],
    valid_from: datetime,
    awarded_at: datetime | None = None,
    achievement: dict[str, Any],
    results: list[dict[str, Any]],
    identifiers: list[dict[str, Any]],
    subject_did: str | None,
    activity_end: datetime | None,
    evidence: list[dict[str, Any]],
    credential_status: dict[str, Any],
) -> dict[str, Any]:
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if subject_did:
        subject["id"] = subject_did
    if identifiers:
        subject["identifier"] = identifiers
    subject["achievement"] = achievement
    if results:
        subject["result"] = results
    if activity_end is not None:
        subject["activityEndDate"] = xsd_datetime(activity_end)
    credential: dict[str, Any] = {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": f"urn:uuid:{credential_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile,
        "validFrom": xsd_datetime(valid_from),
        "name": achievement["name"],
        "credentialSubject": subject,
    }
    if awarded_at is not None:
        # OB 3.0 awardedDate: when the achievement was earned, which validFrom (the issuance) is not
        # for a backfilled result; relying parties date the evidence by it.
        credential["awardedDate"] = xsd_datetime(awarded_at)
    if evidence:
        credential["evidence"] = evidence
    credential["credentialSchema"] = [{"id": ACHIEVEMENT_CREDENTIAL_SCHEMA_ID, "type": SCHEMA_VALIDATOR_TYPE}]
    credential["credentialStatus"] = credential_status
    return credential
