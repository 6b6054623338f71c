"""Definitions the credential mapping reads from taxonomy_api: achievements (their certified skill
levels) and our skills by external id (ESCO URI, O*NET code, CASE identifier).

Each read is cached with its ETag (per path and token) and revalidated every time (If-None-Match), so
a taxonomy change is seen at the next read while an unchanged definition costs a 304. The cache is the
app's TaxonomyClient's (one per app, shared/http_cache.py) and reuses its HTTP client.
"""

import uuid
from typing import Any

from services.gap_engine.domain.taxonomy_client import TaxonomyClient, certified_skills, refused_or_body

MAX_SKILLS_PER_TARGET = 50


async def _get(taxonomy: TaxonomyClient, path: str, params: dict[str, Any], authorization: str | None) -> Any | None:
    """The JSON body at `path` (None on 404), through the client's ETag cache (shared/http_cache.py):
    kept per path and token (public reads, with no token, are the same for everyone), revalidated at
    every read."""
    read = await taxonomy.reads.get(path, authorization=authorization, params=params or None)
    return None if read.status_code == 404 else refused_or_body(read)


async def achievement_definition(
    taxonomy: TaxonomyClient,
    org_id: uuid.UUID,
    achievement_id: uuid.UUID,
    authorization: str | None,
    public_token: str | None = None,
) -> dict[str, Any] | None:
    """The achievement with `skills` (certified levels); read with the caller's token, so only this
    organisation's achievements are found, or (no caller: a webhook delivery) from its public JSON,
    asked as the signed-in gap engine when it has a token so it is not held to the public rate limit."""
    if authorization is None:
        document = await _get(taxonomy, f"/v1/public/achievements/{achievement_id}", {}, public_token)
        return None if document is None else {**document, "skills": certified_skills(document)}
    return await _get(taxonomy, f"/v1/achievements/{achievement_id}", {"version": "published"}, authorization)


async def skills_by_external_id(
    taxonomy: TaxonomyClient, org_id: uuid.UUID, target: str, authorization: str
) -> list[tuple[uuid.UUID, str]]:
    """(id, name) of our skills that keep `target` as an external id (target code or URL), exact match."""
    page = await _get(taxonomy, "/v1/skills", {"external_id": target, "limit": MAX_SKILLS_PER_TARGET}, authorization)
    items = page.get("items", []) if isinstance(page, dict) else []
    return [(uuid.UUID(item["id"]), str(item["name"])) for item in items]


async def skill_exists(taxonomy: TaxonomyClient, org_id: uuid.UUID, skill_id: uuid.UUID, authorization: str) -> bool:
    """Whether the caller's organisation has this skill (another organisation's is a 404 there)."""
    return await _get(taxonomy, f"/v1/skills/{skill_id}", {}, authorization) is not None
