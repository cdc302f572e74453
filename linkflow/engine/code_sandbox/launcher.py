"""Start the sandboxed interpreter, feed it the job, collect the reply within the limits, and
turn every way it can end into items or a NodeError.

The worker never waits longer than the wall-clock limit, never reads more than the output
cap, and always kills the child's whole process group before it returns.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from linkflow.engine.code_sandbox import modes
from linkflow.engine.code_sandbox.runner import MEMORY_EXIT
from linkflow.engine.errors import NodeError

MAX_OUTPUT_BYTES = 10 * 1024 * 1024
# The reply wraps the items in a small envelope; error replies are capped in the runner.
_REPLY_OVERHEAD_BYTES = 64 * 1024
_STDERR_KEEP_BYTES = 64 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """What one run may use: address space, CPU time, wall-clock time."""

    memory_mb: int = 256
    cpu_seconds: int = 5
    wall_seconds: float = 30.0


@dataclass
class _Outcome:
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    overflowed: bool


def run_python(
    *,
    code: str,
    items: list[dict[str, Any]],
    limits: Limits,
    mode: str | None = None,
    language_fence: bool = True,
) -> list[dict[str, Any]]:
    """Run ``code`` (a function body receiving ``items``) in a sandboxed child process and
    return the list of dicts it returned.

    ``mode`` is "bwrap" or "process"; None asks ``modes.sandbox_mode()``. Switching the
    ``language_fence`` off leaves only the OS layer, which is how the tests prove it holds
    on its own; the node never does that. Raises NodeError for any failure of the code
    (syntax, exception, bad result, time, memory, output size, killed process) and for a
    sandbox that cannot start.
    """
    mode = mode or modes.sandbox_mode()
    if mode not in ("bwrap", "process"):
        raise ValueError(f"unknown sandbox mode {mode!r}")
    try:
        job = marshal.dumps(
            {
                "code": code,
                "items": items,
                "fence": language_fence,
                "max_output_bytes": MAX_OUTPUT_BYTES,
                **_hardening(mode),
            }
        )
    except ValueError:
        raise NodeError("The input items are not plain JSON data.") from None
    with _spawn(mode=mode, limits=limits) as process:
        outcome = _exchange(process, _runner_code() + job, wall_seconds=limits.wall_seconds)
    return _interpret(outcome, mode=mode, limits=limits)


def _hardening(mode: str) -> dict[str, Any]:
    # bwrap applies the filter itself and its mount namespace already hides the file
    # system; a plain process has to do both from inside.
    if mode == "bwrap":
        return {}
    return {
        "seccomp": modes.seccomp_filter(allow_exec=False),
        "landlock_paths": list(modes.readable_paths()),
    }


# Runs the precompiled runner that comes first on stdin; the job follows it.
_BOOTSTRAP = "import marshal,sys;exec(marshal.load(sys.stdin.buffer))"


@cache
def _runner_code() -> bytes:
    path = Path(__file__).with_name("runner.py")
    # dont_inherit: this module's __future__ imports must not leak into the runner.
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
    return marshal.dumps(code)


@contextlib.contextmanager
def _spawn(*, mode: str, limits: Limits) -> Iterator[subprocess.Popen[bytes]]:
    arguments = [
        modes.interpreter(),
        "-I",
        "-S",
        "-c",
        _BOOTSTRAP,
        str(limits.memory_mb * 1024 * 1024),
        str(limits.cpu_seconds),
    ]
    with contextlib.ExitStack() as stack:
        pass_fds: tuple[int, ...] = ()
        if mode == "bwrap":
            seccomp_fd = _seccomp_pipe(stack)
            pass_fds = (seccomp_fd,) if seccomp_fd is not None else ()
            bwrap = modes.bwrap_status().path or "bwrap"
            arguments = [*modes.bwrap_prefix(bwrap=bwrap, seccomp_fd=seccomp_fd), *arguments]
            cwd = "/"
        else:
            cwd = stack.enter_context(tempfile.TemporaryDirectory(prefix="linkflow-code-"))
        try:
            process = subprocess.Popen(
                arguments,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={},
                cwd=cwd,
                pass_fds=pass_fds,
                start_new_session=True,
            )
        except OSError as error:
            raise NodeError(f"The code sandbox could not start: {error}") from None
        stack.callback(_reap, process)
        yield process


def _seccomp_pipe(stack: contextlib.ExitStack) -> int | None:
    program = modes.seccomp_filter(allow_exec=True)
    if program is None:
        return None
    read_fd, write_fd = os.pipe()
    stack.callback(os.close, read_fd)
    os.write(write_fd, program)  # a few hundred bytes: far below the pipe buffer
    os.close(write_fd)
    return read_fd


def _exchange(process: subprocess.Popen[bytes], job: bytes, *, wall_seconds: float) -> _Outcome:
    """Write ``job`` to stdin while draining stdout and stderr, until the child has exited
    or the deadline passes (then the group is killed)."""
    assert process.stdin and process.stdout and process.stderr
    deadline = time.monotonic() + wall_seconds
    stdout, stderr = bytearray(), bytearray()
    overflowed = False
    pending = memoryview(job)
    with selectors.DefaultSelector() as selector:
        os.set_blocking(process.stdin.fileno(), False)
        selector.register(process.stdin, selectors.EVENT_WRITE)
        selector.register(process.stdout, selectors.EVENT_READ, stdout)
        selector.register(process.stderr, selectors.EVENT_READ, stderr)
        while selector.get_map() and not overflowed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                if key.fileobj is process.stdin:
                    pending = _write_some(selector, process, pending)
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data is stdout:
                    stdout += chunk
                    overflowed = len(stdout) > MAX_OUTPUT_BYTES + _REPLY_OVERHEAD_BYTES
                elif len(stderr) < _STDERR_KEEP_BYTES:
                    stderr += chunk
    # An overflowing child is killed at once; any other is given until the deadline.
    timed_out = not overflowed and not _wait_for_exit(process, deadline)
    _kill_group(process)
    return _Outcome(
        returncode=process.wait(),
        stdout=bytes(stdout),
        stderr=bytes(stderr),
        timed_out=timed_out,
        overflowed=overflowed,
    )


def _write_some(
    selector: selectors.BaseSelector, process: subprocess.Popen[bytes], pending: memoryview
) -> memoryview:
    assert process.stdin
    try:
        pending = pending[os.write(process.stdin.fileno(), pending[:_CHUNK]) :]
    except BlockingIOError:
        return pending
    except BrokenPipeError:  # the child died before reading everything; its exit tells why
        pending = pending[:0]
    if not pending:
        selector.unregister(process.stdin)
        process.stdin.close()
    return pending


def _wait_for_exit(process: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait until the child has exited, without reaping it (so its process group id cannot
    be reused before the group is killed). False when the deadline passed first."""
    pause = 0.0002
    while True:
        try:
            exited = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # a host that ignores SIGCHLD reaps children itself
            return True
        if exited is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # Anything left in the child's session (it has no way to leave it) dies with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _reap(process: subprocess.Popen[bytes]) -> None:
    if process.returncode is None:
        _kill_group(process)
        process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _interpret(outcome: _Outcome, *, mode: str, limits: Limits) -> list[dict[str, Any]]:
    if outcome.overflowed:
        raise _output_too_large()
    if outcome.timed_out:
        raise _time_limit(limits.wall_seconds)
    reply = _parse_reply(outcome.stdout)
    if reply is not None:
        return _items_from(reply, limits=limits)
    status = outcome.returncode
    # bwrap reports a child killed by signal N as exit status 128 + N.
    if status < 0:
        killed_by = -status
    elif mode == "bwrap" and status > 128:
        killed_by = status - 128
    else:
        killed_by = None
    if killed_by == signal.SIGXCPU:
        raise _time_limit(limits.cpu_seconds)
    if status == MEMORY_EXIT:
        raise _out_of_memory(limits)
    if killed_by is not None:
        raise NodeError(f"The code's process was killed by signal {_signal_name(killed_by)}.")
    raise NodeError(
        f"The code's process ended without a result (exit status {status})"
        + _stderr_tail(outcome.stderr)
    )


def _signal_name(number: int) -> str:
    try:
        return f"{number} ({signal.Signals(number).name})"
    except ValueError:
        return str(number)


def _parse_reply(stdout: bytes) -> dict[str, Any] | None:
    try:
        reply = json.loads(stdout)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) and isinstance(reply.get("ok"), bool) else None


def _items_from(reply: dict[str, Any], *, limits: Limits) -> list[dict[str, Any]]:
    # The reply comes from the sandbox: check its shape instead of trusting it.
    if reply["ok"]:
        items = reply.get("items")
        if isinstance(items, list) and all(isinstance(item, dict) for item in items):
            return items
        raise NodeError("The code sandbox sent a malformed reply.")
    kind, message = reply.get("kind"), reply.get("message")
    if kind == "memory":
        raise _out_of_memory(limits)
    if kind == "output":
        raise _output_too_large()
    if not isinstance(message, str):
        raise NodeError("The code sandbox sent a malformed reply.")
    param = "params.code" if kind in ("syntax", "exception", "refused") else None
    raise NodeError(message[:1000], param=param)


def _time_limit(seconds: float) -> NodeError:
    return NodeError(f"The code exceeded its time limit of {_seconds(seconds)} s.")


def _out_of_memory(limits: Limits) -> NodeError:
    return NodeError(f"The code ran out of memory (limit {limits.memory_mb} MB).")


def _output_too_large() -> NodeError:
    return NodeError(
        f"The code's result is larger than the {MAX_OUTPUT_BYTES // (1024 * 1024)} MB limit."
    )


def _seconds(value: float) -> str:
    return f"{value:.3g}"


def _stderr_tail(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return f": {lines[-1][-300:]}" if lines else "."
