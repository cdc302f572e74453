"""``linkflow_dispatch_held`` in plpgsql, so its two counts are planned once per connection.

0015 wrote it in SQL. PostgreSQL (before 18) plans a SQL function's body again on every
call that it cannot inline, and a call from plpgsql is never inlined: on a busy workspace,
where every admission and every finish counts the held slots, re-planning those counts
over every partition was about a quarter of the CPU PostgreSQL spent per execution
(bench/RESULTS.md, session 7). A plpgsql function keeps each statement's plan for the
session; with one equality per status the generic plan reads the
``(workspace, status, queued_at)`` index for each status, as the custom one does.
"""

import importlib

from django.db import migrations

# 0015's SQL version, put back on the way down.
HELD_0015 = importlib.import_module("executions.migrations.0015_dispatch_function").HELD

HELD = """
CREATE OR REPLACE FUNCTION linkflow_dispatch_held(p_workspace uuid)
RETURNS integer LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ((SELECT count(*) FROM executions_execution
             WHERE workspace_id = p_workspace AND status = 'queued' AND mode <> 'test')
          + (SELECT count(*) FROM executions_execution
             WHERE workspace_id = p_workspace AND status = 'running' AND mode <> 'test'))::integer;
END
$$;
"""


def _forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(HELD)


def _backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(HELD_0015)


class Migration(migrations.Migration):
    dependencies = [("executions", "0015_dispatch_function")]

    operations = [migrations.RunPython(_forward, _backward)]
