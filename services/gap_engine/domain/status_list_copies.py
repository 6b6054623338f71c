"""The status lists the gap engine keeps copies of, and what they say about one credential.

A round of the sweep asks each due list once, conditionally (If-None-Match with the ETag kept): a 304
keeps the copy; a 200 replaces it. A changed Bitstring list is a signed credential: it is posted to
the issuer's verifier (once per change, not once per credential on it), and it is believed only when
its proof is bound to the issuer it names; a 1EdTech revocation list is unsigned and names its issuer.
Either way a list speaks only for credentials of that issuer. Fetching happens with no database
transaction open; what a fetch found is a `ListAnswer`, written afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from services.gap_engine.db.tables import ReceivedStatusEntry, StatusListCopy
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.received_credentials import credential_of
from shared import bitstring_status_list as bitstring
from shared import revocation_list
from shared.errors import ServiceUnavailable, Unprocessable
from shared.safe_fetch import JSON_TYPES, FetchError, SafeFetcher

BITSTRING, ONE_EDTECH = "bitstring", "1edtech"
MAX_STATUS_ENTRIES = 4  # as the issuer's verifier: more is not a credential the sweep reads itself
JWT_TYPES = frozenset({"application/vc+jwt", "application/jwt"})
LIST_MEDIA_TYPES = JSON_TYPES | {"application/vc"} | JWT_TYPES


@dataclass(frozen=True, slots=True)
class Entry:
    list_url: str
    kind: str
    purpose: str | None = None
    index: int | None = None


def status_entries(presented: Mapping[str, Any]) -> list[Entry] | None:
    """The credential's status entries the sweep can read from list copies; None when it has none
    or one of another kind (then the issuer's verifier is asked about it, credential by credential)."""
    try:
        credential = credential_of(dict(presented))
    except Unprocessable:
        return None
    raw = credential.get("credentialStatus") if isinstance(credential, Mapping) else None
    listed = raw if isinstance(raw, list) else [raw] if raw is not None else []
    if not listed or len(listed) > MAX_STATUS_ENTRIES:
        return None
    entries = []
    for item in listed:
        if not isinstance(item, Mapping):
            return None
        try:
            if item.get("type") == revocation_list.ENTRY_TYPE:
                entries.append(Entry(revocation_list.entry_url(item), ONE_EDTECH))
                continue
            url, purpose = item.get("statusListCredential"), item.get("statusPurpose")
            if item.get("type") != bitstring.ENTRY_TYPE or not isinstance(url, str) or not isinstance(purpose, str):
                return None
            if not url.startswith(("https://", "http://")) or len(url) > 1000 or item.get("statusSize", 1) != 1:
                return None
            entries.append(Entry(url, BITSTRING, purpose[:20], bitstring.parse_status_list_index(item)))
        except (revocation_list.RevocationListError, bitstring.StatusListError):
            return None
    return entries


@dataclass(frozen=True, slots=True)
class ListAnswer:
    """What one fetch of a list found: `unchanged` (304), a new copy (`changed`), or `problem` (the
    list could not be read or is not believed; `unreachable` when it was not answered at all)."""

    url: str
    unchanged: bool = False
    changed: dict[str, Any] | None = None
    problem: str | None = None
    unreachable: bool = False


async def fetch_list(
    fetcher: SafeFetcher,
    verifier: IssuerVerifier,
    url: str,
    kind: str,
    etag: str | None,
    authorization: str | None,
) -> ListAnswer:
    """One conditional GET of the list (and, when it changed and is a Bitstring list, one call to the
    issuer's verifier for its proof)."""
    try:
        document = await fetcher.fetch(url, accept=LIST_MEDIA_TYPES, if_none_match=etag)
    except FetchError as error:
        return ListAnswer(
            url, problem=f"the list could not be fetched: {error.reason} ({error.code})", unreachable=True
        )
    if document.not_modified:
        return ListAnswer(url, unchanged=True)
    try:
        if kind == ONE_EDTECH:
            listed = revocation_list.read_revocation_list(document.json(), url)
            copy = {"issuer_id": listed.issuer, "revoked": dict(listed.revoked), "believed": True}
            return ListAnswer(url, changed={**copy, "etag": document.etag, "outcome": "read"})
        return await _bitstring_copy(
            verifier, url, document.content, document.content_type, document.etag, authorization
        )
    except (FetchError, revocation_list.RevocationListError, bitstring.StatusListError, UnicodeDecodeError) as error:
        return ListAnswer(url, changed=_not_believed(f"the list at {url} is unreadable: {error}", document.etag))
    except ServiceUnavailable as unavailable:
        return ListAnswer(url, problem=f"its proof could not be checked: {unavailable.detail}", unreachable=True)


async def _bitstring_copy(
    verifier: IssuerVerifier, url: str, content: bytes, content_type: str, etag: str | None, authorization: str | None
) -> ListAnswer:
    presented: dict[str, Any] = (
        {"jwt": content.decode("ascii").strip()} if content_type in JWT_TYPES else _json_object(content, url)
    )
    result = await verifier.verify(presented, authorization)
    if not result.get("verified") or result.get("issuer_bound") is not True:
        failures = result.get("failures") or ["issuer: the signing key is not bound to the list's issuer"]
        return ListAnswer(url, changed=_not_believed(f"the list at {url} is not believed: {failures[0]}", etag))
    listed = credential_of(presented)
    subject = listed.get("credentialSubject") if isinstance(listed, Mapping) else None
    if not isinstance(subject, Mapping) or listed.get("id") not in (None, url):
        return ListAnswer(url, changed=_not_believed(f"the list at {url} says it is {listed.get('id')!r}", etag))
    encoded = subject.get("encodedList")
    bitstring.decode_cached(encoded)  # refuses a malformed list or a bomb now, not credential by credential
    copy = {"issuer_id": result.get("issuer"), "believed": True, "encoded_list": encoded}
    return ListAnswer(
        url, changed={**copy, "status_purpose": subject.get("statusPurpose"), "etag": etag, "outcome": "verified"}
    )


def _json_object(content: bytes, url: str) -> dict[str, Any]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as error:
        raise bitstring.StatusListDecodingError(f"not JSON: {error}") from error
    if not isinstance(body, dict):
        raise bitstring.StatusListDecodingError(f"the list at {url} is not a JSON object")
    return body


def _not_believed(reason: str, etag: str | None) -> dict[str, Any]:
    return {
        "believed": False,
        "issuer_id": None,
        "encoded_list": None,
        "revoked": None,
        "etag": etag,
        "outcome": reason,
    }


def keep(copy: StatusListCopy, answer: ListAnswer, now: datetime) -> None:
    """The copy after `answer`: replaced on a change, kept on 304, marked unreachable otherwise."""
    copy.checked_at = now
    if answer.unreachable:
        copy.unreachable_since = copy.unreachable_since or now
        copy.outcome = answer.problem[:500] if answer.problem else None
        return
    copy.validated_at, copy.unreachable_since = now, None
    if answer.changed is not None:
        for name in ("etag", "issuer_id", "believed", "status_purpose", "encoded_list", "revoked"):
            setattr(copy, name, answer.changed.get(name))
        copy.outcome = str(answer.changed.get("outcome"))[:500]
        copy.fetched_at = now


@dataclass(frozen=True, slots=True)
class Standing:
    """What the lists say about one credential: "ok", "revoked" (or suspended), or "unknown"."""

    state: str
    reason: str


def standing(
    issuer_id: str | None,
    credential_id: str | None,
    entries: list[ReceivedStatusEntry],
    copies: Mapping[str, StatusListCopy],
) -> Standing:
    """A list that is missing, unreachable, unreadable or another issuer's tells nothing: unknown."""
    for entry in entries:
        copy = copies.get(entry.list_url)
        if copy is None or copy.validated_at is None or copy.unreachable_since is not None:
            why = copy.outcome if copy is not None and copy.outcome else "not fetched yet"
            return Standing("unknown", f"status list {entry.list_url}: {why}")
        if not copy.believed:
            return Standing("unknown", copy.outcome or f"the list at {entry.list_url} is not believed")
        if copy.issuer_id != issuer_id:
            reason = (
                f"status list {entry.list_url} is issued by {copy.issuer_id}, not by the credential's issuer "
                f"{issuer_id}: not believed"
            )
            return Standing("unknown", reason)
        if entry.kind == ONE_EDTECH:
            revoked = copy.revoked or {}
            if credential_id is not None and credential_id in revoked:
                because = f" ({revoked[credential_id]})" if revoked[credential_id] else ""
                return Standing("revoked", f"revocation: revoked by its issuer{because}, per {entry.list_url}")
            continue
        if entry.purpose != copy.status_purpose or entry.list_index is None:
            return Standing(
                "unknown", f"status list {entry.list_url} is for {copy.status_purpose}, not {entry.purpose}"
            )
        bits = bitstring.decode_cached(copy.encoded_list or "")
        if entry.list_index >= len(bits):
            return Standing("unknown", f"statusListIndex {entry.list_index} is outside the list {entry.list_url}")
        if bits.get(entry.list_index):
            state = {"revocation": "revoked", "suspension": "suspended"}.get(
                entry.purpose or "", f"marked {entry.purpose}"
            )
            return Standing("revoked", f"{entry.purpose}: {state} by its issuer (its bit is set in {entry.list_url})")
    return Standing("ok", "not revoked (" + ", ".join(sorted({e.list_url for e in entries})) + ")")
