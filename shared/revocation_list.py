"""1EdTech Revocation List Status Method 1.0 (https://www.imsglobal.org/spec/vcrl/v1p0/), the status
method OB 3.0 and CLR 2.0 name beside Bitstring Status List (pure; no database, no HTTP).

A credential carries `credentialStatus: {"id": <URL>, "type": "1EdTechRevocationList"}`; the URL answers
a JSON RevocationList naming its `issuer` and listing, in `revokedCredentials`, the ids of the
credentials that issuer revoked (each optionally with a `revocationReason`). The list is not signed:
it is believed only for credentials of the issuer it names, fetched from the URL the signed
credential itself gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENTRY_TYPE = "1EdTechRevocationList"
# A list is read whole; past this many entries it is refused rather than held in memory.
MAX_REVOKED = 200_000
MAX_REASON_LENGTH = 300


class RevocationListError(ValueError):
    """The entry or the list document is not what the method describes; the message says how."""


@dataclass(frozen=True, slots=True)
class RevocationList:
    url: str
    issuer: str
    revoked: Mapping[str, str | None] = field(repr=False)
    """Revoked credential id -> the reason given (None when there is none)."""

    def reason_for(self, credential_id: str | None) -> str | None:
        """The revocation reason, "" when revoked without one; None when not revoked."""
        if credential_id is None or credential_id not in self.revoked:
            return None
        return self.revoked[credential_id] or ""


def entry_url(entry: Mapping[str, Any]) -> str:
    """The list URL a 1EdTechRevocationList entry names (its `id`)."""
    url = entry.get("id") if isinstance(entry, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 1000:
        raise RevocationListError(f"a {ENTRY_TYPE} credentialStatus needs an http(s) id, got {url!r}")
    return url


def _issuer_of(value: Any) -> str | None:
    issuer = value.get("id") if isinstance(value, Mapping) else value
    return issuer if isinstance(issuer, str) and issuer else None


def read_revocation_list(document: Any, url: str) -> RevocationList:
    """The list as served at `url`; refused when it names another URL, no issuer, or entries without ids."""
    if not isinstance(document, Mapping):
        raise RevocationListError("the revocation list is not a JSON object")
    if document.get("id") not in (None, url):
        raise RevocationListError(f"the revocation list at {url} says it is {document.get('id')!r}")
    issuer = _issuer_of(document.get("issuer"))
    if issuer is None:
        raise RevocationListError("the revocation list names no issuer")
    entries = document.get("revokedCredentials", [])
    if not isinstance(entries, list):
        raise RevocationListError("revokedCredentials is not an array")
    if len(entries) > MAX_REVOKED:
        raise RevocationListError(f"revokedCredentials holds {len(entries)} entries, more than {MAX_REVOKED}")
    revoked: dict[str, str | None] = {}
    for entry in entries:
        credential_id = entry.get("id") if isinstance(entry, Mapping) else None
        if not isinstance(credential_id, str) or not credential_id:
            raise RevocationListError("an entry of revokedCredentials has no id")
        reason = entry.get("revocationReason")
        revoked[credential_id] = reason[:MAX_REASON_LENGTH] if isinstance(reason, str) else None
    return RevocationList(url=url, issuer=issuer, revoked=revoked)


def check_issuer(revocation_list: RevocationList, credential_issuer: str | None) -> None:
    """A list speaks only for the issuer it names: another issuer's list is not believed."""
    if credential_issuer is None or revocation_list.issuer != credential_issuer:
        raise RevocationListError(
            f"the revocation list at {revocation_list.url} is {revocation_list.issuer}'s, not the credential "
            f"issuer's ({credential_issuer})"
        )
