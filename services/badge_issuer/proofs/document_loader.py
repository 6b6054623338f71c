"""Static, offline JSON-LD document loader.

Every context the badge issuer emits or reads ships in ``contexts/``. Fetching a
context at run time would let whoever controls that URL change what a signature
means, and would make signing depend on the network, so an unknown URL is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

CONTEXTS_DIR = Path(__file__).resolve().parent / "contexts"

CONTEXT_FILES: Mapping[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "2018-credentials-v1.jsonld",
    "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob-v3p0-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob-v3p0-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-v2p0-2.0.1.json",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://w3id.org/security/suites/ed25519-2020/v1": "ed25519-signature-2020-v1.jsonld",
}


class UnknownContextError(LookupError):
    """A document referenced a context this service does not ship (and will not fetch)."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not in the static document loader; "
            "add the file to services/badge_issuer/proofs/contexts/ and CONTEXT_FILES "
            "(contexts are never fetched over the network)"
        )
        self.url = url


def _normalise_url(url: str) -> str:
    """Match the way verifiers spell the same context (trailing '#fragment' or whitespace)."""
    return url.strip().split("#", 1)[0]


@cache
def load_context(url: str) -> dict[str, Any]:
    """Return the parsed JSON of a shipped context; cached because contexts never change."""
    file_name = CONTEXT_FILES.get(_normalise_url(url))
    if file_name is None:
        raise UnknownContextError(url)
    return json.loads((CONTEXTS_DIR / file_name).read_text(encoding="utf-8"))


def is_known_context(url: str) -> bool:
    """True when ``url`` can be served offline."""
    return _normalise_url(url) in CONTEXT_FILES


def pyld_document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld ``documentLoader`` callback: answers from the static table or raises.

    ``tag: static`` lets pyld keep the resolved (and processed) context across calls;
    without it pyld re-resolves and re-hashes every context on every operation.
    """
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": load_context(url),
        "tag": "static",
    }
