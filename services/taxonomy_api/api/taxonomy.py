"""Routes of the taxonomy: scales, capabilities, skills, roles, achievements, pathways."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.api.resources import ERRORS, Resource, TaxonomyReader, add_item_routes
from services.taxonomy_api.db.tables import Achievement, Capability, Pathway, ProficiencyScale, Role, Skill
from services.taxonomy_api.domain import achievements, capabilities, pathways, roles, scales, skills
from shared.db import get_session
from shared.etag import json_with_etag
from shared.pagination import Page
from shared.repository import TenantRepository
from shared.schemas.taxonomy import (
    AchievementIn,
    AchievementOut,
    CapabilityIn,
    CapabilityOut,
    PathwayIn,
    PathwayOut,
    PathwayProgress,
    RoleIn,
    RoleOut,
    ScaleIn,
    ScaleOut,
    SkillAlignmentIn,
    SkillIn,
    SkillOut,
)

router = APIRouter(prefix="/v1")
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200)]
Filter = Annotated[str | None, Query(max_length=200)]


def base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url


async def _describe_plain(schema: type[BaseModel], _: Request, __: AsyncSession, row: object) -> BaseModel:
    return schema.model_validate(row)


async def _describe_scale(request: Request, session: AsyncSession, row: ProficiencyScale) -> BaseModel:
    return await _describe_plain(ScaleOut, request, session, row)


async def _describe_capability(request: Request, session: AsyncSession, row: Capability) -> BaseModel:
    return await _describe_plain(CapabilityOut, request, session, row)


async def _describe_skill(_: Request, __: AsyncSession, skill: Skill) -> BaseModel:
    return SkillOut(
        id=skill.id,
        name=skill.name,
        description=skill.description,
        capability_id=skill.capability_id,
        scale_id=skill.scale_id,
        behaviours=skill.behaviours,
        alternative_labels=skill.alternative_labels,
        skill_type=skill.skill_type,
        reuse_level=skill.reuse_level,
        owner=skill.owner,
        review_by=skill.review_by,
        external_id=skill.external_id,
        framework_id=skill.framework_id,
        source=skill.source,
        tags=[tag.tag for tag in skill.tags],
        alignments=[SkillAlignmentIn.model_validate(alignment) for alignment in skill.alignments],
        created_at=skill.created_at,
        updated_at=skill.updated_at,
    )


async def _describe_role(_: Request, session: AsyncSession, role: Role) -> BaseModel:
    return await roles.describe_role(session, role.org_id, role)


async def _describe_achievement(request: Request, session: AsyncSession, row: Achievement) -> BaseModel:
    return await achievements.describe_achievement(session, row, base_url(request))


async def _describe_pathway(_: Request, session: AsyncSession, pathway: Pathway) -> BaseModel:
    return await pathways.describe_pathway(session, pathway)


SCALES = Resource(
    "proficiency scale", "/scales", ScaleIn, ScaleOut, scales.repository, scales.save_scale, _describe_scale
)
CAPABILITIES = Resource(
    "capability",
    "/capabilities",
    CapabilityIn,
    CapabilityOut,
    capabilities.repository,
    capabilities.save_capability,
    _describe_capability,
)
SKILLS = Resource("skill", "/skills", SkillIn, SkillOut, skills.repository, skills.save_skill, _describe_skill)
ROLES = Resource("role", "/roles", RoleIn, RoleOut, roles.repository, roles.save_role, _describe_role)
ACHIEVEMENTS = Resource(
    "achievement",
    "/achievements",
    AchievementIn,
    AchievementOut,
    achievements.repository,
    achievements.save_achievement,
    _describe_achievement,
)
PATHWAYS = Resource(
    "pathway", "/pathways", PathwayIn, PathwayOut, pathways.repository, pathways.save_pathway, _describe_pathway
)


async def _list(
    request: Request,
    session: AsyncSession,
    resource: Resource,
    repository: TenantRepository,
    statement: Select,
    *,
    cursor: str | None,
    limit: int,
) -> Response:
    """One page of `statement` (already scoped by `repository`) in name order, described and ETagged."""
    model = repository.model
    rows, next_cursor = await repository.page(statement, (model.name, model.id), cursor=cursor, limit=limit)
    items = [await resource.describe(request, session, row) for row in rows]
    return json_with_etag(request, {"items": items, "next_cursor": next_cursor})


def _name_like(model: type, name: str | None) -> list:
    return [func.lower(model.name).like(f"%{name.lower()}%")] if name else []  # type: ignore[attr-defined]


@router.get(
    "/scales", tags=["scales"], summary="List proficiency scales", response_model=Page[ScaleOut], responses=ERRORS
)
async def list_scales(
    request: Request,
    caller: TaxonomyReader,
    cursor: Cursor = None,
    limit: Limit = 50,
    name: Filter = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Scales by name; `name` filters by substring."""
    repository = scales.repository(session, caller.org_id)
    statement = repository.select(*_name_like(ProficiencyScale, name))
    return await _list(request, session, SCALES, repository, statement, cursor=cursor, limit=limit)


@router.get(
    "/capabilities",
    tags=["capabilities"],
    summary="List capabilities",
    response_model=Page[CapabilityOut],
    responses=ERRORS,
)
async def list_capabilities(
    request: Request,
    caller: TaxonomyReader,
    cursor: Cursor = None,
    limit: Limit = 50,
    name: Filter = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Capabilities (skill groups) by name; `name` filters by substring."""
    repository = capabilities.repository(session, caller.org_id)
    statement = repository.select(*_name_like(Capability, name))
    return await _list(request, session, CAPABILITIES, repository, statement, cursor=cursor, limit=limit)


@router.get("/skills", tags=["skills"], summary="Search skills", response_model=Page[SkillOut], responses=ERRORS)
async def list_skills(
    request: Request,
    caller: TaxonomyReader,
    cursor: Cursor = None,
    limit: Limit = 50,
    name: Annotated[str | None, Query(max_length=200, description="Substring of name or description")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    capability_id: uuid.UUID | None = None,
    external_id: Annotated[
        str | None, Query(max_length=2048, description="ESCO URI, O*NET element id or CASE CFItem URI")
    ] = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Skills by name, filtered by any combination of name, tag, capability and external identifier."""

    repository = skills.repository(session, caller.org_id)
    statement = skills.search_statement(
        repository, name=name, tag=tag, capability_id=capability_id, external_id=external_id
    )
    return await _list(request, session, SKILLS, repository, statement, cursor=cursor, limit=limit)


@router.get("/roles", tags=["roles"], summary="List roles", response_model=Page[RoleOut], responses=ERRORS)
async def list_roles(
    request: Request,
    caller: TaxonomyReader,
    cursor: Cursor = None,
    limit: Limit = 50,
    name: Filter = None,
    job_family: Filter = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Roles with their requirements; filter by name substring or exact job family."""
    criteria = _name_like(Role, name) + ([Role.job_family == job_family] if job_family else [])
    repository = roles.repository(session, caller.org_id)
    return await _list(request, session, ROLES, repository, repository.select(*criteria), cursor=cursor, limit=limit)


@router.get(
    "/achievements",
    tags=["achievements"],
    summary="List achievements",
    response_model=Page[AchievementOut],
    responses=ERRORS,
)
async def list_achievements(
    request: Request,
    caller: TaxonomyReader,
    cursor: Cursor = None,
    limit: Limit = 50,
    name: Filter = None,
    tier: Filter = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    skill_id: uuid.UUID | None = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Credential definitions; filter by name substring, tier, tag or a skill they certify."""

    repository = achievements.repository(session, caller.org_id)
    statement = achievements.search_statement(repository, name=name, tier=tier, tag=tag, skill_id=skill_id)
    return await _list(request, session, ACHIEVEMENTS, repository, statement, cursor=cursor, limit=limit)


@router.get("/pathways", tags=["pathways"], summary="List pathways", response_model=Page[PathwayOut], responses=ERRORS)
async def list_pathways(
    request: Request,
    caller: TaxonomyReader,
    cursor: Cursor = None,
    limit: Limit = 50,
    name: Filter = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Pathways by name; `name` filters by substring."""
    repository = pathways.repository(session, caller.org_id)
    statement = repository.select(*_name_like(Pathway, name))
    return await _list(request, session, PATHWAYS, repository, statement, cursor=cursor, limit=limit)


@router.get(
    "/pathways/{item_id}/progress",
    tags=["pathways"],
    summary="What remains to complete a pathway",
    response_model=PathwayProgress,
    responses=ERRORS,
)
async def pathway_progress(
    item_id: uuid.UUID,
    caller: TaxonomyReader,
    held: Annotated[list[uuid.UUID], Query(max_length=500, description="Achievement ids the learner holds")] = [],  # noqa: B006
    session: AsyncSession = Depends(get_session),
) -> PathwayProgress:
    """For a learner holding the `held` achievements: the missing steps in a valid order, those open now,
    and whether the capstone is due."""
    pathway = await pathways.repository(session, caller.org_id).get(item_id)
    return pathways.pathway_progress(await pathways.describe_pathway(session, pathway), held)


for _resource, _tag in (
    (SCALES, "scales"),
    (CAPABILITIES, "capabilities"),
    (SKILLS, "skills"),
    (ROLES, "roles"),
    (ACHIEVEMENTS, "achievements"),
    (PATHWAYS, "pathways"),
):
    add_item_routes(router, _resource, tag=_tag)
