"""The worker: a Python policy behind the protocol (the untrusted side of the boundary).

Started by the organizer as::

    python -s -m simcontinuum.boundary.worker SPEC

where ``SPEC`` is a submission file (``team.py``: the class named by ``POLICY`` or the one
class with ``place``), ``file.py:Class``, a registered policy name (``first-fit``), or
``--mlsysops policy-x.py`` for an MLSysOps policy file. It holds no engine, no scenario, no
score: it reads requests from stdin, rebuilds the views (:mod:`simcontinuum.boundary.views`),
calls the policy and writes one reply per request to stdout. Before the submission is
imported, the original stdout is moved to a private descriptor and descriptor 1 (and
``sys.stdout``) point to stderr, so a policy's ``print`` never reaches the channel by
accident (on purpose it may: the organizer validates every line anyway).

Any language can play this part: see ``docs/protocol.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from typing import IO, Any

from simcontinuum.boundary.protocol import VERSION, action_wire


def _channel() -> tuple[IO[str], IO[bytes]]:
    """(requests in, replies out): stdin and a private copy of stdout; fd 1 -> stderr."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin, out


def _send(out: IO[bytes], msg: dict[str, Any]) -> None:
    out.write(json.dumps(msg, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n")


def _error(rid: Any, exc: BaseException) -> dict[str, Any]:
    return {
        "type": "error",
        "id": rid,
        "error": {"type": type(exc).__name__, "message": str(exc)[:2000]},
    }


def load_target(spec: str) -> Any:
    """The policy factory named by ``spec`` (a class, or an object to use as it is)."""
    from simcontinuum.experiment.sandbox import find_policy

    if spec.endswith(".py") and os.path.isfile(spec):
        return find_policy(spec)
    return spec  # a registered name or file.py:Class: load_policy resolves it per run


def _fresh(target: Any) -> Any:
    """A new policy instance. A submission's class is made here directly: the registry (and
    the Kubernetes adapters it lists) is imported only for a name or ``file.py:Class``."""
    if not isinstance(target, str):
        from simcontinuum.policy.spec import instantiate

        what = f"class {target.__name__}" if isinstance(target, type) else "the policy"
        return instantiate(target, what)
    from simcontinuum.policy.registry import load_policy

    return load_policy(target)


def _methods(policy: Any) -> list[str]:
    return [m for m in ("place", "plan", "on_event", "reset") if callable(getattr(policy, m, None))]


def _interval(policy: Any) -> float | None:
    v = getattr(policy, "control_interval", None)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v > 0 else None


class PolicyWorker:
    """Answers requests with one policy instance per run."""

    def __init__(self, target: Any) -> None:
        from simcontinuum.boundary.views import ViewDecoder

        self.target = target
        self.policy = _fresh(target)
        self.decoder = ViewDecoder()

    def hello(self) -> dict[str, Any]:
        from simcontinuum.policy.api import policy_name

        return {
            "type": "hello",
            "protocol": VERSION,
            "name": policy_name(self.policy)[:100],
            "methods": _methods(self.policy),
            "control_interval": _interval(self.policy),
        }

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        kind, rid = msg.get("type"), msg.get("id")
        try:
            if kind == "start":
                from simcontinuum.boundary.views import ViewDecoder

                self.policy = _fresh(self.target)
                self.decoder = ViewDecoder()
                return {"type": "ready", "id": rid}
            if kind == "reset":
                self.policy.reset(_generator(msg["rng"]))
                return {"type": "ready", "id": rid}
            if kind == "place":
                view = self.decoder.view(msg["view"])
                placement = self.policy.place(self.decoder.app(msg["app"]), view)
                return {"type": "placement", "id": rid, "placement": _placement(placement)}
            if kind == "plan":
                view = self.decoder.view(msg["view"])
                tel = self.decoder.telemetry(msg["telemetry"])
                return _actions(rid, self.policy.plan(view, tel), "plan")
            if kind == "on_event":
                view = self.decoder.view(msg["view"])
                return _actions(
                    rid, self.policy.on_event(self.decoder.event(msg["event"]), view), "on_event"
                )
            if kind == "end":
                return {"type": "ready", "id": rid}
        except (Exception, SystemExit) as exc:
            traceback.print_exc()
            return _error(rid, exc)
        return _error(rid, ValueError(f"unknown request type {kind!r}"))


def _generator(state: dict[str, Any]) -> Any:
    import numpy as np

    bitgen = getattr(np.random, state["bit_generator"])()
    bitgen.state = state
    return np.random.Generator(bitgen)


def _placement(placement: Any) -> dict[str, list[str]]:
    if placement is None:
        return {}
    if not isinstance(placement, dict):
        raise TypeError(
            f"place() must return a dict {{component: [node, ...]}}, got {type(placement).__name__}"
        )
    out = {}
    for cid, nodes in placement.items():
        if isinstance(nodes, str):
            nodes = [nodes]
        out[str(cid)] = [str(n) for n in nodes]
    return out


def _actions(rid: Any, actions: Any, call: str) -> dict[str, Any]:
    if actions is None:
        actions = []
    if not isinstance(actions, list | tuple):
        raise TypeError(f"{call}() must return a list of actions, got {type(actions).__name__}")
    return {"type": "actions", "id": rid, "actions": [action_wire(a) for a in actions]}


class MLSysOpsWorker:
    """Answers ``initialize``/``analyze``/``plan`` of one MLSysOps policy file."""

    def __init__(self, path: str) -> None:
        from simcontinuum.mlsysops.policyfile import Caller, load_policy_module

        self.path = path
        self.file = load_policy_module(path)
        self.caller = Caller()
        self.instances: dict[int, Any] = {}  # instance -> (file, random sequence)

    def hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "protocol": VERSION,
            "name": self.file.name,
            "methods": ["initialize", "analyze", "plan"],
        }

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        from asyncio import CancelledError  # an MLSysOps worker runs coroutines

        from simcontinuum.boundary.mlsysops import decode_args, encode_result

        kind, rid = msg.get("type"), msg.get("id")
        # run on the organizer's simulated clock and the instance's random sequence
        from simcontinuum.mlsysops.callenv import GlobalRandomState
        from simcontinuum.mlsysops.policyfile import load_policy_module

        now, seed, inst = msg.get("now"), msg.get("seed"), msg.get("instance")
        self.caller.now = float(now) if isinstance(now, int | float) else None
        try:
            file, rs = self.file, None
            if isinstance(inst, int):
                if inst not in self.instances:  # a new policy instance: its own module
                    self.instances[inst] = [load_policy_module(self.path, now or 0.0), None]
                entry = self.instances[inst]
                if entry[1] is None and isinstance(seed, int):
                    entry[1] = GlobalRandomState(None, seed=seed)
                file, rs = entry
            elif isinstance(seed, int):
                rs = GlobalRandomState(None, seed=seed)
            self.caller.randomness = rs
            if kind == "initialize":
                out = self.caller.call_sync(file.function("initialize"))
                return {"type": "result", "id": rid, "result": encode_result(out)}
            if kind in ("analyze", "plan"):
                args = decode_args(msg["args"])
                out = self.caller.call(file.function(kind), *args)
                return {"type": "result", "id": rid, "result": encode_result(out)}
            if kind == "start":  # a new run: no policy instance, no module state survives
                self.file = load_policy_module(self.path)
                self.instances = {}
                self.caller = type(self.caller)()
                return {"type": "ready", "id": rid}
            if kind == "end":
                return {"type": "ready", "id": rid}
        except (Exception, SystemExit, CancelledError) as exc:
            traceback.print_exc()
            return _error(rid, exc)
        return _error(rid, ValueError(f"unknown request type {kind!r}"))


def serve(worker: Any, requests: IO[str], out: IO[bytes]) -> None:
    """Answer every request until ``bye`` or the end of stdin."""
    for line in requests:
        msg = json.loads(line)
        if msg.get("type") == "bye":
            return
        reply = worker.handle(msg)
        if reply is not None:
            try:
                _send(out, reply)
            except (TypeError, ValueError) as exc:  # the policy returned what JSON cannot say
                _send(out, _error(msg.get("id"), exc))


def _warm_up() -> None:
    """Import what every Python policy's calls need (the views, the telemetry reader and
    numpy, for the run's random generator) and the built-in policies submissions commonly
    extend — the organizer's own modules, never the submission, which is imported only
    after the hello."""
    import simcontinuum.boundary.views
    import simcontinuum.engine.telemetry
    import simcontinuum.policy.adaptive
    import simcontinuum.policy.builtins
    import simcontinuum.policy.spec  # noqa: F401

    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Entry point (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    requests, out = _channel()
    _warm_up()  # before the hello: a worker started ahead of its turn is ready at once
    first = requests.readline()
    try:
        hello = json.loads(first) if first else {}
    except ValueError:
        hello = {}
    if hello.get("type") != "hello" or hello.get("protocol") != VERSION:
        print(f"worker: expected a protocol {VERSION} hello, got {first[:80]!r}", file=sys.stderr)
        return 2
    try:
        if args[:1] == ["--mlsysops"]:
            worker: Any = MLSysOpsWorker(args[1])
        else:
            worker = PolicyWorker(load_target(args[0]))
    except (Exception, SystemExit) as exc:
        traceback.print_exc()
        _send(out, {"type": "fatal", "reason": f"{type(exc).__name__}: {exc}"[:2000]})
        return 0
    _send(out, worker.hello())
    serve(worker, requests, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
