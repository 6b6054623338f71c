"""VC-JWT: round trips per algorithm, tampering, and algorithm-confusion attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from services.badge_issuer.proofs import keys, vc_jwt

from .conftest import load_json

KEY_TYPES = ["RSA", "P-256", "Ed25519"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict, payload: dict, signing_input_key: bytes | None = None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if signing_input_key is None:
        return signing_input + "."
    signature = hmac.new(signing_input_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture(scope="module", params=KEY_TYPES)
def key(request):
    return keys.generate_private_key(request.param)


@pytest.fixture
def token(sample_credential, key):
    return vc_jwt.sign(sample_credential, key)


def test_round_trip_returns_the_credential(sample_credential, key, token):
    verified = vc_jwt.verify(token, key.public_key())
    assert verified.credential == sample_credential
    assert verified.header == {"alg": keys.jws_algorithm_for(key), "kid": keys.key_id(key.public_key()), "typ": "JWT"}


def test_registered_claims_mirror_the_credential(sample_credential, key, token):
    claims = vc_jwt.verify(token, key.public_key()).claims
    assert claims["iss"] == sample_credential["issuer"]["id"]
    assert claims["jti"] == sample_credential["id"]
    assert claims["nbf"] == 1768469400  # 2026-01-15T09:30:00Z
    assert "sub" not in claims  # the subject is identified by a hashed email, not an id


def test_verifies_with_a_jwk_and_with_a_kid_resolver(key, token):
    jwks = {keys.key_id(key.public_key()): keys.public_jwk(key.public_key())}
    assert vc_jwt.verify(token, jwks[keys.key_id(key.public_key())]).credential
    assert vc_jwt.verify(token, lambda header: jwks[header["kid"]]).credential


def test_explicit_kid_is_used(sample_credential):
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    token = vc_jwt.sign(sample_credential, private_key, kid=keys.did_key_verification_method(did))
    header = vc_jwt.read_header(token)
    assert header["kid"] == keys.did_key_verification_method(did)
    assert vc_jwt.verify(token, lambda h: keys.public_key_from_did_key(h["kid"])).credential


def test_changed_payload_fails(key, token):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["name"] = "Tampered"
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(forged, key.public_key())
    assert caught.value.code == "invalid_signature"


def test_wrong_key_of_the_same_type_fails(key, token):
    other = keys.generate_private_key(keys.key_type_of(key))
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, other.public_key())
    assert caught.value.code == "invalid_signature"


def test_alg_none_is_rejected(sample_credential, key):
    forged = _forge({"alg": "none", "typ": "JWT"}, sample_credential)
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(forged, key.public_key())
    assert caught.value.code == "algorithm_mismatch"


def test_hs256_keyed_with_the_public_key_is_rejected(sample_credential):
    rsa_key = keys.generate_private_key("RSA")
    public_pem = keys.public_key_to_pem(rsa_key.public_key())
    forged = _forge({"alg": "HS256", "typ": "JWT"}, sample_credential, signing_input_key=public_pem)
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(forged, rsa_key.public_key())
    assert caught.value.code == "algorithm_mismatch"
    with pytest.raises(vc_jwt.JwtVerificationError):
        vc_jwt.verify(forged, keys.public_jwk(rsa_key.public_key()))


def test_alg_that_does_not_match_the_key_type_is_rejected(sample_credential):
    ec_key = keys.generate_private_key("P-256")
    token = vc_jwt.sign(sample_credential, ec_key)
    rsa_key = keys.generate_private_key("RSA")
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, rsa_key.public_key())
    assert caught.value.code == "algorithm_mismatch"


def test_spliced_issuer_claim_is_rejected(sample_credential):
    private_key = keys.generate_private_key()
    payload = {**sample_credential, **vc_jwt.registered_claims(sample_credential), "iss": "did:example:mallory"}
    token = jwt.encode(payload, private_key, algorithm="EdDSA")
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, private_key.public_key())
    assert caught.value.code == "claim_mismatch"


def test_expired_credential_is_rejected(sample_credential):
    private_key = keys.generate_private_key()
    sample_credential["validUntil"] = "2026-01-16T00:00:00Z"
    token = vc_jwt.sign(sample_credential, private_key)
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, private_key.public_key())
    assert caught.value.code == "expired"
    assert vc_jwt.verify(token, private_key.public_key(), verify_times=False).credential


def test_1edtech_simple_jwt_needs_a_key_it_does_not_carry(ob3_dir):
    """simple.jwt (RS256, VC 1.1 `vc` claim) has no kid, jwk or x5c, and its issuer's JWKS
    (https://example.edu/issuers/565049) is not reachable offline: it cannot be verified.
    We check what can be checked: the header, the algorithm pinning, and that a random
    RSA key is told apart from the real one."""
    token = (ob3_dir / "examples" / "simple.jwt").read_text().strip()
    header = vc_jwt.read_header(token)
    assert header == {"alg": "RS256", "typ": "JWT"}
    assert not {"kid", "jwk", "x5c", "x5u", "jku"} & set(header)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["vc"]["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, keys.generate_private_key("RSA").public_key())
    assert caught.value.code == "invalid_signature"
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, keys.generate_private_key("Ed25519").public_key())
    assert caught.value.code == "algorithm_mismatch"


def test_unsupported_key_material_is_named(token):
    with pytest.raises(vc_jwt.JwtVerificationError) as caught:
        vc_jwt.verify(token, {"kty": "oct", "k": "c2VjcmV0"})
    assert caught.value.code == "unsupported_key"


def test_legacy_vc_claim_payload_is_unwrapped(ob3_dir):
    private_key = keys.generate_private_key("RSA")
    legacy = load_json(ob3_dir / "examples" / "simple.json")
    legacy.pop("proof", None)
    token = jwt.encode({"vc": legacy, "iss": legacy["issuer"]["id"]}, private_key, algorithm="RS256")
    assert vc_jwt.verify(token, private_key.public_key()).credential == legacy
