"""Exports of a version (or of the draft): the whole taxonomy as JSON, skills and roles as the CSV the
importer reads."""

import uuid
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.api.resources import ERRORS, TaxonomyReader
from services.taxonomy_api.domain import versions
from services.taxonomy_api.domain.version_content import (
    VersionContent,
    read_version_documents,
    read_working_taxonomy,
)
from services.taxonomy_api.frameworks.case import OwnTaxonomy, write_case_package
from services.taxonomy_api.frameworks.plain_csv import write_roles_csv, write_skills_csv
from shared.db import get_session
from shared.errors import NotFound

router = APIRouter(prefix="/v1/versions", tags=["versions"])
ExportFormat = Literal["json", "skills-csv", "roles-csv", "case-1.0", "case-1.1"]
VersionName = Annotated[
    str, Path(max_length=64, description="A version id, `published` (the current one) or `draft` (the working copy).")
]


async def version_content(request: Request, session: AsyncSession, org_id, version: str) -> VersionContent:  # noqa: ANN001
    if version == "draft":
        return await read_working_taxonomy(session, org_id, request.app.state.settings.public_base_url)
    found = await versions.get_version(session, org_id, version)
    if found.status == "draft":
        raise NotFound(f"No frozen version {version!r} in this organisation.")
    return await read_version_documents(session, found.id)


@router.get(
    "/{version}/export",
    summary="Export a version",
    responses={
        **ERRORS,
        200: {
            "content": {"application/json": {}, "text/csv": {}},
            "description": "The version as JSON documents by kind, or its skills or roles as CSV",
        },
    },
)
async def export_version(
    request: Request,
    version: VersionName,
    caller: TaxonomyReader,
    format: Annotated[ExportFormat, Query(description="json, skills-csv, roles-csv, case-1.0 or case-1.1")] = "json",
    framework: Annotated[
        uuid.UUID | None,
        Query(description="For CASE: the imported framework to write out; none: the organisation's own skills."),
    ] = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Everything in the version (`json`: documents by kind, each as the API shows it), its skills or
    roles in the plain CSV format `POST /v1/imports` reads back (`skills-csv`, `roles-csv`), or one of
    its frameworks as a CASE CFPackage (`case-1.0`, `case-1.1`; `framework` = an imported CASE framework's
    id, or none for the organisation's own capabilities and skills)."""
    content = await version_content(request, session, caller.org_id, version)
    if format == "json":
        return Response(orjson.dumps(content.documents), media_type="application/json")
    if format.startswith("case-"):
        package = _case_package(content, caller.org_id, version, framework, format.removeprefix("case-"), request)
        return Response(orjson.dumps(package), media_type="application/json")
    text = write_skills_csv(content) if format == "skills-csv" else write_roles_csv(content)
    filename = f"{'skills' if format == 'skills-csv' else 'roles'}-{version}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _case_package(
    content: VersionContent,
    org_id: uuid.UUID,
    version: str,
    framework: uuid.UUID | None,
    case_version: str,
    request: Request,
) -> dict:
    base_url = request.app.state.settings.public_base_url
    # The same CFDocument identifier as the CASE provider API gives the version (draft: the organisation's).
    version_id = content.version_id or uuid.uuid5(org_id, "draft")
    title, creator = "Skills taxonomy", str(org_id)
    if framework is not None:
        found = content.documents["framework"].get(str(framework))
        if found is None:
            raise NotFound(f"No imported framework {framework} in this version.", field="framework")
        title, creator = f"{found['title']} {found['release']}".strip(), found["kind"]
    own = OwnTaxonomy(version_id=version_id, title=title, creator=creator, version_label=version)
    framework_id = str(framework) if framework else None
    return write_case_package(content, framework_id, version=case_version, base_url=base_url, own=own)  # type: ignore[arg-type]
