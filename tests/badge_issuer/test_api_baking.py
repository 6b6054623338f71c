"""Baked downloads and baked-image verification through HTTP: round trips, tampering, hostile uploads."""

import zlib

import pytest

from services.badge_issuer.baking import bake_credential_into_image, extract_credential_from_image, png
from tests.badge_issuer.conftest import idempotent
from tests.badge_issuer.test_baking import BILLION_LAUGHS, chunk, hand_built_png, ihdr

# Marked at collection (not only by the root conftest's hook) so anyio's plugin sees the
# parametrized coroutine tests before their parameters are fixed.
pytestmark = pytest.mark.anyio


async def _issue(client, headers, assessment, proof_format: str) -> dict:
    body = assessment(proof_format=proof_format)
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


def _checks(result: dict) -> dict[str, str]:
    return {check["check"]: check["outcome"] for check in result["checks"]}


async def _verify_upload(client, data: bytes, filename: str, media_type: str):
    return await client.post("/v1/verify", files={"file": (filename, data, media_type)})


@pytest.mark.parametrize("image_format", ["png", "svg"])
@pytest.mark.parametrize("proof_format", ["data-integrity", "vc-jwt"])
async def test_a_baked_download_verifies_when_uploaded(client, headers, assessment, issuer, image_format, proof_format):
    issued = await _issue(client, headers, assessment, proof_format)
    response = await client.get(f"/v1/public/credentials/{issued['id']}/baked.{image_format}")
    assert response.status_code == 200, response.text
    media_type = "image/png" if image_format == "png" else "image/svg+xml"
    assert response.headers["content-type"].startswith(media_type)
    baked = response.content
    # What is inside is the credential as issued: the compact JWT, or the signed JSON.
    expected = issued["jwt"] if proof_format == "vc-jwt" else issued["credential"]
    assert extract_credential_from_image(baked) == expected
    etag = response.headers["etag"]
    again = await client.get(
        f"/v1/public/credentials/{issued['id']}/baked.{image_format}", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304

    result = (await _verify_upload(client, baked, f"badge.{image_format}", media_type)).json()
    assert result["verified"] is True, result["failures"]
    # What was found in the image comes back, as it would be sent as JSON.
    assert result["extracted"] == ({"jwt": issued["jwt"]} if proof_format == "vc-jwt" else issued["credential"])
    assert result["format"] == proof_format and result["issuer"] == issuer["did"]
    assert result["credential_id"] == f"urn:uuid:{issued['id']}"


async def test_a_baked_download_of_an_unknown_credential_is_404(client):
    response = await client.get("/v1/public/credentials/00000000-0000-4000-8000-000000000000/baked.png")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("image_format", ["png", "svg"])
async def test_a_tampered_baked_credential_fails_on_its_signature(client, headers, assessment, image_format):
    issued = await _issue(client, headers, assessment, "data-integrity")
    baked = (await client.get(f"/v1/public/credentials/{issued['id']}/baked.{image_format}")).content
    tampered = extract_credential_from_image(baked)
    tampered["credentialSubject"]["result"][0]["value"] = "100"
    rebaked, media_type = bake_credential_into_image(baked, tampered)
    result = (await _verify_upload(client, rebaked, f"badge.{image_format}", media_type)).json()
    assert result["verified"] is False
    assert _checks(result)["signature"] == "failed"
    assert "invalid_signature" in result["failures"][0]


async def test_a_tampered_baked_jwt_fails_on_its_signature(client, headers, assessment):
    issued = await _issue(client, headers, assessment, "vc-jwt")
    baked = (await client.get(f"/v1/public/credentials/{issued['id']}/baked.png")).content
    header, payload, signature = extract_credential_from_image(baked).split(".")
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    rebaked, _ = bake_credential_into_image(baked, f"{header}.{payload}.{forged_signature}")
    result = (await _verify_upload(client, rebaked, "badge.png", "image/png")).json()
    assert result["verified"] is False and _checks(result)["signature"] == "failed"


def _bad_crc_png() -> bytes:
    good = hand_built_png()
    at = good.index(b"IDAT") + 5
    return good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :]


HUGE_IHDR_PNG = png.PNG_SIGNATURE + ihdr(100_000, 100_000) + chunk(b"IDAT", b"junk") + chunk(b"IEND", b"")
# 1 KiB of zeros that claims a 2x2 image: inflates far past what the header allows.
INFLATING_PNG = png.PNG_SIGNATURE + ihdr(2, 2) + chunk(b"IDAT", zlib.compress(bytes(1 << 20))) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "filename", "media_type", "type_slug"),
    [
        pytest.param(_bad_crc_png(), "badge.png", "image/png", "invalid-image", id="bad CRC"),
        pytest.param(HUGE_IHDR_PNG, "badge.png", "image/png", "hostile-image", id="huge IHDR"),
        pytest.param(INFLATING_PNG, "badge.png", "image/png", "hostile-image", id="decompression bomb"),
        pytest.param(BILLION_LAUGHS, "badge.svg", "image/svg+xml", "hostile-image", id="billion laughs"),
        pytest.param(hand_built_png(), "badge.png", "image/png", "invalid-image", id="not baked"),
        pytest.param(b"GIF89a not a badge", "badge.gif", "image/gif", "invalid-image", id="not an image"),
    ],
)
async def test_a_hostile_or_broken_image_gets_a_422_problem(client, data, filename, media_type, type_slug):
    response = await _verify_upload(client, data, filename, media_type)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(type_slug)


async def test_an_oversized_upload_gets_a_413_problem(client):
    too_big = hand_built_png(chunk(b"tEXt", b"padding\x00" + bytes(2 * 1024 * 1024)))
    response = await _verify_upload(client, too_big, "badge.png", "image/png")
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_multipart_upload_without_a_file_field_is_a_422(client):
    response = await client.post("/v1/verify", data={"image": "nothing"}, files={"other": ("x.png", b"x", "image/png")})
    assert response.status_code == 422
    assert "file" in response.json()["detail"]


async def test_a_json_body_that_is_no_object_is_a_422(client):
    response = await client.post("/v1/verify", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert response.status_code == 422
    response = await client.post("/v1/verify", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
