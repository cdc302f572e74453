"""Error codes of the accounts app: stable strings clients may branch on (never renamed),
beside the generic ones of ``linkflow.core.errors.ErrorCode``."""

from enum import StrEnum


class AccountErrorCode(StrEnum):
    API_KEY_CONFINED = "api_key_confined"
    PERSONAL_WORKSPACE = "personal_workspace"
    LAST_OWNER = "last_owner"
