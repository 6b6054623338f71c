"""Recipient binding: a credential counts for an employee only when it is about that employee.

A public badge can be downloaded by anyone, so a verified signature proves who issued it, not who
holds it. The credential names its recipient by IdentityObjects (OB 3.0 `credentialSubject.identifier`,
OB 2.0 `recipient`): an identity hash (`sha256$hex` or `md5$hex` over the value plus the optional
salt) or a plain value. It is bound when one of them matches an email address the HRIS has recorded
for the employee (any of them: addresses change) or the employee's HRIS id, or when its subject is a
DID the employee proved control of (domain/holder_dids.py). A credential naming its subject only by a
DID nobody proved is unverified.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

BOUND, MISMATCH, UNVERIFIED, UNCHECKED = "bound", "mismatch", "unverified", "unchecked"
MAX_IDENTIFIERS = 20
MAX_IDENTITY_LENGTH = 600
_HASHES = {"sha256": hashlib.sha256, "md5": hashlib.md5}
EMAIL_TYPES = frozenset({"emailaddress", "email"})
# Identifier types whose value is an HRIS / student-information-system id (OB 3.0 IdentifierTypeEnum).
ID_TYPES = frozenset(
    {
        "sourcedid",
        "systemid",
        "accountid",
        "username",
        "identifier",
        "lissourcedid",
        "onerostersourcedid",
        "sissourcedid",
        "ltiuserid",
        "employeeid",
        "ext:employeeid",
        "ext:hrisid",
    }
)


@dataclass(frozen=True, slots=True)
class Binding:
    outcome: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class KnownIdentity:
    """What the HRIS says identifies the employee."""

    hris_id: str
    emails: frozenset[str]
    dids: frozenset[str] = frozenset()


def identity_objects(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The IdentityObjects naming the recipient, bounded: OB 3.0 subject identifiers, or an OB 2.0
    assertion's `recipient`."""
    subject = credential.get("credentialSubject")
    found: list[Any] = []
    if isinstance(subject, Mapping):
        identifiers = subject.get("identifier")
        found = identifiers if isinstance(identifiers, list) else [identifiers]
    recipient = credential.get("recipient")
    if isinstance(recipient, Mapping):  # OB 2.0: {type, identity, hashed, salt}
        found.append(
            {
                "identityType": recipient.get("type"),
                "identityHash": recipient.get("identity"),
                "hashed": recipient.get("hashed"),
                "salt": recipient.get("salt"),
            }
        )
    return [item for item in found if isinstance(item, Mapping)][:MAX_IDENTIFIERS]


def _subject_id(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    value = subject.get("id") if isinstance(subject, Mapping) else None
    return value if isinstance(value, str) else None


def _candidates(identity_type: str, known: KnownIdentity) -> list[str]:
    kind = identity_type.strip().lower()
    if kind in EMAIL_TYPES:
        return sorted(known.emails)
    if kind in ID_TYPES:
        return [known.hris_id]
    return []


def identity_matches(identity: Mapping[str, Any], candidates: Iterable[str]) -> bool:
    """Whether the IdentityObject names one of the candidate values (hashed with its salt, or plain).
    An email is tried as recorded and lower-cased: issuers differ in whether they normalise it."""
    claimed = identity.get("identityHash")
    if not isinstance(claimed, str) or not 0 < len(claimed) <= MAX_IDENTITY_LENGTH:
        return False
    salt = identity.get("salt") if isinstance(identity.get("salt"), str) else ""
    hashed = identity.get("hashed")
    algorithm, _, digest = claimed.partition("$")
    if hashed is False or (hashed is None and algorithm.lower() not in _HASHES):
        return any(hmac.compare_digest(claimed.strip().lower(), value.strip().lower()) for value in candidates)
    hash_function = _HASHES.get(algorithm.lower())
    if hash_function is None or not digest:
        return False
    for value in candidates:
        for form in {value, value.strip().lower()}:
            expected = hash_function((form + salt).encode("utf-8")).hexdigest()
            if hmac.compare_digest(expected, digest.strip().lower()):
                return True
    return False


def bind_recipient(credential: Mapping[str, Any], known: KnownIdentity) -> Binding:
    """BOUND when an identifier names this employee; MISMATCH when the credential names someone by a
    kind of identifier we can check and it is not them; UNVERIFIED when nothing can be matched."""
    identities = identity_objects(credential)
    subject = _subject_id(credential)
    if subject is not None and subject in known.dids:
        return Binding(BOUND)
    for identity in identities:
        kind = identity.get("identityType")
        if isinstance(kind, str) and identity_matches(identity, _candidates(kind, known)):
            return Binding(BOUND)
    named = sorted({str(i.get("identityType")) for i in identities if isinstance(i.get("identityType"), str)})
    checkable_kinds = {
        str(i.get("identityType")).lower() for i in identities if isinstance(i.get("identityType"), str)
    } & (EMAIL_TYPES | ID_TYPES)
    if checkable_kinds:
        what = ", ".join(sorted(checkable_kinds))
        recorded = "the email addresses and HRIS id" if known.emails else "the HRIS id (no email address is recorded)"
        return Binding(
            MISMATCH,
            f"recipient: the credential's {what} identifier does not match {recorded} the HRIS recorded for "
            "this employee",
        )
    if subject and subject.startswith("did:"):
        return Binding(
            UNVERIFIED,
            f"recipient: the credential names its subject only by {subject}, and this employee has not proved "
            "control of that DID",
        )
    if named:
        return Binding(
            UNVERIFIED, f"recipient: identifiers of type {', '.join(named)} cannot be matched to an HRIS record"
        )
    return Binding(UNVERIFIED, "recipient: the credential names no recipient that could be matched to this employee")
