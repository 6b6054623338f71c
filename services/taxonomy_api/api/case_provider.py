"""The public CASE provider: every organisation's published taxonomy, read-only, in the REST binding of
CASE 1.0 (/ims/case/v1p0) and 1.1 (/ims/case/v1p1). Rate limited like every public route; nothing but
published (and, by identifier, superseded) versions is ever served (domain/case_catalogue.py)."""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.domain import case_catalogue
from services.taxonomy_api.frameworks.case import API_PATHS, CaseVersion
from shared.db import get_session
from shared.errors import NotFound
from shared.etag import json_with_etag
from shared.rate_limit import public_rate_limit

NOT_FOUND = {404: {"description": "No published object has this identifier (problem+json)"}}


def _base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url


def case_router(version: CaseVersion) -> APIRouter:
    """The provider's routes for one CASE version; both versions serve the same publications."""
    router = APIRouter(prefix=API_PATHS[version], tags=["public"], dependencies=[Depends(public_rate_limit)])

    async def record(request: Request, session: AsyncSession, identifier: str, where: str, noun: str):
        found = await case_catalogue.find_record(session, identifier, where, version, _base_url(request))
        if found is None:
            raise NotFound(f"No published {noun} {identifier}.")
        return found

    @router.get("/CFDocuments", summary=f"CASE {version}: every published framework")
    async def list_documents(request: Request, session: AsyncSession = Depends(get_session)) -> Response:
        """Public. The CFDocument of every organisation's current publication: each imported CASE
        framework, and the organisation's own taxonomy."""
        documents = await case_catalogue.current_documents(session, version, _base_url(request))
        return json_with_etag(request, {"CFDocuments": documents})

    @router.get("/CFDocuments/{identifier}", summary=f"CASE {version}: one published framework", responses=NOT_FOUND)
    async def get_document(request: Request, identifier: str, session: AsyncSession = Depends(get_session)) -> Response:
        """Public. The CFDocument, with CFPackageURI pointing at its package here."""
        package = await case_catalogue.find_package(session, identifier, version, _base_url(request))
        if package is None:
            raise NotFound(f"No published CFDocument {identifier}.")
        return json_with_etag(request, case_catalogue.document_with_package_link(package, version, _base_url(request)))

    @router.get("/CFPackages/{identifier}", summary=f"CASE {version}: a framework whole", responses=NOT_FOUND)
    async def get_package(request: Request, identifier: str, session: AsyncSession = Depends(get_session)) -> Response:
        """Public. The CFPackage of a published framework (by its CFDocument identifier): document,
        items, associations and definitions, valid against the CASE package schema of this version."""
        package = await case_catalogue.find_package(session, identifier, version, _base_url(request))
        if package is None:
            raise NotFound(f"No published CFPackage {identifier}.")
        return json_with_etag(request, package)

    @router.get("/CFItems/{identifier}", summary=f"CASE {version}: one item", responses=NOT_FOUND)
    async def get_item(request: Request, identifier: str, session: AsyncSession = Depends(get_session)) -> Response:
        """Public. A capability or skill of a published framework, as a CFItem."""
        item, package = await record(request, session, identifier, "CFItems", "CFItem")
        return json_with_etag(request, case_catalogue.item_with_document_link(item, package))

    @router.get("/CFAssociations/{identifier}", summary=f"CASE {version}: one association", responses=NOT_FOUND)
    async def get_association(
        request: Request, identifier: str, session: AsyncSession = Depends(get_session)
    ) -> Response:
        """Public. A relation the framework states between two nodes (isChildOf, exactMatchOf, …)."""
        association, package = await record(request, session, identifier, "CFAssociations", "CFAssociation")
        return json_with_etag(request, {**association, "CFDocumentURI": case_catalogue.document_link(package)})

    @router.get(
        "/CFItemAssociations/{identifier}", summary=f"CASE {version}: an item and its associations", responses=NOT_FOUND
    )
    async def get_item_associations(
        request: Request, identifier: str, session: AsyncSession = Depends(get_session)
    ) -> Response:
        """Public. The item and every association with it at either end."""
        item, package = await record(request, session, identifier, "CFItems", "CFItem")
        body: dict[str, Any] = {
            "CFItem": case_catalogue.item_with_document_link(item, package),
            "CFAssociations": case_catalogue.associations_of_item(package, identifier),
        }
        return json_with_etag(request, body)

    # Definitions: a set for the kinds the REST binding answers with a set (CFConceptSet, CFSubjectSet,
    # CFItemTypeSet), the record itself for the others.
    for kind, noun, as_set in (
        ("CFRubrics", "CFRubric", False),
        ("CFItemTypes", "CFItemType", True),
        ("CFConcepts", "CFConcept", True),
        ("CFSubjects", "CFSubject", True),
        ("CFLicenses", "CFLicense", False),
        ("CFAssociationGroupings", "CFAssociationGrouping", False),
    ):
        router.add_api_route(
            f"/{kind}/{{identifier}}",
            _definition_route(record, kind, noun, as_set),
            methods=["GET"],
            summary=f"CASE {version}: one {noun}",
            responses=NOT_FOUND,
            name=f"case_{version.replace('.', '_')}_{noun}",
        )
    return router


def _definition_route(record, kind: str, noun: str, as_set: bool):  # noqa: ANN001, ANN202 - a route factory
    async def get_definition(
        request: Request, identifier: str, session: AsyncSession = Depends(get_session)
    ) -> Response:
        found, _ = await record(request, session, identifier, kind, noun)
        return json_with_etag(request, {kind: [found]} if as_set else found)

    get_definition.__doc__ = f"Public. A {noun} a published framework defines."
    return get_definition


routers = [case_router("1.0"), case_router("1.1")]
