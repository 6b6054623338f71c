"""W3C Bitstring Status List v1.0: the bitstring, its ``encodedList`` form, and the status check.

Spec: https://www.w3.org/TR/vc-bitstring-status-list/. Only ``statusSize`` 1 is supported (the
revocation and suspension purposes this product publishes); an entry asking for a wider status is
refused rather than misread.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_SUBJECT_TYPE = "BitstringStatusList"
REVOCATION = "revocation"
SUSPENSION = "suspension"
STATUS_PURPOSES = frozenset({REVOCATION, SUSPENSION, "refresh", "message"})

# Spec §2.1: "the bitstring MUST be a minimum of 16KB", i.e. 131,072 entries, for group privacy.
MIN_ENTRIES = 131_072
MIN_BYTES = MIN_ENTRIES // 8
# A decoder's refusal point: 16 MiB of bitstring is 134 million entries, far beyond any list we
# publish, and small enough that a gzip bomb cannot exhaust memory.
DEFAULT_MAX_DECODED_BYTES = 16 * 1024 * 1024

_BASE64URL_NO_PAD = re.compile(r"[A-Za-z0-9_-]*")
_DECIMAL_INDEX = re.compile(r"[0-9]{1,18}")
_DECOMPRESS_STEP = 64 * 1024


class StatusListError(ValueError):
    """Base of every status-list failure, so callers can map the family to one response."""


class StatusListDecodingError(StatusListError):
    """``encodedList`` is not multibase base64url-no-pad GZIP data (spec: STATUS_RETRIEVAL_ERROR)."""


class StatusListTooLargeError(StatusListDecodingError):
    """The list decompresses past the configured limit: refused as a decompression bomb."""


class StatusListLengthError(StatusListError):
    """The decoded list is shorter than the spec minimum (spec: STATUS_LIST_LENGTH_ERROR)."""


class StatusListRangeError(StatusListError):
    """The entry's index lies outside the list (spec: RANGE_ERROR)."""


class StatusEntryError(StatusListError):
    """The ``credentialStatus`` entry or the list credential is malformed or does not match
    (spec: STATUS_VERIFICATION_ERROR)."""


class Bitstring:
    """A mutable status bitstring; index 0 is the most significant bit of the first byte (spec §3.1)."""

    __slots__ = ("_bits",)

    def __init__(self, entries: int = MIN_ENTRIES) -> None:
        if entries < MIN_ENTRIES or entries % 8:
            raise StatusListLengthError(
                f"a status list needs at least {MIN_ENTRIES} entries, in whole bytes; got {entries}"
            )
        self._bits = bytearray(entries // 8)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray) -> Bitstring:
        """Wrap raw (uncompressed) bitstring bytes, refusing a list under the spec minimum."""
        if len(data) < MIN_BYTES:
            raise StatusListLengthError(f"status list has {len(data) * 8} entries; the minimum is {MIN_ENTRIES}")
        bitstring = cls.__new__(cls)
        bitstring._bits = bytearray(data)
        return bitstring

    @classmethod
    def decode(cls, encoded_list: str, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> Bitstring:
        """Parse an ``encodedList`` value: multibase 'u' + base64url-no-pad of GZIP data."""
        return cls.from_bytes(decode_encoded_list(encoded_list, max_bytes=max_bytes))

    def __len__(self) -> int:
        return len(self._bits) * 8

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitstring) and self._bits == other._bits

    __hash__ = None  # type: ignore[assignment]  # mutable

    def get(self, index: int) -> bool:
        byte_index, mask = self._locate(index)
        return bool(self._bits[byte_index] & mask)

    def set(self, index: int, value: bool = True) -> None:
        byte_index, mask = self._locate(index)
        if value:
            self._bits[byte_index] |= mask
        else:
            self._bits[byte_index] &= ~mask & 0xFF

    def set_indexes(self) -> list[int]:
        """Every index whose bit is set, ascending (for audits and tests; skips zero bytes fast)."""
        found: list[int] = []
        for byte_index, byte in enumerate(self._bits):
            if byte:
                found.extend(byte_index * 8 + bit for bit in range(8) if byte & (0x80 >> bit))
        return found

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        """The ``encodedList`` value; deterministic, so an unchanged list keeps its ETag."""
        return encode_bitstring_bytes(self._bits)

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"status list index must be an int, not {type(index).__name__}")
        if not 0 <= index < len(self._bits) * 8:
            raise StatusListRangeError(f"index {index} is outside a list of {len(self._bits) * 8} entries")
        return index >> 3, 0x80 >> (index & 7)


def encode_bitstring_bytes(data: bytes | bytearray) -> str:
    """GZIP (mtime 0, for byte-stable output) then multibase base64url without padding."""
    compressed = gzip.compress(bytes(data), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_encoded_list(encoded_list: str, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> bytes:
    """Return the raw bitstring bytes, refusing malformed input and anything over ``max_bytes``.

    Decompression is streamed with a ceiling, so a few kilobytes that inflate to gigabytes are
    refused after ``max_bytes`` of output instead of exhausting memory.
    """
    if not isinstance(encoded_list, str) or not encoded_list.startswith("u"):
        raise StatusListDecodingError("encodedList must be a multibase base64url string starting with 'u'")
    body = encoded_list[1:]
    # GZIP cannot shrink incompressible data, so a valid list's encoding is bounded by its size.
    if len(body) > (max_bytes + 1024) * 4 // 3 + 4:
        raise StatusListTooLargeError("encodedList is longer than any list within the size limit")
    if not _BASE64URL_NO_PAD.fullmatch(body) or len(body) % 4 == 1:
        raise StatusListDecodingError("encodedList is not base64url without padding")
    compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))

    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP wrapper only
    output = bytearray()
    pending = compressed
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, _DECOMPRESS_STEP)
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                break  # no progress and no input left: the stream is truncated
            output += chunk
            if len(output) > max_bytes:
                raise StatusListTooLargeError(f"status list decompresses to more than {max_bytes} bytes")
    except zlib.error as exc:
        raise StatusListDecodingError(f"encodedList is not valid GZIP data: {exc}") from exc
    if not inflater.eof:
        raise StatusListDecodingError("encodedList GZIP stream is truncated")
    if inflater.unused_data:
        raise StatusListDecodingError("encodedList has data after the GZIP stream")
    return bytes(output)


def build_status_list_credential(
    *,
    list_url: str,
    issuer: str | Mapping[str, Any],
    status_purpose: str,
    encoded_list: str,
    valid_from: datetime | str,
    valid_until: datetime | str | None = None,
    subject_id: str | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential``; the proofs package signs it."""
    _require_purpose(status_purpose)
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": dict(issuer) if isinstance(issuer, Mapping) else issuer,
        "validFrom": _timestamp(valid_from),
    }
    if valid_until is not None:
        credential["validUntil"] = _timestamp(valid_until)
    credential["credentialSubject"] = {
        "id": subject_id or f"{list_url}#list",
        "type": LIST_SUBJECT_TYPE,
        "statusPurpose": status_purpose,
        "encodedList": encoded_list,
    }
    return credential


def build_status_list_entry(*, list_url: str, index: int, status_purpose: str) -> dict[str, Any]:
    """The ``credentialStatus`` entry pointing a credential at its bit in the list at ``list_url``."""
    _require_purpose(status_purpose)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise StatusListRangeError(f"status list index must be a non-negative int, got {index!r}")
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": status_purpose,
        "statusListIndex": str(index),  # the spec types it as a string
        "statusListCredential": list_url,
    }


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    """Outcome of checking one ``credentialStatus`` entry against its list."""

    status_purpose: str
    index: int
    is_set: bool

    @property
    def revoked(self) -> bool:
        return self.is_set and self.status_purpose == REVOCATION

    @property
    def suspended(self) -> bool:
        return self.is_set and self.status_purpose == SUSPENSION


def parse_status_list_index(entry: Mapping[str, Any]) -> int:
    """The entry's ``statusListIndex`` as an int; the spec makes it a decimal string."""
    raw = entry.get("statusListIndex")
    if isinstance(raw, str) and _DECIMAL_INDEX.fullmatch(raw):
        return int(raw)
    raise StatusEntryError(f"statusListIndex must be a string of decimal digits, got {raw!r}")


def status_of_entry(bitstring: Bitstring, entry: Mapping[str, Any]) -> CredentialStatus:
    """Read the entry's bit from an already decoded (and already trusted) list."""
    if not isinstance(entry, Mapping) or entry.get("type") != ENTRY_TYPE:
        raise StatusEntryError(f"credentialStatus must be a {ENTRY_TYPE}")
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise StatusEntryError("credentialStatus.statusPurpose is missing")
    status_size = entry.get("statusSize", 1)
    if status_size != 1 or isinstance(status_size, bool):
        raise StatusEntryError(f"statusSize {status_size!r} is not supported (only 1)")
    index = parse_status_list_index(entry)
    if index >= len(bitstring):
        raise StatusListRangeError(f"statusListIndex {index} is outside a list of {len(bitstring)} entries")
    return CredentialStatus(status_purpose=purpose, index=index, is_set=bitstring.get(index))


def check_credential_status(
    entry: Mapping[str, Any],
    status_list_credential: Mapping[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> CredentialStatus:
    """Spec §3.2 validation: match the entry to the (already signature-checked) list credential,
    decode its list and read the bit.
    """
    if not isinstance(entry, Mapping):
        raise StatusEntryError("credentialStatus must be an object")
    if not isinstance(status_list_credential, Mapping):
        raise StatusEntryError("status list credential must be an object")
    types = _as_list(status_list_credential.get("type"))
    if LIST_CREDENTIAL_TYPE not in types:
        raise StatusEntryError(f"status list credential is not a {LIST_CREDENTIAL_TYPE}")
    list_url = entry.get("statusListCredential")
    credential_id = status_list_credential.get("id")
    if credential_id is not None and credential_id != list_url:
        raise StatusEntryError("statusListCredential does not name the list credential that was supplied")
    subject = status_list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != LIST_SUBJECT_TYPE:
        raise StatusEntryError(f"status list credentialSubject must be a {LIST_SUBJECT_TYPE}")
    if entry.get("statusPurpose") not in _as_list(subject.get("statusPurpose")):
        raise StatusEntryError("statusPurpose of the entry does not match the status list")
    encoded_list = subject.get("encodedList")
    if not isinstance(encoded_list, str):
        raise StatusListDecodingError("status list credentialSubject.encodedList is missing")
    return status_of_entry(decode_cached(encoded_list, max_bytes=max_bytes), entry)


# Decoded lists by their encodedList text: a list is re-encoded whenever a bit changes, so the text
# is its revision and an entry can never be stale. Bounded, least recently used dropped first, and
# only lists up to 256 KiB (2 million entries; ours are 16 KiB) are kept: at most 16 MiB in all.
_DECODED_CACHE_ENTRIES = 64
_DECODED_CACHE_MAX_BYTES = 256 * 1024
_decoded: OrderedDict[tuple[str, int], Bitstring] = OrderedDict()


def decode_cached(encoded_list: str, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> Bitstring:
    """Bitstring.decode, remembered: verifying many credentials of one list decodes it once. The
    returned Bitstring is shared; read it, never set bits on it."""
    key = (encoded_list, max_bytes)
    bitstring = _decoded.get(key)
    if bitstring is not None:
        _decoded.move_to_end(key)
        return bitstring
    bitstring = Bitstring.decode(encoded_list, max_bytes=max_bytes)
    if len(bitstring) // 8 > _DECODED_CACHE_MAX_BYTES:
        return bitstring
    _decoded[key] = bitstring
    while len(_decoded) > _DECODED_CACHE_ENTRIES:
        _decoded.popitem(last=False)
    return bitstring


def _require_purpose(status_purpose: str) -> None:
    if status_purpose not in STATUS_PURPOSES:
        raise StatusEntryError(f"unknown statusPurpose {status_purpose!r}")


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("validFrom/validUntil must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _as_list(value: Any) -> Sequence[Any]:
    if isinstance(value, list | tuple):
        return value
    return [] if value is None else [value]
