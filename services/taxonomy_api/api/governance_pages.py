"""The governance pages for the people who keep the taxonomy: versions with their reviews, what is due
for review, and what changed between two versions. Thin routes over the domain the JSON API uses."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import TaxonomyVersion
from services.taxonomy_api.domain import versions
from shared.db import get_session
from shared.web.session import signed_in

router = APIRouter(prefix="/taxonomy", tags=["pages"], include_in_schema=False)
Keeper = signed_in("admin", "analyst")
VersionName = Annotated[str, Path(max_length=64)]
MAX_VERSIONS_SHOWN = 100
MAX_OVERDUE_SHOWN = 200


@router.get("/versions")
async def versions_page(request: Request, user: Keeper, session: AsyncSession = Depends(get_session)) -> Response:
    """Every version (newest first) with its reviews, and what is overdue for review today."""
    found = list(
        await session.scalars(
            select(TaxonomyVersion)
            .where(TaxonomyVersion.org_id == user.org_id)
            .order_by(TaxonomyVersion.number.desc())
            .limit(MAX_VERSIONS_SHOWN)
        )
    )
    reviews = await versions.reviews_by_version(session, [version.id for version in found])
    policy = await versions.get_policy(session, user.org_id)
    overdue = await versions.overdue(session, user.org_id, date.today(), MAX_OVERDUE_SHOWN)
    return request.app.state.pages.render(
        request,
        "governance.html",
        versions=found,
        published=next((version for version in found if version.status == "published"), None),
        reviews=reviews,
        policy=policy,
        overdue=overdue,
        today=date.today(),
    )


@router.get("/versions/{version_a}/diff/{version_b}")
async def diff_page(
    request: Request,
    version_a: VersionName,
    version_b: VersionName,
    user: Keeper,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """What changed from one version to another (`draft` and `published` allowed), kind by kind."""
    base_url = request.app.state.settings.public_base_url
    difference = await versions.diff(session, user.org_id, version_a, version_b, base_url)
    return request.app.state.pages.render(request, "version_diff.html", difference=difference)
