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


# --- dead letters ---------------------------------------------------------------------------
from linkflow.core.errors import LinkflowError  # noqa: E402

from .dead_letters import dead_letter_discard, dead_letter_replay  # noqa: E402
from .models import DeadLetter  # noqa: E402


def _act_on_dead_letters(modeladmin, request, queryset, action, verb):  # type: ignore[no-untyped-def]
    done = skipped = 0
    for dead_letter in queryset:
        try:
            action(dead_letter=dead_letter)
            done += 1
        except LinkflowError:  # not pending any more (another operator was quicker)
            skipped += 1
    modeladmin.message_user(request, f"{done} {verb}, {skipped} skipped (not pending).")


@admin.action(description="Replay selected dead letters")
def replay_dead_letters(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    _act_on_dead_letters(modeladmin, request, queryset, dead_letter_replay, "replayed")


@admin.action(description="Discard selected dead letters")
def discard_dead_letters(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    _act_on_dead_letters(modeladmin, request, queryset, dead_letter_discard, "discarded")


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("task_name", "status", "attempts", "workspace", "execution", "last_failed_at")
    list_filter = ("status", "task_name")
    search_fields = ("id", "task_name", "task_id", "error", "execution__id")
    date_hierarchy = "last_failed_at"
    actions = [replay_dead_letters, discard_dead_letters]
    readonly_fields = (
        "id",
        "workspace",
        "execution",
        "task_name",
        "task_id",
        "args",
        "kwargs",
        "fingerprint",
        "error",
        "traceback",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "status",
        "resolved_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
