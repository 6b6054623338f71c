"""Issuer private keys at rest, sealed with the shared SecretBox (AES-256-GCM, bound to their row)."""

from services.badge_issuer.proofs import keys
from services.badge_issuer.settings import IssuerSettings
from shared.secret_box import (
    ENCRYPTION_SCHEME,
    MasterKeyError,
    SecretBox,
    decode_master_key,
    resolve_master_key,
)

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

    def seal(self, private_key: keys.PrivateKey, bound_to: str) -> bytes:
        return self.seal_bytes(keys.private_key_to_pem(private_key), bound_to)

    def open(self, sealed: bytes, bound_to: str) -> keys.PrivateKey:
        return keys.private_key_from_pem(self.open_bytes(sealed, bound_to))
