"""What billing counts, told by the apps that own the rows.

Billing is a floor below workflows and executions: both ask it for plan limits before they
write, so it cannot import their models without a loop. Instead each of them registers its
meters here from its ``AppConfig.ready`` (as healthchecks' transports register), and
billing reads through them. Unregistered meters raise ``LookupError``: the app that owns
the rows is not installed.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID


@dataclass(frozen=True)
class WorkspaceTotals:
    """One workspace's executions that finished in a period, for the daily usage row."""

    workspace_id: UUID
    succeeded: int
    failed: int
    cancelled: int
    node_runs: int
    execution_seconds: float


class CountCreated(Protocol):
    def __call__(self, *, workspace_id: UUID | str, since: datetime, cap: int | None) -> int: ...


class CountLive(Protocol):
    def __call__(self, *, workspace_id: UUID | str, cap: int | None) -> int: ...


class TotalsFinished(Protocol):
    def __call__(self, *, start: datetime, end: datetime) -> list[WorkspaceTotals]: ...


class CountActive(Protocol):
    def __call__(self, *, workspace_id: UUID | str) -> int: ...


class ListRefusals(Protocol):
    def __call__(self, *, workspace_id: UUID | str, since: datetime) -> list[dict[str, Any]]: ...


@dataclass
class _Meters:
    executions_created: CountCreated | None = None
    executions_live: CountLive | None = None
    executions_finished: TotalsFinished | None = None
    workflows_active: CountActive | None = None
    workflows_refused: ListRefusals | None = None


_METERS = _Meters()
_M = TypeVar("_M")


def execution_meters_register(
    *, created: CountCreated, live: CountLive, finished: TotalsFinished
) -> None:
    """The executions app's meters: executions created since a time (at most ``cap``),
    queued plus running ones (at most ``cap``), and per-workspace totals of those that
    finished in a period."""
    _METERS.executions_created = created
    _METERS.executions_live = live
    _METERS.executions_finished = finished


def workflow_meters_register(*, active: CountActive, refused: ListRefusals) -> None:
    """The workflows app's meters: a workspace's active workflows, and the cron fires the
    plan refused since a time (kept on the workflows, shown in the usage API)."""
    _METERS.workflows_active = active
    _METERS.workflows_refused = refused


def executions_created() -> CountCreated:
    return _required(_METERS.executions_created, "executions_created")


def executions_live() -> CountLive:
    return _required(_METERS.executions_live, "executions_live")


def executions_finished() -> TotalsFinished:
    return _required(_METERS.executions_finished, "executions_finished")


def workflows_active() -> CountActive:
    return _required(_METERS.workflows_active, "workflows_active")


def workflows_refused() -> ListRefusals:
    return _required(_METERS.workflows_refused, "workflows_refused")


def _required(meter: _M | None, name: str) -> _M:
    if meter is None:
        raise LookupError(f"no billing meter {name!r} is registered")
    return meter
