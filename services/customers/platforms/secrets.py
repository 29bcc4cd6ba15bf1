"""Secrets of a connection (webhook secrets, access tokens, app and shop secrets), encrypted at rest
with Fernet (PyPI `cryptography`: AES-128-CBC and HMAC-SHA256, a timestamp, one token per value).

Keys come from PLATFORM_SECRET_KEYS: comma-separated url-safe base64 Fernet keys, the newest first.
The first key encrypts; every key decrypts (MultiFernet), so a key is rotated by putting a new one in
front, restarting, re-encrypting the stored secrets (`python -m services.customers.platforms.rotate`)
and then dropping the old key (docs/operations.md, "Rotating the connection key"). Without the
variable a development key is used, as with the other local credentials; production refuses to start
without one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

# Like JWT_SECRET's default: for `make up` and the tests only.
DEV_KEY = "Zmx5d2hlZWwtZGV2LW9ubHktcGxhdGZvcm0ta2V5LTE="


class SecretsUnreadable(Exception):
    """The stored secrets were encrypted with a key that is no longer configured."""


@dataclass(frozen=True)
class Vault:
    keys: tuple[str, ...]
    _fernet: MultiFernet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one key is needed")
        object.__setattr__(self, "_fernet", MultiFernet([Fernet(k.encode()) for k in self.keys]))

    def seal(self, secrets: Mapping[str, str | None]) -> bytes:
        """The secrets (name → value, None values left out) as one token under the newest key."""
        return self._fernet.encrypt(json.dumps({k: v for k, v in secrets.items() if v}).encode())

    def open(self, token: bytes) -> dict[str, str]:
        try:
            data: Any = json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken as exc:
            raise SecretsUnreadable("no configured key opens these secrets") from exc
        return {str(k): str(v) for k, v in data.items()}

    def reseal(self, token: bytes) -> bytes:
        """The same secrets under the newest key (rotation)."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken as exc:
            raise SecretsUnreadable("no configured key opens these secrets") from exc


def vault_from_env() -> Vault:
    raw = os.environ.get("PLATFORM_SECRET_KEYS", "").strip()
    if not raw:
        if os.environ.get("FLYWHEEL_ENV") == "production":
            raise RuntimeError("PLATFORM_SECRET_KEYS is required in production (docs/operations.md)")
        log.warning("PLATFORM_SECRET_KEYS is not set: connection secrets use the development key")
        return Vault((DEV_KEY,))
    return Vault(tuple(k.strip() for k in raw.split(",") if k.strip()))


def new_key() -> str:
    return Fernet.generate_key().decode()
