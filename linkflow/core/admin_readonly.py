"""The operator console's read-only pages: rows only services write."""

from typing import Any

from django.http import HttpRequest


class NoAddOrChange:
    """Mixed into a ModelAdmin or inline (before it) whose rows only services write: runs,
    snapshots, secrets, evidence. Operators look, and act through admin actions that call
    those services; they never add or edit a row by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
