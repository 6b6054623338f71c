"""The hand-written VC-JWT signer writes what PyJWT's jwt.encode writes, byte for byte.

vc_jwt.sign builds the compact JWS itself (orjson for the payload, PyJWT only for the signature
primitive): these tests hold it to PyJWT's own output and to PyJWT's verifier with the algorithm
pinned to the key type, over payloads that take every path of its JSON writer."""

from __future__ import annotations

import base64
import copy
import json
import random

import jwt
import pytest

from services.badge_issuer.proofs import keys, vc_jwt

DETERMINISTIC = ["Ed25519", "RSA"]  # ES256 signatures are randomised: compared by verification


def _pyjwt_token(credential: dict, private_key: keys.PrivateKey, kid: str) -> str:
    payload = {**credential, **vc_jwt.registered_claims(credential)}
    return jwt.encode(
        payload, private_key, algorithm=keys.jws_algorithm_for(private_key), headers={"kid": kid, "typ": "JWT"}
    )


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _awkward(credential: dict) -> dict:
    """The sample credential with what orjson writes differently from json.dumps."""
    odd = copy.deepcopy(credential)
    odd["name"] = "Zoë’s badge 😀 \u2028 \x7f \x1f tab\t"
    odd["credentialSubject"]["result"] = [{"value": 1e-07}, {"value": 0.00001}, {"value": 2.5}, {"value": 1e16}]
    return odd


@pytest.fixture(scope="module", params=["Ed25519", "P-256", "RSA"])
def private_key(request):
    return keys.generate_private_key(request.param)


@pytest.mark.parametrize("shape", ["sample", "awkward"])
def test_the_token_is_pyjwts_byte_for_byte(sample_credential, private_key, shape):
    credential = sample_credential if shape == "sample" else _awkward(sample_credential)
    kid = keys.key_id(private_key.public_key())
    ours, theirs = vc_jwt.sign(credential, private_key, kid), _pyjwt_token(credential, private_key, kid)
    if keys.key_type_of(private_key) in DETERMINISTIC:
        assert ours == theirs
    else:
        assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]


def test_pyjwt_verifies_it_with_the_algorithm_pinned(sample_credential, private_key):
    credential = _awkward(sample_credential)
    token = vc_jwt.sign(credential, private_key)
    algorithm = keys.jws_algorithm_for(private_key)
    claims = jwt.decode(token, private_key.public_key(), algorithms=[algorithm], options={"verify_exp": False})
    assert claims["name"] == credential["name"]
    assert claims["credentialSubject"]["result"] == credential["credentialSubject"]["result"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": algorithm, "kid": keys.key_id(private_key.public_key()), "typ": "JWT"}
    assert vc_jwt.verify(token, private_key.public_key(), verify_times=False).credential == credential


def test_a_token_is_compact_jws_in_base64url_without_padding(sample_credential, private_key):
    segments = vc_jwt.sign(sample_credential, private_key).split(".")
    assert len(segments) == 3
    for segment in segments:
        assert "=" not in segment and "+" not in segment and "/" not in segment
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_every_character_is_written_as_json_dumps_writes_it():
    wrong = [
        hex(code)
        for code in range(0x110000)
        if not 0xD800 <= code < 0xE000 and vc_jwt.compact_json({"a": chr(code)}) != _json({"a": chr(code)})
    ]
    assert wrong == []


def test_floats_across_magnitudes_are_written_as_json_dumps_writes_them():
    rnd = random.Random(16)
    values = [rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-320, 307) for _ in range(20_000)]
    values += [rnd.random() * 10.0 ** rnd.randint(-9, 20) for _ in range(20_000)]
    values += [0.0, -0.0, 1e-4, 1e-5, 5e-324, 1e16, float("nan"), float("inf"), float("-inf")]
    wrong = [
        value
        for value in values
        for doc in ({"a": value}, {"a": [value, value]}, {"a": [value]})  # each token end: , } ]
        if vc_jwt.compact_json(doc) != _json(doc)
    ]
    assert wrong == []


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {1: 2},
        {"a": 10**30},
        {"a": _Text("x")},
        {"a": "\ud800"},
        {"a": (1, 2)},
        {"a": None, "b": "null"},
        {"a": "1e-5]"},
    ],
    ids=["int-key", "big-int", "str-subclass", "lone-surrogate", "tuple", "null", "exponent-in-a-string"],
)
def test_what_orjson_cannot_write_alike_is_written_by_json_dumps(value):
    assert vc_jwt.compact_json(value) == _json(value)


def test_what_json_dumps_refuses_is_refused(sample_credential):
    from datetime import UTC, datetime

    with pytest.raises(TypeError):
        vc_jwt.sign({**sample_credential, "when": datetime.now(UTC)}, keys.generate_private_key())


def _outcome(decode, segment: bytes):
    try:
        return decode(segment, "payload")
    except jwt.DecodeError as error:
        return str(error)


def test_the_verifiers_segment_decoder_accepts_and_refuses_what_pyjwts_does():
    rnd = random.Random(7)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    junk = b"+/=!. \n\x00\xff"
    segments = [b"", b"=", b"==", b"===", b"QQ", b"QQ==", b"QUI=", b"QUI", b"QR", b"Q"]
    for _ in range(20_000):
        body = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        if rnd.random() < 0.3:
            spot = rnd.randint(0, len(body))
            body = body[:spot] + bytes([rnd.choice(junk)]) + body[spot:]
        segments.append(body + b"=" * rnd.choice([0, 0, 1, 2, 3]))
    ours = vc_jwt._VERIFIER._jws._decode_base64url_segment
    assert ours is not jwt.PyJWS._decode_base64url_segment
    differing = [s for s in segments if _outcome(ours, s) != _outcome(jwt.PyJWS._decode_base64url_segment, s)]
    assert differing == []


def test_a_token_with_a_character_outside_base64url_is_refused(sample_credential):
    private_key = keys.generate_private_key()
    header, payload, signature = vc_jwt.sign(sample_credential, private_key).split(".")
    for altered in (f"{header}.{payload[:10]}+{payload[11:]}.{signature}", f"{header}.{payload}.{signature}!"):
        with pytest.raises(vc_jwt.JwtVerificationError) as raised:
            vc_jwt.verify(altered, private_key.public_key(), verify_times=False)
        assert raised.value.code in ("malformed_token", "invalid_signature")


_WORDS = ["Zoë", "naïve", "日本語", "😀", "\u2028", "\x7f", "\x00", 'quote " back \\ slash', "null", "1e-5]", "ok"]


def _value(rnd: random.Random, depth: int) -> object:
    """A JSON value of the kinds a credential holds, with the ones orjson writes unlike json.dumps."""
    kind = rnd.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rnd.choice(_WORDS) + str(rnd.randrange(100))
    if kind == 1:
        return rnd.choice([0.0, -0.0, 2.5, 1e16, 1e-4]) or rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-12, 20)
    if kind == 2:
        return rnd.choice([0, -1, 2**63 - 1, 2**64, -(2**70), rnd.randrange(10**6)])
    if kind == 3:
        return rnd.choice([True, False, None])
    if kind == 4:
        return f"urn:uuid:{rnd.getrandbits(128):032x}-e-{rnd.random()}"
    if kind == 5:
        return rnd.choice([float("nan"), float("inf"), 1e-7, 0.00001]) if rnd.random() < 0.2 else "plain"
    if kind in (6, 7):
        return {rnd.choice(_WORDS) + str(i): _value(rnd, depth + 1) for i in range(rnd.randrange(4))}
    return [_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]


def _generated_credential(sample: dict, rnd: random.Random) -> dict:
    """The sample with generated members, and now and then the claims already present (their place in
    the credential kept, their value overwritten), a string issuer, no subject id or no dates."""
    credential = copy.deepcopy(sample)
    credential["name"] = rnd.choice(_WORDS) * rnd.randrange(1, 4)
    credential["credentialSubject"]["extra"] = _value(rnd, 0)
    for name in rnd.sample(["iss", "sub", "jti", "nbf", "exp", "iat", "aud"], rnd.randrange(3)):
        credential[name] = _value(rnd, 2) if name not in ("iss",) else "https://other.example"
    if rnd.random() < 0.3:
        credential["issuer"] = credential["issuer"]["id"]
    if rnd.random() < 0.3:
        credential["credentialSubject"]["id"] = f"did:example:{rnd.randrange(10**9)}"
    if rnd.random() < 0.3:
        credential["validUntil"] = "2030-06-30T23:59:59+02:00"
    if rnd.random() < 0.2:
        del credential["validFrom"]
    return credential


@pytest.mark.parametrize("seed", range(3))
def test_generated_credentials_sign_to_pyjwts_token_byte_for_byte(sample_credential, seed):
    rnd = random.Random(seed)
    signing_keys = [keys.generate_private_key("Ed25519"), keys.generate_private_key("RSA")]
    ec_key = keys.generate_private_key("P-256")
    for _ in range(150):
        credential = _generated_credential(sample_credential, rnd)
        kid = f"did:example:issuer#{rnd.choice(_WORDS)}"
        for private_key in signing_keys:
            assert vc_jwt.sign(credential, private_key, kid) == _pyjwt_token(credential, private_key, kid)
        ours, theirs = vc_jwt.sign(credential, ec_key, kid), _pyjwt_token(credential, ec_key, kid)
        assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
        jwt.PyJWS().decode(ours, ec_key.public_key(), algorithms=["ES256"])  # the signature alone


def test_each_key_signs_with_itself_however_the_calls_interleave(sample_credential):
    """The per-key signer is remembered: a cache that mixed keys up would sign with another key."""
    signing_keys = [keys.generate_private_key(kind) for kind in ("Ed25519", "Ed25519", "P-256", "RSA", "Ed25519")]
    for _ in range(3):
        for private_key in signing_keys:
            token = vc_jwt.sign(sample_credential, private_key)
            public_key = private_key.public_key()
            assert jwt.get_unverified_header(token)["kid"] == keys.key_id(public_key)
            assert vc_jwt.verify(token, public_key, verify_times=False).credential == sample_credential
            for other in signing_keys:
                if other is not private_key and keys.key_type_of(other) == keys.key_type_of(private_key):
                    with pytest.raises(vc_jwt.JwtVerificationError):
                        vc_jwt.verify(token, other.public_key(), verify_times=False)


def test_a_key_loaded_again_signs_as_the_first_object_did(sample_credential):
    first = keys.generate_private_key()
    again = keys.private_key_from_pem(keys.private_key_to_pem(first))
    assert vc_jwt.sign(sample_credential, first) == vc_jwt.sign(sample_credential, again)


def test_base64url_is_the_standard_libraries_for_every_length():
    rnd = random.Random(3)
    for length in range(200):
        data = rnd.randbytes(length)
        assert vc_jwt._base64url(data) == base64.urlsafe_b64encode(data).rstrip(b"=")


def test_registered_claims_read_mappings_that_are_not_dicts(sample_credential):
    from types import MappingProxyType

    sample_credential["credentialSubject"]["id"] = "did:example:learner"
    wrapped = {
        **sample_credential,
        "issuer": MappingProxyType(sample_credential["issuer"]),
        "credentialSubject": MappingProxyType(sample_credential["credentialSubject"]),
    }
    expected = {"iss": sample_credential["issuer"]["id"], "jti": sample_credential["id"], "sub": "did:example:learner"}
    assert vc_jwt.registered_claims(wrapped) == {**expected, "nbf": 1768469400}
    assert list(vc_jwt.registered_claims({**wrapped, "validUntil": "2027-01-15T09:30:00Z"})) == [
        "iss",
        "jti",
        "sub",
        "nbf",
        "exp",
    ]


def test_libsodiums_ed25519_signatures_are_cryptographys_byte_for_byte():
    """EdDSA tokens are signed by libsodium: RFC 8032 signatures are deterministic, so they must be
    exactly what cryptography's Ed25519 (PyJWT's primitive) writes, for any key and message."""
    rnd = random.Random(25519)
    for _ in range(40):
        private_key = keys.generate_private_key("Ed25519")
        sign = vc_jwt._libsodium_ed25519(private_key)
        for length in (0, 1, 63, 64, 65, rnd.randrange(2, 6000)):
            message = rnd.randbytes(length)
            assert sign(message) == private_key.sign(message)
            private_key.public_key().verify(sign(message), message)


def test_es256_signatures_are_pyjwts_raw_r_and_s():
    """ES256 signatures are randomised, so each is checked two ways: PyJWT's own verifier accepts it,
    and PyJWT's DER-to-raw conversion of the same DER signature gives the same 64 bytes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
    from jwt.utils import der_to_raw_signature

    rnd = random.Random(256)
    pyjwt_es256 = vc_jwt._SIGNERS["ES256"]
    for _ in range(20):
        private_key = keys.generate_private_key("P-256")
        sign = vc_jwt._signer_for(private_key).sign
        for length in (0, 1, rnd.randrange(2, 5000)):
            message = rnd.randbytes(length)
            signature = sign(message)
            assert len(signature) == 64
            assert pyjwt_es256.verify(message, private_key.public_key(), signature)
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            assert der_to_raw_signature(encode_dss_signature(r, s), private_key.curve) == signature
            der = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
            assert der_to_raw_signature(der, private_key.curve) == b"".join(
                n.to_bytes(32, "big") for n in decode_dss_signature(der)
            )
