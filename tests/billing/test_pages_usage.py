"""The usage page over Django's test client: limits, the chart's bars and its data table."""

from datetime import UTC, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.chart import daily_chart, nice_ceiling
from billing.models import UsageDaily
from linkflow.accounts.services import workspace_ensure_personal

from ..conftest import signed_in_client
from . import on_plan

pytestmark = pytest.mark.django_db


def test_usage_shows_limits_and_bars_only_for_days_with_executions(owner, viewer, outsider):
    workspace = on_plan(owner, executions_per_month=1000, active_workflows=4)
    today = timezone.now().astimezone(UTC).date()
    UsageDaily.objects.create(
        workspace=workspace, day=today - timedelta(days=3), succeeded=8, failed=2
    )
    UsageDaily.objects.create(workspace=workspace, day=today - timedelta(days=40), succeeded=99)
    theirs = workspace_ensure_personal(user=outsider)
    UsageDaily.objects.create(workspace=theirs, day=today, succeeded=5)

    response = signed_in_client(viewer, workspace).get("/usage/")
    html = response.content.decode()
    assert response.status_code == 200
    limits = {limit["name"]: limit for limit in response.context["limits"]}
    assert limits["executions_per_month"]["allowed"] == 1000
    assert limits["concurrent_executions"]["allowed"] is None
    assert "of <span data-allowed>1000</span>" in html and '<progress class="meter ' in html
    chart = response.context["chart"]
    assert len(chart["bars"]) == 30
    with_bars = {str(bar["day"]) for bar in chart["bars"] if bar["segments"]}
    assert with_bars == {str(today - timedelta(days=3))}
    assert html.count('<rect class="bar-') == 2  # succeeded and failed of that one day
    assert f'data-day="{today - timedelta(days=3):%Y-%m-%d}" data-total="10"' in html
    # Screen readers get every day in the hidden table, empty days as zeros.
    assert f'<th scope="row">{today:%Y-%m-%d}</th><td>0</td><td>0</td><td>0</td>' in html


def test_chart_stacks_segments_to_the_total_height():
    days = [{"day": f"d{n}", "succeeded": n, "failed": 1, "cancelled": 0} for n in range(4)]
    chart = daily_chart(days)
    last = chart["bars"][-1]  # 3 succeeded + 1 failed: the tallest, scaled to the top tick 5
    heights = sum(segment["h"] for segment in last["segments"])
    assert chart["ticks"][-1]["value"] == 5
    assert heights == pytest.approx((chart["baseline"] - chart["ticks"][-1]["y"]) * 4 / 5)
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 250)] == [1, 1, 5, 10, 20, 500]


def test_signed_out_visitor_is_sent_to_sign_in():
    response = Client().get("/usage/")
    assert response.status_code == 302
