"""Secrets at rest (signing keys, webhook secrets): AES-256-GCM under a master key from the
environment that never touches the database. The associated data binds each ciphertext to its row, so
a ciphertext copied onto another row fails to decrypt instead of being used for the wrong owner."""

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
ENCRYPTION_SCHEME = "aes-256-gcm/v1"


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed or wrong; the service must not start (or use the secret)."""


def decode_master_key(text: str, *, variable: str = "master key") -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError(f"{variable} is not valid base64") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise MasterKeyError(f"{variable} must decode to {MASTER_KEY_BYTES} bytes, not {len(key)}")
    return key


def generate_master_key_text() -> str:
    return base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode()


def _load_or_create_dev_master_key(path: Path, variable: str) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(generate_master_key_text())
    return decode_master_key(path.read_text(), variable=variable)


def resolve_master_key(value: SecretStr | None, *, dev_file: Path, environment: str, variable: str) -> bytes:
    """The environment's key; a generated file only in dev; production without one refuses to start."""
    if value is not None:
        return decode_master_key(value.get_secret_value(), variable=variable)
    if environment != "dev":
        raise MasterKeyError(f"{variable} is required outside dev mode (base64 of {MASTER_KEY_BYTES} random bytes)")
    return _load_or_create_dev_master_key(dev_file, variable)


class SecretBox:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"master key must be {MASTER_KEY_BYTES} bytes")
        self._aead = AESGCM(master_key)

    def seal_bytes(self, plaintext: bytes, bound_to: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, bound_to.encode())

    def open_bytes(self, sealed: bytes, bound_to: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to.encode())
        except InvalidTag as exc:
            raise MasterKeyError("a secret cannot be decrypted: wrong master key or altered ciphertext") from exc
