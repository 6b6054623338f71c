"""Issuer private keys at rest: AES-256-GCM under a master key that never touches the database.

The associated data binds each ciphertext to its key row, so a ciphertext copied onto another
issuer's key row fails to decrypt instead of silently signing for the wrong issuer.
"""

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.badge_issuer.proofs import keys
from services.badge_issuer.settings import IssuerSettings

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
ENCRYPTION_SCHEME = "aes-256-gcm/v1"


class MasterKeyError(RuntimeError):
    """The master key is missing or malformed; the issuer must not start."""


def decode_master_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError("CREDSTACK_ISSUER_MASTER_KEY is not valid base64") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise MasterKeyError(f"CREDSTACK_ISSUER_MASTER_KEY must decode to {MASTER_KEY_BYTES} bytes, not {len(key)}")
    return key


def generate_master_key_text() -> str:
    return base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode()


def _load_or_create_dev_master_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(generate_master_key_text())
    return decode_master_key(path.read_text())


def master_key_from_settings(settings: IssuerSettings) -> bytes:
    """The environment's key; a generated file only in dev; production without one refuses to start."""
    if settings.master_key is not None:
        return decode_master_key(settings.master_key.get_secret_value())
    if settings.environment != "dev":
        raise MasterKeyError("CREDSTACK_ISSUER_MASTER_KEY is required outside dev mode (base64 of 32 random bytes)")
    return _load_or_create_dev_master_key(settings.master_key_file)


class KeyVault:
    """Encrypts and decrypts issuer private keys; lives on app.state.key_vault."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"master key must be {MASTER_KEY_BYTES} bytes")
        self._aead = AESGCM(master_key)

    def seal(self, private_key: keys.PrivateKey, bound_to: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, keys.private_key_to_pem(private_key), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> keys.PrivateKey:
        try:
            pem = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to.encode())
        except InvalidTag as exc:
            raise MasterKeyError("an issuer key cannot be decrypted: wrong master key or altered ciphertext") from exc
        return keys.private_key_from_pem(pem)

    def seal_bytes(self, plaintext: bytes, bound_to: str) -> bytes:
        """Any other secret at rest (webhook signing secrets), bound to its row like the keys."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, bound_to.encode())

    def open_bytes(self, sealed: bytes, bound_to: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to.encode())
        except InvalidTag as exc:
            raise MasterKeyError("a secret cannot be decrypted: wrong master key or altered ciphertext") from exc
