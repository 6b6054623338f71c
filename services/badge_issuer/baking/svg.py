"""Open Badges 3.0 SVG baking: an ``<openbadges:credential>`` element directly inside ``<svg>``.

Per OB 3.0 §5.3.2: ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` on the root; a VC-JWT
goes in the element's ``verify`` attribute, a credential with an embedded proof goes in its body as
JSON wrapped in CDATA. The upload is parsed once with defusedxml and the element is spliced into the
original bytes at the offsets the parser reports, so the rest of the image is kept byte for byte.

A DOCTYPE is read (editors write the SVG 1.1 one, ``<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"
…>``, on most badges people hold), but its external DTD is never loaded (expat does not read it),
and any entity declaration (so no entity expansion, no external entity) or attribute-list
declaration (whose defaults would add attributes nobody sees, such as a ``verify``) is refused.

Open Badges 2.0 images are read too (never written): ``<openbadges:assertion>`` in the namespace
``http://openbadges.org``, its body the assertion's JSON, or with no body its ``verify`` attribute
the JWS (OB 2.0 Baking Specification); the same parse and limits apply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from services.badge_issuer.baking.credential_payload import (
    BakedCredential,
    is_compact_jws,
    parse_credential_text,
    serialize_credential,
)
from services.badge_issuer.baking.errors import CredentialNotFoundError, HostileImageError, InvalidImageError
from services.badge_issuer.baking.limits import DEFAULT_LIMITS, ImageLimits

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
OPENBADGES_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
OPENBADGES_PREFIX = "openbadges"
MEDIA_TYPE = "image/svg+xml"

OB2_NAMESPACE = "http://openbadges.org"
_CREDENTIAL_TAG = f"{{{OPENBADGES_NAMESPACE}}}credential"
_OB2_ASSERTION_TAG = f"{{{OB2_NAMESPACE}}}assertion"
_ROOT_TAGS = frozenset({f"{{{SVG_NAMESPACE}}}svg", "svg"})
_XML_DECLARATION_ENCODING = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_QUALIFIED_NAME = re.compile(rb"<([^\s/>]+)")
# A start tag up to its closing '>', stepping over quoted attribute values (which may hold '>').
_START_TAG = re.compile(rb"<[^\"'>]*(?:(?:\"[^\"]*\"|'[^']*')[^\"'>]*)*>")


@dataclass(slots=True)
class _ScannedSvg:
    """What baking and extraction need from one parse: byte offsets and the first credential."""

    root_start: int = -1
    root_namespaces: dict[str, str] = field(default_factory=dict)
    credential_spans: list[tuple[int, int]] = field(default_factory=list)
    credential_verify: str | None = None
    credential_text_parts: list[str] = field(default_factory=list)


class _SvgScanner:
    """ElementTree parser target that records byte offsets instead of building a tree."""

    def __init__(self, data: bytes, limits: ImageLimits, tag: str = _CREDENTIAL_TAG) -> None:
        self.document = data
        self.limits = limits
        self.tag = tag
        self.parser: DefusedXMLParser | None = None
        self.result = _ScannedSvg()
        self._depth = 0
        self._element_count = 0
        self._pending_namespaces: dict[str, str] = {}
        self._open_credentials: list[tuple[int, int | None]] = []  # (start, end if <x/>)
        self._reading_first_credential = False

    def _byte_index(self) -> int:
        assert self.parser is not None
        return self.parser.parser.CurrentByteIndex

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending_namespaces[prefix] = uri

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._element_count += 1
        if self._element_count > self.limits.max_svg_elements:
            raise HostileImageError(f"SVG has more than {self.limits.max_svg_elements} elements")
        index = self._byte_index()
        if self._depth == 0:
            if tag not in _ROOT_TAGS:
                raise InvalidImageError("the root element is not <svg>")
            self.result.root_start = index
            self.result.root_namespaces = self._pending_namespaces
        self._pending_namespaces = {}
        if tag == self.tag:
            if not self.result.credential_spans and not self._open_credentials:
                self._reading_first_credential = True
                self.result.credential_verify = attrib.get("verify")
            # Decide empty-element tags from their own bytes: at an end event expat's offset is
            # the end tag for <x></x>, but for <x/> it is whatever follows (possibly "</parent>").
            tag_end = _start_tag_end(self.document, index)
            self_closing = self.document[tag_end - 1 : tag_end] == b"/"
            self._open_credentials.append((index, tag_end + 1 if self_closing else None))
        self._depth += 1

    def end(self, tag: str) -> None:
        self._depth -= 1
        if tag != self.tag:
            return
        start, empty_element_end = self._open_credentials.pop()
        if empty_element_end is None:
            end_tag = self._byte_index()
            end = self.document.index(b">", end_tag) + 1
        else:
            end = empty_element_end
        self.result.credential_spans.append((start, end))
        if not self._open_credentials:
            self._reading_first_credential = False

    def data(self, text: str) -> None:
        if self._reading_first_credential:
            self.result.credential_text_parts.append(text)

    def close(self) -> None:
        return None


def validate_svg(data: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> None:
    """Raise the typed error unless ``data`` is a safe, well-formed UTF-8 SVG within the limits."""
    _scan(data, limits)


def bake_credential(
    svg_bytes: bytes,
    credential: str | Mapping[str, Any],
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> bytes:
    """Return the SVG with one ``<openbadges:credential>`` as the first child of the root.

    Any earlier credential element is removed, since the spec allows only one.
    """
    scanned = _scan(svg_bytes, limits)
    text = serialize_credential(credential, max_bytes=limits.max_credential_bytes, ascii_only=True)
    element = _credential_element(text)

    declared = scanned.root_namespaces.get(OPENBADGES_PREFIX)
    if declared is None:
        namespace_attribute = f' xmlns:{OPENBADGES_PREFIX}="{OPENBADGES_NAMESPACE}"'.encode("ascii")
    elif declared == OPENBADGES_NAMESPACE:
        namespace_attribute = b""
    else:
        raise InvalidImageError(f"the SVG binds the prefix {OPENBADGES_PREFIX!r} to another namespace")

    tag_end = _start_tag_end(svg_bytes, scanned.root_start)
    if svg_bytes[tag_end - 1 : tag_end] == b"/":  # <svg .../>: open it up to hold the element
        match = _QUALIFIED_NAME.match(svg_bytes, scanned.root_start)
        assert match is not None
        baked = (
            svg_bytes[: tag_end - 1]
            + namespace_attribute
            + b">"
            + element
            + b"</"
            + match.group(1)
            + b">"
            + svg_bytes[tag_end + 1 :]
        )
    else:
        pieces = [svg_bytes[:tag_end], namespace_attribute, b">", element]
        cursor = tag_end + 1
        for start, end in _outermost(scanned.credential_spans):
            pieces.append(svg_bytes[cursor:start])
            cursor = end
        pieces.append(svg_bytes[cursor:])
        baked = b"".join(pieces)
    _scan(baked, limits)  # cheap proof that the splice produced well-formed, extractable XML
    return baked


def extract_credential_text(svg_bytes: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> str:
    """The JWS from ``verify``, or else the element's text (the JSON credential)."""
    scanned = _scan(svg_bytes, limits)
    if not scanned.credential_spans:
        raise CredentialNotFoundError("SVG has no openbadges:credential element")
    if len(scanned.credential_spans) > 1:
        # The spec allows one; two candidates would make the verified one ambiguous.
        raise InvalidImageError("SVG has more than one openbadges:credential element")
    if scanned.credential_verify:
        return scanned.credential_verify.strip()
    return "".join(scanned.credential_text_parts).strip()


def extract_credential(svg_bytes: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> BakedCredential:
    """The baked credential: a compact JWS string or the credential as a dict."""
    return parse_credential_text(extract_credential_text(svg_bytes, limits=limits))


def extract_ob2_assertion_text(svg_bytes: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> str:
    """OB 2.0: the element's body (the assertion's JSON) when it has one, else the JWS in ``verify``
    (with a body, ``verify`` is only the hosted URL, which the JSON's own id already says)."""
    scanned = _scan(svg_bytes, limits, _OB2_ASSERTION_TAG)
    if not scanned.credential_spans:
        raise CredentialNotFoundError("SVG has no openbadges:assertion element")
    if len(scanned.credential_spans) > 1:
        raise InvalidImageError("SVG has more than one openbadges:assertion element")
    body = "".join(scanned.credential_text_parts).strip()
    return body or (scanned.credential_verify or "").strip()


def _scan(data: bytes, limits: ImageLimits, tag: str = _CREDENTIAL_TAG) -> _ScannedSvg:
    if len(data) > limits.max_image_bytes:
        raise HostileImageError(f"SVG is larger than {limits.max_image_bytes} bytes")
    _require_utf8(data)
    scanner = _SvgScanner(data, limits, tag)
    parser = DefusedXMLParser(target=scanner, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    parser.parser.AttlistDeclHandler = _refuse_attribute_defaults
    scanner.parser = parser
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        raise HostileImageError(f"SVG refused: {type(exc).__name__}") from exc
    except ParseError as exc:
        raise InvalidImageError(f"SVG is not well-formed XML: {exc}") from exc
    if scanner.result.root_start < 0:
        raise InvalidImageError("SVG has no root element")
    return scanner.result


def _refuse_attribute_defaults(element: str, attribute: str, *_: object) -> None:
    raise HostileImageError(f"SVG refused: its DOCTYPE declares attributes ({element} {attribute})")


def _require_utf8(data: bytes) -> None:
    """Offsets are spliced as UTF-8 bytes, so refuse any other encoding up front."""
    if data.startswith((b"\xfe\xff", b"\xff\xfe", b"\x4c\x6f\xa7\x94")) or b"\x00" in data[:4]:
        raise InvalidImageError("SVG must be UTF-8 encoded")
    match = _XML_DECLARATION_ENCODING.match(data)
    if match and match.group(1).decode("ascii").lower() not in _UTF8_NAMES:
        raise InvalidImageError("SVG must be UTF-8 encoded")


def _start_tag_end(data: bytes, start: int) -> int:
    """Index of the '>' closing the start tag at ``start``; '>' inside a quoted value is skipped."""
    match = _START_TAG.match(data, start)
    if match is None:
        raise InvalidImageError("SVG start tag is not closed")
    return match.end() - 1


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if kept and start < kept[-1][1]:
            continue  # nested inside the previous span, removed with it
        kept.append((start, end))
    return kept


def _credential_element(text: str) -> bytes:
    tag = f"{OPENBADGES_PREFIX}:credential"
    if is_compact_jws(text):
        return f"<{tag} verify={quoteattr(text)}></{tag}>".encode()
    # "]]>" can only occur inside a JSON string, where "\u003e" is the same character.
    cdata = text.replace("]]>", "]]\\u003e")
    return f"<{tag}><![CDATA[{cdata}]]></{tag}>".encode()


__all__ = [
    "MEDIA_TYPE",
    "OPENBADGES_NAMESPACE",
    "SVG_NAMESPACE",
    "bake_credential",
    "extract_credential",
    "extract_credential_text",
    "extract_ob2_assertion_text",
    "validate_svg",
]
