"""Bounds on uploaded images, checked before anything is decoded or decompressed."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """Every ceiling an uploaded badge image must stay under; one place to tune them."""

    max_image_bytes: int = 8 * 1024 * 1024
    # PNG: a badge is a few hundred pixels square; 4096 x 4096 RGBA is already 64 MiB decoded.
    max_width: int = 4096
    max_height: int = 4096
    max_chunk_bytes: int = 8 * 1024 * 1024
    max_chunks: int = 4096
    # SVG: element count bounds parse time and memory beyond what the byte limit alone does.
    max_svg_elements: int = 100_000
    # The baked credential itself (a JWT or JSON document).
    max_credential_bytes: int = 1024 * 1024


DEFAULT_LIMITS = ImageLimits()
