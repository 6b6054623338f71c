"""The public verifier survives what an attacker can put inside a field the edge cannot see into."""

import base64

import pytest

from tests.badge_issuer.test_baking import chunk, hand_built_png

pytestmark = pytest.mark.anyio


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_jwt_whose_header_is_nested_100000_deep_is_a_422(client):
    header = b"[" * 100_000 + b"]" * 100_000
    token = f"{_b64(header)}.{_b64(b'{}')}.{_b64(b'sig')}"
    response = await client.post("/v1/verify", json={"jwt": token})
    assert response.status_code == 422, response.text
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (b'"name": "a\\u0000b"', "NUL"),
        (b'"n": 18446744073709551616', "64 bits"),
        (b'"x": 1e400', "range of a double"),
        (b'"a": ' + b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    ],
    ids=["escaped-nul", "integer-over-64-bits", "float-past-double", "nested-100000-deep"],
)
async def test_a_baked_credential_gets_the_screening_a_json_body_gets(client, member, expected):
    """What the edge refuses in a body is refused inside a baked image too (parse_credential_text)."""
    image = hand_built_png(chunk(b"iTXt", b"openbadgecredential\x00\x00\x00\x00\x00{" + member + b"}"))
    response = await client.post("/v1/verify", files={"file": ("badge.png", image, "image/png")})
    assert response.status_code == 422, response.text
    assert expected in response.json()["detail"] and "baked credential" in response.json()["detail"]
