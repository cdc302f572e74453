"""Reading the audit log, scoped to what the caller may see."""

from django.db.models import QuerySet

from linkflow.accounts.models import Role, User
from linkflow.accounts.selectors import require_role

from .models import AuditEvent


def audit_list(*, user: User, workspace_id: object, action: str = "") -> QuerySet[AuditEvent]:
    """The workspace's events, newest first; only for its admins and owners.

    NotFound for an outsider, PermissionDenied for an editor or a viewer.
    """
    require_role(user=user, workspace_id=workspace_id, at_least=Role.ADMIN)
    events = AuditEvent.objects.filter(workspace_id=workspace_id).select_related("actor")
    return events.filter(action=action) if action else events
