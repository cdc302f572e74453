"""Indexes that match the execution list's filters and its order (newest first, id breaking
ties), so a page of GET /api/v1/executions/ reads only its own rows at a million stored:
by workspace, by workflow, by workspace and status, and by workspace and start time.
The single-column indexes of the workspace and workflow foreign keys go: the new ones lead
with those columns, so every execution insert maintains one index fewer than before.

On PostgreSQL the indexes are built on every monthly partition inside the migration's
transaction (CREATE INDEX CONCURRENTLY does not exist for partitioned tables): on a large
database, plan for the time it takes and the write lock it holds.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_key"),
        ("executions", "0010_execution_mode_test"),
        ("workflows", "0008_pinned_data_test_versions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="execution",
            name="execution_ws_created",
        ),
        migrations.RemoveIndex(
            model_name="execution",
            name="execution_wf_created",
        ),
        migrations.AlterField(
            model_name="execution",
            name="workflow",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="executions",
                to="workflows.workflow",
            ),
        ),
        migrations.AlterField(
            model_name="execution",
            name="workspace",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.workspace",
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["workspace", "-created_at", "-id"], name="execution_ws_created"
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["workflow", "-created_at", "-id"], name="execution_wf_created"
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["workspace", "status", "-created_at", "-id"],
                name="execution_ws_status_created",
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("started_at__isnull", False)),
                fields=["workspace", "started_at"],
                include=["created_at"],
                name="execution_ws_started",
            ),
        ),
    ]
