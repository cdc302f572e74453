"""``GET /api/v1/workspaces/{workspace_id}/usage/``: the plan's limits against current use."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.usage import usage_report
from linkflow.accounts.http import api_caller
from linkflow.accounts.selectors import workspace_get


class _LimitSerializer(serializers.Serializer[Any]):
    allowed = serializers.IntegerField(allow_null=True, help_text="null: no limit")
    current = serializers.IntegerField()


class _LimitsSerializer(serializers.Serializer[Any]):
    executions_per_month = _LimitSerializer()
    concurrent_executions = _LimitSerializer(
        help_text="Dispatched (queued) plus running executions; past the limit new ones wait"
        " as pending, they are not refused."
    )
    active_workflows = _LimitSerializer()


class _DaySerializer(serializers.Serializer[Any]):
    day = serializers.DateField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    node_runs = serializers.IntegerField()
    execution_seconds = serializers.FloatField()


class _PlanSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    source = serializers.ChoiceField(  # type: ignore[assignment]  # shadows a Field attribute
        choices=["billing_off", "default_plan", "subscription"],
        help_text="Why this plan applies: billing is off (no limits), the default plan "
        "(LINKFLOW_DEFAULT_PLAN), or the workspace's active subscription.",
    )
    reason = serializers.CharField(help_text="The same, in words.")


class _SubscriptionSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    plan = serializers.CharField(
        help_text="The subscribed plan's slug (a lapsed one no longer applies)."
    )
    current_period_start = serializers.DateTimeField()
    current_period_end = serializers.DateTimeField()


class _MonthSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class RefusalOutSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    node_id = serializers.CharField(help_text="The trigger node whose fire was refused.")
    slot = serializers.DateTimeField(help_text="The cron slot that did not run.")
    code = serializers.CharField(help_text="The error code, e.g. plan_limit_exceeded.")
    message = serializers.CharField()
    details = serializers.JSONField()


class _RefusedFireSerializer(RefusalOutSerializer):
    workflow = serializers.UUIDField()
    name = serializers.CharField()


class UsageOutSerializer(serializers.Serializer[Any]):
    workspace = serializers.UUIDField()
    billing = serializers.BooleanField(help_text="Whether plan limits apply (LINKFLOW_BILLING).")
    plan = _PlanSerializer()
    subscription = _SubscriptionSerializer(
        allow_null=True, help_text="null: the workspace has no subscription."
    )
    month = _MonthSerializer(help_text="The calendar month (UTC) the execution quota counts.")
    limits = _LimitsSerializer()
    retention_days = serializers.IntegerField()
    api_requests_per_minute = serializers.IntegerField(allow_null=True)
    daily = _DaySerializer(many=True, help_text="The last 30 days, oldest first.")
    refused_fires = _RefusedFireSerializer(
        many=True,
        help_text="Workflows whose last cron fire this month was refused (monthly quota),"
        " newest first.",
    )


class WorkspaceUsageView(APIView):
    """Any member of the workspace may read it; another workspace answers 404."""

    required_scopes = {"read": "workspaces:read"}

    @extend_schema(responses=UsageOutSerializer)
    def get(self, request: Request, workspace_id: str) -> Response:
        workspace = workspace_get(user=api_caller(request), id=workspace_id)
        return Response(UsageOutSerializer(usage_report(workspace_id=workspace.pk)).data)
