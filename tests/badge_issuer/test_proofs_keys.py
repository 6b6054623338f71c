"""Keys: multikey / did:key encoding, JWK, kid, PEM round trips."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from services.badge_issuer.proofs import keys

from .conftest import load_json


def test_multikey_matches_the_ob3_test_vector(ob3_dir):
    vector = load_json(ob3_dir / "test-vectors" / "obv3p0-ldp-vector.json")
    public_key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(vector["publicKeyHex"]))
    assert keys.ed25519_public_key_to_multikey(public_key) == vector["publicKeyMultibase"]
    decoded = keys.ed25519_public_key_from_multikey(vector["publicKeyMultibase"])
    assert decoded.public_bytes_raw() == public_key.public_bytes_raw()


def test_w3c_secret_multikey_decodes_to_the_published_public_key(ob3_dir):
    pair = load_json(ob3_dir / "test-vectors" / "w3c-vc-di-eddsa" / "key-pair.json")
    private_key = keys.ed25519_private_key_from_multikey(pair["privateKeyMultibase"])
    assert keys.ed25519_public_key_to_multikey(private_key.public_key()) == pair["publicKeyMultibase"]
    assert keys.ed25519_private_key_to_multikey(private_key) == pair["privateKeyMultibase"]


def test_did_key_method_id_carries_the_key_as_fragment():
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    multikey = did.removeprefix("did:key:")
    assert multikey.startswith("z6Mk")
    assert keys.did_key_verification_method(did) == f"{did}#{multikey}"


def test_did_key_resolves_offline_to_a_multikey_document():
    did = keys.did_key_for(keys.generate_private_key().public_key())
    document = keys.resolve_did_key(did)
    method = document["verificationMethod"][0]
    assert document["id"] == did
    assert method["id"] == keys.did_key_verification_method(did)
    assert method["type"] == "Multikey" and method["controller"] == did
    assert document["assertionMethod"] == [method["id"]]
    assert "https://w3id.org/security/multikey/v1" in document["@context"]


def test_did_key_with_and_without_fragment_name_the_same_key():
    public_key = keys.generate_private_key().public_key()
    did = keys.did_key_for(public_key)
    for reference in (did, keys.did_key_verification_method(did)):
        assert keys.public_key_from_did_key(reference).public_bytes_raw() == public_key.public_bytes_raw()


@pytest.mark.parametrize(
    "bad",
    [
        "did:web:example.com",
        "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi#z6MkOther",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",  # secp256k1, not Ed25519
        "did:key:f6Mk",
    ],
)
def test_malformed_or_foreign_did_keys_are_refused(bad):
    with pytest.raises(keys.KeyFormatError):
        keys.public_key_from_did_key(bad)


@pytest.mark.parametrize(
    ("key_type", "alg", "kty"), [("Ed25519", "EdDSA", "OKP"), ("P-256", "ES256", "EC"), ("RSA", "RS256", "RSA")]
)
def test_public_jwk_round_trips_and_names_its_algorithm(key_type, alg, kty):
    private_key = keys.generate_private_key(key_type)
    jwk = keys.public_jwk(private_key.public_key())
    assert (jwk["alg"], jwk["kty"], jwk["use"]) == (alg, kty, "sig")
    assert not {"d", "p", "q"} & set(jwk), "private members must never appear in a JWKS entry"
    loaded = keys.public_key_from_jwk(jwk)
    assert keys.public_jwk(loaded) == jwk


def test_kid_is_the_rfc7638_thumbprint():
    # RFC 7638 §3.1 example key and thumbprint.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
            "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
            "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
            "Cur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
    }
    assert keys.key_id(keys.public_key_from_jwk(jwk)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_kid_is_stable_and_distinct_per_key():
    first, second = keys.generate_private_key(), keys.generate_private_key()
    assert keys.key_id(first.public_key()) == keys.key_id(first.public_key())
    assert keys.key_id(first.public_key()) != keys.key_id(second.public_key())


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256", "RSA"])
@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_private_key_pem_round_trip(key_type, password):
    private_key = keys.generate_private_key(key_type)
    pem = keys.private_key_to_pem(private_key, password)
    assert (b"ENCRYPTED" in pem) == bool(password)
    loaded = keys.private_key_from_pem(pem, password)
    assert keys.public_jwk(loaded.public_key()) == keys.public_jwk(private_key.public_key())


def test_short_rsa_keys_are_refused():
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the test
    with pytest.raises(keys.KeyFormatError):
        keys.jws_algorithm_for(weak)
    assert json.dumps(keys.public_jwk(keys.generate_private_key("RSA").public_key()))


@pytest.mark.parametrize(
    ("did", "url"),
    [  # the did:web method specification's own examples (§3.2 DID to HTTPS transformation)
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ],
)
def test_did_web_maps_to_its_document_url_as_the_spec_says(did, url):
    assert keys.did_web_document_url(did) == url


def test_did_web_path_form_is_derived_from_the_public_base_url():
    assert keys.did_web_for("https://issuer.example", "issuers", "abc") == "did:web:issuer.example:issuers:abc"
    assert keys.did_web_for("http://127.0.0.1:8002/", "issuers", "abc") == "did:web:127.0.0.1%3A8002:issuers:abc"
    behind_a_prefix = keys.did_web_for("https://Example.COM:8443/badges", "issuers", "abc")
    assert behind_a_prefix == "did:web:example.com%3A8443:badges:issuers:abc"
    assert keys.did_web_document_url(behind_a_prefix) == "https://example.com:8443/badges/issuers/abc/did.json"
    with pytest.raises(keys.KeyFormatError):
        keys.did_web_for("not a url")
    with pytest.raises(keys.KeyFormatError):
        keys.did_web_document_url("did:web:example.com#key-1")  # a DID URL, not a DID


@pytest.mark.parametrize(
    ("key_type", "method_type"), [("Ed25519", "Multikey"), ("P-256", "JsonWebKey"), ("RSA", "JsonWebKey")]
)
def test_did_document_verification_methods_carry_only_public_material(key_type, method_type):
    private_key = keys.generate_private_key(key_type)
    method = keys.verification_method("did:web:example.com#k1", "did:web:example.com", private_key.public_key())
    assert method["type"] == method_type and method["controller"] == "did:web:example.com"
    if method_type == "Multikey":
        decoded = keys.ed25519_public_key_from_multikey(method["publicKeyMultibase"])
        assert decoded.public_bytes_raw() == private_key.public_key().public_bytes_raw()  # type: ignore[union-attr]
    else:
        jwk = method["publicKeyJwk"]
        assert not {"d", "p", "q", "dp", "dq", "qi", "kid", "alg"} & set(jwk)
        assert keys.key_id(keys.public_key_from_jwk(jwk)) == keys.key_id(private_key.public_key())
