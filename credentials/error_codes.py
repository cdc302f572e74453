"""Error codes of the credentials app: stable strings clients may branch on (never
renamed), beside the generic ones of ``linkflow.core.errors.ErrorCode``."""

from enum import StrEnum


class CredentialErrorCode(StrEnum):
    # The OAuth2 connect flow (credentials/oauth2.py).
    OAUTH2_NOT_APPLICABLE = "oauth2_not_applicable"
    OAUTH2_STATE_INVALID = "oauth2_state_invalid"
    OAUTH2_DENIED = "oauth2_denied"
    OAUTH2_TOKEN_FAILED = "oauth2_token_failed"
