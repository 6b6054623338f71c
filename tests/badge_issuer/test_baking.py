"""OB 3.0 baking: PNG iTXt and SVG element round trips, hostile uploads, default images.

Readers independent of the code under test (pillow's PNG text chunks, ElementTree via defusedxml)
check what the baker writes, and pillow writes a chunk the extractor must read.
"""

import io
import json
import struct
import zlib

import pytest
from defusedxml import ElementTree
from PIL import Image, PngImagePlugin

from services.badge_issuer.baking import (
    BakingError,
    CredentialNotFoundError,
    HostileImageError,
    ImageLimits,
    InvalidImageError,
    bake_credential_into_image,
    default_image,
    detect_image_format,
    extract_credential_from_image,
    png,
    svg,
)

JWT = "eyJhbGciOiJFZERTQSIsImtpZCI6ImtleS0xIn0.eyJpc3MiOiJkaWQ6ZXhhbXBsZToxIn0.c2lnbmF0dXJlLWJ5dGVz"
CREDENTIAL = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ],
    "id": "urn:uuid:0b2c9e4e-9c5a-4c6f-8a1b-4f1a2b3c4d5e",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "name": "Conflict navigation — intermediate ]]> <not markup> & ünïcödé",
    "proof": [{"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z3abc"}],
}
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
CREDENTIAL_TAG = f"{{{OB_NAMESPACE}}}credential"


# --- PNG construction, independent of the module under test ----------------------------------


def chunk(chunk_type: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", zlib.crc32(chunk_type + data))


def ihdr(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))


def hand_built_png(*middle_chunks: bytes, width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG: every row is filter byte 0 then black pixels."""
    raw_rows = (b"\x00" + bytes(3 * width)) * height
    return (
        png.PNG_SIGNATURE
        + ihdr(width, height)
        + b"".join(middle_chunks)
        + chunk(b"IDAT", zlib.compress(raw_rows))
        + chunk(b"IEND", b"")
    )


def pillow_png(size: tuple[int, int] = (32, 24), pnginfo: PngImagePlugin.PngInfo | None = None) -> bytes:
    image = Image.new("RGBA", size, (200, 40, 90, 255))
    image.putpixel((3, 5), (1, 2, 3, 4))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=pnginfo)
    return buffer.getvalue()


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    found, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        found.append((data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return found


def credential_chunks(data: bytes) -> list[bytes]:
    return [body for kind, body in chunks_of(data) if kind == b"iTXt" and body.startswith(b"openbadgecredential\0")]


def pillow_text(data: bytes) -> dict[str, str]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return dict(image.text)


# --- PNG baking ------------------------------------------------------------------------------


def test_png_jwt_round_trip_and_pillow_reads_the_chunk() -> None:
    original = pillow_png()
    baked = png.bake_credential(original, JWT)
    assert png.extract_credential(baked) == JWT
    assert pillow_text(baked)["openbadgecredential"] == JWT


def test_png_json_round_trip_and_pillow_reads_the_chunk() -> None:
    baked = png.bake_credential(pillow_png(), CREDENTIAL)
    assert png.extract_credential(baked) == CREDENTIAL
    assert json.loads(pillow_text(baked)["openbadgecredential"]) == CREDENTIAL


def test_png_chunk_is_uncompressed_itxt_just_before_iend() -> None:
    baked = png.bake_credential(pillow_png(), JWT)
    kinds = [kind for kind, _ in chunks_of(baked)]
    assert kinds[-2:] == [b"iTXt", b"IEND"]
    # keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL
    assert chunks_of(baked)[-2][1] == b"openbadgecredential\0\0\0\0\0" + JWT.encode()


def test_png_baking_keeps_the_pixels() -> None:
    original = pillow_png()
    baked = png.bake_credential(original, CREDENTIAL)
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(baked))
    assert after.size == before.size and after.mode == before.mode
    assert after.tobytes() == before.tobytes()


def test_png_rebaking_replaces_the_earlier_credential() -> None:
    once = png.bake_credential(pillow_png(), JWT)
    twice = png.bake_credential(once, CREDENTIAL)
    assert len(credential_chunks(twice)) == 1
    assert png.extract_credential(twice) == CREDENTIAL


def test_png_chunk_written_by_pillow_is_extracted() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("openbadgecredential", JWT)
    assert png.extract_credential(pillow_png(pnginfo=info)) == JWT


def test_png_compressed_credential_chunk_is_refused() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("openbadgecredential", JWT, zip=True)
    with pytest.raises(InvalidImageError, match="compressed"):
        png.extract_credential(pillow_png(pnginfo=info))


def test_png_without_a_credential_is_reported_as_such() -> None:
    with pytest.raises(CredentialNotFoundError):
        png.extract_credential(pillow_png())


def test_png_with_two_credential_chunks_is_refused() -> None:
    itxt = b"openbadgecredential\0\0\0\0\0"
    doubled = hand_built_png(chunk(b"iTXt", itxt + JWT.encode()), chunk(b"iTXt", itxt + b"a.b.c"))
    with pytest.raises(InvalidImageError, match="more than one"):
        png.extract_credential(doubled)


def test_png_with_text_that_is_no_credential_is_refused() -> None:
    planted = hand_built_png(chunk(b"iTXt", b"openbadgecredential\0\0\0\0\0not a credential"))
    with pytest.raises(InvalidImageError):
        png.extract_credential(planted)


def test_baking_a_string_that_is_not_a_jws_is_refused() -> None:
    with pytest.raises(BakingError):
        png.bake_credential(pillow_png(), "not-a-jwt")


# --- PNG validation before decoding ----------------------------------------------------------


def test_hand_built_png_is_accepted() -> None:
    info = png.validate_png(hand_built_png(width=3, height=5))
    assert (info.width, info.height) == (3, 5)


ADAM7 = ["16462646", "77777777", "56565656", "77777777", "36463646", "77777777", "56565656", "77777777"]


def interlaced_png(width: int, height: int, missing_bytes: int = 0) -> bytes:
    """An Adam7 RGB PNG built pixel by pixel from the pass pattern (PNG spec figure 8.2)."""
    raw = b""
    for pass_number in "1234567":
        for y in range(height):
            row = [x for x in range(width) if ADAM7[y % 8][x % 8] == pass_number]
            if row:
                raw += b"\x00" + b"".join(bytes((x * 9 % 256, y * 31 % 256, 77)) for x in row)
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1))
    idat = chunk(b"IDAT", zlib.compress(raw[: len(raw) - missing_bytes]))
    return png.PNG_SIGNATURE + header + idat + chunk(b"IEND", b"")


def test_interlaced_png_is_measured_per_adam7_pass() -> None:
    data = interlaced_png(13, 7)
    image = Image.open(io.BytesIO(data))
    assert image.getpixel((12, 6)) == (12 * 9 % 256, 6 * 31 % 256, 77)  # pillow agrees on the layout
    assert png.validate_png(data).interlaced
    assert png.extract_credential(png.bake_credential(data, JWT)) == JWT
    with pytest.raises(InvalidImageError, match="truncated"):
        png.validate_png(interlaced_png(13, 7, missing_bytes=1))


def test_png_with_bad_signature_is_refused() -> None:
    with pytest.raises(InvalidImageError, match="signature"):
        png.validate_png(b"GIF89a" + pillow_png()[6:])


def test_png_with_a_bad_crc_is_refused() -> None:
    good = hand_built_png()
    idat_at = good.index(b"IDAT")
    corrupted = good[: idat_at + 5] + bytes([good[idat_at + 5] ^ 0xFF]) + good[idat_at + 6 :]
    with pytest.raises(InvalidImageError, match="CRC") as raised:
        png.validate_png(corrupted)
    assert not isinstance(raised.value, HostileImageError)


def test_png_with_huge_dimensions_is_refused_before_its_data_is_touched() -> None:
    # 100,000 x 100,000 would be 30 GB decoded; the IDAT is not even valid zlib, proving the
    # header is judged first.
    bomb = png.PNG_SIGNATURE + ihdr(100_000, 100_000) + chunk(b"IDAT", b"junk") + chunk(b"IEND", b"")
    with pytest.raises(HostileImageError, match="100000x100000"):
        png.validate_png(bomb)
    with pytest.raises(HostileImageError):
        png.bake_credential(bomb, JWT)
    with pytest.raises(HostileImageError):
        png.extract_credential(bomb)


def test_png_dimension_limit_is_inclusive_and_configurable() -> None:
    limits = ImageLimits(max_width=4, max_height=4)
    png.validate_png(hand_built_png(width=4, height=4), limits=limits)
    with pytest.raises(HostileImageError):
        png.validate_png(hand_built_png(width=5, height=4), limits=limits)


def test_png_whose_pixel_data_inflates_past_its_header_is_refused() -> None:
    # A 16 x 16 RGB header promises 784 bytes; this stream inflates to 64 MiB.
    compressor = zlib.compressobj(9)
    megabyte = bytes(1024 * 1024)
    stream = b"".join(compressor.compress(megabyte) for _ in range(64)) + compressor.flush()
    bomb = png.PNG_SIGNATURE + ihdr(16, 16) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
    with pytest.raises(HostileImageError, match="inflates"):
        png.validate_png(bomb)


def test_png_whose_pixel_data_is_short_is_refused() -> None:
    short = png.PNG_SIGNATURE + ihdr(16, 16) + chunk(b"IDAT", zlib.compress(bytes(10))) + chunk(b"IEND", b"")
    with pytest.raises(InvalidImageError, match="truncated"):
        png.validate_png(short)


def test_png_chunk_declaring_an_oversized_length_is_refused() -> None:
    good = hand_built_png()
    # A tEXt chunk header claiming 100 MB, followed by nothing.
    oversized = good[:33] + struct.pack(">I", 100_000_000) + b"tEXt" + b"\0" * 8
    with pytest.raises(HostileImageError, match="chunk"):
        png.validate_png(oversized)
    big_text = hand_built_png(chunk(b"tEXt", b"Comment\0" + b"x" * 4096))
    with pytest.raises(HostileImageError):
        png.validate_png(big_text, limits=ImageLimits(max_chunk_bytes=1024))


def test_png_over_the_total_size_limit_is_refused() -> None:
    with pytest.raises(HostileImageError):
        png.validate_png(pillow_png(), limits=ImageLimits(max_image_bytes=100))


def test_truncated_png_is_refused() -> None:
    good = pillow_png()
    with pytest.raises(InvalidImageError, match="truncated"):
        png.validate_png(good[: len(good) - 20])


def test_png_with_data_after_iend_is_refused() -> None:
    with pytest.raises(InvalidImageError, match="after IEND"):
        png.validate_png(hand_built_png() + b"trailing")


# --- SVG baking ------------------------------------------------------------------------------

PLAIN_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'viewBox="0 0 10 10" data-note="a > b">\n'
    b"  <!-- keep me -->\n"
    b'  <circle cx="5" cy="5" r="4" fill="#123456"/>\n'
    b"</svg>\n"
)


def test_svg_jwt_round_trip_puts_the_jws_in_verify() -> None:
    baked = svg.bake_credential(PLAIN_SVG, JWT)
    assert svg.extract_credential(baked) == JWT
    root = ElementTree.fromstring(baked)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    first = root[0]
    assert first.tag == CREDENTIAL_TAG
    assert first.get("verify") == JWT
    assert not (first.text or "").strip()


def test_svg_json_round_trip_puts_the_json_in_cdata() -> None:
    baked = svg.bake_credential(PLAIN_SVG, CREDENTIAL)
    assert svg.extract_credential(baked) == CREDENTIAL
    assert b"<openbadges:credential><![CDATA[{" in baked
    element = ElementTree.fromstring(baked)[0]
    assert element.tag == CREDENTIAL_TAG and element.get("verify") is None
    assert json.loads(element.text or "") == CREDENTIAL


def test_svg_declares_the_openbadges_namespace_on_the_root() -> None:
    baked = svg.bake_credential(PLAIN_SVG, JWT)
    root_start_tag = baked[baked.index(b"<svg") : baked.index(b"<openbadges:credential")]
    assert f'xmlns:openbadges="{OB_NAMESPACE}"'.encode() in root_start_tag


def test_svg_baking_keeps_the_rest_of_the_image_byte_for_byte() -> None:
    baked = svg.bake_credential(PLAIN_SVG, JWT)
    body_start = PLAIN_SVG.index(b">\n  <!--") + 1
    assert baked.endswith(PLAIN_SVG[body_start:])
    assert baked.startswith(PLAIN_SVG[: body_start - 1])


def test_svg_rebaking_replaces_the_earlier_credential() -> None:
    twice = svg.bake_credential(svg.bake_credential(PLAIN_SVG, JWT), CREDENTIAL)
    assert len(ElementTree.fromstring(twice).findall(CREDENTIAL_TAG)) == 1
    assert svg.extract_credential(twice) == CREDENTIAL
    assert twice.count(b"xmlns:openbadges") == 1


def test_svg_rebaking_over_a_nested_empty_credential_keeps_its_parent() -> None:
    nested = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB_NAMESPACE}">'
        f'<g id="keep"><openbadges:credential verify="a.b.c"/></g><circle r="1"/></svg>'
    ).encode()
    baked = svg.bake_credential(nested, CREDENTIAL)
    root = ElementTree.fromstring(baked)
    assert [child.tag.split("}")[1] for child in root] == ["credential", "g", "circle"]
    assert b'<g id="keep"></g>' in baked
    assert svg.extract_credential(baked) == CREDENTIAL


def test_svg_self_closing_root_is_opened_up() -> None:
    baked = svg.bake_credential(b'<svg xmlns="http://www.w3.org/2000/svg" title="x/>y"/>', JWT)
    assert ElementTree.fromstring(baked)[0].get("verify") == JWT


def test_svg_credential_written_as_text_is_extracted() -> None:
    foreign = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB_NAMESPACE}">'
        f"<openbadges:credential>\n  {JWT}\n</openbadges:credential></svg>"
    ).encode()
    assert svg.extract_credential(foreign) == JWT


def test_svg_element_in_another_namespace_is_not_a_credential() -> None:
    ob2 = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
        b'<openbadges:assertion verify="x"/></svg>'
    )
    with pytest.raises(CredentialNotFoundError):
        svg.extract_credential(ob2)


def test_svg_with_two_credentials_is_refused() -> None:
    doubled = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:ob="{OB_NAMESPACE}">'
        f'<ob:credential verify="{JWT}"/><g><ob:credential verify="a.b.c"/></g></svg>'
    ).encode()
    with pytest.raises(InvalidImageError, match="more than one"):
        svg.extract_credential(doubled)


def test_svg_binding_the_prefix_elsewhere_is_refused() -> None:
    clash = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="urn:other"/>'
    with pytest.raises(InvalidImageError, match="prefix"):
        svg.bake_credential(clash, JWT)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&secret;</text></svg>
"""
EXTERNAL_PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<svg xmlns="http://www.w3.org/2000/svg"/>
"""
ATTRIBUTE_DEFAULTS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ATTLIST openbadges:credential verify CDATA "e30.e30.c2ln">]>
<svg xmlns="http://www.w3.org/2000/svg"/>
"""


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(BILLION_LAUGHS, id="billion laughs"),
        pytest.param(EXTERNAL_ENTITY, id="external entity"),
        pytest.param(EXTERNAL_PARAMETER_ENTITY, id="external parameter entity"),
        pytest.param(ATTRIBUTE_DEFAULTS, id="attribute defaults"),
    ],
)
def test_svg_with_entities_or_attribute_declarations_is_refused(document: bytes) -> None:
    with pytest.raises(HostileImageError):
        svg.validate_svg(document)
    with pytest.raises(HostileImageError):
        svg.bake_credential(document, JWT)
    with pytest.raises(HostileImageError):
        svg.extract_credential(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<html><body/></html>", "root"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><g></svg>', "well-formed"),
        (b"", "well-formed"),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16"), "UTF-8"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><svg xmlns="http://www.w3.org/2000/svg"/>', "UTF-8"),
    ],
)
def test_svg_that_is_not_a_well_formed_utf8_svg_is_refused(document: bytes, message: str) -> None:
    with pytest.raises(InvalidImageError, match=message) as raised:
        svg.validate_svg(document)
    assert not isinstance(raised.value, HostileImageError)


def test_svg_over_the_size_or_element_limits_is_refused() -> None:
    many = b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g/>" * 200 + b"</svg>"
    svg.validate_svg(many)
    with pytest.raises(HostileImageError):
        svg.validate_svg(many, limits=ImageLimits(max_svg_elements=100))
    with pytest.raises(HostileImageError):
        svg.validate_svg(many, limits=ImageLimits(max_image_bytes=100))


# --- format dispatch -------------------------------------------------------------------------


def test_format_is_sniffed_from_the_bytes_and_both_round_trip() -> None:
    for image, media_type in ((pillow_png(), "image/png"), (PLAIN_SVG, "image/svg+xml")):
        baked, baked_type = bake_credential_into_image(image, JWT)
        assert baked_type == media_type
        assert extract_credential_from_image(baked) == JWT
    assert detect_image_format(b"\xef\xbb\xbf  <svg/>") == "svg"
    with pytest.raises(InvalidImageError):
        detect_image_format(b"GIF89a....")


# --- default images --------------------------------------------------------------------------


def test_default_svg_is_deterministic_parseable_and_escaped() -> None:
    name = 'Conflict <navigation> & "negotiation"\x00\x07'
    first = default_image.default_badge_svg(name, "intermediate")
    assert first == default_image.default_badge_svg(name, "intermediate")
    root = ElementTree.fromstring(first)
    namespace = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{namespace}svg"
    assert root.find(f"{namespace}title").text == 'Conflict <navigation> & "negotiation"'
    assert default_image.TIER_PALETTES["intermediate"].fill.encode() in first
    assert b"<navigation>" not in first


def test_default_svg_differs_by_tier_and_refuses_unknown_tiers() -> None:
    images = {default_image.default_badge_svg("Active listening", tier) for tier in default_image.TIER_PALETTES}
    assert len(images) == 3
    with pytest.raises(ValueError, match="tier"):
        default_image.default_badge_svg("Active listening", "expert")
    with pytest.raises(ValueError, match="name"):
        default_image.default_badge_svg(" \x01 ", "advanced")


def test_default_svg_wraps_a_long_name_into_at_most_three_lines() -> None:
    long_name = "Strategic storytelling for executive audiences across many regions and cultures"
    root = ElementTree.fromstring(default_image.default_badge_svg(long_name, "advanced"))
    lines = [span.text for span in root.iter("{http://www.w3.org/2000/svg}tspan")]
    assert 1 < len(lines) <= 3 and lines[-1].endswith("\u2026")
    assert all(len(line) <= 16 for line in lines)


def test_default_png_is_deterministic_and_opens_in_pillow() -> None:
    first = default_image.default_badge_png("Strategic storytelling", "advanced")
    assert first == default_image.default_badge_png("Strategic storytelling", "advanced")
    image = Image.open(io.BytesIO(first))
    image.load()
    assert image.format == "PNG" and image.size == (256, 256) and image.mode == "RGBA"
    centre = image.getpixel((128, 40))
    fill = default_image.TIER_PALETTES["advanced"].fill
    assert centre[:3] == tuple(int(fill[i : i + 2], 16) for i in (1, 3, 5))
    assert image.getpixel((0, 0))[3] == 0  # transparent corners
    assert first != default_image.default_badge_png("Strategic storytelling", "foundational")


def test_default_images_can_be_baked() -> None:
    png_badge = default_image.default_badge_png("Active listening", "foundational")
    svg_badge = default_image.default_badge_svg("Active listening", "foundational")
    assert png.extract_credential(png.bake_credential(png_badge, JWT)) == JWT
    assert svg.extract_credential(svg.bake_credential(svg_badge, CREDENTIAL)) == CREDENTIAL
