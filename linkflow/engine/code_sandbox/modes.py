"""Which isolation the sandbox uses, and the command line that sets it up.

``LINKFLOW_CODE_SANDBOX`` chooses: ``bwrap`` (bubblewrap namespaces; fail if unusable),
``process`` (a plain child process with rlimits, seccomp and Landlock) or ``auto`` (the
default: bwrap when it works on this machine, else process with a warning logged once).
Whether bwrap works is probed once per worker process by starting one real sandbox.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from functools import cache

from linkflow.engine.code_sandbox.seccomp import build_filter
from linkflow.engine.errors import NodeError

logger = logging.getLogger(__name__)

MODE_ENV = "LINKFLOW_CODE_SANDBOX"
MODES = ("auto", "bwrap", "process")
# The unprivileged "nobody" inside the sandbox's user namespace.
SANDBOX_UID = 65534
_PROBE_TIMEOUT_SECONDS = 10.0
_SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/libx32")
_USR_LIBRARY_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32")


@dataclass(frozen=True)
class BwrapStatus:
    """The probe's verdict: ``path`` is the bwrap program found on PATH (None if none)."""

    usable: bool
    reason: str
    path: str | None = None


_probe_lock = threading.Lock()
_probed: BwrapStatus | None = None


def sandbox_mode() -> str:
    """ "bwrap" or "process", as ``LINKFLOW_CODE_SANDBOX`` and this machine decide.

    Raises NodeError for an unknown setting, or for "bwrap" when bubblewrap cannot run here:
    a worker configured for namespaces never quietly runs code without them.
    """
    setting = (os.environ.get(MODE_ENV) or "auto").strip().lower()
    if setting not in MODES:
        raise NodeError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {setting!r}.")
    if setting == "process":
        return "process"
    status = bwrap_status()
    if status.usable:
        return "bwrap"
    if setting == "bwrap":
        raise NodeError(
            f"{MODE_ENV}=bwrap, but bubblewrap does not work on this worker: {status.reason}"
        )
    return "process"


def bwrap_status() -> BwrapStatus:
    """Whether a bwrap sandbox can start here (cached for the life of the process; the
    first call costs one sandbox start). Logs a warning once when it cannot."""
    global _probed
    with _probe_lock:
        if _probed is None:
            _probed = _probe()
            if not _probed.usable:
                logger.warning(
                    "bubblewrap is not usable (%s); code.python falls back to a plain child "
                    "process with rlimits, seccomp and Landlock only",
                    _probed.reason,
                )
        return _probed


def _probe() -> BwrapStatus:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return BwrapStatus(False, "the bwrap program is not on PATH")
    program = seccomp_filter(allow_exec=True)
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, program or b"")
        os.close(write_fd)
        prefix = bwrap_prefix(bwrap=bwrap, seccomp_fd=read_fd if program else None)
        command = [*prefix, interpreter(), "-I", "-S", "-c", "pass"]
        completed = subprocess.run(
            command,
            env={},
            cwd="/",
            pass_fds=(read_fd,),
            capture_output=True,
            timeout=_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return BwrapStatus(False, str(error), bwrap)
    finally:
        os.close(read_fd)
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip()[-300:]
        return BwrapStatus(False, f"exit status {completed.returncode}: {detail}", bwrap)
    return BwrapStatus(True, "ok", bwrap)


@cache
def seccomp_filter(*, allow_exec: bool) -> bytes | None:
    """The seccomp program for this machine (see seccomp.py), built once; None, with a
    warning logged once, on an architecture without a syscall table."""
    program = build_filter(allow_exec=allow_exec)
    if program is None:
        logger.warning(
            "no seccomp filter for %s: code.python cannot stop fork, exec or sockets "
            "at the kernel level on this machine",
            os.uname().machine,
        )
    return program


@cache
def interpreter() -> str:
    """The real interpreter binary behind ``sys.executable`` (a venv's python is a symlink;
    with ``-I -S`` the venv plays no part anyway)."""
    return os.path.realpath(sys.executable)


@cache
def readable_paths() -> tuple[str, ...]:
    """What the interpreter needs to read: its binary, its standard library, libpython,
    the system library directories and the dynamic loader's cache. Nothing else, and in
    particular no /etc/passwd, /home, /proc or the project tree."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    wanted = [
        interpreter(),
        sysconfig.get_path("stdlib", vars=base),
        sysconfig.get_path("platstdlib", vars=base),
        "/etc/ld.so.cache",
        *_SYSTEM_LIBRARY_DIRS,
        *_USR_LIBRARY_DIRS,
    ]
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        wanted.append(str(sysconfig.get_config_var("LIBDIR")))
    real = {os.path.realpath(path) for path in wanted if os.path.exists(path)}
    kept: list[str] = []
    for path in sorted(real, key=len):
        if not any(path == outer or path.startswith(outer + "/") for outer in kept):
            kept.append(path)
    return tuple(sorted(kept))


@cache
def _bind_arguments() -> tuple[str, ...]:
    arguments: list[str] = []
    # On merged-/usr systems /lib and friends are symlinks; recreate them as symlinks.
    for path in (*_SYSTEM_LIBRARY_DIRS, *_USR_LIBRARY_DIRS):
        if os.path.islink(path):
            arguments += ["--symlink", os.readlink(path), path]
    for path in readable_paths():
        arguments += ["--ro-bind", path, path]
    return tuple(arguments)


def bwrap_prefix(*, bwrap: str, seccomp_fd: int | None) -> list[str]:
    """The bwrap command line up to (not including) the program to run.

    Every namespace unshared (no network, own PID/IPC/UTS/user/cgroup), no capabilities,
    uid/gid "nobody", an empty environment, a new session (no terminal injection), killed
    with its parent, read-only binds of ``readable_paths()`` only, a private /dev with
    the null/zero/random devices, an empty tmpfs /tmp as the working directory and, when
    given, the seccomp filter read from ``seccomp_fd``.
    """
    command = [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        *_bind_arguments(),
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--chdir",
        "/tmp",
    ]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    return command


def reset_probe() -> None:
    """Forget the cached bwrap probe (tests, or after installing bubblewrap)."""
    global _probed
    with _probe_lock:
        _probed = None
