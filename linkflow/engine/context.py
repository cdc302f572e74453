"""What the host gives a run (RunContext) and what the runner gives one node (NodeContext)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from linkflow.engine.errors import ExpressionError, NodeError
from linkflow.engine.expressions import evaluate


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass
class RunContext:
    """Everything a run needs from its host; the engine itself does no I/O of its own.

    ``execution`` (at least ``{"id", "mode"}``) and ``trigger_input`` (the trigger item) are
    visible to expressions as ``execution`` and ``trigger``. ``http_client`` is used by
    nodes that call out; when it is None they open a short-lived client themselves.
    ``trigger_node_id``, when set, names the trigger that fired: other trigger nodes of the
    graph are skipped. When None every trigger node emits the trigger input.
    """

    execution: dict[str, Any]
    trigger_input: dict[str, Any]
    http_client: httpx.Client | None = None
    clock: Callable[[], datetime] = utc_now
    trigger_node_id: str | None = None


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


class NodeContext:
    """One node's view of the run: its id and raw params, the RunContext, and expression
    evaluation with the standard names (``json``, ``items``, ``nodes``, ``trigger``,
    ``execution``, ``now``)."""

    def __init__(
        self,
        *,
        node_id: str,
        params: Mapping[str, Any],
        run: RunContext,
        items: list[dict[str, Any]],
        node_views: Mapping[str, Mapping[str, Any]],
        attempt: int = 1,
    ) -> None:
        self.node_id = node_id
        self.params = params
        self.run = run
        self.attempt = attempt
        self._items = items
        self._node_views = node_views
        self._names: dict[str, object] | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across re-deliveries of the same attempt: ``<execution id>:<node>:<attempt>``."""
        return f"{self.run.execution.get('id')}:{self.node_id}:{self.attempt}"

    def param(self, name: str, *, item_index: int | None = None, default: Any = MISSING) -> Any:
        """The parameter ``name`` with its expressions evaluated, ``json`` being
        ``items[item_index]`` (``{}`` when item_index is None).

        An absent parameter gives ``default``; without a default it raises NodeError.
        A failing expression raises ExpressionError with node_id and ``param`` set
        ("params.<name>...").
        """
        if name not in self.params:
            if default is MISSING:
                raise NodeError(
                    f"Parameter '{name}' is missing.", node_id=self.node_id, param=f"params.{name}"
                )
            return default
        raw = self.params[name]
        if isinstance(raw, str) and "{{" not in raw:
            return raw  # the common case: a literal, nothing to evaluate
        current = {} if item_index is None else self._items[item_index]
        try:
            return evaluate(raw, names=self._names_for(current), path=f"params.{name}")
        except ExpressionError as error:
            error.locate(node_id=self.node_id)
            raise

    def _names_for(self, current: dict[str, Any]) -> dict[str, object]:
        # Built on first use so nodes without expressions never read the clock.
        if self._names is None:
            self._names = {
                "items": self._items,
                "nodes": self._node_views,
                "trigger": self.run.trigger_input,
                "execution": self.run.execution,
                "now": self.run.clock(),
            }
        return {**self._names, "json": current}
