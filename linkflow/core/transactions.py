"""The one way to enqueue work: after the surrounding transaction commits.

Enqueuing inside a transaction races the commit: a fast worker would look for a row that
is not visible yet. ``transaction.on_commit`` runs the send once the row exists, and not
at all if the transaction rolls back.
"""

from typing import Any

from celery import Task
from django.db import transaction


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Send ``task`` with these arguments when the current transaction commits."""
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs))
