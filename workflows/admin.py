from django.contrib import admin

from .models import WebhookTrigger, Workflow, WorkflowVersion
from .triggers import webhook_token_rotate


class WorkflowVersionInline(admin.TabularInline):
    model = WorkflowVersion
    extra = 0
    fields = ("number", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "active", "current_version", "created_by", "updated_at")
    list_filter = ("active",)
    search_fields = ("name", "description", "workspace__name", "id")
    readonly_fields = ("id", "current_version", "created_by", "created_at", "updated_at")
    list_select_related = ("workspace", "current_version", "created_by")
    autocomplete_fields = ("workspace",)
    date_hierarchy = "created_at"
    inlines = [WorkflowVersionInline]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    """Versions are immutable snapshots: readable here, never editable."""

    list_display = ("workflow", "number", "created_by", "created_at")
    search_fields = ("workflow__name", "workflow__id")
    readonly_fields = ("id", "workflow", "number", "graph", "created_by", "created_at")
    list_select_related = ("workflow", "created_by")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(WebhookTrigger)
class WebhookTriggerAdmin(admin.ModelAdmin):
    """Rows mirror the workflow graphs and are written when a workflow is saved, so they
    are read-only here; rotating a leaked token is the one operator action."""

    list_display = ("workflow", "node_id", "method", "path", "mode", "auth", "disabled")
    list_filter = ("method", "mode", "auth", "disabled")
    search_fields = ("workflow__name", "workflow__id", "node_id", "path", "=token")
    list_select_related = ("workflow",)
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

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    @admin.action(description="Rotate the token (the old URL stops answering)")
    def rotate_tokens(self, request, queryset):  # type: ignore[no-untyped-def]
        for trigger in queryset:
            webhook_token_rotate(trigger=trigger)
        self.message_user(request, f"Rotated {len(queryset)} webhook token(s).")
