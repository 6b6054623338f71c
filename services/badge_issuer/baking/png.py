"""Open Badges 3.0 PNG baking: an uncompressed ``iTXt`` chunk with keyword ``openbadgecredential``.

Open Badges 2.0 images are read too (never written): an ``iTXt`` (or legacy ``tEXt``) chunk with
keyword ``openbadges`` holding the assertion's JSON or its JWS (OB 2.0 Baking Specification).

The chunk layer is handled here with ``struct`` and ``zlib.crc32`` rather than an image library so
that a hostile upload is measured (signature, CRCs, chunk lengths, IHDR dimensions, the inflated
size of the pixel data) before anything decodes it, and so baking never re-encodes the pixels.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.badge_issuer.baking.credential_payload import (
    BakedCredential,
    parse_credential_text,
    serialize_credential,
)
from services.badge_issuer.baking.errors import (
    CredentialNotFoundError,
    HostileImageError,
    InvalidImageError,
)
from services.badge_issuer.baking.limits import DEFAULT_LIMITS, ImageLimits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CREDENTIAL_KEYWORD = b"openbadgecredential"
OB2_ASSERTION_KEYWORD = b"openbadges"
MEDIA_TYPE = "image/png"

_MAX_PNG_CHUNK_LENGTH = 2**31 - 1  # PNG §5.3
_INFLATE_STEP = 64 * 1024
# Colour type -> (channels, allowed bit depths), PNG §11.2.2.
_COLOUR_TYPES: dict[int, tuple[int, frozenset[int]]] = {
    0: (1, frozenset({1, 2, 4, 8, 16})),
    2: (3, frozenset({8, 16})),
    3: (1, frozenset({1, 2, 4, 8})),
    4: (2, frozenset({8, 16})),
    6: (4, frozenset({8, 16})),
}
# Adam7 passes as (x start, y start, x step, y step), PNG §8.2.
_ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


@dataclass(frozen=True, slots=True)
class PngChunk:
    chunk_type: bytes
    data: bytes

    def serialize(self) -> bytes:
        crc = zlib.crc32(self.chunk_type + self.data)
        return struct.pack(">I", len(self.data)) + self.chunk_type + self.data + struct.pack(">I", crc)


@dataclass(frozen=True, slots=True)
class PngImage:
    """A PNG that passed validation: its header fields and its chunks in order."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    chunks: tuple[PngChunk, ...]


def validate_png(data: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> PngImage:
    """Check the whole datastream before trusting any of it; raise the typed error on the first fault.

    Order matters: sizes and dimensions are checked before the pixel data is inflated, and the
    inflation itself is capped at the exact size the header implies.
    """
    if len(data) > limits.max_image_bytes:
        raise HostileImageError(f"PNG is larger than {limits.max_image_bytes} bytes")
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidImageError("not a PNG (bad signature)")
    chunks = list(_iter_chunks(data, limits))
    if not chunks or chunks[0].chunk_type != b"IHDR":
        raise InvalidImageError("PNG does not start with an IHDR chunk")
    if chunks[-1].chunk_type != b"IEND" or chunks[-1].data:
        raise InvalidImageError("PNG does not end with an empty IEND chunk")
    width, height, bit_depth, colour_type, interlaced = _parse_ihdr(chunks[0].data, limits)
    if sum(chunk.chunk_type == b"IHDR" for chunk in chunks) != 1:
        raise InvalidImageError("PNG has more than one IHDR chunk")
    if sum(chunk.chunk_type == b"IEND" for chunk in chunks) != 1:
        raise InvalidImageError("PNG has chunks after IEND")
    if colour_type == 3 and not any(chunk.chunk_type == b"PLTE" for chunk in chunks):
        raise InvalidImageError("palette PNG has no PLTE chunk")
    expected_raw_bytes = _raw_image_size(width, height, bit_depth, colour_type, interlaced)
    _check_image_data(chunks, expected_raw_bytes)
    return PngImage(width, height, bit_depth, colour_type, interlaced, tuple(chunks))


def bake_credential(
    png_bytes: bytes,
    credential: str | Mapping[str, Any],
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> bytes:
    """Return the PNG with the credential in one ``iTXt`` chunk just before IEND.

    A JWT is baked as its compact JWS, a dict as JSON (OB 3.0 §5.3.1.1); any earlier
    ``openbadgecredential`` chunk is dropped, since the spec allows only one.
    """
    image = validate_png(png_bytes, limits=limits)
    text = serialize_credential(credential, max_bytes=limits.max_credential_bytes)
    credential_chunk = PngChunk(b"iTXt", _itxt_data(text))
    kept = [chunk for chunk in image.chunks[:-1] if not _is_credential_chunk(chunk)]
    output = bytearray(PNG_SIGNATURE)
    for chunk in (*kept, credential_chunk, image.chunks[-1]):
        output += chunk.serialize()
    return bytes(output)


def extract_credential_text(png_bytes: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> str:
    """The raw text of the ``openbadgecredential`` chunk (a compact JWS or JSON)."""
    image = validate_png(png_bytes, limits=limits)
    return _parse_itxt_text(_only_chunk(image, _is_credential_chunk, "openbadgecredential iTXt").data)


def extract_credential(png_bytes: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> BakedCredential:
    """The baked credential: a compact JWS string or the credential as a dict."""
    return parse_credential_text(extract_credential_text(png_bytes, limits=limits))


def extract_ob2_assertion_text(png_bytes: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> str:
    """The raw text of the OB 2.0 ``openbadges`` iTXt or tEXt chunk (an assertion's JSON or JWS),
    after the same whole-image validation as OB 3.0 extraction."""
    image = validate_png(png_bytes, limits=limits)
    chunk = _only_chunk(image, _is_ob2_assertion_chunk, "openbadges iTXt or tEXt")
    if chunk.chunk_type == b"iTXt":
        return _parse_itxt_text(chunk.data)
    # tEXt (PNG §11.3.4.3): keyword, NUL, Latin-1 text; never compressed.
    return chunk.data.partition(b"\0")[2].decode("latin-1")


def _only_chunk(image: PngImage, matches: Callable[[PngChunk], bool], what: str) -> PngChunk:
    found = [chunk for chunk in image.chunks if matches(chunk)]
    if not found:
        raise CredentialNotFoundError(f"PNG has no {what} chunk")
    if len(found) > 1:
        # The spec forbids a second chunk; two candidates would make the verified one ambiguous.
        raise InvalidImageError(f"PNG has more than one {what} chunk")
    return found[0]


def _iter_chunks(data: bytes, limits: ImageLimits) -> Iterator[PngChunk]:
    offset = len(PNG_SIGNATURE)
    count = 0
    while offset < len(data):
        if len(data) - offset < 12:
            raise InvalidImageError("PNG is truncated inside a chunk header")
        (length,) = struct.unpack_from(">I", data, offset)
        chunk_type = data[offset + 4 : offset + 8]
        if length > _MAX_PNG_CHUNK_LENGTH:
            raise InvalidImageError("PNG chunk length exceeds 2^31-1")
        if length > limits.max_chunk_bytes:
            raise HostileImageError(f"PNG chunk of {length} bytes exceeds the {limits.max_chunk_bytes} limit")
        if not chunk_type.isalpha() or not chunk_type.isascii():
            raise InvalidImageError(f"PNG chunk type {chunk_type!r} is not four ASCII letters")
        end = offset + 8 + length
        if end + 4 > len(data):
            raise InvalidImageError(f"PNG is truncated inside a {chunk_type.decode('ascii')} chunk")
        chunk_data = data[offset + 8 : end]
        (stored_crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(chunk_type + chunk_data) != stored_crc:
            raise InvalidImageError(f"PNG {chunk_type.decode('ascii')} chunk has a bad CRC")
        count += 1
        if count > limits.max_chunks:
            raise HostileImageError(f"PNG has more than {limits.max_chunks} chunks")
        yield PngChunk(chunk_type, chunk_data)
        offset = end + 4
        if chunk_type == b"IEND" and offset != len(data):
            raise InvalidImageError("PNG has data after IEND")


def _parse_ihdr(ihdr: bytes, limits: ImageLimits) -> tuple[int, int, int, int, bool]:
    if len(ihdr) != 13:
        raise InvalidImageError("PNG IHDR chunk must be 13 bytes")
    width, height, bit_depth, colour_type, compression, filter_method, interlace = struct.unpack(">IIBBBBB", ihdr)
    if not (0 < width <= _MAX_PNG_CHUNK_LENGTH and 0 < height <= _MAX_PNG_CHUNK_LENGTH):
        raise InvalidImageError("PNG dimensions must be between 1 and 2^31-1")
    if width > limits.max_width or height > limits.max_height:
        raise HostileImageError(f"PNG is {width}x{height}; the limit is {limits.max_width}x{limits.max_height}")
    if colour_type not in _COLOUR_TYPES or bit_depth not in _COLOUR_TYPES[colour_type][1]:
        raise InvalidImageError(f"PNG colour type {colour_type} with bit depth {bit_depth} is not valid")
    if compression != 0 or filter_method != 0 or interlace not in (0, 1):
        raise InvalidImageError("PNG IHDR has an unknown compression, filter or interlace method")
    return width, height, bit_depth, colour_type, interlace == 1


def _raw_image_size(width: int, height: int, bit_depth: int, colour_type: int, interlaced: bool) -> int:
    """Bytes the inflated IDAT stream must hold: one filter byte plus packed pixels per row."""
    bits_per_pixel = _COLOUR_TYPES[colour_type][0] * bit_depth

    def rows_size(pass_width: int, pass_height: int) -> int:
        if pass_width == 0 or pass_height == 0:
            return 0
        return pass_height * (1 + (pass_width * bits_per_pixel + 7) // 8)

    if not interlaced:
        return rows_size(width, height)
    return sum(rows_size((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy) for x0, y0, dx, dy in _ADAM7_PASSES)


def _check_image_data(chunks: list[PngChunk], expected_raw_bytes: int) -> None:
    """Inflate IDAT in bounded steps, discarding output: refuse a stream that inflates past the
    size IHDR implies (a decompression bomb) or falls short of it (a truncated image)."""
    idat_indexes = [index for index, chunk in enumerate(chunks) if chunk.chunk_type == b"IDAT"]
    if not idat_indexes:
        raise InvalidImageError("PNG has no IDAT chunk")
    if idat_indexes[-1] - idat_indexes[0] + 1 != len(idat_indexes):
        raise InvalidImageError("PNG IDAT chunks are not consecutive")
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for index in idat_indexes:
            pending = chunks[index].data
            while pending and not inflater.eof:
                produced += len(inflater.decompress(pending, _INFLATE_STEP))
                pending = inflater.unconsumed_tail
                if produced > expected_raw_bytes:
                    raise HostileImageError("PNG image data inflates beyond the size its header declares")
        while not inflater.eof:
            step = inflater.decompress(b"", _INFLATE_STEP)
            if not step:
                break
            produced += len(step)
            if produced > expected_raw_bytes:
                raise HostileImageError("PNG image data inflates beyond the size its header declares")
    except zlib.error as exc:
        raise InvalidImageError(f"PNG image data is not a valid zlib stream: {exc}") from exc
    if not inflater.eof or produced != expected_raw_bytes:
        raise InvalidImageError("PNG image data is truncated")


def _is_credential_chunk(chunk: PngChunk) -> bool:
    return chunk.chunk_type == b"iTXt" and chunk.data.split(b"\0", 1)[0] == CREDENTIAL_KEYWORD


def _is_ob2_assertion_chunk(chunk: PngChunk) -> bool:
    return chunk.chunk_type in (b"iTXt", b"tEXt") and chunk.data.split(b"\0", 1)[0] == OB2_ASSERTION_KEYWORD


def _itxt_data(text: str) -> bytes:
    # keyword, NUL, compression flag 0 and method 0 (spec: compression MUST NOT be used),
    # empty language tag, NUL, empty translated keyword, NUL, UTF-8 text (PNG §11.3.4.5).
    return CREDENTIAL_KEYWORD + b"\0" + b"\0\0" + b"\0" + b"\0" + text.encode("utf-8")


def _parse_itxt_text(data: bytes) -> str:
    _keyword, separator, rest = data.partition(b"\0")
    if not separator or len(rest) < 2:
        raise InvalidImageError("the baked iTXt chunk is truncated")
    compression_flag = rest[0]
    rest = rest[2:]
    _language_tag, separator_1, rest = rest.partition(b"\0")
    _translated_keyword, separator_2, text = rest.partition(b"\0")
    if not (separator_1 and separator_2):
        raise InvalidImageError("the baked iTXt chunk is malformed")
    if compression_flag != 0:
        # Never inflate it: the spec forbids compression, and refusing avoids a second bomb vector.
        raise InvalidImageError("the baked iTXt chunk is compressed, which the spec forbids")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidImageError("the baked iTXt text is not UTF-8") from exc


__all__ = [
    "CREDENTIAL_KEYWORD",
    "MEDIA_TYPE",
    "OB2_ASSERTION_KEYWORD",
    "PNG_SIGNATURE",
    "PngChunk",
    "PngImage",
    "bake_credential",
    "extract_credential",
    "extract_credential_text",
    "extract_ob2_assertion_text",
    "validate_png",
]
