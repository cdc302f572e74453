"""Errors a node raises to fail its run with a message the user can act on."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self


class NodeError(Exception):
    """A node could not do its work; the run fails with this error.

    Carries where the problem is, as far as it is known: the node id, the parameter as a
    dotted path ("params.fields.tier"), a character offset inside that parameter's string
    and the index of the input item being handled. Node code usually leaves ``node_id``
    empty; the runner fills it in.
    """

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        param: str | None = None,
        position: int | None = None,
        item: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id
        self.param = param
        self.position = position
        self.item = item

    def locate(
        self, *, node_id: str | None = None, param: str | None = None, item: int | None = None
    ) -> Self:
        """Fill in the node id, parameter and item where they are still unknown; returns self.

        Inner layers know more precisely where an error happened, so their values win.
        """
        if self.node_id is None:
            self.node_id = node_id
        if self.param is None:
            self.param = param
        if self.item is None:
            self.item = item
        return self

    def as_dict(self) -> dict[str, Any]:
        """The error as stored on a failed outcome: message and node_id, plus param,
        position and item only when they are known."""
        error: dict[str, Any] = {"message": self.message, "node_id": self.node_id}
        if self.param is not None:
            error["param"] = self.param
        if self.position is not None:
            error["position"] = self.position
        if self.item is not None:
            error["item"] = self.item
        return error


class ExpressionError(NodeError):
    """A ``{{ }}`` expression could not be compiled or evaluated, or produced a value that
    is not JSON data or is too large.

    A subclass of NodeError because, to the run, a broken expression is just a failing node.
    ``position`` is the offset of the failing ``{{`` in the parameter string; ``expression``
    the text between the braces, when the failure happened while evaluating it.
    """

    def __init__(self, message: str, *, expression: str | None = None, **where: Any) -> None:
        super().__init__(message, **where)
        self.expression = expression

    def as_dict(self) -> dict[str, Any]:
        """As NodeError.as_dict, the message prefixed with the node, parameter and item it
        happened at and, for an evaluation error, followed by the expression and the
        character its ``{{`` starts at; ``expression`` is added too."""
        error = super().as_dict()
        where = [f"node '{self.node_id}'"] if self.node_id is not None else []
        if self.param is not None:
            where.append(f"parameter '{self.param}'")
        if self.item is not None:
            where.append(f"item {self.item}")
        message = self.message
        if self.expression is not None:
            shown = _shortened(self.expression)
            at = f" at character {self.position}" if self.position is not None else ""
            message = f"{message} (in {{{{ {shown} }}}}{at})"
            error["expression"] = shown
        if where:
            text = ", ".join(where)
            message = f"{text[0].upper()}{text[1:]}: {message}"
        error["message"] = message
        return error


_SHOWN_EXPRESSION_CHARS = 200


def _shortened(text: str) -> str:
    if len(text) <= _SHOWN_EXPRESSION_CHARS:
        return text
    return text[: _SHOWN_EXPRESSION_CHARS - 1] + "…"


class ExpressionBoundError(ExpressionError):
    """An expression would exceed a size or work bound (see linkflow/engine/budget.py).

    Its stored message names where it happened (node, parameter, item), as every
    expression error's does: the data or the expression has to change.
    """


class Suspend(Exception):
    """Raised by a node to park the execution until ``resume_at`` (timezone-aware).

    The worker is released; the host resumes the execution when the time comes and the
    node runs again with ``NodeContext.suspended_until`` set to this ``resume_at``.
    """

    def __init__(self, resume_at: datetime) -> None:
        super().__init__(f"suspended until {resume_at.isoformat()}")
        self.resume_at = resume_at
