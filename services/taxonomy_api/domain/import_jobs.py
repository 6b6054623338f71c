"""Import jobs: an import asked for through the API runs in the background and is a row, not a task in
memory. A worker leases a job, renews the lease while it runs and writes its progress; the import and
the job's success are committed together, and only by the worker still holding the lease, so a job
whose worker died (a restart, kill -9) is run again by the next worker and never lands twice."""

import asyncio
import contextlib
import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import ImportJob, ImportUpload
from services.taxonomy_api.domain.imports import ImportKind, ImportRejected, import_framework
from shared.db import Database, allow_long_statements, utcnow
from shared.errors import Forbidden, ProblemError, Unprocessable
from shared.repository import TenantRepository

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30
# An import is one transaction (it lands whole or not at all), bigger than any request: the whole ESCO
# release has statements and parsing pauses longer than a request's bounds (shared/db.py), so its
# transaction gets its own, still finite.
IMPORT_STATEMENT_TIMEOUT_MS = 10 * 60_000
IMPORT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 10 * 60_000
HEARTBEAT_SECONDS = 1.0
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 3
MAX_FILES = 20
FINISHED = ("succeeded", "failed")


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[ImportJob]:
    return TenantRepository(session, org_id, ImportJob, "import job")


def server_paths(paths: list[str], roots: list[str]) -> list[Path]:
    """Files on the server an admin named, each inside one of the configured import roots (symlinks
    resolved first, so none leads out)."""
    if not roots:
        raise Forbidden(
            "This server takes no server paths for imports (CREDSTACK_TAXONOMY_IMPORT_ROOTS is empty); "
            "upload the files."
        )
    allowed = [Path(root).resolve() for root in roots]
    resolved = []
    for index, raw in enumerate(paths):
        path = Path(raw).resolve()
        if not any(path.is_relative_to(root) for root in allowed):
            raise Forbidden(f"paths.{index} is outside the import roots.", field=f"paths.{index}")
        if not path.is_file():
            raise Unprocessable(f"paths.{index}: no such file on the server.", field=f"paths.{index}")
        resolved.append(path)
    return resolved


async def create_job(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: ImportKind,
    options: dict[str, Any],
    *,
    actor: str,
    paths: list[Path] | None = None,
    uploads: list[tuple[str, bytes]] | None = None,
) -> ImportJob:
    files = paths or []
    uploaded = uploads or []
    if not 1 <= len(files) + len(uploaded) <= MAX_FILES:
        raise Unprocessable(f"An import takes 1 to {MAX_FILES} files.", field="paths")
    job = repository(session, org_id).add(
        ImportJob(
            kind=kind,
            options=options,
            inputs=[str(path) for path in files] or [name for name, _ in uploaded],
            created_by=actor,
            stage="queued",
        )
    )
    await session.flush()
    for name, content in uploaded:
        session.add(ImportUpload(job_id=job.id, filename=Path(name).name or "upload", content=content))
    await session.flush()
    return job


def describe_job(job: ImportJob) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "options": job.options,
        "inputs": job.inputs,
        "counts": job.counts,
        "problems": job.problems,
        "error": job.error,
        "framework_id": str(job.framework_id) if job.framework_id else None,
        "attempts": job.attempts,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


async def get_job(session: AsyncSession, org_id: uuid.UUID, job_id: uuid.UUID) -> ImportJob:
    return await repository(session, org_id).get(job_id)


@dataclass
class _Board:
    """Progress written by the reader's thread and the applier, read by the heartbeat."""

    stage: str = "reading"
    done: int = 0
    total: int = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total


async def claim_next_job(database: Database, worker: str) -> uuid.UUID | None:
    """Leases the oldest queued job, or a running one whose worker's lease ran out. A compare-and-set
    on the row, so two workers (or replicas) never hold the same job."""
    now = utcnow()
    claimable = or_(ImportJob.status == "queued", (ImportJob.status == "running") & (ImportJob.lease_until < now))
    async with database.sessions() as session:
        job_id = await session.scalar(select(ImportJob.id).where(claimable).order_by(ImportJob.created_at).limit(1))
        if job_id is None:
            return None
        claimed = await session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, claimable)
            .values(
                status="running",
                lease_owner=worker,
                lease_until=now + timedelta(seconds=LEASE_SECONDS),
                attempts=ImportJob.attempts + 1,
                started_at=now,
            )
        )
        await session.commit()
        return job_id if claimed.rowcount == 1 else None


async def _heartbeat(database: Database, job_id: uuid.UUID, worker: str, board: _Board) -> None:
    """Renews the lease and publishes progress. On SQLite the import's own transaction holds the only
    write lock, so a beat may fail until it commits; it is tried again, never fatal."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        with contextlib.suppress(Exception):
            await _beat(database, job_id, worker, board)


async def _beat(database: Database, job_id: uuid.UUID, worker: str, board: _Board) -> None:
    async with database.sessions() as session:
        await session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.lease_owner == worker)
            .values(
                stage=board.stage[:64],
                progress_done=board.done,
                progress_total=board.total,
                lease_until=utcnow() + timedelta(seconds=LEASE_SECONDS),
            )
        )
        await session.commit()


async def _finish(session: AsyncSession, job_id: uuid.UUID, worker: str, *, status: str, **values: Any) -> bool:
    """Marks the job finished if this worker still holds it; False means another worker took it over."""
    result = await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.lease_owner == worker, ImportJob.status == "running")
        .values(status=status, finished_at=utcnow(), lease_owner=None, lease_until=None, **values)
    )
    return result.rowcount == 1


async def run_job(database: Database, job_id: uuid.UUID, worker: str, import_roots: list[str]) -> str:
    """Runs a leased job to its end; returns its final status ("lost" if the lease was taken over)."""
    board = _Board()
    heartbeat = asyncio.create_task(_heartbeat(database, job_id, worker, board))
    try:
        with tempfile.TemporaryDirectory(prefix="credstack-import-") as scratch:
            async with database.sessions() as session:
                job = await session.get(ImportJob, job_id)
                if job is None:
                    return "lost"
                if job.attempts > MAX_ATTEMPTS:
                    await _finish(
                        session, job_id, worker, status="failed", error=f"gave up after {MAX_ATTEMPTS} attempts"
                    )
                    await session.commit()
                    return "failed"
                org_id, kind, options, actor = job.org_id, job.kind, dict(job.options), job.created_by
                paths = await _input_files(session, job, Path(scratch), import_roots)
                await allow_long_statements(
                    session, statement_ms=IMPORT_STATEMENT_TIMEOUT_MS, idle_ms=IMPORT_IDLE_IN_TRANSACTION_TIMEOUT_MS
                )
                started = time.perf_counter()
                try:
                    outcome = await import_framework(session, org_id, kind, paths, options, actor=actor, progress=board)  # type: ignore[arg-type]
                except ImportRejected as rejected:
                    await session.rollback()
                    await _finish(
                        session,
                        job_id,
                        worker,
                        status="failed",
                        problems=rejected.report(),
                        counts={"read": rejected.counts},
                        error=str(rejected),
                    )
                    await session.commit()
                    return "failed"
                except ProblemError as problem:
                    await session.rollback()
                    await _finish(session, job_id, worker, status="failed", error=problem.detail)
                    await session.commit()
                    return "failed"
                counts = {**outcome.as_dict(), "seconds": round(time.perf_counter() - started, 3)}
                finished = await _finish(
                    session,
                    job_id,
                    worker,
                    status="succeeded",
                    stage="done",
                    counts=counts,
                    framework_id=outcome.applied.framework_id,
                    progress_done=board.total,
                    progress_total=board.total,
                )
                if not finished:
                    await session.rollback()
                    return "lost"
                await session.execute(ImportUpload.__table__.delete().where(ImportUpload.job_id == job_id))
                await session.commit()
                return "succeeded"
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat


async def _input_files(session: AsyncSession, job: ImportJob, scratch: Path, import_roots: list[str]) -> list[Path]:
    uploads = list(
        await session.scalars(select(ImportUpload).where(ImportUpload.job_id == job.id).order_by(ImportUpload.filename))
    )
    if not uploads:
        return server_paths(list(job.inputs), import_roots)
    paths = []
    for index, upload in enumerate(uploads):
        folder = scratch / str(index)
        folder.mkdir()
        path = folder / upload.filename
        path.write_bytes(upload.content)
        paths.append(path)
    return paths


async def release_job(database: Database, job_id: uuid.UUID, worker: str) -> bool:
    """Puts a job this worker abandons (the service is stopping) back in the queue at once, so another
    replica takes it now rather than when the lease lapses; the cut-short attempt does not count
    against the job's attempts. Nothing of it had landed: the import commits only at its end."""
    async with database.sessions() as session:
        result = await session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.lease_owner == worker, ImportJob.status == "running")
            .values(
                status="queued", stage="queued", lease_owner=None, lease_until=None, attempts=ImportJob.attempts - 1
            )
        )
        await session.commit()
    return result.rowcount == 1


async def run_import_worker(database: Database, import_roots: list[str], stop: asyncio.Event) -> None:
    """Runs jobs until `stop` is set; a failing round (database away) is logged and retried. Cancelled
    (the service stopping), it gives its current job back to the queue before it goes."""
    worker = uuid.uuid4().hex
    while not stop.is_set():
        try:
            job_id = await claim_next_job(database, worker)
            if job_id is not None:
                try:
                    status = await run_job(database, job_id, worker, import_roots)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):  # best effort: otherwise the lease lapses
                        await release_job(database, job_id, worker)
                    raise
                logger.info("import job %s %s", job_id, status)
                continue
        except Exception:  # the worker must outlive a database outage or a reader's bug
            logger.exception("import round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)
