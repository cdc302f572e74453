"""Error codes of the billing app: stable strings clients may branch on (never renamed),
beside the generic ones of ``linkflow.core.errors.ErrorCode``."""

from enum import StrEnum


class BillingErrorCode(StrEnum):
    PLAN_LIMIT_EXCEEDED = "plan_limit_exceeded"
