from django.contrib import admin

from .models import Execution, NodeRun

_NODE_RUN_FIELDS = (
    "sequence",
    "node_id",
    "node_type",
    "status",
    "attempt",
    "started_at",
    "finished_at",
    "input",
    "output",
    "error",
)


class NodeRunInline(admin.TabularInline):
    model = NodeRun
    extra = 0
    fields = _NODE_RUN_FIELDS
    readonly_fields = _NODE_RUN_FIELDS
    can_delete = False
    ordering = ("sequence",)

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "workflow", "status", "mode", "queued_at", "started_at", "finished_at")
    list_filter = ("status", "mode")
    search_fields = ("id", "workflow__name", "workspace__name")
    list_select_related = ("workflow",)
    date_hierarchy = "queued_at"
    readonly_fields = (
        "id",
        "workspace",
        "workflow",
        "version",
        "mode",
        "trigger_input",
        "error",
        "queued_at",
        "started_at",
        "finished_at",
        "lease_owner",
        "lease_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    )
    inlines = [NodeRunInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(NodeRun)
class NodeRunAdmin(admin.ModelAdmin):
    list_display = ("node_id", "node_type", "status", "attempt", "execution", "started_at")
    list_filter = ("status", "node_type")
    search_fields = ("node_id", "execution__id")
    readonly_fields = ("id", "execution", *_NODE_RUN_FIELDS, "created_at", "updated_at")
    date_hierarchy = "started_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
