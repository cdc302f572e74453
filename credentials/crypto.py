"""Encryption of credential secrets at rest: MultiFernet over keys from the environment.

The first key encrypts; every key decrypts, so a new key can be put in front and rows
rotated to it while old ones still read.
"""

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

# Other columns holding tokens of these keys, as ("app_label.Model", "field"): apps
# register theirs from AppConfig.ready, and rotate_credential_keys re-encrypts them too.
_COLUMNS: list[tuple[str, str]] = []


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.LINKFLOW_CREDENTIAL_KEYS])


def encrypt(data: dict[str, Any]) -> str:
    """The fields as one encrypted token."""
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    """The fields back; raises cryptography.fernet.InvalidToken if no key fits."""
    fields: dict[str, Any] = json.loads(_fernet().decrypt(token.encode()))
    return fields


def rotate(token: str) -> str:
    """The same fields encrypted with the newest key; InvalidToken if no key fits."""
    return _fernet().rotate(token.encode()).decode()


def keys_changed() -> None:
    """Forget the cached keys, after LINKFLOW_CREDENTIAL_KEYS changed (tests, reloads)."""
    _fernet.cache_clear()


def encrypted_column_register(*, model: str, field: str) -> None:
    """Have ``rotate_credential_keys`` re-encrypt ``model``'s ``field`` ("app.Model")
    along with the credentials; blank values are left alone. Idempotent."""
    if (model, field) not in _COLUMNS:
        _COLUMNS.append((model, field))


def encrypted_columns() -> tuple[tuple[str, str], ...]:
    """The columns registered with ``encrypted_column_register``."""
    return tuple(_COLUMNS)
