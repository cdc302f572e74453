"""Remove the subscriptions LinkFlow wrote by itself on a workspace's first use.

Until now every workspace got a Subscription row on the default plan the first time a
limit was checked, which froze that plan (a later LINKFLOW_DEFAULT_PLAN did not reach the
workspace). Such a row has one shape: active, on the free or unlimited plan, for exactly
the calendar month (UTC) it was made in, and never edited since. Those rows go; a workspace
without a row now follows LINKFLOW_DEFAULT_PLAN. Rows on any other plan, edited rows, and
rows with other periods are kept: an operator made or changed them (docs/deploy.md).
"""

from datetime import UTC, timedelta

from django.db import migrations

AUTO_PLANS = ("free", "unlimited")
UNEDITED = timedelta(seconds=1)


def _month_start(moment):
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start):
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1
    )


def _auto_created(row) -> bool:
    start = _month_start(row.created_at)
    return (
        row.status == "active"
        and row.updated_at - row.created_at < UNEDITED
        and row.current_period_start == start
        and row.current_period_end == _next_month(start)
    )


def remove_auto_subscriptions(apps, schema_editor):
    Subscription = apps.get_model("billing", "Subscription")
    rows = Subscription.objects.filter(plan__slug__in=AUTO_PLANS, status="active")
    doomed = [row.pk for row in rows.iterator() if _auto_created(row)]
    for start in range(0, len(doomed), 1000):
        Subscription.objects.filter(pk__in=doomed[start : start + 1000]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_default_plans")]

    operations = [migrations.RunPython(remove_auto_subscriptions, migrations.RunPython.noop)]
