"""How the host follows a run: the runner reports each node to an Observer."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from linkflow.engine.outcomes import NodeOutcome


@runtime_checkable
class Observer(Protocol):
    """Receives a run's progress; the host's implementation persists and broadcasts it.

    Exceptions raised here propagate out of ``run_graph`` unchanged: a host that cannot
    record progress must not have the run carry on without it.
    """

    def node_started(
        self, *, node_id: str, node_type: str, attempt: int, input: list[dict[str, Any]]
    ) -> None:
        """A node is about to execute (not called for skipped or already completed nodes)."""

    def node_finished(
        self,
        *,
        node_id: str,
        node_type: str,
        attempt: int,
        input: list[dict[str, Any]],
        outcome: NodeOutcome,
        started_at: datetime,
        finished_at: datetime,
        iteration: int = 0,
    ) -> None:
        """A node succeeded, failed or was skipped (then started_at == finished_at).

        ``iteration`` is passed only when it is not 0: the batch of a loop the node ran in
        (1, 2, ...), or the page of a node following pages (engine/loops.py). An observer
        of graphs without loops or pagination may leave it out."""

    def should_stop(self) -> bool:
        """Checked before each node; True ends the run as ``cancelled``."""


class NullObserver:
    """An observer that records nothing and never stops the run."""

    def node_started(
        self, *, node_id: str, node_type: str, attempt: int, input: list[dict[str, Any]]
    ) -> None:
        """Ignore the start."""

    def node_finished(
        self,
        *,
        node_id: str,
        node_type: str,
        attempt: int,
        input: list[dict[str, Any]],
        outcome: NodeOutcome,
        started_at: datetime,
        finished_at: datetime,
        iteration: int = 0,
    ) -> None:
        """Ignore the result."""

    def should_stop(self) -> bool:
        """Never stop."""
        return False
