"""Imports through the API: 202 and a job; every bad row reported with file and line, nothing landed;
a job whose worker died runs again and lands once."""

import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from services.taxonomy_api.db.tables import ImportJob, Skill
from services.taxonomy_api.domain import import_jobs
from shared.db import utcnow
from tests.live_platform import free_port, serving

pytestmark = pytest.mark.anyio

SKILLS_CSV = (
    "external_id,name,description,capability,scale,alternative_labels,tags\n"
    "acme:py,Python,Writes Python,Engineering,0-5,py|python3,code\n"
    'acme:talk,Presenting,"Explains things,\nclearly",Communication,kpm,,\n'
)
ROLES_CSV = (
    "role_external_id,role,job_family,skill_external_id,level,weight,criticality\n"
    "acme:dev,Developer,Engineering,acme:py,4,2,must\n"
    "acme:dev,Developer,Engineering,acme:talk,2,1,should\n"
)


def _upload(client: httpx.AsyncClient, headers: dict, files: dict[str, str], kind: str = "csv", **extra):
    parts = [("files", (name, content.encode(), "text/csv")) for name, content in files.items()]
    return client.post("/v1/imports/uploads", data={"kind": kind, **extra}, files=parts, headers=headers)


async def _run_queued(app, answer: httpx.Response) -> str:
    """Runs every queued job (other tests' too: the database is shared), then tells the status of the
    job `answer` queued."""
    database = app.state.database
    while (job_id := await import_jobs.claim_next_job(database, "test-worker")) is not None:
        await import_jobs.run_job(database, job_id, "test-worker", [])
    async with database.sessions() as session:
        return (await session.get(ImportJob, uuid.UUID(answer.json()["id"]))).status


async def _skill_count(app, org) -> int:
    async with app.state.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Skill).where(Skill.org_id == org))


async def test_an_uploaded_csv_import_runs_as_a_job_and_lands(client, taxonomy_app, org, bearer) -> None:
    headers = bearer(org, "admin")
    answer = await _upload(client, headers, {"skills.csv": SKILLS_CSV, "roles.csv": ROLES_CSV})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "queued" and answer.headers["location"] == f"/v1/imports/{job['id']}"
    assert await _run_queued(taxonomy_app, answer) == "succeeded"
    done = (await client.get(f"/v1/imports/{job['id']}", headers=headers)).json()
    assert done["status"] == "succeeded" and done["problems"] == []
    assert done["counts"]["applied"]["skills"]["created"] == 2
    assert done["counts"]["applied"]["roles"]["created"] == 1
    skills = (await client.get("/v1/skills", params={"name": "Presenting"}, headers=headers)).json()["items"]
    assert skills[0]["description"] == "Explains things,\nclearly" and skills[0]["external_id"] == "acme:talk"
    roles = (await client.get("/v1/roles", headers=headers)).json()["items"]
    developer = next(role for role in roles if role["name"] == "Developer")
    assert [(r["skill_name"], r["level"], r["criticality"]) for r in developer["requirements"]] == [
        ("Python", 4, "must"),
        ("Presenting", 2, "should"),
    ]


async def test_a_bad_file_is_reported_row_by_row_and_nothing_lands(client, taxonomy_app, org, bearer) -> None:
    headers = bearer(org, "admin")
    bad_roles = ROLES_CSV + "acme:dev,Developer,Engineering,acme:py,four,1,must\nacme:x,,,acme:py,1,1,maybe\n"
    bad_skills = SKILLS_CSV + ",Nameless,,,,,\n"
    answer = await _upload(client, headers, {"skills.csv": bad_skills, "roles.csv": bad_roles})
    assert await _run_queued(taxonomy_app, answer) == "failed"
    job = (await client.get(f"/v1/imports/{answer.json()['id']}", headers=headers)).json()
    # The quoted description spans lines 3-4 of skills.csv, so the nameless row is on line 5.
    assert [(p["file"], p["line"]) for p in job["problems"]] == [
        ("roles.csv", 4),
        ("roles.csv", 5),
        ("skills.csv", 5),
    ]
    assert "nothing was imported" in job["error"]
    assert await _skill_count(taxonomy_app, org) == 0


async def test_server_paths_only_under_the_import_roots(client, org, bearer, tmp_path) -> None:
    headers = bearer(org, "admin")
    body = {"kind": "csv", "paths": [str(tmp_path / "skills.csv")]}
    refused = await client.post("/v1/imports", json=body, headers=headers)
    assert refused.status_code == 403 and "IMPORT_ROOTS" in refused.json()["detail"]
    not_admin = await client.post("/v1/imports", json=body, headers=bearer(org, "taxonomy:write"))
    assert not_admin.status_code == 403


async def test_a_job_whose_worker_died_runs_again_and_lands_once(client, taxonomy_app, org, bearer) -> None:
    headers = bearer(org, "admin")
    database = taxonomy_app.state.database
    while (other := await import_jobs.claim_next_job(database, "drain")) is not None:
        await import_jobs.run_job(database, other, "drain", [])  # other tests' jobs, out of the way
    job_id = (await _upload(client, headers, {"skills.csv": SKILLS_CSV})).json()["id"]
    first = await import_jobs.claim_next_job(database, "worker-that-dies")
    assert str(first) == job_id
    # Its lease is fresh: nobody else may take the job.
    assert await import_jobs.claim_next_job(database, "second-worker") is None
    async with database.sessions() as session:
        await session.execute(update(ImportJob).values(lease_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
    second = await import_jobs.claim_next_job(database, "second-worker")
    assert str(second) == job_id
    # The first worker wakes up and finishes: it no longer holds the job, so nothing of it lands.
    assert await import_jobs.run_job(database, first, "worker-that-dies", []) == "lost"
    assert await _skill_count(taxonomy_app, org) == 0
    assert await import_jobs.run_job(database, second, "second-worker", []) == "succeeded"
    assert await _skill_count(taxonomy_app, org) == 2
    job = (await client.get(f"/v1/imports/{job_id}", headers=headers)).json()
    assert job["status"] == "succeeded" and job["attempts"] == 2


def test_the_service_runs_queued_jobs_by_itself(service_settings, bearer, tmp_path) -> None:
    """The worker lives in the service: a job queued while it was down runs when it comes up."""
    import asyncio

    from services.taxonomy_api.app import create_app
    from services.taxonomy_api.domain import organisations
    from services.taxonomy_api.settings import TaxonomySettings

    (tmp_path / "skills.csv").write_text(SKILLS_CSV)
    settings = service_settings(TaxonomySettings, "taxonomy_api", import_roots=[str(tmp_path)])
    app = create_app(settings)

    async def new_org():
        async with app.state.database.sessions() as session:
            organisation = await organisations.create_organisation(session, f"jobs-{time.time_ns()}")
            await session.commit()
        await app.state.database.dispose()
        return organisation.id

    org = asyncio.run(new_org())
    headers = bearer(org, "admin")
    with serving(app, free_port()) as url:
        queued = httpx.post(
            f"{url}/v1/imports", json={"kind": "csv", "paths": [str(tmp_path / "skills.csv")]}, headers=headers
        )
        assert queued.status_code == 202, queued.text
        deadline = time.monotonic() + 20
        while (job := httpx.get(f"{url}/v1/imports/{queued.json()['id']}", headers=headers).json())[
            "status"
        ] != "succeeded":
            assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["counts"]["applied"]["skills"]["created"] == 2


async def test_the_csv_export_imports_again_into_another_organisation(
    client, taxonomy_app, org, new_org, bearer
) -> None:
    headers = bearer(org, "admin")
    answer = await _upload(client, headers, {"skills.csv": SKILLS_CSV, "roles.csv": ROLES_CSV})
    assert await _run_queued(taxonomy_app, answer) == "succeeded"
    exported = {}
    for table in ("skills", "roles"):
        answer = await client.get("/v1/versions/draft/export", params={"format": f"{table}-csv"}, headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        exported[f"{table}.csv"] = answer.text
    other = await new_org("copy")
    other_headers = bearer(other, "admin")
    answer = await _upload(client, other_headers, exported)
    assert await _run_queued(taxonomy_app, answer) == "succeeded"

    def shape(document: dict) -> dict:
        skills = {s["id"]: s["external_id"] for s in document["skill"].values()}
        return {
            "skills": sorted(
                (s["external_id"], s["name"], s["description"], s["alternative_labels"], s["tags"])
                for s in document["skill"].values()
            ),
            "roles": sorted(
                (
                    r["external_id"],
                    r["name"],
                    [(skills[q["skill_id"]], q["level"], q["weight"]) for q in r["requirements"]],
                )
                for r in document["role"].values()
            ),
        }

    first = (await client.get("/v1/versions/draft/export", headers=headers)).json()
    second = (await client.get("/v1/versions/draft/export", headers=other_headers)).json()
    assert shape(first) == shape(second) and len(first["skill"]) == 2


@pytest.mark.parametrize("case_version", ["1.0", "1.1"])
async def test_a_case_package_uploaded_comes_back_from_the_export_route(
    client, taxonomy_app, org, bearer, case_version
) -> None:
    from tests.taxonomy_api.frameworks.test_case import CASE_DATA, package_bytes, schema_errors

    original = json.loads((CASE_DATA / "frameworks" / "act-holistic-framework-math-excerpt.json").read_text())
    headers = bearer(org, "admin")
    parts = [("files", ("act.json", package_bytes(original), "application/json"))]
    answer = await client.post("/v1/imports/uploads", data={"kind": "case"}, files=parts, headers=headers)
    assert await _run_queued(taxonomy_app, answer) == "succeeded"
    job = (await client.get(f"/v1/imports/{answer.json()['id']}", headers=headers)).json()
    params = {"format": f"case-{case_version}", "framework": job["framework_id"]}
    exported = await client.get("/v1/versions/draft/export", params=params, headers=headers)
    assert exported.status_code == 200, exported.text
    package = exported.json()
    assert schema_errors(package, case_version) == []
    assert {item["identifier"] for item in package["CFItems"]} == {item["identifier"] for item in original["CFItems"]}
    own = await client.get("/v1/versions/draft/export", params={"format": f"case-{case_version}"}, headers=headers)
    assert own.status_code == 200 and schema_errors(own.json(), case_version) == []


async def test_an_uploaded_file_with_what_no_field_accepts_is_refused_before_a_job_is_queued(
    client, taxonomy_app, org, bearer
) -> None:
    """The edge cannot read into a multipart body: each file is screened as text or JSON (whatever its
    label) when it arrives, so a NUL or a 2**64 never reaches a job that would fail on it at the insert."""
    headers = bearer(org, "admin")
    cases = [
        ("csv", ("skills.csv", (SKILLS_CSV + "acme:nul,N\x00ul,,,,,\n").encode(), "text/csv"), "NUL"),
        ("csv", ("skills.csv", (SKILLS_CSV + "acme:nul,N\x00ul,,,,,\n").encode(), "application/octet-stream"), "NUL"),
        ("case", ("case.json", b'{"CFDocument": {"title": "a\\u0000b"}}', "application/octet-stream"), "NUL"),
        ("case", ("case.json", b'{"CFDocument": {"n": 18446744073709551616}}', "application/json"), "64 bits"),
    ]
    for kind, upload, expected in cases:
        answer = await client.post(
            "/v1/imports/uploads", data={"kind": kind}, files=[("files", upload)], headers=headers
        )
        assert answer.status_code == 422, answer.text
        assert expected in answer.json()["detail"] and upload[0] in answer.json()["detail"]
    assert (await client.get("/v1/imports", headers=headers)).json()["items"] == []
