"""The secret set that travels with data handed to another execution (a sub-workflow).

Redaction is keyed on the resolver of the running execution, which lives in one worker
process. A child execution started by ``workflow.execute`` may run on another worker,
later: the values its caller's nodes were given must still be redacted from everything
the child stores and emits. So the caller's secret set is stored with the child,
encrypted like a credential (credentials.crypto, the same rotating keys), and the
child's resolver starts out with it (see CredentialResolver's ``inherited``).

Why the values and not the credential ids: re-resolving ids in the child would miss a
value changed since (an OAuth2 token refreshed, a credential edited or deleted while the
child was queued), would refresh tokens and log credential use for an execution that
never used them. The cost is a copy of the values, encrypted at rest, kept until the
child's execution is cleaned up, and re-encrypted by ``rotate_credential_keys``.
"""

from collections.abc import Iterable

from .crypto import decrypt, encrypt


def secrets_seal(*, secrets: Iterable[str]) -> str:
    """The secret values as one encrypted token; "" when there are none."""
    values = sorted(set(secrets))
    return encrypt({"secrets": values}) if values else ""


def secrets_unseal(*, sealed: str) -> frozenset[str]:
    """The values ``secrets_seal`` stored (empty for ""). Raises
    cryptography.fernet.InvalidToken when no configured key decrypts ``sealed``: the
    caller must not go on without the secrets it was meant to redact."""
    if not sealed:
        return frozenset()
    values = decrypt(sealed).get("secrets") or []
    return frozenset(v for v in values if isinstance(v, str))
