"""The create / read / replace / delete routes every taxonomy resource shares, declared once."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.revisions import current_revision
from services.taxonomy_api.db.tables import IdempotencyRecord
from services.taxonomy_api.domain import versions
from shared.auth import requires
from shared.db import get_session
from shared.etag import bytes_with_etag, json_bytes
from shared.grammar import with_article
from shared.idempotency import create_once
from shared.read_cache import RevisionedCache
from shared.repository import TenantRepository

TaxonomyReader = requires("taxonomy:read")
TaxonomyWriter = requires("taxonomy:write")

Describe = Callable[[Request, AsyncSession, Any], Awaitable[BaseModel]]
ERRORS = {
    401: {"description": "No or invalid access token"},
    403: {"description": "The token lacks the scope"},
    404: {"description": "Not found in the caller's organisation"},
    # The cached reads open their session by hand (only on a miss), so no dependency says so.
    503: {"description": "The database is unavailable: retry after Retry-After"},
}
WRITE_ERRORS = {
    **ERRORS,
    409: {"description": "Name already used in the organisation, or still referenced"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid body (the problem names the field)"},
}


# Each resource's kind in a version's frozen content (domain/version_content.py).
VERSION_KINDS = {
    "proficiency scale": "scale",
    "capability": "capability",
    "skill": "skill",
    "role": "role",
    "achievement": "achievement",
    "pathway": "pathway",
}


@dataclass(frozen=True)
class Resource:
    noun: str
    path: str
    schema_in: type[BaseModel]
    schema_out: type[BaseModel]
    repository: Callable[[AsyncSession, uuid.UUID], TenantRepository]
    save: Callable[..., Awaitable[Any]]
    describe: Describe


def add_item_routes(router: APIRouter, resource: Resource, *, tag: str) -> None:
    """POST (idempotent), GET one (ETag), PUT (replace) and DELETE for `resource`."""
    noun, schema_in, schema_out = resource.noun, resource.schema_in, resource.schema_out
    kind = VERSION_KINDS[noun]
    item_path = f"{resource.path}/{{item_id}}"

    async def create(
        request: Request,
        body: schema_in,  # type: ignore[valid-type]
        caller: TaxonomyWriter,
        session: AsyncSession = Depends(get_session),
    ) -> Response:
        async def build() -> tuple[int, Any]:
            saved = await resource.save(session, caller.org_id, body)
            described = await resource.describe(request, session, saved)
            return status.HTTP_201_CREATED, described.model_dump(mode="json")

        return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=build)

    async def read(
        request: Request,
        item_id: uuid.UUID,
        caller: TaxonomyReader,
        version: Annotated[
            Literal["draft", "published"],
            Query(
                description="`draft`: as it stands now; `published`: as the organisation's published version "
                "has it (what credentials and gap reports use; the same as draft until a first publication)."
            ),
        ] = "draft",
    ) -> Response:
        # The hot read: a cache hit needs no session at all, so one is opened only on a miss. Publishing
        # bumps the revision too, so a cached published body never outlives its version.
        database = request.app.state.database
        cache: RevisionedCache = request.app.state.read_cache
        revision = await current_revision(database, cache, caller.org_id)
        key = (noun, caller.org_id, item_id, version)
        body = cache.get(key, revision)
        if body is None:
            async with database.sessions() as session:
                published = None
                if version == "published":
                    published = await versions.body_as_published(session, caller.org_id, kind, str(item_id))
                if published is not None:
                    body = json_bytes(published[1])
                else:
                    found = await resource.repository(session, caller.org_id).get(item_id)
                    body = json_bytes(await resource.describe(request, session, found))
            cache.put(key, revision, body)
        return bytes_with_etag(request, body)

    async def replace(
        request: Request,
        item_id: uuid.UUID,
        body: schema_in,  # type: ignore[valid-type]
        caller: TaxonomyWriter,
        session: AsyncSession = Depends(get_session),
    ) -> BaseModel:
        saved = await resource.save(session, caller.org_id, body, item_id)
        described = await resource.describe(request, session, saved)
        await session.commit()
        return described

    async def delete(
        item_id: uuid.UUID, caller: TaxonomyWriter, session: AsyncSession = Depends(get_session)
    ) -> Response:
        repository = resource.repository(session, caller.org_id)
        await repository.delete(await repository.get(item_id))
        await session.commit()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    a_noun = with_article(noun)  # "an achievement"
    create.__doc__ = f"Create {a_noun}. Send an `Idempotency-Key` header to make retries safe."
    read.__doc__ = f"One {noun}. Answers 304 to `If-None-Match` with the current ETag."
    replace.__doc__ = f"Replace {a_noun} with the body (every field)."
    delete.__doc__ = f"Delete {a_noun}; refused with 409 while other objects refer to it."
    router.add_api_route(
        resource.path,
        create,
        methods=["POST"],
        tags=[tag],
        status_code=201,
        response_model=schema_out,
        summary=f"Create {a_noun}",
        responses=WRITE_ERRORS,
    )
    router.add_api_route(
        item_path,
        read,
        methods=["GET"],
        tags=[tag],
        response_model=schema_out,
        summary=f"Get {a_noun}",
        responses={**ERRORS, 304: {"description": "Not modified"}},
    )
    router.add_api_route(
        item_path,
        replace,
        methods=["PUT"],
        tags=[tag],
        response_model=schema_out,
        summary=f"Replace {a_noun}",
        responses=WRITE_ERRORS,
    )
    router.add_api_route(
        item_path,
        delete,
        methods=["DELETE"],
        tags=[tag],
        status_code=204,
        summary=f"Delete {a_noun}",
        responses=WRITE_ERRORS,
        response_class=Response,
    )
