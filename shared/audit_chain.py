"""A hash chain for append-only audit logs (DESIGN §4): each entry's hash covers its content and the
previous entry's hash, so changing, removing or reordering an entry breaks every hash after it."""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

GENESIS = "0" * 64


def entry_hash(previous_hash: str, content: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's content as canonical JSON (sorted keys, UTF-8)."""
    canonical = orjson.dumps(dict(content), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(previous_hash.encode() + b"\n" + canonical).hexdigest()


def first_broken(entries: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> int | None:
    """Checks (sequence, previous_hash, hash, content) entries in order, from the first; returns the
    sequence of the first entry that does not follow from the one before, or None when all do."""
    expected_previous, expected_sequence = GENESIS, 1
    for sequence, previous_hash, recorded_hash, content in entries:
        if (
            sequence != expected_sequence
            or previous_hash != expected_previous
            or entry_hash(previous_hash, content) != recorded_hash
        ):
            return sequence
        expected_previous, expected_sequence = recorded_hash, sequence + 1
    return None
