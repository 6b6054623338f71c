"""A taxonomy service that stops while an import runs gives the job back to the queue: another
replica takes it at once (not when the lease lapses), and the cut-short attempt does not count."""

import asyncio
import uuid

import pytest
from sqlalchemy import update

from services.taxonomy_api.app import create_app
from services.taxonomy_api.db.tables import ImportJob
from services.taxonomy_api.domain import import_jobs
from services.taxonomy_api.settings import TaxonomySettings

pytestmark = pytest.mark.anyio

SKILLS_CSV = b"external_id,name\nacme:py,Python\n"


async def _job(database, job_id: uuid.UUID) -> ImportJob:
    async with database.sessions() as session:
        return await session.get(ImportJob, job_id)


async def test_stopping_the_service_gives_its_running_import_back_to_the_queue(service_settings, monkeypatch):
    app = create_app(service_settings(TaxonomySettings, "taxonomy_api"))
    database = app.state.database
    while (other := await import_jobs.claim_next_job(database, "drain")) is not None:
        await import_jobs.run_job(database, other, "drain", [])  # other tests' jobs, out of the way
    running = asyncio.Event()

    async def long_import(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - an ESCO import takes a minute
        running.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(import_jobs, "import_framework", long_import)
    async with database.sessions() as session:
        job = await import_jobs.create_job(
            session, uuid.uuid4(), "csv", {}, actor="test", uploads=[("skills.csv", SKILLS_CSV)]
        )
        await session.commit()
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(running.wait(), 10)
        leased = await _job(database, job.id)
        assert (leased.status, leased.attempts) == ("running", 1) and leased.lease_owner is not None
    released = await _job(database, job.id)
    assert (released.status, released.attempts, released.lease_owner, released.lease_until) == ("queued", 0, None, None)
    assert await import_jobs.claim_next_job(database, "another-replica") == job.id
    async with database.sessions() as session:  # not left for other tests to run
        await session.execute(update(ImportJob).where(ImportJob.id == job.id).values(status="failed", lease_owner=None))
        await session.commit()
    await database.dispose()
