"""A worker's kept database connection that broke is replaced when it is next used.

A worker process keeps one PostgreSQL connection for every task (linkflow/celery.py).
Django's CONN_HEALTH_CHECKS would test it with a ``SELECT 1`` before the first query of
every task: a round trip per execution, to catch what is rare (the database restarted,
the connection was terminated or timed out while idle). Instead the run goes ahead on the
kept connection, and when that fails because the connection is gone, it is closed and the
run is tried once more on a new one. Trying again is safe: a run starts with the claim,
so a second try of an execution the first try already took finds it held and does nothing
(recovery re-sends it when the lease runs out, as for any worker that stopped halfway).
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_reconnecting(run: Callable[..., T], *, execution_id: str) -> T:
    """``run(execution_id=...)``, tried again once on a new connection if the kept one
    turned out to be broken. ``run`` must be safe to call twice (it claims first)."""
    try:
        return run(execution_id=execution_id)
    except DatabaseError:
        if connection_usable():
            raise  # the statement failed, not the connection: the error stands
        logger.warning("execution %s: the database connection broke; reconnecting", execution_id)
        connection.close()
    return run(execution_id=execution_id)


def connection_usable() -> bool:
    """False when the default connection is open but can no longer be used.

    Only on the error path: it costs a round trip (``is_usable`` runs ``SELECT 1``).
    """
    if connection.connection is None:
        return True  # nothing to replace: the next query connects
    return connection.is_usable()
