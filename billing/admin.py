from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import Plan, Subscription, UsageDaily
from .selectors import plan_cache_clear


class _ClearsPlanCache:
    """Plan and subscription edits apply at once in this process (others within 30 s)."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]  # a mixin
        plan_cache_clear()


@admin.register(Plan)
class PlanAdmin(_ClearsPlanCache, admin.ModelAdmin[Plan]):
    list_display = (
        "name",
        "slug",
        "executions_per_month",
        "concurrent_executions",
        "active_workflows",
        "retention_days",
        "api_requests_per_minute",
        "subscription_count",
    )
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "slug")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(subscription_count=Count("subscriptions"))

    @admin.display(description="Subscriptions", ordering="subscription_count")
    def subscription_count(self, plan: Plan) -> int:
        return int(plan.subscription_count)  # type: ignore[attr-defined]  # get_queryset's


@admin.register(Subscription)
class SubscriptionAdmin(_ClearsPlanCache, admin.ModelAdmin[Subscription]):
    list_display = ("workspace", "plan", "status", "current_period_start", "current_period_end")
    list_filter = ("plan", "status")
    list_select_related = ("workspace", "plan")
    search_fields = ("workspace__name", "=workspace__id", "plan__name")
    raw_id_fields = ("workspace",)
    date_hierarchy = "current_period_end"


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin[UsageDaily]):
    """Rebuilt by the usage aggregation every few minutes: read it, do not edit it."""

    list_display = (
        "workspace",
        "day",
        "succeeded",
        "failed",
        "cancelled",
        "node_runs",
        "execution_seconds",
    )
    list_select_related = ("workspace",)
    search_fields = ("workspace__name", "=workspace__id")
    date_hierarchy = "day"

    def get_readonly_fields(self, request: HttpRequest, obj: UsageDaily | None = None) -> list[str]:
        return [field.name for field in UsageDaily._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
