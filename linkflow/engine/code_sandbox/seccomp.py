"""A seccomp filter (classic BPF) that takes process creation, networking and signalling of
other processes away from the sandboxed interpreter.

RLIMIT_NPROC does not stop a process whose real user is root (and the worker may run as
root in a container), so "no fork" is enforced here. The program is built by hand: the
standard library has no libseccomp binding, and a deny-list this short needs none.

Denied calls fail with EPERM, except clone3 (ENOSYS, so a libc falls back to clone, whose
flags the filter can read) and anything from a foreign ABI (the process is killed).
"""

from __future__ import annotations

import errno
import os
import struct

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

# Offsets in struct seccomp_data; args are u64, their low half comes first (little endian).
_NR_OFFSET = 0
_ARCH_OFFSET = 4
_ARG0_OFFSET = 16

_CLONE_THREAD = 0x00010000
_X32_SYSCALL_BIT = 0x40000000


class _Arch:
    def __init__(self, *, audit_arch: int, clone: int, clone3: int, denied: dict[str, int]):
        self.audit_arch = audit_arch
        self.clone = clone
        self.clone3 = clone3
        self.denied = denied


# Process creation and exec, sockets, signals and tracing of other processes, namespaces and
# mounts, and kernel interfaces a sandboxed script has no use for.
_X86_64 = _Arch(
    audit_arch=0xC000003E,
    clone=56,
    clone3=435,
    denied={
        "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
        "socket": 41, "socketpair": 53,
        "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
        "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424, "pidfd_open": 434,
        "pidfd_getfd": 438, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250,
        "add_key": 248, "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "kexec_load": 246, "init_module": 175,
        "finit_module": 313, "delete_module": 176, "reboot": 169, "swapon": 167,
        "swapoff": 168,
    },
)  # fmt: skip

# asm-generic numbering; arm64 has no fork or vfork system calls.
_AARCH64 = _Arch(
    audit_arch=0xC00000B7,
    clone=220,
    clone3=435,
    denied={
        "execve": 221, "execveat": 281,
        "socket": 198, "socketpair": 199,
        "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
        "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424, "pidfd_open": 434,
        "pidfd_getfd": 438, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
        "chroot": 51, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432,
        "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "keyctl": 219,
        "add_key": 217, "request_key": 218, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "kexec_load": 104, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "reboot": 142, "swapon": 224,
        "swapoff": 225,
    },
)  # fmt: skip

_ARCHES = {"x86_64": _X86_64, "aarch64": _AARCH64}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(*, allow_exec: bool, machine: str | None = None) -> bytes | None:
    """The filter program for this machine's architecture, as the bytes of a
    ``struct sock_filter`` array (what bwrap's ``--seccomp FD`` and PR_SET_SECCOMP take).

    ``allow_exec`` keeps execve allowed: bwrap installs the filter before it executes the
    interpreter. Returns None on an architecture this module has no table for.
    """
    arch = _ARCHES.get(machine or os.uname().machine)
    if arch is None:
        return None
    eperm = _RET_ERRNO | errno.EPERM
    program = [
        _insn(_LD_W_ABS, _ARCH_OFFSET),
        _insn(_JEQ_K, arch.audit_arch, jt=1),
        _insn(_RET_K, _RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _NR_OFFSET),
    ]
    if arch is _X86_64:
        # x32 system calls reuse the x86_64 audit arch with this bit set in the number.
        program += [_insn(_JGE_K, _X32_SYSCALL_BIT, jf=1), _insn(_RET_K, _RET_KILL_PROCESS)]
    for name, number in arch.denied.items():
        if allow_exec and name in ("execve", "execveat"):
            continue
        program += [_insn(_JEQ_K, number, jf=1), _insn(_RET_K, eperm)]
    program += [
        _insn(_JEQ_K, arch.clone3, jf=1),
        _insn(_RET_K, _RET_ERRNO | errno.ENOSYS),
        # clone is allowed only for threads; a new process has no CLONE_THREAD.
        _insn(_JEQ_K, arch.clone, jf=4),
        _insn(_LD_W_ABS, _ARG0_OFFSET),
        _insn(_JSET_K, _CLONE_THREAD, jf=1),
        _insn(_RET_K, _RET_ALLOW),
        _insn(_RET_K, eperm),
        _insn(_RET_K, _RET_ALLOW),
    ]
    return b"".join(program)
