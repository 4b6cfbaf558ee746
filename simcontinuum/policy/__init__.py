"""Placement policies: the hook (views, actions), the built-in baselines, loading and checking.

A policy is any object with ``place(app, view) -> {component: [node, ...]}``; ``plan`` and
``on_event`` are optional. :func:`load_policy` turns a name, ``file.py:Class`` or
``module:Class`` into a policy; :func:`check_policy` tests one against a scenario.

Importing this package is cheap: each name loads its module on first use (PEP 562), so a
policy worker that needs only :mod:`simcontinuum.policy.api` does not pay for networkx, the
registry or the Kubernetes adapters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simcontinuum.lazy import lazy_exports

if TYPE_CHECKING:
    from simcontinuum.policy.api import (
        ACTION_TYPES,
        Action,
        AppView,
        ChangeSpec,
        ClusterView,
        Deploy,
        Event,
        Move,
        NodeView,
        Placement,
        Policy,
        Remove,
        Scale,
        TelemetryView,
        capacity_violation,
        constraint_violation,
        policy_name,
    )
    from simcontinuum.policy.builtins import (
        BUILTINS,
        BestFit,
        CostGreedy,
        FirstFit,
        K8sDefault,
        LatencyGreedy,
        RandomPolicy,
        RoundRobin,
        TwoLevel,
    )
    from simcontinuum.policy.check import check_policy
    from simcontinuum.policy.registry import PolicyRegistry, available_policies, load_policy
    from simcontinuum.policy.reservations import Reservations, least_allocated
    from simcontinuum.policy.spec import PolicySpec, parse_policy_spec

_LAZY = {
    "ACTION_TYPES": "simcontinuum.policy.api",
    "Action": "simcontinuum.policy.api",
    "AppView": "simcontinuum.policy.api",
    "BUILTINS": "simcontinuum.policy.builtins",
    "BestFit": "simcontinuum.policy.builtins",
    "ChangeSpec": "simcontinuum.policy.api",
    "ClusterView": "simcontinuum.policy.api",
    "CostGreedy": "simcontinuum.policy.builtins",
    "Deploy": "simcontinuum.policy.api",
    "Event": "simcontinuum.policy.api",
    "FirstFit": "simcontinuum.policy.builtins",
    "K8sDefault": "simcontinuum.policy.builtins",
    "LatencyGreedy": "simcontinuum.policy.builtins",
    "Move": "simcontinuum.policy.api",
    "NodeView": "simcontinuum.policy.api",
    "Placement": "simcontinuum.policy.api",
    "Policy": "simcontinuum.policy.api",
    "PolicyRegistry": "simcontinuum.policy.registry",
    "PolicySpec": "simcontinuum.policy.spec",
    "RandomPolicy": "simcontinuum.policy.builtins",
    "Remove": "simcontinuum.policy.api",
    "Reservations": "simcontinuum.policy.reservations",
    "RoundRobin": "simcontinuum.policy.builtins",
    "Scale": "simcontinuum.policy.api",
    "TelemetryView": "simcontinuum.policy.api",
    "TwoLevel": "simcontinuum.policy.builtins",
    "available_policies": "simcontinuum.policy.registry",
    "capacity_violation": "simcontinuum.policy.api",
    "check_policy": "simcontinuum.policy.check",
    "constraint_violation": "simcontinuum.policy.api",
    "least_allocated": "simcontinuum.policy.reservations",
    "load_policy": "simcontinuum.policy.registry",
    "parse_policy_spec": "simcontinuum.policy.spec",
    "policy_name": "simcontinuum.policy.api",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ACTION_TYPES",
    "BUILTINS",
    "Action",
    "AppView",
    "BestFit",
    "ChangeSpec",
    "ClusterView",
    "CostGreedy",
    "Deploy",
    "Event",
    "FirstFit",
    "K8sDefault",
    "LatencyGreedy",
    "Move",
    "NodeView",
    "Placement",
    "Policy",
    "PolicyRegistry",
    "PolicySpec",
    "RandomPolicy",
    "Remove",
    "Reservations",
    "RoundRobin",
    "Scale",
    "TelemetryView",
    "TwoLevel",
    "available_policies",
    "capacity_violation",
    "check_policy",
    "constraint_violation",
    "least_allocated",
    "load_policy",
    "parse_policy_spec",
    "policy_name",
]
