"""A seccomp filter for the policy worker: system calls a policy never needs fail with EPERM.

Namespaces (:mod:`~simcontinuum.boundary.isolation`) decide what the worker can *see*; this
filter narrows what it can *ask the kernel*, the surface through which a kernel bug would be
reached. bubblewrap installs it (``--seccomp FD``) as the last step before it runs the worker,
so it holds for the worker and every process it starts, and cannot be lifted from inside.

What is refused, with ``EPERM`` (a Python policy sees ``PermissionError``):

- kernel state: modules (``init_module``, ``finit_module``, ``delete_module``), ``kexec_*``,
  ``reboot``, ``swapon``/``swapoff``, ``acct``, quotas, the clocks (``settimeofday``,
  ``clock_settime``, ``clock_adjtime``), host and domain names, ``iopl``/``ioperm``;
- namespaces and mounts, which the sandbox has already set up: ``unshare``, ``setns``,
  ``mount``, ``umount2``, ``pivot_root``, the new mount API (``fsopen`` ... ``mount_setattr``);
- the interfaces behind most recent kernel exploits: ``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring_*``, the key ring (``add_key``, ``request_key``, ``keyctl``);
- reaching into other processes: ``ptrace``, ``process_vm_readv``/``writev``, ``kcmp``,
  ``pidfd_getfd``; file handles (``name_to_handle_at``, ``open_by_handle_at``);
- obsolete calls: ``uselib``, ``ustat``, ``sysfs``, ``_sysctl``, ``nfsservctl``,
  ``create_module``, ``get_kernel_syms``, ``query_module``, ``lookup_dcookie``, ``vhangup``.

This is about the list of Docker's default profile for an unprivileged container, less what
Python, numpy and scikit-learn use. Any other system call is allowed. The x32 ABI and 32-bit
calls (``int 0x80`` from a 64-bit process) are refused as a whole, so the list cannot be
bypassed with another numbering.

The filter exists for x86-64 (numbers checked against the kernel's ``asm/unistd_64.h`` by the
tests); on another architecture :func:`filter_program` returns ``None`` and
:meth:`~simcontinuum.boundary.isolation.Isolation.describe` says the worker runs without one.
"""

from __future__ import annotations

import os
import platform
import struct

# x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl)
X86_64_BLOCKED: dict[str, int] = {
    "ptrace": 101,
    "uselib": 134,
    "ustat": 136,
    "sysfs": 139,
    "vhangup": 153,
    "pivot_root": 155,
    "_sysctl": 156,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "init_module": 175,
    "delete_module": 176,
    "get_kernel_syms": 177,
    "query_module": 178,
    "quotactl": 179,
    "nfsservctl": 180,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "move_pages": 279,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
    "quotactl_fd": 443,
}

# classic BPF, as seccomp reads it (linux/filter.h, linux/seccomp.h, linux/audit.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_OFFSET_NR, _OFFSET_ARCH = 0, 4  # struct seccomp_data
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
EPERM = 1


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter as bubblewrap's ``--seccomp`` reads it (an array of ``sock_filter``), for
    ``machine`` (default: this one); ``None`` where no filter is defined.

    >>> prog = filter_program("x86_64")
    >>> len(prog) // 8  # instructions: 5 checks, one per call, allow, deny
    64
    >>> filter_program("riscv64") is None
    True
    """
    if (machine or platform.machine()) not in ("x86_64", "amd64", "AMD64"):
        return None
    deny = RET_ERRNO | EPERM
    numbers = sorted(X86_64_BLOCKED.values())
    out = [
        _insn(_LD_W_ABS, _OFFSET_ARCH),
        _insn(_JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0),  # a 32-bit call: refused
        _insn(_RET_K, deny),
        _insn(_LD_W_ABS, _OFFSET_NR),
        _insn(_JGE_K, X32_SYSCALL_BIT, jt=len(numbers) + 1, jf=0),  # x32: refused
    ]
    for i, nr in enumerate(numbers):  # a match jumps to the deny at the end
        out.append(_insn(_JEQ_K, nr, jt=len(numbers) - i, jf=0))
    out += [_insn(_RET_K, RET_ALLOW), _insn(_RET_K, deny)]
    return b"".join(out)


def filter_fd() -> int:
    """A pipe's read end holding :func:`filter_program` for bubblewrap's ``--seccomp FD``
    (bwrap reads it whole at start-up; the filter, a few hundred bytes, fits in the pipe's
    buffer), or -1 where there is no filter. The caller passes it on and closes it."""
    program = filter_program()
    if program is None:
        return -1
    r, w = os.pipe()
    try:
        os.write(w, program)
    finally:
        os.close(w)
    return r


__all__ = ["X86_64_BLOCKED", "filter_fd", "filter_program"]
