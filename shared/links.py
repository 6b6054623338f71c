"""Which URLs a page may turn into links.

Pages show content other people wrote (a third party's badge, an organisation's achievement, a
skill's external alignment); only an absolute http(s) URL with a host becomes an `href`, so a
`javascript:` or `data:` URL stays inert text. Escaping is the templates' job (autoescape); this is
about the scheme, which escaping does not touch.
"""

from typing import Any
from urllib.parse import urlsplit

MAX_LINK_CHARS = 2048


def safe_url(value: Any) -> str | None:
    """`value` when it is an http(s) URL a page may link to, else None."""
    if not isinstance(value, str) or len(value) > MAX_LINK_CHARS or value != value.strip():
        return None
    if any(ord(character) < 0x21 for character in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None
