"""did:key for Ed25519 (multicodec 0xed01, multibase base58btc): the offline DID method a holder's
wallet most often uses. Shared by the services that check a holder's or an issuer's signature."""

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PREFIX = "did:key:"
ED25519_MULTICODEC = b"\xed\x01"


class DidKeyError(ValueError):
    """Not a did:key this code can read; the message says why."""


def ed25519_key_of(did_or_method: str) -> Ed25519PublicKey:
    """The Ed25519 key a did:key names, with or without its '#fragment' (which must be the same key)."""
    if not isinstance(did_or_method, str) or not did_or_method.startswith(PREFIX):
        raise DidKeyError(f"not a did:key: {did_or_method!r}")
    identifier, _, fragment = did_or_method[len(PREFIX) :].partition("#")
    if fragment and fragment != identifier:
        raise DidKeyError("the did:key fragment does not name the key of the DID")
    if not identifier.startswith("z"):
        raise DidKeyError("a did:key is multibase base58btc ('z…')")
    try:
        raw = base58.b58decode(identifier[1:])
    except ValueError as error:
        raise DidKeyError(f"invalid base58btc in the did:key: {error}") from error
    if not raw.startswith(ED25519_MULTICODEC) or len(raw) != 34:
        raise DidKeyError("only Ed25519 did:keys (z6Mk…) are supported")
    return Ed25519PublicKey.from_public_bytes(raw[2:])
