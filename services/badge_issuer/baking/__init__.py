"""Open Badges 3.0 baking: put a credential into a PNG or SVG badge image and get it back out.

Uploads are bounded and validated before decoding (see ``limits``); every failure is one of the
typed errors in ``errors`` so the API can map it to a 4xx problem response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from services.badge_issuer.baking import png, svg
from services.badge_issuer.baking.credential_payload import BakedCredential, parse_credential_text
from services.badge_issuer.baking.errors import (
    BakingError,
    CredentialNotFoundError,
    HostileImageError,
    InvalidImageError,
)
from services.badge_issuer.baking.limits import DEFAULT_LIMITS, ImageLimits

ImageFormat = Literal["png", "svg"]
MEDIA_TYPES: dict[ImageFormat, str] = {"png": png.MEDIA_TYPE, "svg": svg.MEDIA_TYPE}


def detect_image_format(data: bytes) -> ImageFormat:
    """Sniff the bytes, never the client's Content-Type: PNG by signature, SVG by an XML start."""
    if data.startswith(png.PNG_SIGNATURE):
        return "png"
    head = data[:512].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "svg"
    raise InvalidImageError("image is neither a PNG nor an SVG")


def bake_credential_into_image(
    image: bytes,
    credential: str | Mapping[str, Any],
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> tuple[bytes, str]:
    """Bake into whichever format ``image`` is; returns the baked bytes and their media type."""
    image_format = detect_image_format(image)
    module = png if image_format == "png" else svg
    return module.bake_credential(image, credential, limits=limits), MEDIA_TYPES[image_format]


def extract_credential_from_image(image: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> BakedCredential:
    """The credential baked into a PNG or SVG: a compact JWS string or a JSON dict."""
    module = png if detect_image_format(image) == "png" else svg
    return module.extract_credential(image, limits=limits)


def extract_badge_from_image(image: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> BakedCredential:
    """An OB 3.0 credential if the image holds one, else an OB 2.0 assertion (``openbadges`` chunk
    or ``openbadges:assertion`` element): a compact JWS string or a JSON dict."""
    module = png if detect_image_format(image) == "png" else svg
    try:
        return module.extract_credential(image, limits=limits)
    except CredentialNotFoundError as ob3_missing:
        try:
            text = module.extract_ob2_assertion_text(image, limits=limits)
        except CredentialNotFoundError as ob2_missing:
            raise CredentialNotFoundError(f"{ob3_missing}, and {ob2_missing} (Open Badges 2.0)") from ob2_missing
    if len(text.encode("utf-8")) > limits.max_credential_bytes:
        raise HostileImageError(f"the baked assertion is larger than {limits.max_credential_bytes} bytes")
    return parse_credential_text(text)


__all__ = [
    "DEFAULT_LIMITS",
    "MEDIA_TYPES",
    "BakedCredential",
    "BakingError",
    "CredentialNotFoundError",
    "HostileImageError",
    "ImageFormat",
    "ImageLimits",
    "InvalidImageError",
    "bake_credential_into_image",
    "detect_image_format",
    "extract_badge_from_image",
    "extract_credential_from_image",
    "parse_credential_text",
]
