"""Run untrusted Python in a separate, resource-limited, isolated process.

``run_python`` is the entry point (used by the ``code.python`` node). The isolation that is
relied on is the operating system's: bubblewrap namespaces or, as a fallback, a plain child
process; in both, rlimits (CPU, address space, file size, processes), a seccomp filter (no
fork, exec, sockets or signals to others), an empty environment and a wall-clock kill of
the process group. The restricted builtins and import allow-list inside the child are a
second fence only. See docs/nodes/code.md.
"""

from linkflow.engine.code_sandbox.launcher import MAX_OUTPUT_BYTES, Limits, run_python
from linkflow.engine.code_sandbox.modes import MODE_ENV, bwrap_status, sandbox_mode

__all__ = ["MAX_OUTPUT_BYTES", "MODE_ENV", "Limits", "bwrap_status", "run_python", "sandbox_mode"]
