"""Bitstring Status List v1.0: bit order, encoding, bounds, and the verifier's status check."""

import base64
import gzip
import random
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.badge_issuer.status_list import (
    MIN_ENTRIES,
    Bitstring,
    StatusEntryError,
    StatusListDecodingError,
    StatusListLengthError,
    StatusListRangeError,
    StatusListTooLargeError,
    build_status_list_credential,
    build_status_list_entry,
    check_credential_status,
    decode_encoded_list,
    status_of_entry,
)

LIST_URL = "https://issuer.example/v1/status-lists/3"
# The all-clear 16 KB list from the W3C specification's BitstringStatusListCredential example.
SPEC_EXAMPLE_ENCODED_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def encode_with_stdlib(raw: bytes) -> str:
    """An encoder written independently of the module under test."""
    return "u" + base64.urlsafe_b64encode(gzip.compress(raw)).decode().rstrip("=")


def gzip_of_zeros(total_bytes: int) -> bytes:
    """A GZIP member of ``total_bytes`` zeros, built in slices so the test itself stays small."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    slice_of_zeros = bytes(1024 * 1024)
    parts = [compressor.compress(slice_of_zeros) for _ in range(total_bytes // len(slice_of_zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


# --- the bitstring ---------------------------------------------------------------------------


def test_a_new_list_holds_the_spec_minimum_and_nothing_is_set() -> None:
    bitstring = Bitstring()
    assert MIN_ENTRIES == 131_072
    assert len(bitstring) == 131_072
    assert len(bitstring.to_bytes()) == 16 * 1024
    assert bitstring.set_indexes() == []


@pytest.mark.parametrize("entries", [131_064, 8, 0, 131_073])
def test_a_list_under_the_minimum_or_not_whole_bytes_is_refused(entries: int) -> None:
    with pytest.raises(StatusListLengthError):
        Bitstring(entries)


def test_index_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bitstring = Bitstring()
    bitstring.set(0)
    assert bitstring.to_bytes()[:2] == b"\x80\x00"
    bitstring.set(7)
    assert bitstring.to_bytes()[:2] == b"\x81\x00"
    bitstring.set(8)
    assert bitstring.to_bytes()[:2] == b"\x81\x80"
    bitstring.set(131_071)
    assert bitstring.to_bytes()[-1] == 0x01


def test_decoding_a_hand_built_list_reads_bits_in_spec_order() -> None:
    raw = bytearray(16 * 1024)
    raw[0] = 0b1010_0000  # indexes 0 and 2
    raw[1] = 0b0000_0001  # index 15
    raw[-1] = 0b0000_0001  # index 131,071
    bitstring = Bitstring.decode(encode_with_stdlib(bytes(raw)))
    assert bitstring.get(0) and not bitstring.get(1) and bitstring.get(2)
    assert bitstring.get(15) and not bitstring.get(8)
    assert bitstring.set_indexes() == [0, 2, 15, 131_071]


def test_the_spec_example_decodes_to_an_all_clear_minimum_list() -> None:
    bitstring = Bitstring.decode(SPEC_EXAMPLE_ENCODED_LIST)
    assert len(bitstring) == MIN_ENTRIES
    assert bitstring.set_indexes() == []


def test_clearing_a_bit_leaves_its_neighbours() -> None:
    bitstring = Bitstring()
    for index in (4, 5, 6):
        bitstring.set(index)
    bitstring.set(5, False)
    assert bitstring.set_indexes() == [4, 6]


@pytest.mark.parametrize("index", [-1, 131_072, 10**12])
def test_an_index_outside_the_list_is_a_range_error(index: int) -> None:
    bitstring = Bitstring()
    with pytest.raises(StatusListRangeError):
        bitstring.set(index)
    with pytest.raises(StatusListRangeError):
        bitstring.get(index)


# --- encodedList -----------------------------------------------------------------------------


def test_encoded_list_is_multibase_base64url_without_padding_of_gzip() -> None:
    bitstring = Bitstring()
    bitstring.set(94_567)
    encoded = bitstring.encode()
    assert encoded.startswith("u")
    body = encoded[1:]
    assert "=" not in body and "+" not in body and "/" not in body
    raw = gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert raw == bitstring.to_bytes()


def test_encoding_is_deterministic() -> None:
    first, second = Bitstring(), Bitstring()
    first.set(42)
    second.set(42)
    assert first.encode() == second.encode()


def test_round_trip_keeps_every_set_bit() -> None:
    rng = random.Random(20_240_917)
    indexes = sorted(rng.sample(range(262_144), 2_000))
    bitstring = Bitstring(262_144)
    for index in indexes:
        bitstring.set(index)
    decoded = Bitstring.decode(bitstring.encode())
    assert decoded == bitstring
    assert decoded.set_indexes() == indexes


def test_decoding_a_list_shorter_than_the_minimum_is_refused() -> None:
    with pytest.raises(StatusListLengthError):
        Bitstring.decode(encode_with_stdlib(bytes(16 * 1024 - 1)))


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = "u" + base64.urlsafe_b64encode(gzip_of_zeros(256 * 1024 * 1024)).decode().rstrip("=")
    assert len(bomb) < 400_000  # a quarter of a gigabyte hides in a few hundred kilobytes
    tracemalloc.start()
    try:
        with pytest.raises(StatusListTooLargeError):
            decode_encoded_list(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024


def test_the_size_limit_is_configurable() -> None:
    encoded = encode_with_stdlib(bytes(64 * 1024))
    assert len(Bitstring.decode(encoded, max_bytes=64 * 1024)) == 512 * 1024
    with pytest.raises(StatusListTooLargeError):
        Bitstring.decode(encoded, max_bytes=64 * 1024 - 1)


@pytest.mark.parametrize(
    "encoded_list",
    [
        pytest.param(encode_with_stdlib(bytes(16384))[1:], id="no multibase prefix"),
        pytest.param("z" + encode_with_stdlib(bytes(16384))[1:], id="base58 prefix"),
        pytest.param(encode_with_stdlib(bytes(16384)) + "==", id="padding"),
        pytest.param("u" + base64.b64encode(gzip.compress(bytes(16384))).decode(), id="standard alphabet"),
        pytest.param("u" + base64.urlsafe_b64encode(zlib.compress(bytes(16384))).decode().rstrip("="), id="zlib"),
        pytest.param(encode_with_stdlib(bytes(16384))[:-6], id="truncated"),
        pytest.param(
            "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384)) + b"junk").decode().rstrip("="),
            id="trailing data",
        ),
        pytest.param("u", id="empty"),
    ],
)
def test_malformed_encoded_lists_are_refused(encoded_list: str) -> None:
    with pytest.raises(StatusListDecodingError):
        Bitstring.decode(encoded_list)


# --- credentials and entries -----------------------------------------------------------------


def test_entry_matches_the_spec_shape() -> None:
    assert build_status_list_entry(list_url=LIST_URL, index=94_567, status_purpose="revocation") == {
        "id": f"{LIST_URL}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": LIST_URL,
    }


def test_entry_refuses_a_negative_index_and_an_unknown_purpose() -> None:
    with pytest.raises(StatusListRangeError):
        build_status_list_entry(list_url=LIST_URL, index=-1, status_purpose="revocation")
    with pytest.raises(StatusEntryError):
        build_status_list_entry(list_url=LIST_URL, index=1, status_purpose="deletion")


def test_status_list_credential_is_an_unsigned_vc_2_0_credential() -> None:
    valid_from = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2)))
    credential = build_status_list_credential(
        list_url=LIST_URL,
        issuer="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        status_purpose="suspension",
        encoded_list=SPEC_EXAMPLE_ENCODED_LIST,
        valid_from=valid_from,
    )
    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "validFrom": "2026-01-02T01:04:05Z",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "suspension",
            "encodedList": SPEC_EXAMPLE_ENCODED_LIST,
        },
    }
    assert "proof" not in credential


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_status_list_credential(
            list_url=LIST_URL,
            issuer="did:example:1",
            status_purpose="revocation",
            encoded_list=SPEC_EXAMPLE_ENCODED_LIST,
            valid_from=datetime(2026, 1, 1),  # naive on purpose
        )


def _published_list(purpose: str, *set_indexes: int) -> dict:
    bitstring = Bitstring()
    for index in set_indexes:
        bitstring.set(index)
    return build_status_list_credential(
        list_url=LIST_URL,
        issuer="did:example:issuer",
        status_purpose=purpose,
        encoded_list=bitstring.encode(),
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_revoked_credential_reads_as_revoked_and_its_neighbour_does_not() -> None:
    status_list = _published_list("revocation", 94_567)
    revoked = check_credential_status(
        build_status_list_entry(list_url=LIST_URL, index=94_567, status_purpose="revocation"), status_list
    )
    assert revoked.revoked and not revoked.suspended and revoked.index == 94_567
    neighbour = check_credential_status(
        build_status_list_entry(list_url=LIST_URL, index=94_566, status_purpose="revocation"), status_list
    )
    assert not neighbour.is_set and not neighbour.revoked


def test_a_suspended_credential_reads_as_suspended() -> None:
    status_list = _published_list("suspension", 7)
    entry = build_status_list_entry(list_url=LIST_URL, index=7, status_purpose="suspension")
    status = check_credential_status(entry, status_list)
    assert status.suspended and not status.revoked


def test_a_purpose_that_does_not_match_the_list_is_refused() -> None:
    status_list = _published_list("suspension", 7)
    entry = build_status_list_entry(list_url=LIST_URL, index=7, status_purpose="revocation")
    with pytest.raises(StatusEntryError, match="statusPurpose"):
        check_credential_status(entry, status_list)


def test_an_entry_naming_another_list_is_refused() -> None:
    entry = build_status_list_entry(list_url=LIST_URL + "-other", index=7, status_purpose="revocation")
    with pytest.raises(StatusEntryError):
        check_credential_status(entry, _published_list("revocation"))


def test_a_list_credential_of_another_type_is_refused() -> None:
    status_list = _published_list("revocation")
    status_list["type"] = ["VerifiableCredential", "StatusList2021Credential"]
    entry = build_status_list_entry(list_url=LIST_URL, index=7, status_purpose="revocation")
    with pytest.raises(StatusEntryError):
        check_credential_status(entry, status_list)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("statusListIndex", 7, StatusEntryError),
        ("statusListIndex", "-7", StatusEntryError),
        ("statusListIndex", "7.0", StatusEntryError),
        ("statusListIndex", "", StatusEntryError),
        ("statusListIndex", "131072", StatusListRangeError),
        ("statusSize", 2, StatusEntryError),
        ("type", "StatusList2021Entry", StatusEntryError),
    ],
)
def test_malformed_entries_are_refused(field: str, value: object, error: type[Exception]) -> None:
    entry = build_status_list_entry(list_url=LIST_URL, index=7, status_purpose="revocation")
    entry[field] = value
    with pytest.raises(error):
        status_of_entry(Bitstring(), entry)
