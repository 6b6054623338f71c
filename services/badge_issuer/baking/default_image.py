"""A clean default badge image for an achievement that has none, as SVG and as PNG.

Both are pure functions of (name, tier): the same achievement always gets byte-identical images,
so they can be cached, ETagged and compared in tests.
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True, slots=True)
class TierPalette:
    label: str
    fill: str
    accent: str


TIER_PALETTES: dict[str, TierPalette] = {
    "foundational": TierPalette("FOUNDATIONAL", "#2E7D32", "#A5D6A7"),
    "intermediate": TierPalette("INTERMEDIATE", "#1565C0", "#90CAF9"),
    "advanced": TierPalette("ADVANCED", "#6A1B9A", "#CE93D8"),
}

SVG_SIZE = 512
PNG_SIZE = 256
_MAX_LINE_CHARS = 16
_MAX_LINES = 3
# Characters XML 1.0 cannot carry at all (C0 controls other than tab/newline/return, surrogates,
# U+FFFE/U+FFFF): an achievement name holding one must not yield an unparsable SVG.
_NOT_XML_CHARACTERS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SUPERSAMPLE = 4  # draw large, then downsample: smooth edges without depending on a renderer


def palette_for(tier: str) -> TierPalette:
    try:
        return TIER_PALETTES[tier.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown tier {tier!r}; expected one of {sorted(TIER_PALETTES)}") from None


def default_badge_svg(name: str, tier: str) -> bytes:
    """A shield in the tier colour with the achievement name (escaped, wrapped) and the tier."""
    palette = palette_for(tier)
    clean_name = _clean_name(name)
    lines = _wrap_name(clean_name)
    font_size = 48 if max(map(len, lines)) <= 10 else 40 if max(map(len, lines)) <= 13 else 34
    line_height = round(font_size * 1.2)
    first_baseline = 250 - (len(lines) - 1) * line_height // 2
    name_lines = "".join(
        f'<tspan x="256" y="{first_baseline + number * line_height}">{escape(line)}</tspan>'
        for number, line in enumerate(lines)
    )
    shield = "M256 24 L464 96 V240 C464 368 376 448 256 496 C136 448 48 368 48 240 V96 Z"
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_SIZE}" height="{SVG_SIZE}" '
        f'viewBox="0 0 {SVG_SIZE} {SVG_SIZE}" role="img" aria-label={quoteattr(clean_name)}>'
        f"<title>{escape(clean_name)}</title>"
        f'<path d="{shield}" fill="{palette.fill}" stroke="{palette.accent}" stroke-width="16" '
        'stroke-linejoin="round"/>'
        f'<text font-family="Helvetica, Arial, sans-serif" font-size="{font_size}" font-weight="700" '
        f'fill="#FFFFFF" text-anchor="middle">{name_lines}</text>'
        f'<text x="256" y="410" font-family="Helvetica, Arial, sans-serif" font-size="24" '
        f'font-weight="600" letter-spacing="3" fill="{palette.accent}" text-anchor="middle">'
        f"{palette.label}</text>"
        "</svg>\n"
    )
    return svg.encode("utf-8")


def default_badge_png(name: str, tier: str, *, size: int = PNG_SIZE) -> bytes:
    """A tier-coloured disc with the name's initials and the tier label."""
    if not 64 <= size <= 1024:
        raise ValueError("default badge PNG size must be between 64 and 1024 pixels")
    palette = palette_for(tier)
    initials = _initials(_clean_name(name))
    canvas_size = size * _SUPERSAMPLE
    canvas = Image.new("RGBA", (canvas_size, canvas_size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    ring = canvas_size // 32
    draw.ellipse((ring, ring, canvas_size - ring, canvas_size - ring), fill=palette.accent)
    inner = ring * 3
    draw.ellipse((inner, inner, canvas_size - inner, canvas_size - inner), fill=palette.fill)

    initials_font = ImageFont.load_default(size=canvas_size * 3 // 8)
    draw.text((canvas_size // 2, canvas_size * 23 // 50), initials, font=initials_font, fill="#FFFFFF", anchor="mm")
    label_font = ImageFont.load_default(size=canvas_size // 16)
    draw.text(
        (canvas_size // 2, canvas_size * 37 // 50), palette.label, font=label_font, fill=palette.accent, anchor="mm"
    )
    image = canvas.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def _clean_name(name: str) -> str:
    cleaned = " ".join(_NOT_XML_CHARACTERS.sub("", name).split())
    if not cleaned:
        raise ValueError("an achievement name is needed to draw its default badge")
    return cleaned


def _wrap_name(name: str) -> list[str]:
    lines = textwrap.wrap(name, width=_MAX_LINE_CHARS, break_long_words=True) or [name]
    if len(lines) > _MAX_LINES:
        last = lines[_MAX_LINES - 1]
        lines = [*lines[: _MAX_LINES - 1], last[: _MAX_LINE_CHARS - 1].rstrip() + "\u2026"]
    return lines


def _initials(name: str) -> str:
    words = re.findall(r"[^\W_]+", name)
    if not words:
        return "B"  # a name of symbols only: no letters to abbreviate
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[1][0]).upper()


__all__ = ["TIER_PALETTES", "TierPalette", "default_badge_png", "default_badge_svg", "palette_for"]
