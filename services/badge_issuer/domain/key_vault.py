"""Issuer private keys at rest, sealed with the shared SecretBox (AES-256-GCM, bound to their row)."""

from collections import OrderedDict

from services.badge_issuer.proofs import keys
from services.badge_issuer.settings import IssuerSettings
from shared.secret_box import (
    ENCRYPTION_SCHEME,
    MasterKeyError,
    SecretBox,
    decode_master_key,
    resolve_master_key,
)

# Opened keys kept in memory per process (a few hundred bytes each).
OPENED_KEYS_KEPT = 1024

__all__ = ["ENCRYPTION_SCHEME", "KeyVault", "MasterKeyError", "decode_master_key", "master_key_from_settings"]


def master_key_from_settings(settings: IssuerSettings) -> bytes:
    return resolve_master_key(
        settings.master_key,
        dev_file=settings.master_key_file,
        environment=settings.environment,
        variable="CREDSTACK_ISSUER_MASTER_KEY",
    )


class KeyVault(SecretBox):
    """Encrypts and decrypts issuer private keys (and other issuer secrets); lives on app.state.key_vault."""

    def __init__(self, master_key: bytes) -> None:
        super().__init__(master_key)
        self._opened: OrderedDict[tuple[bytes, str], keys.PrivateKey] = OrderedDict()

    def seal(self, private_key: keys.PrivateKey, bound_to: str) -> bytes:
        return self.seal_bytes(keys.private_key_to_pem(private_key), bound_to)

    def open(self, sealed: bytes, bound_to: str) -> keys.PrivateKey:
        """Decrypting and parsing the PEM cost more than signing a VC-JWT, on every issuance: opened
        keys are kept, keyed by the ciphertext and its binding (a key row's sealed bytes never change;
        rotation and compromise make or mark rows, and which row signs is still decided by the caller's
        query each time). Bounded, least recently used first out."""
        cache_key = (sealed, bound_to)
        private_key = self._opened.get(cache_key)
        if private_key is not None:
            self._opened.move_to_end(cache_key)
            return private_key
        private_key = keys.private_key_from_pem(self.open_bytes(sealed, bound_to))
        self._opened[cache_key] = private_key
        if len(self._opened) > OPENED_KEYS_KEPT:
            self._opened.popitem(last=False)
        return private_key
