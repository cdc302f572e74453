"""The plans every installation starts with; operators change them in the admin."""

from django.db import migrations

# Frozen here on purpose: a migration must not change when the code's defaults do.
PLANS = [
    {
        "slug": "free",
        "name": "Free",
        "executions_per_month": 1000,
        "concurrent_executions": 5,
        "active_workflows": 5,
        "retention_days": 7,
        "api_requests_per_minute": 60,
    },
    {
        "slug": "pro",
        "name": "Pro",
        "executions_per_month": 100_000,
        "concurrent_executions": 50,
        "active_workflows": 100,
        "retention_days": 30,
        "api_requests_per_minute": 600,
    },
    {
        "slug": "unlimited",
        "name": "Unlimited (self-hosted)",
        "executions_per_month": None,
        "concurrent_executions": None,
        "active_workflows": None,
        "retention_days": 30,
        "api_requests_per_minute": None,
    },
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        values = dict(plan)
        Plan.objects.get_or_create(slug=values.pop("slug"), defaults=values)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
