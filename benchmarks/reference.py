"""The reference performance benchmark scenario of simcontinuum.

One topology builder, parameterised by ``(n_edge, n_far, rate_per_source)``, serves every case:

* **Nodes.** ``cloud-0`` (32 cores); ``edge-0 .. edge-{n_edge-1}``; far-edge sources
  ``far-0 .. far-{n_far-1}``. Every node has speed 1.0.
* **Links** (all listed explicitly, undirected):
  ``far-f ↔ edge-(f % n_edge)`` 2 ms / 100 Mbps (far-edge f attaches to edge ``f % n_edge``);
  ``edge-i ↔ cloud-0`` 15 ms / 1 Gbps; the edge ring ``edge-i ↔ edge-((i+1) % n_edge)``
  5 ms / 1 Gbps.
* **Clusters.** ``cloud`` holds ``cloud-0``; ``site-i`` holds ``edge-i`` and the far-edge nodes
  attached to it.
* **Applications.** Ten single-component applications ``app-0 .. app-9``. Component ``svc`` of
  ``app-a`` has one replica pinned on ``edge-a`` (``placement: {node: edge-a}``), cpu 100m,
  memory 64Mi, image size 0, startup 0, constant work 0.5 ms.
* **Workload.** Far-edge node ``far-f`` is a Poisson source for ``app-((f + f // 10) % 10)``;
  request and response are 1 KB each (SI: 1000 bytes). With ``f % 10`` attachment at ×1 this
  spreads every source over ring distances 0..5 from its replica.
* **Horizon** 10 s, no warmup; scoring is left to the engine's defaults (no ``scoring`` key).

Cases (``scale``):

=========  ======  =====  ===============  ==========  ============================
case       n_edge  n_far  rate per source  edge cores  expected requests (10 s)
=========  ======  =====  ===============  ==========  ============================
x1         10      89     1/8.9 ms         1           ~100k (10k/s)
x10        100     899    1/8.9 ms         10          ~1.01M (101k/s)
10k        100     9899   1/89 ms          10          ~1.11M (111k/s)
chain3     x1 with each application a three-component chain (see below)
telemetry  x10 with ``telemetry: {interval: 5s}``
=========  ======  =====  ===============  ==========  ============================

Edge cores scale with the load: at ×1 each replica serves ~1,000 requests/s × 0.5 ms = 0.5
busy cores. At ×10 and 10k the ten replicas still live on ``edge-0 .. edge-9`` but each receives
~10k requests/s (≈5 busy cores), so the edge nodes get 10 cores to keep utilisation ≈0.5 (with
one core the queues would grow without bound, most requests would be ``incomplete`` at the
horizon and the benchmark would measure queue growth, not cost per request).

``chain3``: ``app-a`` is ``svc-0 → svc-1 → svc-2`` pinned on ``edge-a``, ``edge-(a+1)``,
``edge-(a+2)`` (mod ``n_edge``), each with constant work 0.5 ms / 3 so every edge core stays at
utilisation ≈0.5; calls carry 1 KB / 1 KB. The request visits ``svc-0``, which calls ``svc-1``,
which calls ``svc-2``; responses return along the chain and then to the source.

Run ``python benchmarks/reference.py --scale x1 -o FILE.yaml`` to dump a case as YAML.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

#: Mean gap between two arrivals of one source at ×1 (seconds) and the matching rate.
MEAN_GAP_S = 0.0089
#: Rate per source, rounded so that the YAML string and the plain model use the same number.
RATE_PER_SOURCE = round(1.0 / MEAN_GAP_S, 6)  # 112.359551 /s

N_APPS = 10
WORK_S = 0.0005
REQUEST_BYTES = 1000  # "1KB" (SI)
RESPONSE_BYTES = 1000
HORIZON_S = 10.0
CLOUD_CORES = 32

FAR_LINK = {"latency_s": 0.002, "bandwidth_bps": 100e6}
EDGE_CLOUD_LINK = {"latency_s": 0.015, "bandwidth_bps": 1e9}
RING_LINK = {"latency_s": 0.005, "bandwidth_bps": 1e9}

_BASE_CASES: dict[str, dict[str, Any]] = {
    "x1": {"n_edge": 10, "n_far": 89, "rate_per_source": RATE_PER_SOURCE, "edge_cores": 1},
    "x10": {"n_edge": 100, "n_far": 899, "rate_per_source": RATE_PER_SOURCE, "edge_cores": 10},
    "10k": {
        "n_edge": 100,
        "n_far": 9899,
        "rate_per_source": round(RATE_PER_SOURCE / 10, 6),
        "edge_cores": 10,
    },
}
#: Derived cases: (base case, overrides).
_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chain3": ("x1", {"chain_length": 3}),
    "telemetry": ("x10", {"telemetry_interval_s": 5.0}),
}
SCALES: tuple[str, ...] = (*_BASE_CASES, *_VARIANTS)


def reference_topology_params(scale: str = "x1") -> dict[str, Any]:
    """Return every number that defines a benchmark case, shared by both models.

    Keys: ``scale``, ``n_edge``, ``n_far``, ``rate_per_source`` (1/s), ``edge_cores``,
    ``cloud_cores``, ``n_apps``, ``work_s`` (total per request), ``chain_length``,
    ``request_bytes``, ``response_bytes``, ``horizon_s``, ``telemetry_interval_s`` (or None),
    and the three link specs ``far_link``, ``edge_cloud_link``, ``ring_link``.
    """
    if scale in _BASE_CASES:
        base, overrides = scale, {}
    elif scale in _VARIANTS:
        base, overrides = _VARIANTS[scale]
    else:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    params: dict[str, Any] = {
        "scale": scale,
        **_BASE_CASES[base],
        "cloud_cores": CLOUD_CORES,
        "n_apps": N_APPS,
        "work_s": WORK_S,
        "chain_length": 1,
        "request_bytes": REQUEST_BYTES,
        "response_bytes": RESPONSE_BYTES,
        "horizon_s": HORIZON_S,
        "telemetry_interval_s": None,
        "far_link": dict(FAR_LINK),
        "edge_cloud_link": dict(EDGE_CLOUD_LINK),
        "ring_link": dict(RING_LINK),
    }
    params.update(overrides)
    return params


def edge_of(f: int, n_edge: int) -> int:
    """The edge site that far-edge node ``far-f`` attaches to."""
    return f % n_edge


def app_of(f: int, n_apps: int = N_APPS) -> int:
    """The application that far-edge node ``far-f`` sends requests to."""
    return (f + f // 10) % n_apps


def chain_nodes(app: int, chain_length: int, n_edge: int) -> list[str]:
    """Nodes hosting the components of ``app-{app}``, entry first."""
    return [f"edge-{(app + k) % n_edge}" for k in range(chain_length)]


def component_work_s(params: dict[str, Any]) -> float:
    """Constant work of one component (total work split evenly over the chain)."""
    return float(params["work_s"]) / int(params["chain_length"])


def build_links(n_edge: int, n_far: int) -> list[tuple[str, str, str]]:
    """All links as ``(a, b, kind)`` with kind in ``far``, ``edge_cloud``, ``ring``."""
    links: list[tuple[str, str, str]] = []
    for i in range(n_edge):
        links.append((f"edge-{i}", "cloud-0", "edge_cloud"))
    if n_edge == 2:
        links.append(("edge-0", "edge-1", "ring"))
    elif n_edge > 2:
        for i in range(n_edge):
            links.append((f"edge-{i}", f"edge-{(i + 1) % n_edge}", "ring"))
    for f in range(n_far):
        links.append((f"far-{f}", f"edge-{edge_of(f, n_edge)}", "far"))
    return links


# ---------------------------------------------------------------------------- unit strings


def _dur(seconds: float) -> str:
    """Seconds as a duration string (``"2ms"``, ``"10s"``)."""
    ms = seconds * 1000.0
    if seconds >= 1.0 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{ms:.9g}ms"


def _bw(bps: float) -> str:
    """Bits per second as a bandwidth string (``"100Mbps"``, ``"1Gbps"``)."""
    if bps >= 1e9 and (bps / 1e9).is_integer():
        return f"{int(bps / 1e9)}Gbps"
    return f"{bps / 1e6:.9g}Mbps"


def _size(n_bytes: int) -> str:
    """Bytes as an SI size string (``"1KB"``)."""
    if n_bytes and n_bytes % 1000 == 0:
        return f"{n_bytes // 1000}KB"
    return f"{n_bytes}B"


def _link(a: str, b: str, spec: dict[str, float]) -> dict[str, Any]:
    return {
        "a": a,
        "b": b,
        "latency": _dur(spec["latency_s"]),
        "bandwidth": _bw(spec["bandwidth_bps"]),
    }


# ---------------------------------------------------------------------------- scenario


def scenario_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """Build the scenario dict (public YAML format, version 1) for ``params``."""
    n_edge, n_far = int(params["n_edge"]), int(params["n_far"])
    n_apps, chain_length = int(params["n_apps"]), int(params["chain_length"])
    if n_edge < n_apps:
        raise ValueError(f"n_edge={n_edge} must be >= n_apps={n_apps} (app a lives on edge-a)")

    sites: list[list[str]] = [[] for _ in range(n_edge)]
    for f in range(n_far):
        sites[edge_of(f, n_edge)].append(f"far-{f}")
    clusters: list[dict[str, Any]] = [
        {
            "id": "cloud",
            "nodes": [
                {
                    "id": "cloud-0",
                    "tier": "cloud",
                    "cores": int(params["cloud_cores"]),
                    "speed": 1.0,
                    "memory": "128Gi",
                    "price": {"per_hour": 1.2, "billing": "when_active"},
                }
            ],
        }
    ]
    for i in range(n_edge):
        nodes: list[dict[str, Any]] = [
            {
                "id": f"edge-{i}",
                "tier": "edge",
                "cores": int(params["edge_cores"]),
                "speed": 1.0,
                "memory": "16Gi",
                "price": {"per_hour": 0.3, "billing": "always"},
            }
        ]
        nodes.extend(
            {"id": far, "tier": "far_edge", "cores": 1, "speed": 1.0, "memory": "1Gi"}
            for far in sites[i]
        )
        clusters.append({"id": f"site-{i}", "nodes": nodes})

    kinds = {
        "far": params["far_link"],
        "edge_cloud": params["edge_cloud_link"],
        "ring": params["ring_link"],
    }
    links = [_link(a, b, kinds[kind]) for a, b, kind in build_links(n_edge, n_far)]

    work = {"dist": "constant", "mean": _dur(component_work_s(params))}
    req, resp = _size(int(params["request_bytes"])), _size(int(params["response_bytes"]))
    applications: list[dict[str, Any]] = []
    for a in range(n_apps):
        nodes_a = chain_nodes(a, chain_length, n_edge)
        names = ["svc"] if chain_length == 1 else [f"svc-{k}" for k in range(chain_length)]
        components = [
            {
                "id": name,
                "cpu": "100m",
                "memory": "64Mi",
                "image_size": 0,
                "startup": "0s",
                "work": dict(work),
                "placement": {"node": node},
                "replicas": {"min": 1, "max": 1},
            }
            for name, node in zip(names, nodes_a, strict=True)
        ]
        app: dict[str, Any] = {
            "id": f"app-{a}",
            "arrive_at": "0s",
            "entry": names[0],
            "components": components,
        }
        if chain_length > 1:
            app["calls"] = [
                {"from": names[k], "to": names[k + 1], "request_size": req, "response_size": resp}
                for k in range(chain_length - 1)
            ]
        applications.append(app)

    rate = f"{float(params['rate_per_source']):.9g}/s"
    workload = [
        {
            "app": f"app-{app_of(f, n_apps)}",
            "from": f"far-{f}",
            "arrival": {"type": "poisson", "rate": rate},
            "request_size": req,
            "response_size": resp,
        }
        for f in range(n_far)
    ]

    scenario: dict[str, Any] = {
        "version": 1,
        "name": f"reference-{params['scale']}",
        "seed": 1,
        "duration": _dur(float(params["horizon_s"])),
        "warmup": "0s",
        "infrastructure": {
            "registry": "cloud-0",
            "clusters": clusters,
            "links": links,
            "network": {"contention": False},
        },
        "applications": applications,
        "workload": workload,
    }
    if params.get("telemetry_interval_s"):
        scenario["telemetry"] = {"interval": _dur(float(params["telemetry_interval_s"]))}
    return scenario


def reference_scenario(scale: str = "x1", *, horizon_s: float | None = None) -> dict[str, Any]:
    """The reference benchmark case ``scale`` as a scenario dict (public format, version 1).

    ``horizon_s`` overrides the 10 s horizon (used by ``run.py --quick``).
    """
    params = reference_topology_params(scale)
    if horizon_s is not None:
        params["horizon_s"] = float(horizon_s)
    return scenario_from_params(params)


def main(argv: list[str] | None = None) -> int:
    """Dump a reference case as YAML."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", default="x1", choices=SCALES)
    parser.add_argument("--horizon", type=float, default=None, help="horizon in seconds")
    parser.add_argument("-o", "--output", default="-", help="output file ('-' = stdout)")
    args = parser.parse_args(argv)
    scenario = reference_scenario(args.scale, horizon_s=args.horizon)
    text = yaml.safe_dump(scenario, sort_keys=False, default_flow_style=None, width=120)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
