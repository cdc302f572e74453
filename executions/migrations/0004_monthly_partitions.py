"""Partition executions and NodeRuns by month on PostgreSQL (see executions/partitions.py).

Django-visible changes (every database): NodeRuns get ``execution_created_at`` (their
execution's ``created_at``, the NodeRun partition key), the NodeRun unique constraint
includes it, and foreign keys to Execution stop being database constraints.

PostgreSQL only (a no-op on SQLite): each table is rebuilt as a table partitioned by range
of its key, with monthly partitions from its oldest row's month to two months ahead and a
default partition, its rows copied over and its indexes and constraints recreated under
their old names; the primary key becomes (id, key). The (workflow, dedupe_key) unique
constraint cannot include the partition key without losing its meaning, so it moves to
the small ``executions_dedupe`` table, which triggers keep in step with the executions.
The copy runs in the migration's transaction: on a large database, plan for the time it
takes and the lock it holds.
"""

import django.db.models.deletion
from django.db import migrations, models

import executions.models

AHEAD_MONTHS = 2
_TABLES = (("executions_execution", "created_at"), ("executions_noderun", "execution_created_at"))


def _fill_execution_created_at(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.execute(
        "UPDATE executions_noderun SET execution_created_at = (SELECT e.created_at FROM"
        " executions_execution e WHERE e.id = executions_noderun.execution_id)"
    )
    # A NodeRun whose execution is gone (none should be) would block NOT NULL.
    schema_editor.execute("DELETE FROM executions_noderun WHERE execution_created_at IS NULL")


def _partition(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, key in _TABLES:
            _partition_table(cursor, table, key)
        _move_dedupe_constraint(cursor)


def _partition_table(cursor, table: str, key: str) -> None:  # type: ignore[no-untyped-def]
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f')",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
        " JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    old = f"{table}_unpartitioned"
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _, _ in constraints:
        cursor.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING STORAGE) PARTITION BY RANGE ({key})"
    )
    cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    cursor.execute(
        "SELECT generate_series(date_trunc('month', coalesce(min(k), now()) AT TIME ZONE 'UTC'),"
        " date_trunc('month', now() AT TIME ZONE 'UTC') + %s * interval '1 month',"
        f" interval '1 month') FROM (SELECT {key} AS k FROM {old}) rows",
        [AHEAD_MONTHS],
    )
    for (start,) in cursor.fetchall():
        name = f"{table}_y{start.year:04d}m{start.month:02d}"
        cursor.execute(
            f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM"
            f" (%s::timestamp AT TIME ZONE 'UTC')"
            f" TO ((%s::timestamp + interval '1 month') AT TIME ZONE 'UTC')",
            [start, start],
        )
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    cursor.execute(f"DROP TABLE {old}")
    for _, definition in indexes:
        cursor.execute(definition)
    for name, kind, definition in constraints:
        if kind == "p":
            definition = f"PRIMARY KEY (id, {key})"
        elif kind == "u" and key not in definition:
            continue  # only execution_dedupe_unique: enforced by executions_dedupe instead
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


_DEDUPE_SQL = """
CREATE TABLE executions_dedupe (
    workflow_id uuid NOT NULL,
    dedupe_key varchar(200) NOT NULL,
    execution_id uuid NOT NULL,
    CONSTRAINT execution_dedupe_unique PRIMARY KEY (workflow_id, dedupe_key)
);
CREATE INDEX executions_dedupe_execution ON executions_dedupe (execution_id);
INSERT INTO executions_dedupe (workflow_id, dedupe_key, execution_id)
    SELECT workflow_id, dedupe_key, id FROM executions_execution WHERE dedupe_key IS NOT NULL;

CREATE FUNCTION executions_dedupe_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.dedupe_key IS NOT NULL THEN
        DELETE FROM executions_dedupe WHERE execution_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.dedupe_key IS NOT NULL THEN
        -- A second execution with the key fails here with a unique violation, as the
        -- constraint on the execution table used to.
        INSERT INTO executions_dedupe (workflow_id, dedupe_key, execution_id)
            VALUES (NEW.workflow_id, NEW.dedupe_key, NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION executions_dedupe_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM executions_dedupe;
    RETURN NULL;
END $$;

CREATE TRIGGER executions_dedupe_insert AFTER INSERT ON executions_execution
    FOR EACH ROW WHEN (NEW.dedupe_key IS NOT NULL) EXECUTE FUNCTION executions_dedupe_sync();
CREATE TRIGGER executions_dedupe_update AFTER UPDATE OF workflow_id, dedupe_key
    ON executions_execution FOR EACH ROW
    WHEN (OLD.dedupe_key IS DISTINCT FROM NEW.dedupe_key
          OR OLD.workflow_id IS DISTINCT FROM NEW.workflow_id)
    EXECUTE FUNCTION executions_dedupe_sync();
CREATE TRIGGER executions_dedupe_delete AFTER DELETE ON executions_execution
    FOR EACH ROW WHEN (OLD.dedupe_key IS NOT NULL) EXECUTE FUNCTION executions_dedupe_sync();
CREATE TRIGGER executions_dedupe_truncate AFTER TRUNCATE ON executions_execution
    FOR EACH STATEMENT EXECUTE FUNCTION executions_dedupe_clear();
"""


def _move_dedupe_constraint(cursor) -> None:  # type: ignore[no-untyped-def]
    cursor.execute(_DEDUPE_SQL)


def _refuse_unpartition(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        raise migrations.exceptions.IrreversibleError(
            "Turning the partitioned tables back into plain ones is not supported."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0003_deadletter"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="noderun",
            name="noderun_unique_attempt",
        ),
        migrations.AddField(
            model_name="noderun",
            name="execution_created_at",
            field=executions.models.ExecutionCreatedAtField(editable=False, null=True),
        ),
        migrations.RunPython(_fill_execution_created_at, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="noderun",
            name="execution_created_at",
            field=executions.models.ExecutionCreatedAtField(editable=False),
        ),
        migrations.AlterField(
            model_name="deadletter",
            name="execution",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="executions.execution",
            ),
        ),
        migrations.AlterField(
            model_name="execution",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="executions.execution",
            ),
        ),
        migrations.AlterField(
            model_name="execution",
            name="source",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="repeats",
                to="executions.execution",
            ),
        ),
        migrations.AlterField(
            model_name="noderun",
            name="execution",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="node_runs",
                to="executions.execution",
            ),
        ),
        migrations.AddConstraint(
            model_name="noderun",
            constraint=models.UniqueConstraint(
                fields=("execution", "node_id", "attempt", "execution_created_at"),
                name="noderun_unique_attempt",
            ),
        ),
        migrations.RunPython(_partition, _refuse_unpartition),
    ]
