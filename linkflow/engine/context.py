"""What the host gives a run (RunContext) and what the runner gives one node (NodeContext)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from linkflow.engine.errors import ExpressionError, NodeError
from linkflow.engine.expressions import evaluate
from linkflow.engine.net import AddressPolicy

if TYPE_CHECKING:
    from linkflow.engine.items import Lineage, Source
    from linkflow.engine.lineage import ItemTrail


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
    # When the whole execution must be over; nodes see it through NodeContext.time_left().
    deadline: datetime | None = None
    # Resolve a node's ``credential`` id to its decrypted fields (raise KeyError if unknown).
    credentials: Callable[[str], dict[str, Any]] | None = None
    files: FileStore | None = None
    subworkflows: SubworkflowRunner | None = None
    mailer: Mailer | None = None
    # Where nodes that open their own sockets (databases, brokers) may connect; None is
    # the default-deny policy. HTTP nodes get the same policy through ``http_client``.
    address_policy: AddressPolicy | None = None
    # Filled by webhook.respond: {"status", "headers", "body"} for a waiting webhook caller.
    response: dict[str, Any] | None = field(default=None)
    # The call that resumed a flow.wait in call or approval mode ({"node_id", "body"?,
    # "decision"?}), if one did; the waiting node checks it is meant for it.
    resume_call: dict[str, Any] | None = None


class FileStore(Protocol):
    """Where nodes put binary results (downloads); the item then holds the reference."""

    def save(self, *, name: str, content: bytes, content_type: str) -> dict[str, Any]:
        """Store ``content``; return a JSON reference
        ``{"$file": key, "name", "size", "content_type"}``."""
        ...

    def read(self, *, ref: dict[str, Any], limit: int) -> bytes:
        """The bytes of a file this execution stored (``ref`` from save); raise KeyError
        for a reference that is not one of this execution's files, ValueError past
        ``limit`` bytes."""
        ...


class Mailer(Protocol):
    """The host's mail machinery, for notify.email."""

    def send(self, *, smtp: dict[str, Any], message: dict[str, Any], timeout: float) -> None:
        """Send ``message`` ({"from", "to": [...], "cc"?, "subject", "text", "html"?,
        "attachments"?: [{"name", "content": bytes, "content_type"}]})
        through the SMTP server described by ``smtp`` (a credential's fields: host, port,
        username?, password?, security: "none" | "starttls" | "tls") within ``timeout``
        seconds, connecting only where the host's address policy allows (see
        net.open_guarded_socket). Raise on failure: net.BlockedAddress for a refused
        address, TimeoutError past the timeout."""
        ...


class SubworkflowRunner(Protocol):
    """The host's way to run another workflow of the same workspace for workflow.execute."""

    def run(
        self,
        *,
        workflow_id: str,
        items: list[dict[str, Any]],
        wait: bool,
        key: str,
        as_items: bool = False,
    ) -> list[dict[str, Any]]:
        """Run it with ``items`` as its trigger input; with ``wait`` return its last items,
        else return at once with ``[{"execution_id": ...}]``. ``key`` (the node's
        idempotency key) makes a repeated call return the same child execution.
        With ``as_items`` (workflow.execute from version 3) the child's trigger emits
        the items one each (trigger.ITEMS_KEY); without, one item holding them under
        "items".
        Raise NodeError on failure, Suspend to be called again later."""
        ...


class NodeViews(Mapping[str, Mapping[str, Any]]):
    """What expressions see as ``nodes``: node id -> ``{"items", "json"}`` of each node that
    ran so far. Naming a node that did not run (skipped, later in the order, or not in the
    workflow) fails the expression with that reason, rather than reading as empty: a
    misspelt or unreached node is a mistake to show, not a missing field.

    ``trail``, the run's item lineage, lets a node's expressions read ``nodes.<id>.item``:
    the item of that node the current item descends from (see ``PairedNodes``)."""

    def __init__(self, node_ids: Iterable[str] = (), *, trail: ItemTrail | None = None) -> None:
        self._known = frozenset(node_ids)
        self._views: dict[str, Mapping[str, Any]] = {}
        self.trail = trail

    def set(self, node_id: str, view: Mapping[str, Any] | None) -> None:
        """Record what ``node_id`` emitted, or (None) that it did not run."""
        if view is None:
            self._views.pop(node_id, None)
        else:
            self._views[node_id] = view

    def __getitem__(self, node_id: object) -> Mapping[str, Any]:
        view = self._views.get(node_id) if isinstance(node_id, str) else None
        if view is not None:
            return view
        if node_id in self._known:
            raise ExpressionError(f"node '{node_id}' did not run")
        raise ExpressionError(f"there is no node {node_id!r} in this workflow")

    def get(self, node_id: object, default: Any = None) -> Any:
        return self._views.get(node_id, default) if isinstance(node_id, str) else default

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._views

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


class PairedView(Mapping[str, Any]):
    """One node's view (``items``, ``json``) plus ``item``: the item of that node the
    current item descends from, found by walking the lineage when it is read (not listed
    among the keys, so writing the whole view never walks it)."""

    def __init__(self, view: Mapping[str, Any], *, find: Callable[[], dict[str, Any]]) -> None:
        self._view = view
        self._find = find

    def __getitem__(self, key: str) -> Any:
        if key == "item" and "item" not in self._view:
            return self._find()
        return self._view[key]

    def __contains__(self, key: object) -> bool:
        return key in self._view  # as listed: asking never walks the lineage

    def __iter__(self) -> Iterator[str]:
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)


class PairedNodes(Mapping[str, Mapping[str, Any]]):
    """``nodes`` as one item's expressions see it: NodeViews whose views also answer
    ``item`` for that item (input item ``index`` of node ``node_id``)."""

    def __init__(
        self,
        views: NodeViews,
        *,
        trail: ItemTrail,
        node_id: str,
        index: int,
        inputs: list[list[dict[str, Any]]],
    ) -> None:
        self._views, self._trail = views, trail
        self._node_id, self._index, self._inputs = node_id, index, inputs

    def __getitem__(self, node_id: str) -> Mapping[str, Any]:
        view = self._views[node_id]
        return PairedView(view, find=lambda: self._origin(node_id))

    def _origin(self, target: str) -> dict[str, Any]:
        return self._trail.origin(
            node_id=self._node_id, index=self._index, target=target, inputs=self._inputs
        )

    def get(self, node_id: str, default: Any = None) -> Any:
        return self[node_id] if node_id in self._views else default

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._views

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


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
        inputs: list[list[dict[str, Any]]] | None = None,
        credential_id: str | None = None,
        timeout_seconds: float | None = None,
        suspended_until: datetime | None = None,
        version: int = 1,
        pages: Any = None,
    ) -> None:
        self.node_id = node_id
        # The version of the node's type this node was saved with (registry.NodeType).
        self.version = version
        self.params = params
        self.run = run
        self.attempt = attempt
        # Items per incoming edge, in edge order (flow.merge needs them apart).
        self.inputs = inputs if inputs is not None else [items]
        self.credential_id = credential_id
        # Set when this node suspended earlier (flow.wait) and is now being resumed.
        self.suspended_until = suspended_until
        # For a node that follows pages: the pages stored so far and the way to store the
        # next (loops.PageLog); None when the node does not follow pages or runs in a loop.
        self.pages = pages
        now = run.clock()
        deadlines = [d for d in (run.deadline,) if d is not None]
        if timeout_seconds is not None:
            deadlines.append(now + timedelta(seconds=timeout_seconds))
        self._deadline = min(deadlines) if deadlines else None
        # Which limit the deadline is, for the error of a node that ran past it.
        by_node = timeout_seconds is not None and self._deadline != run.deadline
        self._limit = (
            f"its timeout of {timeout_seconds:g} s" if by_node else "the execution's time limit"
        )
        self._items = items
        self._node_views = node_views
        self._names: dict[str, object] | None = None
        # Things the user should know about a run that still succeeded (see ``note``).
        self.notes: list[str] = []
        # Where a batch node's output items came from, when it says (``record_sources``).
        self.sources: Lineage = {}

    def record_sources(self, sources: Sequence[Source], *, port: str = "main") -> None:
        """For a node that takes its items at once: which input item(s) (indexes into
        its items, the incoming edges' items one after the other) each output item of
        ``port`` came from, so ``nodes.<id>.item`` downstream can follow them. A node
        that passes input items on unchanged (sort, limit) need not: the runner sees that
        they are the same items."""
        self.sources[port] = list(sources)

    def note(self, message: str) -> None:
        """Record ``message`` on this node's run without failing it (a webhook header that
        was dropped): the runner stores the notes as the succeeded run's ``error`` with
        ``"warning": true``."""
        self.notes.append(message)

    @property
    def idempotency_key(self) -> str:
        """Stable across re-deliveries of the same attempt: ``<execution id>:<node>:<attempt>``."""
        return f"{self.run.execution.get('id')}:{self.node_id}:{self.attempt}"

    def item_key(self, index: int) -> str:
        """Stable across attempts for input item ``index``: ``<execution>:<node>:item-<i>``.
        A retried item sends the same key, so a server that saw the first try can tell."""
        return f"{self.run.execution.get('id')}:{self.node_id}:item-{index}"

    def time_left(self, *, default: float | None = None) -> float | None:
        """Seconds this node may still take (node timeout or execution deadline, whichever
        comes first), never below 0.05; ``default`` when neither is set. Nodes doing I/O
        pass it on as their timeout."""
        if self._deadline is None:
            return default
        left = (self._deadline - self.run.clock()).total_seconds()
        return max(left, 0.05) if default is None else max(min(left, default), 0.05)

    def past_deadline(self) -> bool:
        """True once the node's timeout or the execution's deadline has passed."""
        return self._deadline is not None and self.run.clock() >= self._deadline

    def check_time(self, *, item_index: int | None = None) -> None:
        """Raise NodeError once this node ran past its ``timeout_seconds`` (or the
        execution's deadline). Pure nodes call it between items and inside loops: nothing
        in-process can pre-empt C code, so this bounds Python work, and the worker's hard
        time limit is the backstop for the rest (docs/security/worker-limits.md)."""
        if not self.past_deadline():
            return
        where = "" if item_index is None else f" (at item {item_index})"
        raise NodeError(f"The node ran past {self._limit}{where}.", node_id=self.node_id)

    def credential(self) -> dict[str, Any]:
        """The decrypted fields of this node's ``credential``; NodeError when the node has
        none or the host cannot resolve it."""
        if not self.credential_id:
            raise NodeError("This node needs a credential.", param="credential")
        if self.run.credentials is None:
            raise NodeError("Credentials are not available here.", param="credential")
        try:
            return self.run.credentials(self.credential_id)
        except KeyError:
            raise NodeError(
                f"Credential '{self.credential_id}' not found in this workspace.",
                param="credential",
            ) from None

    def param(self, name: str, *, item_index: int | None = None, default: Any = MISSING) -> Any:
        """The parameter ``name`` with its expressions evaluated, ``json`` being
        ``items[item_index]`` (``{}`` when item_index is None).

        An absent parameter gives ``default``; without a default it raises NodeError.
        A failing expression raises ExpressionError with node_id, ``param``
        ("params.<name>...") and ``item`` (the item_index) set.
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
        self.check_time(item_index=item_index)  # per-item nodes evaluate per item
        current = {} if item_index is None else self._items[item_index]
        names = self._names_for(current, index=item_index or 0)
        try:
            return evaluate(raw, names=names, path=f"params.{name}")
        except ExpressionError as error:
            error.locate(node_id=self.node_id, item=item_index)
            raise

    def evaluate(self, raw: Any, *, current: dict[str, Any], path: str) -> Any:
        """``raw`` (a parameter's stored value) with its expressions evaluated, ``json``
        being ``current``: for a value that depends on something other than an input item
        (http.request's pagination reads the last response). Errors as for ``param``."""
        if not isinstance(raw, str) or "{{" not in raw:
            return raw
        self.check_time()
        index = next((i for i, item in enumerate(self._items) if item is current), 0)
        try:
            return evaluate(raw, names=self._names_for(current, index=index), path=path)
        except ExpressionError as error:
            error.locate(node_id=self.node_id)
            raise

    def _names_for(self, current: dict[str, Any], *, index: int) -> dict[str, object]:
        """The names for an expression of input item ``index`` (``current``); a node
        evaluating for no item in particular reads lineage from its first item, as n8n
        does."""
        # Built on first use so nodes without expressions never read the clock.
        if self._names is None:
            self._names = {
                "items": self._items,
                "nodes": self._node_views,
                "trigger": self.run.trigger_input,
                "execution": self.run.execution,
                "now": self.run.clock(),
            }
        views = self._node_views
        if not isinstance(views, NodeViews) or views.trail is None:
            return {**self._names, "json": current}
        nodes = PairedNodes(
            views, trail=views.trail, node_id=self.node_id, index=index, inputs=self.inputs
        )
        return {**self._names, "json": current, "nodes": nodes}
