"""Encryption of credential secrets at rest: MultiFernet over keys from the environment.

The first key encrypts; every key decrypts, so a new key can be put in front and rows
rotated to it while old ones still read.
"""

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.LINKFLOW_CREDENTIAL_KEYS])


def encrypt(data: dict[str, Any]) -> str:
    """The fields as one encrypted token."""
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    """The fields back; raises cryptography.fernet.InvalidToken if no key fits."""
    return json.loads(_fernet().decrypt(token.encode()))


def rotate(token: str) -> str:
    """The same fields encrypted with the newest key; InvalidToken if no key fits."""
    return _fernet().rotate(token.encode()).decode()


def keys_changed() -> None:
    """Forget the cached keys, after LINKFLOW_CREDENTIAL_KEYS changed (tests, reloads)."""
    _fernet.cache_clear()
