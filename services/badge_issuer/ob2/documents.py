"""The shape of Open Badges 2.0 documents (IMS Final Release, 2018): Assertion, IdentityObject,
BadgeClass, Profile, CryptographicKey and RevocationList.

Each check answers a list of problems in words (empty: the document has the shape the spec asks
for). They run on untrusted input before anything it names is fetched, so they bound what they look
at and never follow a reference themselves.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.timestamps import parse_timestamp

OB2_CONTEXT = "https://w3id.org/openbadges/v2"
HOSTED_TYPES = frozenset({"hosted", "HostedBadge"})
SIGNED_TYPES = frozenset({"signed", "SignedBadge"})
RECIPIENT_TYPES = frozenset({"email", "url", "telephone"})
PROFILE_TYPES = frozenset({"Issuer", "Profile"})
# identityHash: the algorithm, "$", then the hex digest (OB 2.0 IdentityObject).
IDENTITY_HASH = re.compile(r"(?:sha256\$[0-9a-fA-F]{64}|md5\$[0-9a-fA-F]{32})")
MAX_IRI = 2048
MAX_TEXT = 10_000
MAX_ALIGNMENTS = 50
ALIGNMENT_FIELDS = ("targetName", "targetUrl", "targetDescription", "targetFramework", "targetCode")


def has_ob2_context(document: Any) -> bool:
    """`@context` is the OB 2.0 context, alone or first among others (extensions add theirs after)."""
    if not isinstance(document, Mapping):
        return False
    context = document.get("@context")
    if isinstance(context, list) and context:
        context = context[0]
    return context == OB2_CONTEXT


def types_of(document: Mapping[str, Any]) -> list[str]:
    value = document.get("type")
    values = value if isinstance(value, list) else [value]
    return [item for item in values[:20] if isinstance(item, str)]


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_IRI and ":" in value and not any(c.isspace() for c in value)


def is_http_url(value: Any) -> bool:
    if not is_iri(value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def node_id(value: Any) -> str | None:
    """The IRI of an `@id` property: the string itself, or the `id` of an embedded document."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if is_iri(value) else None


def parse_datetime(value: Any) -> datetime | None:
    """An OB 2.0 DateTime: ISO 8601 with a time (a zone-less one is read as UTC)."""
    if not isinstance(value, str) or "T" not in value or len(value) > 64:
        return None
    return parse_timestamp(value)


def verification_object(assertion: Mapping[str, Any]) -> Mapping[str, Any]:
    """The assertion's VerificationObject (`verify` is its alias in the OB 2.0 context), or {}."""
    verification = assertion.get("verification", assertion.get("verify"))
    return verification if isinstance(verification, Mapping) else {}


def verification_type(assertion: Mapping[str, Any]) -> str | None:
    """ "hosted" or "signed" (either spelling in the context), or None."""
    verification = verification_object(assertion)
    kinds = set(types_of(verification)) if isinstance(verification, Mapping) else set()
    if kinds & HOSTED_TYPES:
        return "hosted"
    if kinds & SIGNED_TYPES:
        return "signed"
    return None


def _text(document: Mapping[str, Any], name: str, problems: list[str], where: str) -> None:
    value = document.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where} has no {name}")
    elif len(value) > MAX_TEXT:
        problems.append(f"{where}: {name} is longer than {MAX_TEXT} characters")


def _reference(document: Mapping[str, Any], name: str, problems: list[str], where: str) -> None:
    """A required `@id` property: an IRI or an embedded object."""
    value = document.get(name)
    if not (is_iri(value) or isinstance(value, Mapping)):
        problems.append(f"{where} has no {name} (an IRI or an embedded document)")


def assertion_problems(assertion: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if not has_ob2_context(assertion):
        problems.append(f"@context is not {OB2_CONTEXT}")
    if "Assertion" not in types_of(assertion):
        problems.append('type is not "Assertion"')
    kind = verification_type(assertion)
    if kind is None:
        problems.append('verification.type is neither "hosted"/"HostedBadge" nor "signed"/"SignedBadge"')
    if not is_iri(assertion.get("id")):
        problems.append("id is missing or not an IRI")
    elif kind == "hosted" and not is_http_url(assertion["id"]):
        problems.append(f"a hosted assertion's id must be the http(s) URL it is hosted at, not {assertion['id']!r}")
    recipient = assertion.get("recipient")
    if not isinstance(recipient, Mapping):
        problems.append("recipient is missing or not an IdentityObject")
    badge = assertion.get("badge")
    if not (is_iri(badge) or (isinstance(badge, Mapping) and is_iri(badge.get("id")))):
        problems.append("badge is neither a BadgeClass IRI nor an embedded BadgeClass with an id")
    if parse_datetime(assertion.get("issuedOn")) is None:
        problems.append("issuedOn is missing or not an ISO 8601 date-time")
    if "expires" in assertion and parse_datetime(assertion["expires"]) is None:
        problems.append("expires is not an ISO 8601 date-time")
    if "revoked" in assertion and not isinstance(assertion["revoked"], bool):
        problems.append("revoked is not a boolean")
    return problems


def recipient_problems(recipient: Any) -> list[str]:
    """IdentityObject: `type` email/url/telephone, `hashed` a boolean, an optional text `salt`, and
    `identity` the plain value or, when hashed, `sha256$<hex>` / `md5$<hex>`."""
    if not isinstance(recipient, Mapping):
        return ["recipient is not an IdentityObject (a JSON object)"]
    problems = []
    if recipient.get("type") not in RECIPIENT_TYPES:
        problems.append(f"recipient.type {recipient.get('type')!r} is not one of email, url, telephone")
    hashed = recipient.get("hashed")
    if not isinstance(hashed, bool):
        problems.append("recipient.hashed is missing or not a boolean")
    if "salt" in recipient and not isinstance(recipient["salt"], str):
        problems.append("recipient.salt is not text")
    identity = recipient.get("identity")
    if not isinstance(identity, str) or not identity or len(identity) > MAX_IRI:
        problems.append("recipient.identity is missing or not text")
    elif hashed is True and not IDENTITY_HASH.fullmatch(identity):
        problems.append("recipient.identity is hashed but not of the form sha256$<64 hex> or md5$<32 hex>")
    elif hashed is False and IDENTITY_HASH.fullmatch(identity):
        problems.append("recipient.identity looks like a hash but recipient.hashed is false")
    return problems


def badge_class_problems(badge_class: Any) -> list[str]:
    if not isinstance(badge_class, Mapping):
        return ["the BadgeClass is not a JSON object"]
    problems: list[str] = []
    if "BadgeClass" not in types_of(badge_class):
        problems.append('the BadgeClass\'s type is not "BadgeClass"')
    if not is_iri(badge_class.get("id")):
        problems.append("the BadgeClass has no IRI id")
    for name in ("name", "description"):
        _text(badge_class, name, problems, "the BadgeClass")
    for name in ("image", "criteria", "issuer"):
        _reference(badge_class, name, problems, "the BadgeClass")
    alignment = badge_class.get("alignment")
    if alignment is not None and not isinstance(alignment, list | Mapping):
        problems.append("the BadgeClass's alignment is not an AlignmentObject or a list of them")
    return problems


def profile_problems(profile: Any) -> list[str]:
    """An issuer Profile needs id, type, name, url and email (OB 2.0 §Profile, "as a badge issuer")."""
    if not isinstance(profile, Mapping):
        return ["the issuer Profile is not a JSON object"]
    problems: list[str] = []
    if not set(types_of(profile)) & PROFILE_TYPES:
        problems.append('the issuer Profile\'s type is neither "Issuer" nor "Profile"')
    if not is_iri(profile.get("id")):
        problems.append("the issuer Profile has no IRI id")
    for name in ("name", "email"):
        _text(profile, name, problems, "the issuer Profile")
    if not is_iri(profile.get("url")):
        problems.append("the issuer Profile has no url")
    return problems


def alignment_of(badge_class: Mapping[str, Any]) -> list[dict[str, str]]:
    """The BadgeClass's AlignmentObjects, text fields only and bounded: what maps a badge to skills."""
    value = badge_class.get("alignment")
    entries = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else []
    alignments = []
    for entry in entries[:MAX_ALIGNMENTS]:
        if not isinstance(entry, Mapping):
            continue
        kept = {
            name: entry[name]
            for name in ALIGNMENT_FIELDS
            if isinstance(entry.get(name), str) and 0 < len(entry[name]) <= MAX_TEXT
        }
        if kept.get("targetUrl") or kept.get("targetCode"):
            alignments.append(kept)
    return alignments


def allowed_hosted_scope(profile: Mapping[str, Any], assertion_id: str, badge_class_id: str | None) -> str | None:
    """Why a hosted assertion is outside its issuer's hosted-verification scope, or None when inside:
    the assertion's host, and the BadgeClass's when it has an http(s) id, must be one of
    `verification.allowedOrigins` (default: the issuer id's host), and the assertion id must start
    with one of `verification.startsWith` when given (OB 2.0 §VerificationObject, §HostedBadge)."""
    policy = profile.get("verification")
    policy = policy if isinstance(policy, Mapping) else {}
    issuer_host = urlsplit(profile["id"]).netloc if is_http_url(profile.get("id")) else None
    origins = policy.get("allowedOrigins", issuer_host)
    origins = [o for o in (origins if isinstance(origins, list) else [origins])[:50] if isinstance(o, str)]
    starts = policy.get("startsWith")
    starts = [s for s in (starts if isinstance(starts, list) else [starts])[:50] if isinstance(s, str)]
    if starts and not any(assertion_id.startswith(prefix) for prefix in starts):
        return f"{assertion_id} does not start with any of the issuer's startsWith values {starts}"
    if not origins:
        return "the issuer has no http(s) id or allowedOrigins to host assertions under"
    for what, url in (("the assertion", assertion_id), ("the BadgeClass", badge_class_id)):
        if url is None or (what == "the BadgeClass" and not is_http_url(url)):
            continue
        parts = urlsplit(url)
        if parts.netloc not in origins and parts.hostname not in origins:
            return f"{what} {url} is not hosted on the issuer's allowed origins {origins}"
    return None
