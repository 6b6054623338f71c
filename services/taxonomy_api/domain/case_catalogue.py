"""What the public CASE provider serves: every organisation's published taxonomy versions as CFPackages,
one per imported CASE framework plus one for the organisation's own capabilities and skills.

Only frozen versions are read (VersionEntity rows of published and superseded versions), never the
working tables, so a draft shows nowhere until it is published. The current publication of each
organisation is listed and answers first; a superseded one still answers for identifiers only it has
(its own document's identifier is version-scoped), so links into an older publication keep resolving.
Where two organisations republish the same framework (same CASE identifiers), the newest publication
answers.

Versions never change once published, so the packages built from one are cached in process: a cache,
nothing a second replica needs."""

import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Organisation, TaxonomyVersion
from services.taxonomy_api.domain.version_content import read_version_documents
from services.taxonomy_api.frameworks.case import (
    API_PATHS,
    DEFINITION_KINDS,
    RUBRICS,
    CaseVersion,
    OwnTaxonomy,
    node_identifier,
    write_case_package,
)

SERVED_STATUSES = ("published", "superseded")
_CACHE_SIZE = 64


@dataclass(frozen=True)
class Publication:
    version_id: uuid.UUID
    org_id: uuid.UUID
    organisation: str
    number: int
    title: str
    status: str
    published_at: datetime | None


@dataclass
class PublishedPackages:
    """The CFPackages of one publication, by CFDocument identifier, with an index of what they hold."""

    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # identifier -> (CFDocument identifier, where in the package: "CFItems", "CFAssociations", a definition kind)
    index: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def find(self, identifier: str, where: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for document_id, found_in in self.index.get(identifier, []):
            if found_in == where:
                package = self.packages[document_id]
                return _records(package, where)[identifier], package
        return None


def _records(package: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    holder = package.get("CFDefinitions", {}) if where in DEFINITION_KINDS else package
    records = holder.get(where, [])
    return {record["identifier"]: record for record in records}


def _indexed(packages: dict[str, dict[str, Any]]) -> PublishedPackages:
    published = PublishedPackages(packages=packages)
    for document_id, package in packages.items():
        for where in ("CFItems", "CFAssociations", RUBRICS, *DEFINITION_KINDS):
            for identifier in _records(package, where):
                published.index.setdefault(identifier, []).append((document_id, where))
    return published


_cache: OrderedDict[tuple[uuid.UUID, str, str, str], PublishedPackages] = OrderedDict()


async def publications(session: AsyncSession, *, current_only: bool = False) -> list[Publication]:
    """Every organisation's served versions, the current ones first, newest first."""
    statuses = ("published",) if current_only else SERVED_STATUSES
    rows = await session.execute(
        select(TaxonomyVersion, Organisation.name)
        .join(Organisation, Organisation.id == TaxonomyVersion.org_id)
        .where(TaxonomyVersion.status.in_(statuses))
    )
    found = [Publication(v.id, v.org_id, name, v.number, v.title, v.status, v.published_at) for v, name in rows.all()]
    found.sort(
        key=lambda p: (p.status != "published", -(p.published_at.timestamp() if p.published_at else 0), -p.number)
    )
    return found


async def packages_of(
    session: AsyncSession, publication: Publication, version: CaseVersion, base_url: str
) -> PublishedPackages:
    # The status is in the key: a superseded version is the same content, deprecated.
    key = (publication.version_id, publication.status, version, base_url)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    content = await read_version_documents(session, publication.version_id)
    packages: dict[str, dict[str, Any]] = {}
    for framework_id, framework in content.documents["framework"].items():
        if framework["kind"] == "case":
            package = write_case_package(content, framework_id, version=version, base_url=base_url)
            packages[package["CFDocument"]["identifier"]] = package
    if any(body.get("framework_id") is None for kind in ("capability", "skill") for body in content.of(kind)):
        own = OwnTaxonomy(
            version_id=publication.version_id,
            title=publication.title or f"{publication.organisation} skills taxonomy",
            creator=publication.organisation,
            version_label=str(publication.number),
            # CASE adoptionStatus: the current publication is adopted, an older one deprecated.
            adoption_status="Adopted" if publication.status == "published" else "Deprecated",
        )
        package = write_case_package(content, None, version=version, base_url=base_url, own=own)
        packages[package["CFDocument"]["identifier"]] = package
    _cache[key] = published = _indexed(packages)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return published


async def _served(
    session: AsyncSession, version: CaseVersion, base_url: str, *, current_only: bool = False
) -> Iterator[PublishedPackages]:
    served = []
    for publication in await publications(session, current_only=current_only):
        served.append(await packages_of(session, publication, version, base_url))
    return iter(served)


async def current_documents(session: AsyncSession, version: CaseVersion, base_url: str) -> list[dict[str, Any]]:
    """The CFDocument of every current publication's packages (each identifier once: the newest)."""
    documents: dict[str, dict[str, Any]] = {}
    for published in await _served(session, version, base_url, current_only=True):
        for document_id, package in published.packages.items():
            documents.setdefault(document_id, document_with_package_link(package, version, base_url))
    return list(documents.values())


async def find_package(
    session: AsyncSession, identifier: str, version: CaseVersion, base_url: str
) -> dict[str, Any] | None:
    for published in await _served(session, version, base_url):
        if identifier in published.packages:
            return published.packages[identifier]
    return None


async def find_record(
    session: AsyncSession, identifier: str, where: str, version: CaseVersion, base_url: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A record (CFItem, CFAssociation, a definition) and the package it is in."""
    for published in await _served(session, version, base_url):
        found = published.find(identifier, where)
        if found is not None:
            return found
    return None


def document_link(package: dict[str, Any]) -> dict[str, str]:
    document = package["CFDocument"]
    return {"title": document["title"], "identifier": document["identifier"], "uri": document["uri"]}


def document_with_package_link(package: dict[str, Any], version: CaseVersion, base_url: str) -> dict[str, Any]:
    """A CFDocument as the CFDocuments endpoints give it: with CFPackageURI, its package on this server."""
    document = dict(package["CFDocument"])
    identifier = document["identifier"]
    document["CFPackageURI"] = {
        "title": document["title"],
        "identifier": identifier,
        "uri": f"{base_url.rstrip('/')}{API_PATHS[version]}/CFPackages/{identifier}",
    }
    return document


def item_with_document_link(item: dict[str, Any], package: dict[str, Any]) -> dict[str, Any]:
    """A CFItem as the CFItems endpoint gives it: with CFDocumentURI, the document it belongs to (a
    LinkURI; the pre-final dialect's bare string is replaced)."""
    link = item.get("CFDocumentURI")
    return {**item, "CFDocumentURI": link if isinstance(link, dict) else document_link(package)}


def associations_of_item(package: dict[str, Any], identifier: str) -> list[dict[str, Any]]:
    """Every association of the package with the item at either end."""
    return [
        record
        for record in package.get("CFAssociations", [])
        if identifier
        in (node_identifier(record.get("originNodeURI")), node_identifier(record.get("destinationNodeURI")))
    ]
