"""The code node: the user's Python, run over the items in an isolated sandbox process."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.code_sandbox import Limits, run_python
from linkflow.engine.errors import NodeError
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

DEFAULT_MEMORY_MB = 256
MAX_MEMORY_MB = 1024
MIN_MEMORY_MB = 64  # the interpreter itself needs a few tens of MB of address space
DEFAULT_CPU_SECONDS = 5
MAX_CPU_SECONDS = 60
DEFAULT_WALL_SECONDS = 30.0
MAX_CODE_CHARS = 100_000


class PythonCode(NodeType):
    """Runs a Python function body that receives ``items`` and returns the new items."""

    type = "code.python"
    # The sandbox has no network and no storage: costly, but nothing leaves LinkFlow.
    outside_effects = False
    label = "Python code"
    description = (
        "Runs Python over the items in an isolated sandbox: the code is a function body "
        "that gets `items` (a list of objects) and returns a list of objects."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "code": {
                "description": (
                    "A function body receiving `items`, e.g. "
                    'return [{**i, "n": i["n"] * 2} for i in items]. '
                    "Not an expression template: {{ }} is plain Python here."
                ),
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_CODE_CHARS,
            },
            "memory_mb": {
                "description": "Address-space limit of the sandbox process, in MB.",
                "type": "integer",
                "minimum": MIN_MEMORY_MB,
                "maximum": MAX_MEMORY_MB,
                "default": DEFAULT_MEMORY_MB,
            },
            "cpu_seconds": {
                "description": "CPU time limit, in seconds (rounded up to a whole second).",
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_CPU_SECONDS,
                "default": DEFAULT_CPU_SECONDS,
            },
        },
        "required": ["code"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Run ``code`` in a sandbox process with ``items`` and emit what it returns on
        "main". The wall-clock limit is the node's time left (at most 30 s).

        Raises NodeError for invalid parameters and for every failure of the code: syntax
        error, exception (with its line), a result that is not a list of objects, time or
        memory limit, oversized output, a killed process, or a sandbox that cannot start.
        """
        code = ctx.params.get("code")  # raw: "{{" is ordinary Python in a code body
        if not isinstance(code, str) or not code.strip():
            raise NodeError("Parameter 'code' must be a non-empty string.", param="params.code")
        limits = Limits(
            memory_mb=_memory_mb(ctx),
            cpu_seconds=_cpu_seconds(ctx),
            wall_seconds=ctx.time_left(default=DEFAULT_WALL_SECONDS) or DEFAULT_WALL_SECONDS,
        )
        return {"main": run_python(code=code, items=list(items), limits=limits)}


def _memory_mb(ctx: NodeContext) -> int:
    value = ctx.param("memory_mb", default=DEFAULT_MEMORY_MB)
    if isinstance(value, bool) or not isinstance(value, int):
        raise NodeError("Parameter 'memory_mb' must be an integer.", param="params.memory_mb")
    if not MIN_MEMORY_MB <= value <= MAX_MEMORY_MB:
        raise NodeError(
            f"Parameter 'memory_mb' must be between {MIN_MEMORY_MB} and {MAX_MEMORY_MB}.",
            param="params.memory_mb",
        )
    return value


def _cpu_seconds(ctx: NodeContext) -> int:
    value = ctx.param("cpu_seconds", default=DEFAULT_CPU_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NodeError("Parameter 'cpu_seconds' must be a number.", param="params.cpu_seconds")
    if not 0 < value <= MAX_CPU_SECONDS:
        raise NodeError(
            f"Parameter 'cpu_seconds' must be more than 0 and at most {MAX_CPU_SECONDS}.",
            param="params.cpu_seconds",
        )
    return math.ceil(value)
