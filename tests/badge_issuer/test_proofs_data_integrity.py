"""Data Integrity eddsa-rdfc-2022: vectors, round trips, and tampering that must fail."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from services.badge_issuer.proofs import data_integrity, keys

from .conftest import load_json


@pytest.fixture
def issuer_key() -> ed25519.Ed25519PrivateKey:
    return keys.generate_private_key()


@pytest.fixture
def signed(sample_credential, issuer_key):
    did = keys.did_key_for(issuer_key.public_key())
    sample_credential["issuer"]["id"] = did
    return data_integrity.sign(
        sample_credential, issuer_key, keys.did_key_verification_method(did), datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    )


def test_reproduces_the_ob3_vector_signature(ob3_dir):
    vector = load_json(ob3_dir / "test-vectors" / "obv3p0-ldp-vector.json")
    private_key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["privateKeyHex"])[:32])
    config = vector["proofConfig"]
    signed = data_integrity.sign(vector["credential"], private_key, config["verificationMethod"], config["created"])
    proof = signed["proof"][0]
    assert proof["proofValue"] == vector["proofValue"]
    assert keys.decode_multibase_base58btc(proof["proofValue"]).hex() == vector["signatureHex"]


def test_reproduces_the_w3c_vc_di_eddsa_vector(ob3_dir):
    folder = ob3_dir / "test-vectors" / "w3c-vc-di-eddsa"
    expected = load_json(folder / "signed-credential.json")
    private_key = keys.ed25519_private_key_from_multikey(load_json(folder / "key-pair.json")["privateKeyMultibase"])
    unsecured = {key: value for key, value in expected.items() if key != "proof"}
    proof = expected["proof"]
    signed = data_integrity.sign(unsecured, private_key, proof["verificationMethod"], proof["created"])
    assert signed["proof"][0]["proofValue"] == proof["proofValue"]
    assert data_integrity.verify(expected).valid


def test_proof_is_a_one_element_array_and_validates_against_the_1edtech_schema(ob3_dir, signed):
    assert isinstance(signed["proof"], list) and len(signed["proof"]) == 1
    proof = signed["proof"][0]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["created"] == "2026-01-15T09:30:00Z"
    schema = load_json(ob3_dir / "schema" / "ob_v3p0_achievementcredential_schema.json")
    jsonschema.Draft201909Validator(schema).validate(signed)


def test_round_trip_with_did_key(signed):
    result = data_integrity.verify(signed)
    assert result.valid and result.code == "ok"
    assert result.verification_method == signed["proof"][0]["verificationMethod"]


def test_signing_leaves_the_input_untouched(sample_credential, issuer_key):
    before = copy.deepcopy(sample_credential)
    data_integrity.sign(sample_credential, issuer_key, "did:key:z6Mk#z6Mk")
    assert sample_credential == before


def test_accepts_1edtech_did_key_method_without_fragment(ob3_dir):
    credential = load_json(ob3_dir / "examples" / "simple-did-key-method.json")
    result = data_integrity.verify(credential)
    assert result.valid, result.reason


def test_tampered_1edtech_example_fails_naming_the_signature(ob3_dir):
    credential = load_json(ob3_dir / "examples" / "simple-did-key-method.json")
    credential["credentialSubject"]["achievement"]["name"] = "test 2"
    result = data_integrity.verify(credential)
    assert not result.valid
    assert result.code == "invalid_signature" and "altered" in result.reason


def test_changed_name_fails(signed):
    signed["name"] = "Data Analysis with SQL (Distinction)"
    result = data_integrity.verify(signed)
    assert (result.valid, result.code) == (False, "invalid_signature")


def test_changed_nested_value_fails(signed):
    signed["credentialSubject"]["result"][0]["value"] = "99"
    assert data_integrity.verify(signed).code == "invalid_signature"


def test_changed_proof_created_fails(signed):
    signed["proof"][0]["created"] = "2026-01-16T09:30:00Z"
    assert data_integrity.verify(signed).code == "invalid_signature"


def test_changed_proof_value_fails(signed):
    signature = bytearray(keys.decode_multibase_base58btc(signed["proof"][0]["proofValue"]))
    signature[10] ^= 0x01
    signed["proof"][0]["proofValue"] = keys.encode_multibase_base58btc(bytes(signature))
    assert data_integrity.verify(signed).code == "invalid_signature"


def test_truncated_proof_value_fails(signed):
    signed["proof"][0]["proofValue"] = signed["proof"][0]["proofValue"][:40]
    assert data_integrity.verify(signed).code == "malformed_proof_value"


def test_wrong_key_fails(signed):
    other = keys.generate_private_key().public_key()
    result = data_integrity.verify(signed, resolve_public_key=lambda method: other)
    assert result.code == "invalid_signature"


def test_swapped_verification_method_fails(signed):
    other_did = keys.did_key_for(keys.generate_private_key().public_key())
    signed["proof"][0]["verificationMethod"] = keys.did_key_verification_method(other_did)
    assert data_integrity.verify(signed).code == "invalid_signature"


def test_unresolvable_verification_method_is_named(signed):
    signed["proof"][0]["verificationMethod"] = "https://example.com/keys/1"
    result = data_integrity.verify(signed)
    assert result.code == "unresolvable_verification_method" and "example.com/keys/1" in result.reason


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("type", "BbsBlsSignature2020", "unsupported_proof_type"),
        ("cryptosuite", "bbs-2023", "unsupported_cryptosuite"),
        # an eddsa signature is no ecdsa-sd-2023 proof value (base64url CBOR)
        ("cryptosuite", "ecdsa-sd-2023", "malformed_proof_value"),
        ("cryptosuite", "ecdsa-rdfc-2019", "wrong_key_type"),
        ("proofPurpose", "authentication", "wrong_proof_purpose"),
    ],
)
def test_foreign_proof_shapes_are_named(signed, field, value, code):
    signed["proof"][0][field] = value
    assert data_integrity.verify(signed).code == code


def test_added_undefined_term_fails_like_safe_mode(signed):
    signed["credentialSubject"]["favouriteColour"] = "teal"
    result = data_integrity.verify(signed)
    assert result.code == "canonicalization_failed" and "favouriteColour" in result.reason


def test_missing_proof_is_named(sample_credential):
    assert data_integrity.verify(sample_credential).code == "no_proof"


def test_signing_refuses_undefined_terms(sample_credential, issuer_key):
    sample_credential["favouriteColour"] = "teal"
    with pytest.raises(data_integrity.SigningError, match="favouriteColour"):
        data_integrity.sign(sample_credential, issuer_key, "did:key:z6Mk#z6Mk")


def test_signing_refuses_an_already_signed_credential(signed, issuer_key):
    with pytest.raises(data_integrity.SigningError):
        data_integrity.sign(signed, issuer_key, signed["proof"][0]["verificationMethod"])
