"""The generator's templates: parameter defaults, application profiles and a layout each.

- ``smart-city``: cameras and sensors at edge sites, a cloud behind them; video, traffic,
  parking, air-quality (model in the cloud) and emergency (edge only, tight SLO) apps; sensor
  load follows a compressed day (diurnal, one period per run).
- ``industrial-iot``: many far-edge devices (PLCs, vibration sensors, inspection cameras)
  sending periodic streams to factory edge sites; tight SLOs, edge-only control loops; devices
  fail now and then.
- ``video-analytics``: GPU-hungry detector pipelines fed by cameras at 10-30 fps, like the
  hackathon app: decoder -> detector (GPU) -> classifier -> tracker; half the edge nodes
  carry a GPU; one profile requires a GPU node.
- ``random``: a random geometric continuum (tiers by distance from the centre) and random DAG
  applications of mixed shapes, random tier constraints and arrival types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simcontinuum.generate.apps import Profile


@dataclass(frozen=True)
class Template:
    """A template: what it generates and its parameter defaults."""

    name: str
    description: str
    layout: str  # "sites" | "geometric"
    profiles: tuple[Profile, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)


SMART_CITY = Template(
    "smart-city",
    "cameras and sensors -> edge sites -> cloud, diurnal load",
    "sites",
    (
        Profile(
            "video",
            ("detector", "tracker", "classifier", "store"),
            "cam",
            "camera",
            arrival="periodic",
            gpu=0,
            gpu_work=2.0,
            request_scale=10.0,
            min_size=2,
        ),
        Profile("traffic", ("ingest", "aggregator", "store"), "traffic", "sensor"),
        Profile("parking", ("api", "store", "notifier"), "parking", "sensor"),
        Profile(
            "air",
            ("collector", "filter", "model"),
            "aq",
            "sensor",
            arrival="periodic",
            tail_tiers=("cloud",),
            slo_scale=2.0,
        ),
        Profile(
            "emergency", ("dispatcher", "notifier"), "sos", "button", tiers=("edge",), slo_scale=0.3
        ),
    ),
    {
        "tier_mix": {"cloud": 0.02, "edge": 0.13, "far_edge": 0.85},
        "app_size": [2, 3],
        "slo": ["40ms", "120ms"],
        "diurnal_amplitude": 0.5,
    },
)

INDUSTRIAL_IOT = Template(
    "industrial-iot",
    "many far-edge devices, tight SLOs, periodic streams",
    "sites",
    (
        Profile(
            "control",
            ("ingest", "controller", "actuator"),
            "plc",
            "plc",
            arrival="periodic",
            tiers=("edge",),
            slo_scale=0.5,
        ),
        Profile(
            "vibration",
            ("ingest", "fft", "anomaly"),
            "vib",
            "sensor",
            arrival="periodic",
            tiers=("edge",),
        ),
        Profile(
            "inspection",
            ("capture", "detector", "classifier"),
            "qcam",
            "camera",
            arrival="periodic",
            gpu=1,
            gpu_work=3.0,
            request_scale=20.0,
            slo_scale=2.0,
            min_size=2,
        ),
        Profile(
            "historian",
            ("gateway", "historian"),
            "meter",
            "meter",
            tail_tiers=("cloud",),
            slo_scale=4.0,
        ),
    ),
    {
        "tier_mix": {"cloud": 0.005, "edge": 0.045, "far_edge": 0.95},
        "app_size": [2, 3],
        "work": ["1ms", "5ms"],
        "cpu_request": [0.1, 0.5],
        "request_size": ["200B", "4KB"],
        "slo": ["10ms", "40ms"],
        "latency": {"device": ["500us", "2ms"]},
        "mtbf": {"far_edge": "2h"},
    },
)

VIDEO_ANALYTICS = Template(
    "video-analytics",
    "GPU-hungry detector pipelines fed by cameras (like the hackathon app)",
    "sites",
    (
        Profile(
            "pipeline",
            ("decoder", "detector", "classifier", "tracker"),
            "cam",
            "camera",
            arrival="periodic",
            gpu=1,
            gpu_work=4.0,
            request_scale=1.0,
            min_size=3,
            shape="chain",
        ),
        Profile(
            "gpu-pipeline",
            ("detector", "classifier", "tracker"),
            "gcam",
            "camera",
            arrival="periodic",
            gpu=0,
            gpu_required=True,
            gpu_work=6.0,
            min_size=2,
            shape="chain",
        ),
        Profile(
            "face",
            ("detector", "embedder", "matcher"),
            "fcam",
            "camera",
            arrival="periodic",
            gpu=0,
            gpu_work=4.0,
            tail_tiers=("cloud",),
            slo_scale=1.5,
        ),
    ),
    {
        "tier_mix": {"cloud": 0.03, "edge": 0.17, "far_edge": 0.80},
        "gpu_share": {"cloud": 0.5, "edge": 0.5},
        "app_size": [3, 4],
        "work": ["3ms", "15ms"],
        "cpu_request": [0.5, 2.0],
        "request_size": ["50KB", "400KB"],
        "slo": ["40ms", "150ms"],
    },
)

RANDOM = Template(
    "random",
    "random geometric topology (tiers by distance), random DAG applications",
    "geometric",
    (
        Profile(
            "app",
            ("c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"),
            "dev",
            "device",
            arrival="random",
            random_tiers=True,
        ),
    ),
    {
        "tier_mix": {"cloud": 0.03, "edge": 0.17, "far_edge": 0.80},
        "app_shape": "mixed",
        "app_size": [2, 6],
        "apps_per_site": 1,
        "slo": ["30ms", "150ms"],
    },
)

TEMPLATES: Mapping[str, Template] = {
    t.name: t for t in (SMART_CITY, INDUSTRIAL_IOT, VIDEO_ANALYTICS, RANDOM)
}

__all__ = ["TEMPLATES", "Template"]
