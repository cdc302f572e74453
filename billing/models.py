"""Plans, each workspace's subscription to one, and the daily usage rollup."""

from django.db import models

from linkflow.accounts.models import Workspace
from linkflow.core.models import BaseModel

# The limits a plan row gets when it is missing (a fresh or flushed database): the values
# the data migration wrote. Empty (None) means "no limit".
PLAN_DEFAULTS: dict[str, dict[str, object]] = {
    "free": {
        "name": "Free",
        "executions_per_month": 1000,
        "concurrent_executions": 5,
        "active_workflows": 5,
        "retention_days": 7,
        "api_requests_per_minute": 60,
    },
    "pro": {
        "name": "Pro",
        "executions_per_month": 100_000,
        "concurrent_executions": 50,
        "active_workflows": 100,
        "retention_days": 30,
        "api_requests_per_minute": 600,
    },
    "unlimited": {
        "name": "Unlimited (self-hosted)",
        "executions_per_month": None,
        "concurrent_executions": None,
        "active_workflows": None,
        "retention_days": 30,
        "api_requests_per_minute": None,
    },
}

_UNLIMITED = "Empty means no limit."


class Plan(BaseModel):
    """What a workspace may use. Operators edit plans in the admin."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    executions_per_month = models.PositiveIntegerField(null=True, blank=True, help_text=_UNLIMITED)
    concurrent_executions = models.PositiveIntegerField(
        null=True, blank=True, help_text=f"Queued plus running executions. {_UNLIMITED}"
    )
    active_workflows = models.PositiveIntegerField(null=True, blank=True, help_text=_UNLIMITED)
    retention_days = models.PositiveIntegerField(
        default=7, help_text="How long executions and their node runs are kept."
    )
    api_requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text=f"Per workspace, for API keys. {_UNLIMITED}"
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELLED = "cancelled", "Cancelled"


class Subscription(BaseModel):
    """A workspace's plan, set by an operator in admin. A workspace without one follows
    LINKFLOW_DEFAULT_PLAN (billing on) or has no limits (billing off): see selectors."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="subscription"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.workspace} on {self.plan}"


class UsageDaily(BaseModel):
    """One workspace's finished executions on one day (UTC), rebuilt by usage_aggregate."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    node_runs = models.PositiveIntegerField(default=0)
    execution_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ("workspace", "-day")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="usage_daily_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}"
