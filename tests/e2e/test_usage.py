"""The usage journey: the plan's limits against current use, and the daily chart."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import UsageDaily

from ..billing import on_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_limits_and_chart_bars_for_days_with_usage(new_page, owner):
    workspace = on_plan(owner, executions_per_month=500, active_workflows=3)
    today = timezone.now().astimezone(UTC).date()
    busy, quiet = today - timedelta(days=2), today - timedelta(days=9)
    UsageDaily.objects.create(workspace=workspace, day=busy, succeeded=12, failed=3, cancelled=1)
    UsageDaily.objects.create(workspace=workspace, day=quiet, succeeded=4)

    page = new_page(owner, width=390)  # a phone: the chart scales to the screen
    page.goto("/usage/")
    executions = page.locator('[data-limit="executions_per_month"]')
    expect(executions.locator("[data-allowed]")).to_have_text("500")
    expect(executions.get_by_role("progressbar")).to_have_attribute("max", "500")
    expect(page.locator('[data-limit="concurrent_executions"]')).to_contain_text("no limit")

    chart = page.get_by_role("img", name="Daily executions by status, last 30 days")
    expect(chart).to_be_visible()
    expect(chart.locator(f'g[data-day="{busy:%Y-%m-%d}"] rect')).to_have_count(3)
    expect(chart.locator(f'g[data-day="{quiet:%Y-%m-%d}"] rect')).to_have_count(1)
    expect(chart.locator("g[data-day]")).to_have_count(30)
    expect(chart.locator("rect")).to_have_count(4)  # days without usage draw nothing
    tallest = chart.locator(f'g[data-day="{busy:%Y-%m-%d}"] rect[data-status="succeeded"]')
    other = chart.locator(f'g[data-day="{quiet:%Y-%m-%d}"] rect[data-status="succeeded"]')
    assert float(tallest.get_attribute("height")) == pytest.approx(
        3 * float(other.get_attribute("height"))
    )
    # The same numbers for screen readers, in the hidden table.
    expect(page.get_by_role("row", name=f"{busy:%Y-%m-%d} 12 3 1")).to_be_attached()
