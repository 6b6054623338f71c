"""What someone shows the verifier, read into the one shape it checks: a credential as a JSON object,
or {"jwt": "<compact token>"}.

The JSON API (POST /v1/verify) and the verify page read their input here, so a body, a pasted
credential, an uploaded baked image and a credential URL become the same thing wherever they
arrive. Every failure to read is a 4xx problem with a reason a person can act on (too big: 413;
not JSON, not baked, not fetchable: 422), never a 500.
"""

import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.baking import MEDIA_TYPES
from services.badge_issuer.db.tables import Credential
from services.badge_issuer.domain import baked_images
from services.badge_issuer.domain.verification import JWT_MEDIA_TYPES
from services.badge_issuer.proofs import vc_jwt
from shared.errors import NotFound, PayloadTooLarge, Unprocessable, invalid_json
from shared.safe_fetch import JSON_TYPES, FetchError, SafeFetcher

MAX_URL_CHARS = 2048
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$")
_OWN_CREDENTIAL_PATH = re.compile(
    r"^/v1/public/credentials/(?P<id>[0-9a-fA-F-]{36})(?:/baked\.(?:png|svg))?/?(?:\?[^#]*)?(?:#.*)?$"
)
IMAGE_TYPES = frozenset(MEDIA_TYPES.values())


def from_json_body(body: bytes) -> dict[str, Any]:
    """A JSON request body: the credential itself, or {"jwt": ...}."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise invalid_json(error) from error
    if not isinstance(value, dict):
        raise Unprocessable("The body must be a JSON object.")
    return value


def from_pasted_text(text: str, max_bytes: int) -> dict[str, Any]:
    """What a person pasted: a credential's JSON, or a compact VC-JWT (or OB 2.0 JWS) on its own."""
    if len(text.encode()) > max_bytes:
        raise PayloadTooLarge(f"The pasted text exceeds the limit of {max_bytes} bytes.")
    text = text.strip()
    if not text:
        raise Unprocessable("Nothing was pasted: paste a credential's JSON or its compact JWT.", field="credential")
    if text.startswith("{"):
        try:
            return from_json_body(text.encode())
        except Unprocessable as error:
            raise Unprocessable(
                f"The pasted text starts like JSON but is not a JSON object: {error.detail}", field="credential"
            ) from error
    if _COMPACT_JWS.match(text):
        return {"jwt": text}
    raise Unprocessable(
        "The pasted text is neither JSON nor a compact JWT (three base64url parts separated by dots).",
        field="credential",
    )


def from_image(data: bytes, max_bytes: int) -> dict[str, Any]:
    """A baked PNG or SVG: the credential inside it, checked for bombs before decoding."""
    return baked_images.presented_from_image(data, max_bytes)


def own_credential_id(url: str, own_bases: tuple[str, ...]) -> uuid.UUID | None:
    """The id of one of this service's credentials when `url` is its public link (or baked image)."""
    for base in own_bases:
        base = base.rstrip("/")
        if url.startswith(base + "/"):
            match = _OWN_CREDENTIAL_PATH.match(url[len(base) :])
            if match:
                try:
                    return uuid.UUID(match["id"])
                except ValueError:
                    return None
    return None


async def from_url(
    session: AsyncSession,
    url: str,
    *,
    own_bases: tuple[str, ...],
    fetcher: SafeFetcher | None,
    max_bytes: int,
) -> dict[str, Any]:
    """A credential link. This service's own links are read from its database (never over HTTP to
    itself); any other is fetched through the outbound policy (https, public addresses, a deadline,
    a size cap): a credential as JSON, a VC-JWT, or a baked image."""
    url = url.strip()
    if not url:
        raise Unprocessable("No address was given.", field="url")
    if len(url) > MAX_URL_CHARS:
        raise Unprocessable(f"The address is longer than {MAX_URL_CHARS} characters.", field="url")
    if not url.lower().startswith(("https://", "http://")):
        raise Unprocessable("The address must be an https:// URL.", field="url")
    credential_id = own_credential_id(url, own_bases)
    if credential_id is not None:
        credential = await session.get(Credential, credential_id)
        if credential is None:
            raise NotFound(f"No credential {credential_id} was issued here.")
        return {"jwt": credential.compact_jwt} if credential.compact_jwt else dict(credential.document)
    if fetcher is None:
        raise Unprocessable("This verifier fetches nothing: paste the credential or upload the badge instead.")
    try:
        document = await fetcher.fetch(url, accept=JSON_TYPES | JWT_MEDIA_TYPES | IMAGE_TYPES, use_cache=False)
        if document.content_type in IMAGE_TYPES:
            return from_image(document.content, max_bytes)
        if document.content_type in JWT_MEDIA_TYPES:
            return from_pasted_text(document.content.decode("ascii"), max_bytes)
        body = document.json()
    except FetchError as error:
        raise Unprocessable(f"The address could not be read: {error.reason} ({error.code}).", field="url") from error
    except UnicodeDecodeError as error:
        raise Unprocessable("The address serves a token that is not ASCII.", field="url") from error
    if not isinstance(body, dict):
        raise Unprocessable("The address serves JSON that is not a credential (not an object).", field="url")
    return body


def shown_credential(presented: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The credential to describe to a person (read, not trusted: the verdict says whether to)."""
    token = presented.get("jwt")
    if isinstance(token, str):
        try:
            return vc_jwt.read_unverified_credential(token)
        except vc_jwt.JwtVerificationError:
            return None
    return presented
