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
        for doc in ({"a": value}, {"a": [value, value]})
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
