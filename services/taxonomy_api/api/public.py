"""Public, unauthenticated, rate-limited reads: the URLs that appear inside issued credentials."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Achievement, AchievementSkill, Pathway, PathwayStep, Skill
from services.taxonomy_api.domain import achievements, pathways, versions
from shared.db import get_session
from shared.errors import NotFound
from shared.etag import json_with_etag
from shared.links import safe_url
from shared.rate_limit import public_rate_limit
from shared.schemas.taxonomy import AchievementOut, PathwayProgress
from shared.web.negotiation import prefers_html

router = APIRouter(prefix="/v1/public", tags=["public"], dependencies=[Depends(public_rate_limit)])


@router.get(
    "/achievements/{achievement_id}",
    summary="An achievement as Open Badges 3.0 JSON, or its page (HTML)",
    responses={200: {"content": {"application/ld+json": {}, "text/html": {}}}, 404: {"description": "No such object"}},
)
async def public_achievement(
    request: Request,
    achievement_id: uuid.UUID,
    format: Literal["json", "html"] | None = Query(  # noqa: A002 - the query parameter's public name
        None, description="Overrides the Accept header, e.g. for a plain link to the JSON from the page."
    ),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public. The stable `achievement.id` of issued credentials resolves here. A browser (Accept
    ranking text/html above JSON) gets the achievement's page: criteria, tier, the skills it
    certifies and at which level, how it is assessed and the KPIs it is expected to move."""
    achievement = await session.scalar(select(Achievement).where(Achievement.id == achievement_id))
    if achievement is None:
        raise NotFound(f"No achievement {achievement_id}.")
    base_url = request.app.state.settings.public_base_url
    # What credentials carry is the published version's achievement, once the organisation publishes.
    published = await versions.body_as_published(session, achievement.org_id, "achievement", str(achievement_id))
    if published is not None:
        cited_version, described = published[0], AchievementOut.model_validate(published[1])
    else:
        cited_version, described = None, await achievements.describe_achievement(session, achievement, base_url)
    if format == "html" or (format is None and prefers_html(request.headers.get("accept"))):
        return request.app.state.pages.render(
            request,
            "achievement.html",
            achievement=described,
            requirement=achievements.result_requirement_text(described.result_description),
            anchors=[(anchor, achievements.kpi_anchor_text(anchor)) for anchor in described.kpi_anchors],
            json_url=f"/v1/public/achievements/{described.id}?format=json",
            safe_url=safe_url,
            headers={"Vary": "Accept"},
        )
    response = json_with_etag(
        request, achievements.ob3_achievement(described, base_url, cited_version), media_type="application/ld+json"
    )
    response.headers["Vary"] = "Accept"
    return response


@router.get("/skills/{skill_id}", summary="A skill, the target of achievement alignments")
async def public_skill(
    request: Request,
    skill_id: uuid.UUID,
    version: Annotated[uuid.UUID | None, Query(description="A published (or superseded) version's id.")] = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public. Name, description and external alignments of a skill that an achievement certifies
    (any other skill of the organisation stays private: 404); with `version`, as that published
    version has it, certified by one of its achievements (what a credential issued then cites)."""
    if version is not None:
        frozen = await versions.certified_skill_body(session, version, str(skill_id))
        return json_with_etag(
            request,
            {
                "id": frozen["id"],
                "name": frozen["name"],
                "description": frozen["description"],
                "version_id": str(version),
                "alignments": [
                    {"framework": a["framework"], "target_code": a["target_code"], "target_url": a["target_url"]}
                    for a in frozen["alignments"]
                ],
            },
        )
    skill = await session.scalar(
        select(Skill).where(
            Skill.id == skill_id, select(AchievementSkill).where(AchievementSkill.skill_id == Skill.id).exists()
        )
    )
    if skill is None:  # not a skill, or one no achievement certifies: not public either way
        raise NotFound(f"No skill {skill_id}.")
    return json_with_etag(
        request,
        {
            "id": str(skill.id),
            "name": skill.name,
            "description": skill.description,
            "alignments": [
                {"framework": a.framework, "target_code": a.target_code, "target_url": a.target_url}
                for a in skill.alignments
            ],
        },
    )


@router.get("/achievements/{achievement_id}/pathways", summary="The pathways an achievement is a step of")
async def public_achievement_pathways(
    request: Request, achievement_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public, like the achievement: what a badge stacks into (steps, prerequisites, capstone), so a
    wallet shown without sign-in (an employee's shared link) can show the holder's progress."""
    if await session.scalar(select(Achievement.id).where(Achievement.id == achievement_id)) is None:
        raise NotFound(f"No achievement {achievement_id}.")
    rows = await session.scalars(
        select(Pathway)
        .join(PathwayStep, PathwayStep.pathway_id == Pathway.id)
        .where(PathwayStep.achievement_id == achievement_id)
        .order_by(Pathway.name, Pathway.id)
    )
    items = [(await pathways.describe_pathway(session, row)).model_dump(mode="json") for row in rows]
    return json_with_etag(request, {"items": items})


@router.get(
    "/pathways/{pathway_id}/progress", summary="What remains to complete a pathway", response_model=PathwayProgress
)
async def public_pathway_progress(
    pathway_id: uuid.UUID,
    held: Annotated[list[uuid.UUID], Query(max_length=500, description="Achievement ids the learner holds")] = [],  # noqa: B006
    session: AsyncSession = Depends(get_session),
) -> PathwayProgress:
    """Public: the same judgement as `GET /v1/pathways/{id}/progress`, for a pathway named by id (as a
    public achievement's pathways list them)."""
    pathway = await session.scalar(select(Pathway).where(Pathway.id == pathway_id))
    if pathway is None:
        raise NotFound(f"No pathway {pathway_id}.")
    return pathways.pathway_progress(await pathways.describe_pathway(session, pathway), held)
