"""Signal receivers: only for events that happen in framework code, never domain flow."""

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from .context import request_ip
from .services import audit_record

if TYPE_CHECKING:  # the audit log sits below accounts, which writes to it
    from linkflow.accounts.models import User


def record_sign_in(*, sender: Any, request: HttpRequest | None, user: "User", **_: Any) -> None:
    """A session sign-in (admin, web UI) is an audit event."""
    audit_record(
        action="user.sign_in",
        actor=user,
        target=user,
        data={"method": "session"},
        ip=request_ip(request) if request is not None else None,
    )
