"""ecdsa-sd-2023 (selective disclosure) through `POST /v1/verify`, on credentials made by Digital Bazaar's
@digitalbazaar/ecdsa-sd-2023-cryptosuite (tests/interop/node/sign-suites.mjs): an OpenBadgeCredential
with a base proof by a P-256 did:key issuer, and the disclosure a holder derives from it. Each way a
holder could cheat (changed values, a dropped signature, a relabelled graph, another key, a padded proof)
must fail with its own code; ecdsa-rdfc-2019 on P-384 is checked the same way."""

import base64
import copy
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization

from services.badge_issuer.proofs import data_integrity, ecdsa_sd, keys
from tests.badge_issuer.conftest import checks_of, verify_json
from tests.interop.test_node_verifiers import run_node

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

SAMPLE = Path(__file__).resolve().parent / "data" / "sample-credential.json"
MANDATORY = ["/issuer", "/validFrom", "/credentialSubject/achievement"]
SELECTIVE = ["/name", "/credentialSubject/result"]


@pytest.fixture(scope="module")
def signed_by_node() -> dict[str, Any]:
    """One base proof and its disclosure, signed once for the module (Node takes a second a run)."""
    credential = json.loads(SAMPLE.read_text(encoding="utf-8"))
    request = {"form": "ecdsa-sd-2023", "credential": credential}
    return run_node(
        "sign-suites.mjs", json.dumps({**request, "mandatoryPointers": MANDATORY, "selectivePointers": SELECTIVE})
    )


@pytest.fixture
def base(signed_by_node) -> dict[str, Any]:
    return copy.deepcopy(signed_by_node["credential"])


@pytest.fixture
def derived(signed_by_node) -> dict[str, Any]:
    return copy.deepcopy(signed_by_node["derived"])


def _parts(credential: dict[str, Any]) -> tuple[bytes, list[Any]]:
    value = credential["proof"]["proofValue"]
    data = base64.urlsafe_b64decode(value[1:] + "=" * (-len(value[1:]) % 4))
    return data[:3], cbor2.loads(data[3:])


def _with_parts(credential: dict[str, Any], header: bytes, parts: list[Any]) -> dict[str, Any]:
    encoded = base64.urlsafe_b64encode(header + cbor2.dumps(parts)).rstrip(b"=").decode("ascii")
    credential["proof"]["proofValue"] = "u" + encoded
    return credential


async def _signature_check(client, credential: dict[str, Any]) -> dict[str, Any]:
    return checks_of(await verify_json(client, credential))["signature"]


async def test_a_derived_disclosure_verifies_and_is_bound_to_its_issuer(client, derived):
    assert derived["proof"]["proofValue"].startswith("u2V0B")  # header 0xd95d01: a derived proof
    assert "result" in derived["credentialSubject"] and "identifier" not in derived["credentialSubject"]
    result = await verify_json(client, derived)
    checks = checks_of(result)
    assert result["verified"] is True, result["failures"]
    assert checks["signature"]["outcome"] == "passed", checks["signature"]
    assert "ecdsa-sd-2023 (derived proof:" in checks["signature"]["reason"]
    assert checks["issuer"]["code"] == "issuer_bound" and result["issuer_bound"] is True
    assert result["key_source"] == "did:key, resolved offline"
    assert checks["validity_window"]["outcome"] == "passed"


async def test_a_base_proof_verifies_too(client, base):
    assert base["proof"]["proofValue"].startswith("u2V0A")  # header 0xd95d00: the holder's base proof
    result = await verify_json(client, base)
    checks = checks_of(result)
    assert result["verified"] is True, result["failures"]
    assert "ecdsa-sd-2023 (base proof:" in checks["signature"]["reason"]
    assert checks["issuer"]["code"] == "issuer_bound"


async def test_a_changed_disclosed_value_fails(client, derived):
    derived["name"] = "Data Analysis with SQL (Distinction)"
    check = await _signature_check(client, derived)
    assert check["code"] == "invalid_disclosure_signature" and "altered" in check["reason"]


async def test_a_changed_mandatory_value_fails_the_issuers_signature(client, derived, base):
    derived["credentialSubject"]["achievement"]["name"] = "Advanced SQL"
    assert (await _signature_check(client, derived))["code"] == "invalid_signature"
    base["validFrom"] = "2020-01-01T00:00:00Z"
    assert (await _signature_check(client, base))["code"] == "invalid_signature"


async def test_a_dropped_signature_fails(client, derived):
    header, parts = _parts(derived)
    parts[2] = parts[2][:-1]
    check = await _signature_check(client, _with_parts(derived, header, parts))
    assert check["code"] == "signature_count_mismatch"


async def test_a_swapped_label_map_fails(client, derived):
    header, parts = _parts(derived)
    label_map = parts[3]
    assert len(label_map) >= 2
    first, second = sorted(label_map)[:2]
    label_map[first], label_map[second] = label_map[second], label_map[first]
    assert (await _signature_check(client, _with_parts(derived, header, parts)))["code"] == "invalid_signature"


async def test_a_label_map_without_a_blank_node_of_the_disclosure_fails(client, derived):
    header, parts = _parts(derived)
    del parts[3][max(parts[3])]
    assert (await _signature_check(client, _with_parts(derived, header, parts)))["code"] == "label_map_mismatch"


async def test_another_issuer_key_fails(client, derived):
    other = keys.generate_private_key("P-256").public_key()
    multikey = keys.encode_multibase_base58btc(keys.P256_PUBLIC_MULTICODEC + _compressed(other))
    derived["proof"]["verificationMethod"] = f"did:key:{multikey}#{multikey}"
    derived["issuer"]["id"] = f"did:key:{multikey}"
    assert (await _signature_check(client, derived))["code"] == "invalid_signature"


async def test_an_ed25519_issuer_key_is_the_wrong_type(client, derived):
    did = keys.did_key_for(keys.generate_private_key().public_key())
    derived["proof"]["verificationMethod"] = keys.did_key_verification_method(did)
    assert (await _signature_check(client, derived))["code"] == "wrong_key_type"


@pytest.mark.parametrize(
    ("position", "padding", "code"),
    [
        (2, [b"\x01" * 64] * (ecdsa_sd.MAX_SIGNATURES + 1), "too_many_signatures"),
        (
            3,
            {index: bytes([index % 256]) * 32 for index in range(ecdsa_sd.MAX_LABEL_MAP_ENTRIES + 1)},
            "label_map_too_large",
        ),
        (4, list(range(ecdsa_sd.MAX_MANDATORY_INDEXES + 1)), "too_many_mandatory_indexes"),
    ],
)
async def test_oversized_proof_parts_are_refused_before_any_work(client, derived, position, padding, code):
    header, parts = _parts(derived)
    parts[position] = padding
    check = await _signature_check(client, _with_parts(derived, header, parts))
    assert check["code"] == code and "not checked" in check["reason"]


async def test_too_many_mandatory_pointers_in_a_base_proof_are_refused(client, base):
    header, parts = _parts(base)
    parts[4] = ["/issuer"] * (ecdsa_sd.MAX_MANDATORY_POINTERS + 1)
    assert (await _signature_check(client, _with_parts(base, header, parts)))["code"] == "too_many_mandatory_pointers"


async def test_a_proof_value_longer_than_the_limit_is_refused(client, derived):
    derived["proof"]["proofValue"] = "u" + "A" * ecdsa_sd.MAX_PROOF_VALUE_CHARS
    assert (await _signature_check(client, derived))["code"] == "proof_value_too_large"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda header, body: b"\xd9\x5d\x02" + body, "header"),
        (lambda header, body: header + body + b"\x00", "after its CBOR"),
        (lambda header, body: header + cbor2.dumps([1, 2, 3]), "array of 5"),
        # an array that says it holds 2**36 items: refused when the bytes run out, nothing allocated
        (lambda header, body: header + b"\x9b" + (1 << 36).to_bytes(8, "big"), "not CBOR"),
    ],
)
def test_malformed_proof_values_are_named(derived, mangle, reason):
    value = derived["proof"]["proofValue"]
    data = base64.urlsafe_b64decode(value[1:] + "=" * (-len(value[1:]) % 4))
    derived["proof"]["proofValue"] = "u" + base64.urlsafe_b64encode(mangle(data[:3], data[3:])).decode().rstrip("=")
    result = data_integrity.verify(derived)
    assert result.code == "malformed_proof_value" and reason in result.reason


def test_overlapping_mandatory_pointers_select_what_either_names(base):
    """A pointer into an array another pointer took whole keeps the whole array (Digital Bazaar's
    selection does the same), so the mandatory statements, and the issuer's signature, still match."""
    header, parts = _parts(base)
    parts[4] = [*parts[4], "/credentialSubject/achievement/alignment/0/targetName"]
    # The pointers are not signed: the statements they select are, and these are the same ones.
    assert data_integrity.verify(_with_parts(base, header, parts)).valid


def test_a_base_proof_whose_pointer_names_nothing_fails(base):
    header, parts = _parts(base)
    parts[4] = [*parts[4], "/credentialSubject/nickname"]
    assert data_integrity.verify(_with_parts(base, header, parts)).code == "mandatory_pointer_mismatch"


async def test_a_p384_ecdsa_rdfc_2019_credential_verifies_and_its_tampered_copy_does_not(client):
    credential = json.loads(SAMPLE.read_text(encoding="utf-8"))
    signed = run_node(
        "sign-suites.mjs", json.dumps({"form": "ecdsa-rdfc-2019", "credential": credential, "curve": "P-384"})
    )
    signed = signed["credential"]
    assert signed["proof"]["verificationMethod"].startswith("did:key:z82L")  # a P-384 multikey
    result = await verify_json(client, signed)
    checks = checks_of(result)
    assert result["verified"] is True, result["failures"]
    assert "ecdsa-rdfc-2019" in checks["signature"]["reason"] and checks["issuer"]["code"] == "issuer_bound"
    signed["credentialSubject"]["achievement"]["name"] = "Data Analysis with SQL (Distinction)"
    assert (await _signature_check(client, signed))["code"] == "invalid_signature"


def _compressed(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
