from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from linkflow.accounts.admin import act_on_each, operator_acting_in
from linkflow.accounts.http import AuthenticatedHttpRequest
from linkflow.core.admin_readonly import NoAddOrChange

from .models import WebhookTrigger, Workflow, WorkflowVersion
from .services import workflow_update
from .webhook_rows import webhook_token_rotate


class WorkflowVersionInline(admin.TabularInline[WorkflowVersion, Workflow]):
    model = WorkflowVersion
    extra = 0
    fields = ("number", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Workflow | None = None) -> bool:
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin[Workflow]):
    """``active`` is read-only here: (de)activating goes through ``workflow_update``, which
    checks the plan and adds or drops cron tasks; the action below does that."""

    list_display = (
        "name",
        "workspace",
        "active",
        "version_number",
        "created_by",
        "created_at",
        "updated_at",
    )
    list_filter = ("active", "created_at")
    search_fields = ("name", "description", "workspace__name", "=id", "=workspace__id")
    readonly_fields = (
        "id",
        "active",
        "current_version",
        "created_by",
        "created_at",
        "updated_at",
    )
    list_select_related = ("workspace", "current_version", "created_by")
    autocomplete_fields = ("workspace",)
    date_hierarchy = "created_at"
    inlines = [WorkflowVersionInline]
    actions = ["deactivate_workflows"]

    @admin.display(description="Version", ordering="current_version__number")
    def version_number(self, workflow: Workflow) -> str:
        version = workflow.current_version
        return f"v{version.number}" if version else "—"

    @admin.action(description="Deactivate the selected workflows (stops webhooks and cron)")
    def deactivate_workflows(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Workflow]
    ) -> None:
        def deactivate(workflow: Workflow) -> None:
            user = operator_acting_in(request, workflow.workspace_id)
            workflow_update(user=user, workflow=workflow, changes={"active": False})

        act_on_each(self, request, queryset.filter(active=True), deactivate, verb="deactivated")


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(NoAddOrChange, admin.ModelAdmin[WorkflowVersion]):
    """Versions are immutable snapshots: readable here, never editable."""

    list_display = ("workflow", "number", "created_by", "created_at")
    search_fields = ("workflow__name", "=workflow__id")
    readonly_fields = ("id", "workflow", "number", "graph", "created_by", "created_at")
    list_select_related = ("workflow", "created_by")
    date_hierarchy = "created_at"


@admin.register(WebhookTrigger)
class WebhookTriggerAdmin(admin.ModelAdmin[WebhookTrigger]):
    """Rows mirror the workflow graphs and are written when a workflow is saved, so they
    are read-only here; rotating a leaked token is the one operator action."""

    list_display = ("workflow", "node_id", "method", "path", "mode", "auth", "disabled")
    list_filter = ("method", "mode", "auth", "disabled")
    search_fields = ("workflow__name", "workflow__id", "node_id", "path", "=token")
    list_select_related = ("workflow",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "workspace",
        "workflow",
        "node_id",
        "token",
        "path",
        "method",
        "mode",
        "auth",
        "credential_id",
        "timeout_seconds",
        "disabled",
        "created_at",
        "updated_at",
    )
    actions = ["rotate_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: WebhookTrigger | None = None
    ) -> bool:
        return False

    @admin.action(description="Rotate the token (the old URL stops answering)")
    def rotate_tokens(self, request: HttpRequest, queryset: QuerySet[WebhookTrigger]) -> None:
        for trigger in queryset:
            webhook_token_rotate(trigger=trigger)
        self.message_user(request, f"Rotated {len(queryset)} webhook token(s).")
