"""Calendar months, the unit executions and NodeRuns are partitioned by on PostgreSQL, and
the hot path's lookup of a month's partitions (maintenance/partitions.py makes and drops
them). A module of its own below both the runner and the maintenance tasks."""

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection

EXECUTIONS = "executions_execution"
NODE_RUNS = "executions_noderun"
# Each partitioned table and its partition key; executions first (names pair up by month).
TABLES = ((EXECUTIONS, "created_at"), (NODE_RUNS, "execution_created_at"))


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC: the unit of partitioning."""

    year: int
    month: int

    @classmethod
    def of(cls, moment: datetime | date) -> "Month":
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)  # naive ones are UTC already (date_trunc)
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    def plus(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def suffix(self) -> str:
        return f"y{self.year:04d}m{self.month:02d}"

    def partition(self, table: str) -> str:
        return f"{table}_{self.suffix}"


# The months whose two partitions this process saw (True) or found missing (False), and
# when it looked. A month's partitions exist before its first row (created months ahead)
# and are dropped only once no unfinished execution is left in them (cleanup.py), so a
# month seen once stays good for every write a run makes; one found missing (its rows in
# the default partitions) is looked at again after a while.
_SEEN: dict["Month", tuple[bool, float]] = {}
_MISSING_RECHECK_SECONDS = 60.0


def month_partitions(moment: datetime) -> tuple[str, str] | None:
    """The executions and NodeRun partitions of the month of ``moment`` (an execution's
    ``created_at``) when both exist, else None (SQLite, or a month nobody created).

    PostgreSQL (15) locks every partition of a partitioned table, and each of their
    indexes, each time it runs a prepared statement on a generic plan: a statement naming
    the partitioned table costs more with every month of history kept, one naming its
    month's partition does not (bench/pg_statements.py)."""
    if connection.vendor != "postgresql":
        return None
    month = Month.of(moment)
    seen, at = _SEEN.get(month, (False, -_MISSING_RECHECK_SECONDS))
    if not seen and time.monotonic() - at >= _MISSING_RECHECK_SECONDS:
        names = [month.partition(EXECUTIONS), month.partition(NODE_RUNS)]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL", names
            )
            seen = bool(cursor.fetchone()[0])
        _SEEN[month] = (seen, time.monotonic())
    return (month.partition(EXECUTIONS), month.partition(NODE_RUNS)) if seen else None


def month_partitions_forget() -> None:
    """After partitions were created or dropped: look at the catalog again."""
    _SEEN.clear()
