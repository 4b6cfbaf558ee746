"""Which node may host which component, by the MLSysOps framework's rules.

Fluidity accepts a target host only when (1) an ``MLSysOpsNode`` description of it exists,
(2) :func:`node_matches_requirements` holds for the component, and (3) the ``requests`` of the
component's *first* container fit the node's ``allocatable`` cpu and memory — ignoring pods
already running there (the framework does not bin-pack). This module reimplements those rules
from the framework's documented behaviour (contract §4, §6), with a reason for every refusal.

Rules of :func:`requirement_mismatch` (only ``containers[0]`` is read):

1. ``node_placement.node``, when set, equals the host; ``node_placement.continuum_layer``, when
   set and without ``*``, contains the node's ``continuum_layer``;
2. ``node_placement.mobile: true`` needs a mobile node; ``node_placement.labels`` ⊆ node labels;
3. a ``camera`` sensor needs a node camera of the same ``model`` / ``camera_type``, a
   ``framerate`` ≥ ``minimum_framerate`` and the ``resolution`` among
   ``supported_resolutions``; a ``temperature`` sensor needs a node temperature sensor of the
   same ``model``;
4. ``node_type`` and ``os`` equal the node's ``environment``; ``container_runtime`` is in the
   node's list;
5. cpu ``architecture`` contains the node's; cpu ``frequency`` ≤ some node frequency;
   ``performance_indicator``, ``disk`` and gpu ``model`` / ``memory`` / ``performance_indicator``
   are satisfied (a required number must not exceed the node's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from simcontinuum.mlsysops.spec import as_list

INTERVAL = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: object) -> int | None:
    """Seconds of an agent interval ``(\\d+)([smhd])`` (``"10s"``, ``"5m"``); ``None`` if the
    text does not match the framework's regex.

    >>> parse_interval("10s"), parse_interval("2m"), parse_interval("0s"), parse_interval("1.5s")
    (10, 120, 0, None)
    """
    if not isinstance(text, str):
        return None
    m = INTERVAL.fullmatch(text.strip())
    if not m:
        return None
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def node_name(node: Mapping[str, Any]) -> str | None:
    """A node description's host name: ``name``, or ``metadata.name`` (the CR form)."""
    name = node.get("name")
    if name is None and isinstance(node.get("metadata"), Mapping):
        name = node["metadata"].get("name")
    return str(name) if name is not None else None


def _number(value: object) -> float | None:
    """A number from a description field (``"120"``, ``4``, ``"3"``); None if not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _exceeds(required: object, offered: object) -> bool:
    """Whether a required figure is not met: missing on the node, or larger than offered."""
    if offered is None:
        return True
    r, o = _number(required), _number(offered)
    if r is None or o is None:
        return str(required) != str(offered)
    return r > o


def _sensor(node: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for item in as_list(node.get("sensors")):
        if isinstance(item, Mapping) and isinstance(item.get(kind), Mapping):
            found: Mapping[str, Any] = item[kind]
            return found
    return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def requirement_mismatch(node: Mapping[str, Any], comp: Mapping[str, Any]) -> str | None:
    """Why the node description ``node`` cannot host component spec ``comp``, or ``None``.

    >>> node = {"name": "n1", "continuum_layer": "edge", "labels": ["gpu"],
    ...         "environment": {"node_type": "virtualized", "os": "ubuntu",
    ...                         "container_runtime": ["containerd"]},
    ...         "hardware": {"cpu": {"architecture": "amd64", "frequency": [2400000000]}}}
    >>> comp = {"node_placement": {"continuum_layer": ["cloud"]}, "containers": [{}]}
    >>> requirement_mismatch(node, comp)
    "node layer 'edge' not in the component's continuum_layer ['cloud']"
    >>> requirement_mismatch(node, {"node_placement": {"labels": ["gpu"]}, "containers": [{}]})
    """
    host = node_name(node)
    why = _placement_mismatch(node, host, _mapping(comp.get("node_placement")))
    if why:
        return why
    why = _sensor_mismatch(node, comp)
    if why:
        return why
    env = _mapping(node.get("environment"))
    for key in ("node_type", "os"):
        want = comp.get(key)
        if want and env.get(key) != want:
            return f"{key} {env.get(key)!r} of the node is not the required {want!r}"
    runtime = comp.get("container_runtime")
    if runtime and runtime not in as_list(env.get("container_runtime")):
        have = as_list(env.get("container_runtime"))
        return f"container runtime {runtime!r} not among the node's {have}"
    containers = as_list(comp.get("containers"))
    first = _mapping(containers[0]) if containers else {}
    return _platform_mismatch(node, _mapping(first.get("platform_requirements")))


def _placement_mismatch(
    node: Mapping[str, Any], host: str | None, placement: Mapping[str, Any]
) -> str | None:
    pinned = placement.get("node")
    if pinned and pinned != host:
        return f"component is pinned to node {pinned!r} (node_placement.node)"
    layers = as_list(placement.get("continuum_layer"))
    if layers and "*" not in layers and node.get("continuum_layer") not in layers:
        return (
            f"node layer {node.get('continuum_layer')!r} not in the component's "
            f"continuum_layer {layers}"
        )
    if placement.get("mobile") and not node.get("mobile"):
        return "component needs a mobile node (node_placement.mobile)"
    missing = [x for x in as_list(placement.get("labels")) if x not in as_list(node.get("labels"))]
    if missing:
        return f"node lacks labels {missing}"
    return None


def _sensor_mismatch(node: Mapping[str, Any], comp: Mapping[str, Any]) -> str | None:
    for sensor in as_list(comp.get("sensors")):
        sensor = _mapping(sensor)
        camera = _mapping(sensor.get("camera"))
        if sensor.get("camera") is not None:
            have = _sensor(node, "camera")
            if have is None:
                return "node has no camera sensor"
            for key in ("model", "camera_type"):
                if camera.get(key) and camera.get(key) != have.get(key):
                    return f"camera {key} {have.get(key)!r} is not the required {camera.get(key)!r}"
            fps = camera.get("minimum_framerate")
            if fps and _exceeds(fps, have.get("framerate")):
                return f"camera framerate {have.get('framerate')!r} is below {fps!r}"
            res = camera.get("resolution")
            if res and res not in as_list(have.get("supported_resolutions")):
                return f"camera does not support resolution {res!r}"
        if sensor.get("temperature") is not None:
            have = _sensor(node, "temperature")
            if have is None:
                return "node has no temperature sensor"
            model = _mapping(sensor.get("temperature")).get("model")
            if model and model != have.get("model"):
                return f"temperature sensor {have.get('model')!r} is not the required {model!r}"
    return None


def _platform_mismatch(node: Mapping[str, Any], req: Mapping[str, Any]) -> str | None:
    hw = _mapping(node.get("hardware"))
    cpu, node_cpu = _mapping(req.get("cpu")), _mapping(hw.get("cpu"))
    arch = as_list(cpu.get("architecture"))
    if arch and node_cpu.get("architecture") not in arch:
        return f"cpu architecture {node_cpu.get('architecture')!r} not in {arch}"
    freq = cpu.get("frequency")
    if freq:
        offered = [_number(f) for f in as_list(node_cpu.get("frequency"))]
        need = _number(freq)
        if need is None or not any(f is not None and need <= f for f in offered):
            return f"no cpu frequency of the node reaches {freq!r}"
    perf = cpu.get("performance_indicator")
    if perf and _exceeds(perf, node_cpu.get("performance_indicator")):
        return f"cpu performance_indicator {node_cpu.get('performance_indicator')!r} below {perf!r}"
    disk = req.get("disk")
    if disk and _exceeds(disk, hw.get("disk")):
        return f"disk {hw.get('disk')!r} below the required {disk!r}"
    if req.get("gpu") is not None:
        gpu, node_gpu = _mapping(req.get("gpu")), hw.get("gpu")
        if not isinstance(node_gpu, Mapping):
            return "node has no gpu"
        if gpu.get("model") and gpu.get("model") != node_gpu.get("model"):
            return f"gpu model {node_gpu.get('model')!r} is not the required {gpu.get('model')!r}"
        for key in ("memory", "performance_indicator"):
            if gpu.get(key) and _exceeds(gpu.get(key), node_gpu.get(key)):
                return f"gpu {key} {node_gpu.get(key)!r} below the required {gpu.get(key)!r}"
    return None


def node_matches_requirements(node: Mapping[str, Any], comp: Mapping[str, Any]) -> bool:
    """Whether node description ``node`` may host component spec ``comp`` (see the rules
    above); the same question as the framework's ``utilities.node_matches_requirements``."""
    return requirement_mismatch(node, comp) is None


# ----------------------------------------------------------------------------- quantities


def cpu_cores(value: object) -> float | None:
    """Cores of a Kubernetes cpu quantity (``"250m"``, ``"2"``, ``0.5``); None if invalid."""
    from simcontinuum.scenario.units import parse_cpu

    try:
        return parse_cpu(value)
    except ValueError:
        return None


def memory_bytes(value: object) -> float | None:
    """Bytes of a Kubernetes memory quantity (``"64Mi"``, ``"1G"``, ``"16Gi"``); None if invalid."""
    from simcontinuum.scenario.units import parse_memory

    try:
        return parse_memory(value)
    except ValueError:
        return None


def quantity_cpu(cores: float) -> str:
    """A cpu quantity the way Kubernetes reports it (``"8"``, ``"2500m"``)."""
    if float(cores).is_integer():
        return str(int(cores))
    return f"{round(cores * 1000)}m"


def quantity_memory(nbytes: float) -> str:
    """A memory quantity the way Kubernetes reports it (``"16777216Ki"``)."""
    return f"{int(nbytes // 1024)}Ki"


def raw_requests(comp: Mapping[str, Any]) -> tuple[Any, Any]:
    """The first container's cpu and memory ``requests`` as written (None: not given)."""
    containers = as_list(comp.get("containers"))
    first = _mapping(containers[0]) if containers else {}
    req = _mapping(first.get("platform_requirements"))
    return _mapping(req.get("cpu")).get("requests"), _mapping(req.get("memory")).get("requests")


def requests_of(comp: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(cpu cores, memory bytes)`` requested by the first container (None: not given)."""
    cpu, mem = raw_requests(comp)
    return (
        cpu_cores(cpu) if cpu is not None else None,
        memory_bytes(mem) if mem is not None else None,
    )


def allocatable_mismatch(comp: Mapping[str, Any], allocatable: Mapping[str, Any]) -> str | None:
    """Why the first container's requests exceed the node's ``allocatable`` (running pods are
    ignored, as in the framework), or ``None``."""
    cpu, mem = requests_of(comp)
    have_cpu = cpu_cores(allocatable.get("cpu")) if "cpu" in allocatable else None
    have_mem = memory_bytes(allocatable.get("memory")) if "memory" in allocatable else None
    if cpu is not None and have_cpu is not None and cpu > have_cpu + 1e-9:
        return f"cpu request {quantity_cpu(cpu)} exceeds allocatable {allocatable.get('cpu')}"
    if mem is not None and have_mem is not None and mem > have_mem:
        return (
            f"memory request {quantity_memory(mem)} exceeds allocatable {allocatable.get('memory')}"
        )
    return None


__all__ = [
    "allocatable_mismatch",
    "cpu_cores",
    "memory_bytes",
    "node_matches_requirements",
    "node_name",
    "parse_interval",
    "quantity_cpu",
    "quantity_memory",
    "raw_requests",
    "requests_of",
    "requirement_mismatch",
]
