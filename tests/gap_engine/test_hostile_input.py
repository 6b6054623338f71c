"""The gap engine's own hostile-input cases from the fault probe: each a clear 4xx, never a 500."""

import uuid


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
