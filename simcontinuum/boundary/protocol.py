"""The policy protocol: newline-delimited JSON between the organizer and a policy worker.

One message is one JSON object on one line (UTF-8, ``\\n``-terminated). The organizer (the
trusted side) writes requests to the worker's stdin; the worker answers each request with
exactly one reply on its stdout, carrying the request's ``id``. The worker's stderr is a
log: captured, capped, never parsed. The full description, with an example session, is in
``docs/protocol.md``; this module is its executable form.

Invariant: nothing the worker sends is used before :func:`check_reply` has accepted it —
known message type, known fields only, the right types, finite numbers, strings and lists
within their caps, the id of the pending request. Anything else is a
:class:`ProtocolViolation`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from simcontinuum.policy.api import Action, ChangeSpec, Deploy, Move, Remove, Scale

VERSION = 1
"""Protocol version; the worker's ``hello`` must name it."""

MAX_LINE = 4 * 2**20
"""Bytes in one reply, newline included."""
MAX_STR = 256
"""Characters in an id (application, component, node, image)."""
MAX_ITEMS = 10_000
"""Entries in a placement, in one list of nodes, or in one list of actions."""
MAX_REASON = 300
"""Characters kept of any text from the worker that lands in a table (error messages)."""
METHODS = ("place", "plan", "on_event", "reset")
"""The policy methods a worker may declare in its ``hello``."""
MLSYSOPS_METHODS = ("initialize", "analyze", "plan")
"""The functions an MLSysOps policy file's worker declares."""
MAX_DEPTH = 32
"""Nesting of a JSON ``result`` (MLSysOps contexts and plans)."""
MAX_NODES = 200_000
"""Values (objects, lists, strings, numbers) in one JSON ``result``."""

ACTION_FIELDS: dict[str, tuple[type[Any], tuple[str, ...], tuple[str, ...]]] = {
    # kind: (class, required string fields, optional fields)
    "deploy": (Deploy, ("app", "component", "node"), ()),
    "remove": (Remove, ("app", "component", "node"), ()),
    "move": (Move, ("app", "component", "src", "dst"), ()),
    "scale": (Scale, ("app", "component"), ()),
    "change_spec": (ChangeSpec, ("app", "component", "node"), ("cpu", "memory", "image")),
}


class ProtocolViolation(Exception):
    """A worker's message broke the protocol (the call counts as no action)."""


def clean_text(text: object, limit: int = MAX_REASON) -> str:
    """``text`` made safe for a table cell: one line, at most ``limit`` characters, no
    control characters, and no leading ``= + - @`` (spreadsheet formula starters).

    >>> clean_text("=HYPERLINK(1)\\nsecond line")
    'HYPERLINK(1) second line'
    """
    s = "".join(ch if ch.isprintable() else " " for ch in str(text))
    s = " ".join(s.split())
    s = s.lstrip("=+-@\t ")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line (numbers must be finite: ``allow_nan=False``)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def _no_constants(name: str) -> Any:
    raise ProtocolViolation(f"{name} is not a JSON number (numbers must be finite)")


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line from the worker into a dict (no NaN/Infinity).

    Raises:
        ProtocolViolation: not UTF-8, not JSON, not an object, or too long.
    """
    if len(line) > MAX_LINE:
        raise ProtocolViolation(f"message longer than {MAX_LINE} bytes")
    try:
        msg = json.loads(line.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ProtocolViolation("message is not UTF-8") from None
    except ValueError as exc:
        if isinstance(exc, ProtocolViolation):
            raise
        raise ProtocolViolation(f"message is not JSON ({exc.args[0][:60]})") from None
    if not isinstance(msg, dict):
        raise ProtocolViolation(f"message is a JSON {type(msg).__name__}, not an object")
    return msg


# ----------------------------------------------------------------------------- checks


def _fields(msg: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    unknown = sorted(set(msg) - set(required) - set(optional))
    if unknown:
        raise ProtocolViolation(f"unknown field(s) {', '.join(map(repr, unknown))[:80]}")
    missing = [f for f in required if f not in msg]
    if missing:
        raise ProtocolViolation(f"missing field(s) {', '.join(map(repr, missing))}")


def _string(value: Any, what: str, limit: int = MAX_STR) -> str:
    if not isinstance(value, str):
        raise ProtocolViolation(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ProtocolViolation(f"{what} is longer than {limit} characters")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolViolation(f"{what} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ProtocolViolation(f"{what} must be finite")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolViolation(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise ProtocolViolation(f"{what} has more than {MAX_ITEMS} entries")
    return value


def check_hello(msg: dict[str, Any], kind: str = "policy") -> dict[str, Any]:
    """The worker's first message: ``{"type": "hello", "protocol": 1, "name": str,
    "methods": [...], "control_interval": number | null}``; ``kind`` ``"mlsysops"``: the
    methods must be ``initialize``, ``analyze`` and ``plan``."""
    if msg.get("type") != "hello":
        raise ProtocolViolation(f"expected a hello message first, got type {msg.get('type')!r}")
    _fields(msg, ("type", "protocol", "methods"), ("name", "control_interval"))
    if msg["protocol"] != VERSION:
        raise ProtocolViolation(
            f"worker speaks protocol {msg['protocol']!r}; this organizer speaks {VERSION}"
        )
    methods = _list(msg["methods"], "methods")
    known = MLSYSOPS_METHODS if kind == "mlsysops" else METHODS
    for m in methods:
        if m not in known:
            raise ProtocolViolation(f"unknown method {str(m)[:40]!r} in hello")
    needed = set(MLSYSOPS_METHODS) if kind == "mlsysops" else {"place"}
    if not needed <= set(methods):
        raise ProtocolViolation(f"the worker's policy lacks {', '.join(sorted(needed))}")
    name = msg.get("name")
    if name is not None:
        _string(name, "name", 100)
    interval = msg.get("control_interval")
    if interval is not None and _number(interval, "control_interval") <= 0:
        raise ProtocolViolation("control_interval must be positive")
    return {"name": name, "methods": tuple(methods), "control_interval": interval}


def _reply(msg: dict[str, Any], want: str, rid: int) -> None:
    kind = msg.get("type")
    if kind != want and kind != "error":
        raise ProtocolViolation(
            f"expected a {want!r} or 'error' reply, got type {str(kind)[:40]!r}"
        )
    if msg.get("id") != rid or isinstance(msg.get("id"), bool):
        raise ProtocolViolation(f"reply carries id {str(msg.get('id'))[:20]!r}, expected {rid}")


class RemoteError(Exception):
    """The policy raised inside the worker: ``kind`` is its exception's class name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_error(msg: dict[str, Any]) -> RemoteError:
    """An ``error`` reply: ``{"type": "error", "id": n, "error": {"type": str, "message":
    str}}`` (the message is cut to :data:`MAX_REASON` characters)."""
    _fields(msg, ("type", "id", "error"), ())
    err = msg["error"]
    if not isinstance(err, dict):
        raise ProtocolViolation("error must be an object {type, message}")
    _fields(err, ("type", "message"), ())
    kind = _string(err["type"], "error.type", 60)
    if not kind.isidentifier():
        raise ProtocolViolation("error.type must be an identifier (an exception class name)")
    text = err["message"]
    if not isinstance(text, str):
        raise ProtocolViolation("error.message must be a string")
    return RemoteError(kind, clean_text(text[: MAX_REASON * 4]))


def check_ready(msg: dict[str, Any], rid: int) -> RemoteError | None:
    """A ``ready`` reply (to ``start``, ``reset``, ``end``), or the policy's error."""
    _reply(msg, "ready", rid)
    if msg["type"] == "error":
        return check_error(msg)
    _fields(msg, ("type", "id"), ())
    return None


def check_placement(msg: dict[str, Any], rid: int) -> dict[str, list[str]] | RemoteError:
    """A ``placement`` reply: ``{"type": "placement", "id": n, "placement": {component:
    [node, ...]}}``."""
    _reply(msg, "placement", rid)
    if msg["type"] == "error":
        return check_error(msg)
    _fields(msg, ("type", "id", "placement"), ())
    placement = msg["placement"]
    if not isinstance(placement, dict) or len(placement) > MAX_ITEMS:
        raise ProtocolViolation("placement must be an object {component: [node, ...]}")
    out: dict[str, list[str]] = {}
    for cid, nodes in placement.items():
        _string(cid, "a placement's component")
        out[cid] = [_string(n, f"placement[{cid[:40]!r}] entry") for n in _list(nodes, "nodes")]
    return out


def check_actions(msg: dict[str, Any], rid: int) -> list[Action] | RemoteError:
    """An ``actions`` reply: ``{"type": "actions", "id": n, "actions": [{"kind": ...}]}``,
    turned into action objects (the engine then validates them like any other)."""
    _reply(msg, "actions", rid)
    if msg["type"] == "error":
        return check_error(msg)
    _fields(msg, ("type", "id", "actions"), ())
    return [action_of(a, i) for i, a in enumerate(_list(msg["actions"], "actions"))]


def check_result(msg: dict[str, Any], rid: int) -> Any:
    """A ``result`` reply (MLSysOps functions): ``{"type": "result", "id": n, "result":
    <JSON>}`` with at most :data:`MAX_DEPTH` levels and :data:`MAX_NODES` values."""
    _reply(msg, "result", rid)
    if msg["type"] == "error":
        return check_error(msg)
    _fields(msg, ("type", "id", "result"), ())
    count = 0
    stack: list[tuple[Any, int]] = [(msg["result"], 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ProtocolViolation(f"result has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise ProtocolViolation(f"result is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return msg["result"]


def action_of(data: Any, i: int = 0) -> Action:
    """One action from its wire form (see :data:`ACTION_FIELDS`)."""
    where = f"actions[{i}]"
    if not isinstance(data, dict):
        raise ProtocolViolation(f"{where} must be an object")
    kind = data.get("kind")
    spec = ACTION_FIELDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise ProtocolViolation(f"{where}.kind must be one of {', '.join(ACTION_FIELDS)}")
    cls, required, optional = spec
    extra = ("replicas",) if kind == "scale" else ()
    _fields(data, ("kind", *required, *extra), optional)
    args: dict[str, Any] = {f: _string(data[f], f"{where}.{f}") for f in required}
    if kind == "scale":
        n = data["replicas"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_ITEMS:
            raise ProtocolViolation(f"{where}.replicas must be an int in [0, {MAX_ITEMS}]")
        args["replicas"] = n
    for f in optional:
        value = data.get(f)
        if value is None:
            continue
        args[f] = _string(value, f"{where}.image") if f == "image" else _number(value, f)
    action: Action = cls(**args)
    return action


def action_wire(action: Any) -> dict[str, Any]:
    """The wire form of an action object (the worker side's encoder).

    Raises:
        TypeError: ``action`` is not one of the five action types.
    """
    for kind, (cls, required, optional) in ACTION_FIELDS.items():
        if type(action) is cls:
            out: dict[str, Any] = {"kind": kind}
            for f in required:
                out[f] = getattr(action, f)
            if kind == "scale":
                out["replicas"] = action.replicas
            for f in optional:
                if getattr(action, f) is not None:
                    out[f] = getattr(action, f)
            return out
    raise TypeError(
        f"not an action: {action!r} (use Deploy, Remove, Move, Scale, ChangeSpec from "
        "simcontinuum.policy)"
    )


__all__ = [
    "ACTION_FIELDS",
    "MAX_ITEMS",
    "MAX_LINE",
    "MAX_REASON",
    "MAX_STR",
    "METHODS",
    "VERSION",
    "ProtocolViolation",
    "RemoteError",
    "action_of",
    "action_wire",
    "check_actions",
    "check_error",
    "check_hello",
    "check_placement",
    "check_ready",
    "check_result",
    "clean_text",
    "decode",
    "encode",
]
