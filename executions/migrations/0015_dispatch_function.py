"""``linkflow_dispatch``: the workspace's promotion as one server-side call (PostgreSQL).

Called after the caller's own write committed (executions/starting/dispatch.py,
``dispatch_after_commit``). It looks without any lock first: nothing pending, or no free
slot, returns at once. Only when there is something to move does it take the workspace's
row lock and move the oldest pending executions into the free slots. Each statement of a
plpgsql function reads a fresh snapshot, so the move, run after the lock is held, sees
every promotion committed before it. SQLite has no such functions: there the promotion is
run from Python (one writer at a time makes it exact).
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION linkflow_dispatch(p_workspace uuid, p_window integer, p_now timestamptz)
RETURNS SETOF uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    free integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM executions_execution
                   WHERE workspace_id = p_workspace AND status = 'pending') THEN
        RETURN;
    END IF;
    SELECT p_window - linkflow_dispatch_held(p_workspace) INTO free;
    IF free <= 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM accounts_workspace WHERE id = p_workspace FOR NO KEY UPDATE;
    -- A statement of its own, so a fresh snapshot taken after the lock: every promotion
    -- committed before is counted.
    SELECT p_window - linkflow_dispatch_held(p_workspace) INTO free;
    RETURN QUERY
    UPDATE executions_execution SET status = 'queued', dispatched_at = p_now
    WHERE status = 'pending' AND id IN (
        SELECT id FROM executions_execution
        WHERE workspace_id = p_workspace AND status = 'pending'
        ORDER BY queued_at, created_at
        LIMIT greatest(free, 0))
    RETURNING id;
END
$$;
"""

# The slots a workspace holds. One equality per status, never ``status IN (...)``: a
# plpgsql statement runs on a generic plan after a few calls, and for ``IN`` that plan
# may read the index by workspace alone, every execution the workspace ever had.
HELD = """
CREATE OR REPLACE FUNCTION linkflow_dispatch_held(p_workspace uuid)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT ((SELECT count(*) FROM executions_execution
             WHERE workspace_id = p_workspace AND status = 'queued' AND mode <> 'test')
          + (SELECT count(*) FROM executions_execution
             WHERE workspace_id = p_workspace AND status = 'running' AND mode <> 'test'))::integer
$$;
"""


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(HELD)
        schema_editor.execute(FUNCTION)


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS linkflow_dispatch(uuid, integer, timestamptz)"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS linkflow_dispatch_held(uuid)")


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0014_noderun_iteration"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(_create, _drop)]
