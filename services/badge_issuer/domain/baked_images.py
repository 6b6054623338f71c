"""Baked badge images: a credential inside its achievement's image, and back out for verification.

The achievement's own image_url is not fetched yet (that needs the SSRF-guarded fetcher), so every
credential is baked into the generated default image for its achievement name and tier.
"""

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.baking import (
    DEFAULT_LIMITS,
    BakingError,
    CredentialNotFoundError,
    HostileImageError,
    ImageFormat,
    bake_credential_into_image,
    extract_badge_from_image,
)
from services.badge_issuer.baking.default_image import TIER_PALETTES, default_badge_png, default_badge_svg
from services.badge_issuer.db.tables import Credential
from shared.errors import NotFound, PayloadTooLarge, Unprocessable


class HostileImage(Unprocessable):
    title, type_slug = "Hostile image", "hostile-image"


class InvalidImage(Unprocessable):
    title, type_slug = "Invalid image", "invalid-image"


# A tier the default palettes do not know (taxonomies may name their own) still gets an image.
FALLBACK_TIER = "foundational"


async def baked_credential(session: AsyncSession, credential_id: uuid.UUID, image_format: ImageFormat) -> bytes:
    """Public: the compact JWT (VC-JWT) or the signed JSON (Data Integrity), baked as OB 3.0 says."""
    credential = await session.get(Credential, credential_id)
    if credential is None:
        raise NotFound(f"No credential {credential_id}.")
    achievement = credential.document.get("credentialSubject", {}).get("achievement", {})
    name = achievement.get("name") if isinstance(achievement.get("name"), str) else "Achievement"
    tier = credential.achievement_tier if credential.achievement_tier in TIER_PALETTES else FALLBACK_TIER
    image = default_badge_png(name, tier) if image_format == "png" else default_badge_svg(name, tier)
    payload: str | dict[str, Any] = credential.compact_jwt or credential.document
    baked, _media_type = bake_credential_into_image(image, payload)
    return baked


def presented_from_image(data: bytes, max_bytes: int) -> dict[str, Any]:
    """The credential (OB 3.0) or assertion (OB 2.0) in an uploaded baked image, shaped as /v1/verify
    takes JSON. Every image failure is a 4xx problem: too big is 413, hostile, malformed or unbaked is 422."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The image exceeds the limit of {max_bytes} bytes.")
    limits = replace(DEFAULT_LIMITS, max_image_bytes=min(max_bytes, DEFAULT_LIMITS.max_image_bytes))
    try:
        extracted = extract_badge_from_image(data, limits=limits)
    except HostileImageError as error:
        raise HostileImage(f"Refused before decoding: {error}") from error
    except CredentialNotFoundError as error:
        raise InvalidImage(f"No baked credential: {error}") from error
    except BakingError as error:
        raise InvalidImage(f"Not a valid badge image: {error}") from error
    return {"jwt": extracted} if isinstance(extracted, str) else extracted
