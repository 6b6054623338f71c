"""The gap engine's own hostile-input cases from the fault probe: each a clear 4xx, never a 500."""

import base64
import json
import os
import uuid

from shared.webhooks import MAX_WEBHOOK_BODY_BYTES
from tests.badge_issuer.test_baking import chunk, hand_built_png


async def test_an_hris_id_that_is_only_whitespace_is_a_422_not_a_500(client, headers):
    response = await client.put("/v1/employees/%20E1", json={"name": "Ada"}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_csv_cell_over_the_csv_field_limit_names_its_line(client, headers):
    text = "hris_id,name\nE-1,Ada\nE-2," + "x" * 140_000 + "\n"
    response = await client.post(
        "/v1/employees/bulk/csv", content=text.encode(), headers={**headers, "content-type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("CSV line 3:")


async def test_a_csv_with_a_nul_byte_is_refused(client, headers):
    response = await client.post(
        "/v1/employees/bulk/csv",
        content=b"hris_id,name\nE-1,A\x00da\n",
        headers={**headers, "content-type": "text/csv"},
    )
    assert response.status_code == 422 and "NUL" in response.json()["detail"]


async def test_a_webhook_secret_that_is_not_a_key_is_refused_when_registered(client, headers):
    source = {"id": str(uuid.uuid4()), "name": "academy", "secret": "whsec_=========="}
    response = await client.post("/v1/webhook-sources", json=source, headers=headers)
    assert response.status_code == 422 and "base64" in response.text


async def test_a_credential_holding_an_integer_over_64_bits_is_refused(client, headers):
    await client.put("/v1/employees/E-1", json={"name": "Ada"}, headers=headers)
    response = await client.post(
        "/v1/employees/E-1/credentials",
        content=b'{"@context": [], "type": ["VerifiableCredential"], "n": 18446744073709551616}',
        headers={**headers, "content-type": "application/json"},
    )
    assert response.status_code == 422 and "64 bits" in response.json()["detail"]


async def test_a_csv_uploaded_as_multipart_with_a_nul_byte_is_refused_whatever_its_label(client, headers):
    """The edge screens a text/csv body but not a multipart one: the upload reader screens the file."""
    for media_type in ("text/csv", "application/octet-stream"):
        response = await client.post(
            "/v1/employees/bulk/csv",
            files={"file": ("people.csv", b"hris_id,name\nE-1,A\x00da\n", media_type)},
            headers=headers,
        )
        assert response.status_code == 422, response.text
        assert "NUL" in response.json()["detail"] and "file" in response.json()["detail"]


async def test_a_webhook_body_over_its_bound_is_a_413(client, headers):
    """Under the service's body bound (8 MiB) but over the webhook bound (1 MiB): too large, not invalid."""
    source = {"name": "academy", "secret": "whsec_" + base64.b64encode(os.urandom(24)).decode()}
    created = await client.post("/v1/webhook-sources", json=source, headers=headers)
    assert created.status_code == 201, created.text
    body = json.dumps({"type": "credential.issued", "pad": "x" * (MAX_WEBHOOK_BODY_BYTES + 1)}).encode()
    response = await client.post(
        created.json()["webhook_path"], content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert str(MAX_WEBHOOK_BODY_BYTES) in response.json()["detail"]


async def test_a_baked_credential_with_numbers_no_store_can_hold_is_refused_not_a_500(client, headers):
    """The edge cannot see into an image: an integer over 64 bits inside a baked PNG used to reach the
    rejected record's insert (orjson) and answer 500. The verifier now refuses to read it, so there is
    no credential to keep: a 422 with its reason, nothing stored."""
    await client.put("/v1/employees/E-1", json={"name": "Ada"}, headers=headers)
    for member in (b'"n": 18446744073709551616', b'"x": 1e400', b'"a": ' + b"[" * 5000 + b"]" * 5000):
        image = hand_built_png(chunk(b"iTXt", b"openbadgecredential\x00\x00\x00\x00\x00{" + member + b"}"))
        response = await client.post(
            "/v1/employees/E-1/credentials/baked", files={"file": ("b.png", image, "image/png")}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert "baked credential" in response.json()["detail"]
    listed = (await client.get("/v1/employees/E-1/credentials", headers=headers)).json()["items"]
    assert listed == []


async def test_a_multipart_body_past_its_field_bound_is_a_422_problem(client, headers):
    """Starlette answers more fields than a form allows with a bare 400; every upload route answers the
    422 problem other unprocessable bodies get, saying which bound (schemathesis found it)."""
    await client.put("/v1/employees/E-1", json={"name": "Ada"}, headers=headers)
    fields = [(f"extra{n}", (None, "x")) for n in range(6)] + [("file", ("b.png", b"\x89PNG", "image/png"))]
    response = await client.post("/v1/employees/E-1/credentials/baked", files=fields, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "Maximum number of fields is 5" in response.json()["detail"]
