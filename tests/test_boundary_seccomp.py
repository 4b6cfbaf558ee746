"""The seccomp filter of the policy worker: the numbers are the kernel's, the sandbox refuses
the calls, and without the filter the same calls go through (so the test can fail).

Needs bubblewrap (and x86-64, the one architecture with a filter); skips, saying why, where
either is missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from simcontinuum.boundary import Isolation, IsolationError, probe
from simcontinuum.boundary.proxy import RemotePolicy, Submission, program_of
from simcontinuum.boundary.seccomp import X86_64_BLOCKED, filter_program
from simcontinuum.engine.simulation import Simulation
from simcontinuum.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")

try:
    ISO = probe()
    WHY = ""
except IsolationError as exc:
    ISO, WHY = None, str(exc)

# place() makes the calls and reports each errno (0: the call went through) in its error
PROBE_POLICY = """
import ctypes, json

libc = ctypes.CDLL(None, use_errno=True)

def call(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return ctypes.get_errno() if r == -1 else 0

class Probe:
    name = "probe"

    def place(self, app, view):
        out = {
            "getpid": call(39),
            "ptrace_traceme": call(101, 0, 0, 0, 0),
            "unshare_nothing": call(272, 0),
            "keyctl": call(250, 0, 0, 0, 0),
            "io_uring_setup": call(425, 1, 0),
            "x32_getpid": call(0x40000000 | 39),
        }
        raise RuntimeError("ERRNOS" + json.dumps(out))
"""
EPERM = 1


def _errnos(tmp_path: Path, iso: Isolation) -> dict[str, int]:
    team = tmp_path / "team.py"
    team.write_text(PROBE_POLICY)
    scenario = load_scenario(ROOT / "scenarios" / "quickstart.yaml")
    scenario = replace(scenario, duration=5.0, warmup=0.0)
    with Submission(program_of(team, isolated=True), iso) as sub:
        results = Simulation(scenario, RemotePolicy(sub, 10.0), seed=1).run()
    reason = str(results.meta.get("policy_first_error"))
    found = re.search(r"ERRNOS(\{.*?\})", reason)
    assert found, reason
    return json.loads(found.group(1))


@pytest.mark.skipif(not HEADER.exists(), reason=f"{HEADER} is not here (Debian: linux-libc-dev)")
def test_numbers_are_the_kernel_headers() -> None:
    defined = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)", HEADER.read_text()))
    for name, nr in X86_64_BLOCKED.items():
        assert int(defined[name]) == nr, name


def test_program_shape() -> None:
    prog = filter_program("x86_64")
    assert prog is not None and len(prog) % 8 == 0
    assert len(prog) // 8 == len(X86_64_BLOCKED) + 7
    assert filter_program("aarch64") is None


@pytest.mark.skipif(ISO is None, reason=f"no isolation here: {WHY}")
@pytest.mark.skipif(filter_program() is None, reason="no seccomp filter for this architecture")
def test_the_sandbox_refuses_the_calls_and_only_with_the_filter(tmp_path: Path) -> None:
    assert ISO is not None
    assert ISO.seccomp, f"bwrap could not install the filter: {ISO.describe()}"
    assert "seccomp filter" in ISO.describe()
    with_filter = _errnos(tmp_path, ISO)
    assert with_filter["getpid"] == 0  # what a policy needs still works
    for name in ("ptrace_traceme", "unshare_nothing", "keyctl", "io_uring_setup", "x32_getpid"):
        assert with_filter[name] == EPERM, (name, with_filter)
    without = _errnos(tmp_path, replace(ISO, seccomp=False))
    # without the filter, the namespaces alone let these through: the filter is what stops them
    assert without["ptrace_traceme"] == 0 and without["unshare_nothing"] == 0, without
