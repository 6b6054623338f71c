"""The public verifier survives what an attacker can put inside a field the edge cannot see into."""

import base64


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_jwt_whose_header_is_nested_100000_deep_is_a_422(client):
    header = b"[" * 100_000 + b"]" * 100_000
    token = f"{_b64(header)}.{_b64(b'{}')}.{_b64(b'sig')}"
    response = await client.post("/v1/verify", json={"jwt": token})
    assert response.status_code == 422, response.text
    assert "nested too deeply" in response.json()["detail"]
