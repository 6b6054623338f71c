"""Definitions the credential mapping reads from taxonomy_api: achievements (their certified skill
levels) and our skills by external id (ESCO URI, O*NET code, CASE identifier).

Each read is cached per organisation with its ETag and revalidated every time (If-None-Match), so a
taxonomy change is seen at the next read while an unchanged definition costs a 304 and no parsing.
The cache lives on the app's TaxonomyClient (one per app) and reuses its HTTP client.
"""

import uuid
from collections import OrderedDict
from typing import Any

import httpx

from services.gap_engine.domain.taxonomy_client import TaxonomyClient, certified_skills
from shared.errors import Forbidden, ServiceUnavailable

MAX_CACHED_DEFINITIONS = 4_096
MAX_SKILLS_PER_TARGET = 50
_Key = tuple[uuid.UUID | None, str, str]


def _cache(taxonomy: TaxonomyClient) -> OrderedDict[_Key, tuple[str, Any]]:
    return taxonomy.__dict__.setdefault("_definition_cache", OrderedDict())


async def _get(
    taxonomy: TaxonomyClient,
    org_id: uuid.UUID | None,
    path: str,
    params: dict[str, Any],
    authorization: str | None,
) -> Any | None:
    """The JSON body at `path` (None on 404), revalidated against the cached copy. Public reads
    (no token) are cached under org None: they are the same for everyone."""
    cache = _cache(taxonomy)
    key: _Key = (org_id if authorization else None, path, repr(sorted(params.items())))
    headers = {"Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    cached = cache.get(key)
    if cached is not None:
        headers["If-None-Match"] = cached[0]
    try:
        response = await taxonomy.http.get(path, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
    if response.status_code == 304 and cached is not None:
        cache.move_to_end(key)
        return cached[1]
    if response.status_code == 404:
        cache.pop(key, None)
        return None
    if response.status_code in (401, 403):
        raise Forbidden("The taxonomy service refused the caller's token; it needs the taxonomy:read scope.")
    if response.status_code != 200:
        raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
    body = response.json()
    etag = response.headers.get("ETag")
    if etag:
        cache[key] = (etag, body)
        cache.move_to_end(key)
        while len(cache) > MAX_CACHED_DEFINITIONS:
            cache.popitem(last=False)
    return body


async def achievement_definition(
    taxonomy: TaxonomyClient, org_id: uuid.UUID, achievement_id: uuid.UUID, authorization: str | None
) -> dict[str, Any] | None:
    """The achievement with `skills` (certified levels); read with the caller's token, so only this
    organisation's achievements are found, or (no token: a webhook delivery) from its public JSON."""
    if authorization is None:
        document = await _get(taxonomy, None, f"/v1/public/achievements/{achievement_id}", {}, None)
        return None if document is None else {**document, "skills": certified_skills(document)}
    return await _get(taxonomy, org_id, f"/v1/achievements/{achievement_id}", {}, authorization)


async def skills_by_external_id(
    taxonomy: TaxonomyClient, org_id: uuid.UUID, target: str, authorization: str
) -> list[uuid.UUID]:
    """Our skills that keep `target` as an external id (target code or URL), exact match."""
    page = await _get(
        taxonomy, org_id, "/v1/skills", {"external_id": target, "limit": MAX_SKILLS_PER_TARGET}, authorization
    )
    items = page.get("items", []) if isinstance(page, dict) else []
    return [uuid.UUID(item["id"]) for item in items]


async def skill_exists(taxonomy: TaxonomyClient, org_id: uuid.UUID, skill_id: uuid.UUID, authorization: str) -> bool:
    """Whether the caller's organisation has this skill (another organisation's is a 404 there)."""
    return await _get(taxonomy, org_id, f"/v1/skills/{skill_id}", {}, authorization) is not None
