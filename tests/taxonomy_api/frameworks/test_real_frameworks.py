"""Real frameworks through the database: the ESCO slice, then O*NET with Nesta's crosswalk, as an
organisation would bring them in; and a re-import that changes nothing."""

import pytest
from sqlalchemy import func, select

from services.taxonomy_api.db.tables import FrameworkAssociation, Role, RoleRequirement, Skill
from services.taxonomy_api.domain.imports import import_framework
from tests.material import SHARED_DIR

pytestmark = pytest.mark.anyio

DATA = SHARED_DIR / "data"
SLICE = DATA / "esco-v1.1.1" / "slice-ict-sales-service"
ONET = DATA / "onet-29.2" / "text-converted"
CROSSWALK = DATA / "esco-onet-crosswalk-nesta" / "esco_onet_crosswalk_Nov2020.csv"
ONET_FILES = [ONET / f"{name}.txt" for name in ("Occupation Data", "Skills", "Knowledge", "Content Model Reference")]


async def _count(session, statement) -> int:
    return await session.scalar(statement)


async def test_esco_and_onet_land_side_by_side_linked_by_the_crosswalk(taxonomy_app, org) -> None:
    async with taxonomy_app.state.database.sessions() as session:
        esco = await import_framework(session, org, "esco", sorted(SLICE.iterdir()), {}, actor="test")
        await session.commit()
        onet = await import_framework(session, org, "onet", [*ONET_FILES, CROSSWALK], {}, actor="test")
        await session.commit()
        assert esco.applied.counts["roles"].created == esco.read["roles"] == 136
        assert onet.applied.counts["roles"].created == onet.read["roles"] == 879
        roles = await _count(session, select(func.count()).select_from(Role).where(Role.org_id == org))
        requirements = await _count(
            session, select(func.count()).select_from(RoleRequirement).join(Role).where(Role.org_id == org)
        )
        assert roles == 136 + 879
        assert requirements == esco.read["requirements"] + onet.read["requirements"]

        # A crosswalk row whose ESCO end is in the slice and whose O*NET end was imported links two roles.
        role_ids = set(await session.scalars(select(Role.external_id).where(Role.org_id == org)))
        links = list(
            await session.execute(
                select(FrameworkAssociation.origin, FrameworkAssociation.destination).where(
                    FrameworkAssociation.org_id == org,
                    FrameworkAssociation.association_type.in_(["closeMatch", "isRelatedTo"]),
                )
            )
        )
        linked = [(a, b) for a, b in links if a in role_ids and b in role_ids]
        assert linked and all(b.startswith("onet:") for _, b in linked)

        programming = await session.scalar(
            select(Skill).where(Skill.org_id == org, Skill.external_id == "onet:2.B.3.e")
        )
        assert programming is not None and programming.name == "Programming"

        again = await import_framework(session, org, "esco", sorted(SLICE.iterdir()), {}, actor="test")
        await session.commit()
        assert not again.applied.changed


@pytest.mark.parametrize("case_version", ["1.0", "1.1"])
async def test_an_esco_import_exports_as_a_valid_case_package(client, taxonomy_app, org, bearer, case_version) -> None:
    from tests.taxonomy_api.frameworks.test_case import schema_errors

    async with taxonomy_app.state.database.sessions() as session:
        esco = await import_framework(session, org, "esco", sorted(SLICE.iterdir()), {}, actor="test")
        await session.commit()
    params = {"format": f"case-{case_version}", "framework": str(esco.applied.framework_id)}
    answer = await client.get("/v1/versions/draft/export", params=params, headers=bearer(org))
    assert answer.status_code == 200, answer.text
    package = answer.json()
    assert schema_errors(package, case_version) == []
    items = {item["uri"]: item for item in package["CFItems"]}
    assert len(items) == esco.read["skills"] + esco.read["capabilities"]
    assert all(uri.startswith("http://data.europa.eu/esco/") for uri in items)
