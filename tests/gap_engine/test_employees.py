"""HRIS inputs: employee upserts (single and bulk), reads, KPI observations."""

import uuid

from tests.gap_engine.conftest import employee


async def test_put_creates_then_replaces_an_employee(client, headers, roles):
    role = str(roles["Project Manager"])
    body = {"name": "Ada Lovelace", "email": "ada@example.com", "team": "Support", "target_role_id": role}
    created = await client.put("/v1/employees/E-1", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["hris_id"] == "E-1"
    assert created.json()["target_role_id"] == role

    replaced = await client.put("/v1/employees/E-1", json={"name": "Ada King", "team": "Sales"}, headers=headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["id"] == created.json()["id"]
    fetched = (await client.get("/v1/employees/E-1", headers=headers)).json()
    assert (fetched["name"], fetched["team"], fetched["email"], fetched["target_role_id"]) == (
        "Ada King",
        "Sales",
        None,
        None,
    )


async def test_unknown_employee_is_a_problem_404(client, headers):
    response = await client.get("/v1/employees/nobody", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_writes_need_hris_write_and_reads_need_gaps_read(client, bearer, org):
    readonly = bearer(org, "gaps:read")
    assert (await client.put("/v1/employees/E-1", json={"name": "x"}, headers=readonly)).status_code == 403
    writer = bearer(org, "hris:write")
    assert (await client.put("/v1/employees/E-1", json={"name": "x"}, headers=writer)).status_code == 201
    assert (await client.get("/v1/employees/E-1", headers=writer)).status_code == 403
    assert (await client.get("/v1/employees/E-1", headers=readonly)).status_code == 200


async def test_bulk_upsert_counts_created_and_updated_and_is_repeatable(client, headers):
    first = [employee(f"E-{n:04d}", team="Support" if n % 2 else "Sales") for n in range(3_000)]
    response = await client.post("/v1/employees/bulk", json={"employees": first}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 3_000, "created": 3_000, "updated": 0}

    # 1,000 known people with a new name, 2,000 new people: batches mix inserts and updates.
    second = [employee(f"E-{n:04d}", name=f"Renamed {n}") for n in range(2_000, 5_000)]
    response = await client.post("/v1/employees/bulk", json={"employees": second}, headers=headers)
    assert response.json() == {"received": 3_000, "created": 2_000, "updated": 1_000}
    again = await client.post("/v1/employees/bulk", json={"employees": second}, headers=headers)
    assert again.json() == {"received": 3_000, "created": 0, "updated": 3_000}

    fetched = (await client.get("/v1/employees/E-2500", headers=headers)).json()
    assert fetched["name"] == "Renamed 2500"
    assert fetched["team"] is None  # a bulk record replaces the whole record, like PUT
    assert (await client.get("/v1/employees/E-0001", headers=headers)).json()["team"] == "Support"


async def test_bulk_with_an_idempotency_key_replays_the_first_answer(client, headers):
    body = {"employees": [employee("E-1"), employee("E-2")]}
    keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/v1/employees/bulk", json=body, headers=keyed)
    replay = await client.post("/v1/employees/bulk", json=body, headers=keyed)
    assert first.json() == replay.json() == {"received": 2, "created": 2, "updated": 0}
    assert replay.headers["idempotent-replay"] == "true"


async def test_bulk_refuses_a_repeated_hris_id_and_oversized_lists(client, headers):
    repeated = await client.post(
        "/v1/employees/bulk", json={"employees": [employee("E-1"), employee("E-1")]}, headers=headers
    )
    assert repeated.status_code == 422
    too_many = [employee(f"E-{n}") for n in range(5_001)]
    assert (await client.post("/v1/employees/bulk", json={"employees": too_many}, headers=headers)).status_code in {
        413,
        422,
    }


async def test_list_pages_in_hris_id_order_and_filters_by_team(client, headers):
    people = [employee(f"E-{n}", team="Support" if n < 5 else "Sales") for n in range(7)]
    await client.post("/v1/employees/bulk", json={"employees": people}, headers=headers)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/employees", params=params, headers=headers)).json()
        seen += [item["hris_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"E-{n}" for n in range(7)]
    support = (await client.get("/v1/employees", params={"team": "Sales"}, headers=headers)).json()
    assert [item["hris_id"] for item in support["items"]] == ["E-5", "E-6"]


async def test_kpi_observations_need_known_people_and_a_resend_replaces_the_value(client, headers):
    await client.post("/v1/employees/bulk", json={"employees": [employee("E-1"), employee("E-2")]}, headers=headers)
    period = {"metric": "first_call_resolution", "period_start": "2026-01-01", "period_end": "2026-03-31"}
    body = {"observations": [{"hris_id": "E-1", "value": 0.71, **period}, {"hris_id": "E-2", "value": 0.64, **period}]}
    response = await client.post("/v1/kpi-observations", json=body, headers=headers)
    assert response.json() == {"received": 2, "created": 2, "updated": 0}
    body["observations"][0]["value"] = 0.75
    response = await client.post("/v1/kpi-observations", json=body, headers=headers)
    assert response.json() == {"received": 2, "created": 0, "updated": 2}

    unknown = {"observations": [{"hris_id": "E-404", "value": 1.0, **period}]}
    response = await client.post("/v1/kpi-observations", json=unknown, headers=headers)
    assert response.status_code == 404
    assert response.json()["missing"] == ["E-404"]
    backwards = {"observations": [{"hris_id": "E-1", "value": 1.0, **period, "period_end": "2025-12-31"}]}
    assert (await client.post("/v1/kpi-observations", json=backwards, headers=headers)).status_code == 422


async def test_csv_upload_upserts_like_the_json_form_and_names_the_bad_line(client, headers, roles):
    role = roles["Project Manager"]
    csv_text = (
        "\ufeffhris_id,name,email,team,hire_date,target_role_id\r\n"
        f"E-1,Ada Lovelace,ada@example.com,Support,2024-02-01,{role}\r\n"
        "E-2,Grace Hopper,,Sales,,\r\n"
    )
    csv_headers = {**headers, "Content-Type": "text/csv"}
    response = await client.post("/v1/employees/bulk/csv", content=csv_text.encode(), headers=csv_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 2, "created": 2, "updated": 0}
    ada = (await client.get("/v1/employees/E-1", headers=headers)).json()
    assert (ada["hire_date"], ada["target_role_id"], ada["team"]) == ("2024-02-01", str(role), "Support")
    grace = (await client.get("/v1/employees/E-2", headers=headers)).json()
    assert (grace["email"], grace["hire_date"]) == (None, None)

    bad_date = "hris_id,name,hire_date\nE-3,Alan,2024-01-01\nE-4,Barbara,not-a-date\n"
    response = await client.post("/v1/employees/bulk/csv", content=bad_date, headers=csv_headers)
    assert response.status_code == 422
    assert response.json()["line"] == 3
    assert (await client.get("/v1/employees/E-3", headers=headers)).status_code == 404  # all or nothing
    unknown_column = await client.post("/v1/employees/bulk/csv", content="hris_id,name,salary\n", headers=csv_headers)
    assert unknown_column.status_code == 422
    assert unknown_column.json()["unknown_columns"] == ["salary"]


async def test_bulk_takes_five_thousand_full_records_in_one_request(client, headers, roles):
    role = str(roles["Project Manager"])
    people = [
        employee(
            f"E-{n:05d}",
            email=f"person{n:05d}@example.com",
            manager_hris_id="E-00000",
            team="Customer Support",
            department="Customer Operations",
            hire_date="2024-01-01",
            current_role_id=role,
            target_role_id=role,
        )
        for n in range(5_000)
    ]
    response = await client.post("/v1/employees/bulk", json={"employees": people}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 5_000


async def test_an_unknown_target_role_is_refused_naming_the_field(client, headers, bearer, org, roles):
    """Issue 15: PUT with a role id no taxonomy has was accepted (and then had no gap to report)."""
    nowhere = str(uuid.uuid4())
    response = await client.put("/v1/employees/E-1", json={"name": "Ada", "target_role_id": nowhere}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.target_role_id"
    assert nowhere in response.json()["errors"][0]["message"]
    assert (await client.get("/v1/employees/E-1", headers=headers)).status_code == 404

    bulk = {
        "employees": [
            employee("E-2", target_role_id=str(roles["Project Manager"])),
            employee("E-3", current_role_id=nowhere),
        ]
    }
    response = await client.post("/v1/employees/bulk", json=bulk, headers=headers)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.employees.1.current_role_id"]

    csv_text = f"hris_id,name,target_role_id\nE-4,Grace,{nowhere}\n"
    response = await client.post(
        "/v1/employees/bulk/csv", content=csv_text, headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["line"] == 2

    real = str(roles["Project Manager"])
    response = await client.put("/v1/employees/E-1", json={"name": "Ada", "target_role_id": real}, headers=headers)
    assert response.status_code == 201, response.text
    # Another organisation's role is unknown here (taxonomy_api answers 404 to this caller).
    other = bearer(uuid.uuid4())
    response = await client.put("/v1/employees/E-9", json={"name": "Bo", "target_role_id": real}, headers=other)
    assert response.status_code == 422, response.text


async def test_csv_upload_takes_a_multipart_file_as_the_other_uploads_do(client, headers):
    """Issue 15: a multipart body was read as the CSV itself, its boundary line taken for the header."""
    csv_text = "hris_id,name,team\nE-1,Ada Lovelace,Support\nE-2,Grace Hopper,Sales\n"
    files = {"file": ("people.csv", csv_text.encode(), "text/csv")}
    response = await client.post("/v1/employees/bulk/csv", files=files, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 2, "created": 2, "updated": 0}
    assert (await client.get("/v1/employees/E-2", headers=headers)).json()["team"] == "Sales"

    response = await client.post(
        "/v1/employees/bulk/csv", data={"other": "x"}, files={"x": ("a", b"")}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "file"


async def test_csv_line_errors_name_each_field_as_other_problems_do(client, headers):
    """Issue 15: the CSV's per-record problems said only 'invalid value for'; they carry {field, message}."""
    bad_date = "hris_id,name,hire_date\nE-3,Alan,2024-01-01\nE-4,Barbara,not-a-date\n"
    response = await client.post(
        "/v1/employees/bulk/csv", content=bad_date, headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert set(error) == {"field", "message"}
    assert error["field"] == "line 3: hire_date"
