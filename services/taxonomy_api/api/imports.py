"""Framework imports as background jobs: 202 and a job to poll (progress, counts, every bad row)."""

import hashlib
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from services.taxonomy_api.db.tables import IdempotencyRecord, ImportJob
from services.taxonomy_api.domain import import_jobs
from services.taxonomy_api.domain.imports import IMPORT_KINDS, ImportKind
from shared import input_guard
from shared.auth import requires
from shared.db import get_session
from shared.errors import PayloadTooLarge, Unprocessable
from shared.idempotency import create_once
from shared.pagination import Page, paginate
from shared.uploads import bounded_form

router = APIRouter(prefix="/v1/imports", tags=["imports"])
ImportAdmin = requires("admin")
UPLOADS_PATH = "/v1/imports/uploads"
ERRORS = {
    401: {"description": "No or invalid access token"},
    403: {"description": "Not an admin token, or a server path outside the import roots"},
    404: {"description": "No such job in the caller's organisation"},
}


class ImportRequest(BaseModel):
    kind: ImportKind
    paths: list[Annotated[str, StringConstraints(min_length=1, max_length=4096)]] = Field(
        min_length=1, max_length=import_jobs.MAX_FILES, description="Files on the server, under the import roots."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="ESCO: collection, isco_group, essential_level, optional_level, …; O*NET: the level "
        "rule; every kind: retire_missing.",
    )


class UploadFingerprint(BaseModel):
    kind: str
    options: dict[str, Any]
    files: list[tuple[str, str]]


class ImportJobOut(BaseModel):
    id: uuid.UUID
    kind: str
    status: str = Field(description="queued, running, succeeded or failed.")
    stage: str
    progress: dict[str, int]
    options: dict[str, Any]
    inputs: list[str]
    counts: dict[str, Any]
    problems: list[dict[str, Any]] = Field(description="Every bad row (file, line, message); nothing was imported.")
    error: str
    framework_id: uuid.UUID | None
    attempts: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None


def _accepted(job: ImportJob) -> tuple[int, dict[str, Any]]:
    return 202, import_jobs.describe_job(job)


def _with_location(response: Response, job_id: str) -> Response:
    response.headers["Location"] = f"/v1/imports/{job_id}"
    return response


@router.post(
    "",
    status_code=202,
    response_model=ImportJobOut,
    summary="Import files on the server",
    responses={**ERRORS, 422: {"description": "Invalid kind, options or paths"}},
)
async def import_server_files(
    request: Request, body: ImportRequest, caller: ImportAdmin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Queue an import of files already on the server (admins; only under CREDSTACK_TAXONOMY_IMPORT_ROOTS).
    Poll the job: nothing lands unless every row is good, and then all of it lands in the draft."""
    paths = import_jobs.server_paths(body.paths, request.app.state.settings.import_roots)

    async def build() -> tuple[int, Any]:
        job = await import_jobs.create_job(
            session, caller.org_id, body.kind, body.options, actor=caller.client_id, paths=paths
        )
        return _accepted(job)

    response = await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=build)
    return _with_location(response, orjson.loads(response.body)["id"])


ZIP_MAGIC = b"PK\x03\x04"


@router.post(
    "/uploads",
    status_code=202,
    response_model=ImportJobOut,
    summary="Import uploaded files",
    responses={**ERRORS, 413: {"description": "Upload too large"}, 422: {"description": "Invalid kind or options"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["kind", "files"],
                        "properties": {
                            "kind": {"type": "string", "enum": list(IMPORT_KINDS)},
                            "options": {"type": "string", "description": "A JSON object of options."},
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                    }
                }
            },
        }
    },
)
async def import_uploaded_files(
    request: Request, caller: ImportAdmin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Queue an import of the files in a multipart body (field `files`, repeated; `kind`; `options` as
    JSON): the ESCO zips, O*NET text files, a CASE CFPackage, CSV files. Kept until the job ends."""
    limit = request.app.state.settings.max_upload_bytes
    async with bounded_form(request, max_files=import_jobs.MAX_FILES, max_fields=10, max_part_size=limit) as form:
        kind = form.get("kind")
        if kind not in IMPORT_KINDS:
            raise Unprocessable(f"kind must be one of {', '.join(IMPORT_KINDS)}.", field="kind")
        options = _options(form.get("options"))
        uploads: list[tuple[str, bytes]] = []
        for upload in form.getlist("files"):
            if not isinstance(upload, UploadFile):
                raise Unprocessable("files must be file parts.", field="files")
            data = await upload.read(limit + 1)
            if len(data) > limit:
                raise PayloadTooLarge(f"{upload.filename} is over the upload limit of {limit} bytes.")
            name = upload.filename or "upload"
            # The import reads the file as text or JSON; a zip is binary (its members are not screened here).
            refused = (
                None
                if data.startswith(ZIP_MAGIC)
                else input_guard.upload_problem(data, upload.content_type or "", f"the file {name}", as_text=True)
            )
            if refused:
                raise Unprocessable(refused, field="files")
            uploads.append((name, data))
    if not uploads:
        raise Unprocessable("Send the files to import in the field `files`.", field="files")
    fingerprint = UploadFingerprint(
        kind=str(kind), options=options, files=[(name, hashlib.sha256(data).hexdigest()) for name, data in uploads]
    )

    async def build() -> tuple[int, Any]:
        job = await import_jobs.create_job(
            session,
            caller.org_id,
            kind,
            options,
            actor=caller.client_id,
            uploads=uploads,  # type: ignore[arg-type]
        )
        return _accepted(job)

    response = await create_once(session, IdempotencyRecord, request, fingerprint, org_id=caller.org_id, create=build)
    return _with_location(response, orjson.loads(response.body)["id"])


def _options(raw: object) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    try:
        options = orjson.loads(str(raw))
    except orjson.JSONDecodeError as exc:
        raise Unprocessable("options must be a JSON object.", field="options") from exc
    if not isinstance(options, dict):
        raise Unprocessable("options must be a JSON object.", field="options")
    return options


# `:uuid`: GET /v1/imports/uploads is a method the uploads route lacks (405), not a job named "uploads".
@router.get("/{job_id:uuid}", response_model=ImportJobOut, summary="Get an import job", responses=ERRORS)
async def get_import_job(
    job_id: uuid.UUID, caller: ImportAdmin, session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    """The job's status, progress (stage, done of total), counts when done, and its report of bad rows."""
    return import_jobs.describe_job(await import_jobs.get_job(session, caller.org_id, job_id))


@router.get("", response_model=Page[ImportJobOut], summary="List import jobs", responses=ERRORS)
async def list_import_jobs(
    caller: ImportAdmin,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Any:
    """The organisation's import jobs, in id order (each once across pages)."""
    statement = import_jobs.repository(session, caller.org_id).select()
    jobs, next_cursor = await paginate(session, statement, [ImportJob.id], cursor=cursor, limit=limit)
    return {"items": [import_jobs.describe_job(job) for job in jobs], "next_cursor": next_cursor}
