"""The public CASE provider: published versions only, both CASE versions, problem+json for unknown ids."""

import json
import re
import uuid

import pytest
from sqlalchemy import func, select, update

from services.taxonomy_api.db.tables import TaxonomyVersion, VersionEntity
from services.taxonomy_api.domain.scales import ensure_default_scales
from services.taxonomy_api.domain.version_content import content_digest, read_working_taxonomy
from services.taxonomy_api.frameworks.apply import apply_bundle
from services.taxonomy_api.frameworks.case import own_document_identifier, read_case_package
from shared.db import utcnow
from tests.material import SHARED_DIR
from tests.taxonomy_api.frameworks.test_case import schema_errors

pytestmark = pytest.mark.anyio
CCSS = (SHARED_DIR / "data" / "case-1edtech" / "frameworks" / "what-standards-could-be-ccss-math-6-rp.json").read_text()
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PATHS = {"1.0": "/ims/case/v1p0", "1.1": "/ims/case/v1p1"}


def fresh_identifiers(text: str) -> tuple[dict[str, object], dict[str, str]]:
    """The package with every UUID replaced, consistently, by a new one: other tests' organisations
    import the same file, and CASE identifiers are global."""
    mapping: dict[str, str] = {}
    renamed = UUID.sub(lambda match: mapping.setdefault(match.group(0), str(uuid.uuid4())), text)
    return json.loads(renamed), mapping


async def publish(taxonomy_app, org_id: uuid.UUID) -> TaxonomyVersion:
    """Freeze the working taxonomy as the organisation's published version (governance's job, done
    directly here); the one before becomes superseded."""
    async with taxonomy_app.state.database.sessions() as session:
        content = await read_working_taxonomy(session, org_id, "http://testserver")
        await session.execute(
            update(TaxonomyVersion)
            .where(TaxonomyVersion.org_id == org_id, TaxonomyVersion.status == "published")
            .values(status="superseded")
        )
        number = (await session.scalar(select(func.count()).where(TaxonomyVersion.org_id == org_id))) + 1
        version = TaxonomyVersion(
            org_id=org_id, number=number, status="published", published_at=utcnow(), entity_count=content.count()
        )
        session.add(version)
        await session.flush()
        for kind, entity_id, body in content.items():
            name = body.get("name") or body.get("title") or body.get("identifier") or ""
            session.add(
                VersionEntity(
                    version_id=version.id,
                    kind=kind,
                    entity_id=entity_id,
                    name=name[:200],
                    digest=content_digest(body),
                    body=body,
                )
            )
        await session.commit()
        return version


async def import_package(taxonomy_app, org_id: uuid.UUID, package: dict[str, object]) -> None:
    bundle = read_case_package(package, file="package.json")
    assert bundle.problems == []
    async with taxonomy_app.state.database.sessions() as session:
        await apply_bundle(session, org_id, bundle)
        await session.commit()


async def test_a_published_framework_is_served_in_both_versions(client, taxonomy_app, org, new_org, bearer):
    package, ids = fresh_identifiers(CCSS)
    document_id = package["CFDocument"]["identifier"]
    await import_package(taxonomy_app, org, package)
    for path in PATHS.values():
        assert (await client.get(f"{path}/CFPackages/{document_id}")).status_code == 404  # not published yet
    await publish(taxonomy_app, org)
    other = await new_org()
    other_package, _ = fresh_identifiers(CCSS)
    await import_package(taxonomy_app, other, other_package)
    await publish(taxonomy_app, other)
    item = package["CFItems"][0]
    association = next(a for a in package["CFAssociations"] if a["associationType"] == "isChildOf")
    item_type = package["CFDefinitions"]["CFItemTypes"][0]["identifier"]
    for version, path in PATHS.items():
        listed = await client.get(f"{path}/CFDocuments")
        assert listed.status_code == 200
        identifiers = {document["identifier"] for document in listed.json()["CFDocuments"]}
        # Every organisation's published frameworks are public.
        assert {document_id, other_package["CFDocument"]["identifier"]} <= identifiers
        served = (await client.get(f"{path}/CFPackages/{document_id}")).json()
        assert schema_errors(served, version) == []
        assert len(served["CFItems"]) == 16 and len(served["CFAssociations"]) == 39
        document = (await client.get(f"{path}/CFDocuments/{document_id}")).json()
        assert document["CFPackageURI"]["uri"].endswith(f"{path}/CFPackages/{document_id}")
        got = (await client.get(f"{path}/CFItems/{item['identifier']}")).json()
        assert got["fullStatement"] == item["fullStatement"] and got["CFDocumentURI"]["identifier"] == document_id
        got = (await client.get(f"{path}/CFAssociations/{association['identifier']}")).json()
        assert got["associationType"] == "isChildOf"
        pair = (await client.get(f"{path}/CFItemAssociations/{item['identifier']}")).json()
        assert pair["CFItem"]["identifier"] == item["identifier"]
        ends = {
            (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"]) for a in pair["CFAssociations"]
        }
        expected = {
            (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
            for a in package["CFAssociations"]
            if item["identifier"] in (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
        }
        assert ends == expected and len(ends) == 6
        types = (await client.get(f"{path}/CFItemTypes/{item_type}")).json()
        assert [record["identifier"] for record in types["CFItemTypes"]] == [item_type]


async def test_unknown_identifiers_are_problems(client):
    for path in PATHS.values():
        for kind in (
            "CFDocuments",
            "CFPackages",
            "CFItems",
            "CFAssociations",
            "CFItemAssociations",
            "CFRubrics",
            "CFItemTypes",
            "CFConcepts",
            "CFLicenses",
            "CFSubjects",
            "CFAssociationGroupings",
        ):
            response = await client.get(f"{path}/{kind}/{uuid.uuid4()}")
            assert response.status_code == 404, (path, kind)
            assert response.headers["content-type"] == "application/problem+json"


async def test_drafts_never_show_until_published(client, taxonomy_app, org, bearer):
    """The organisation's own taxonomy: a change in the working tables shows only with the next
    publication; the older publication keeps answering under its own document identifier."""
    headers = bearer(org)
    async with taxonomy_app.state.database.sessions() as session:
        scale_id = str((await ensure_default_scales(session, org))["0-5"])
        await session.commit()
    group = await client.post("/v1/capabilities", json={"name": "Communication"}, headers=headers)
    created = await client.post(
        "/v1/skills",
        json={
            "name": "Active listening",
            "description": "first",
            "scale_id": scale_id,
            "capability_id": group.json()["id"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    skill = created.json()
    first = await publish(taxonomy_app, org)
    first_document = own_document_identifier(first.id)
    changed = {key: skill[key] for key in ("name", "scale_id", "capability_id")} | {"description": "second"}
    assert (await client.put(f"/v1/skills/{skill['id']}", json=changed, headers=headers)).status_code == 200
    for path in PATHS.values():
        item = (await client.get(f"{path}/CFItems/{skill['id']}")).json()
        assert item["fullStatement"] == "first"  # the draft's "second" is not published
        package = (await client.get(f"{path}/CFPackages/{first_document}")).json()
        assert {i["fullStatement"] for i in package["CFItems"]} == {"first", "Communication"}
    second = await publish(taxonomy_app, org)
    for version, path in PATHS.items():
        assert (await client.get(f"{path}/CFItems/{skill['id']}")).json()["fullStatement"] == "second"
        current = (await client.get(f"{path}/CFPackages/{own_document_identifier(second.id)}")).json()
        assert schema_errors(current, version) == [] and current["CFDocument"]["adoptionStatus"] == "Adopted"
        older = (await client.get(f"{path}/CFPackages/{first_document}")).json()
        assert older["CFDocument"]["adoptionStatus"] == "Deprecated"
        listed = {d["identifier"] for d in (await client.get(f"{path}/CFDocuments")).json()["CFDocuments"]}
        assert own_document_identifier(second.id) in listed and first_document not in listed


async def test_provider_routes_are_public_and_rate_limited(taxonomy_app):
    operations = [
        (path, operation)
        for path, item in taxonomy_app.openapi()["paths"].items()
        if path.startswith("/ims/case/")
        for operation in item.values()
    ]
    assert len(operations) == 2 * 12
    assert all(operation["tags"] == ["public"] for _, operation in operations)
    routes = [route for route in taxonomy_app.routes if getattr(route, "path", "").startswith("/ims/case/")]
    from shared.rate_limit import public_rate_limit

    assert all(any(d.call is public_rate_limit for d in route.dependant.dependencies) for route in routes)
