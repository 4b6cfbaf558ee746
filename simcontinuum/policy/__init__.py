"""Placement policies: the hook (views, actions), the built-in baselines, loading and checking.

A policy is any object with ``place(app, view) -> {component: [node, ...]}``; ``plan`` and
``on_event`` are optional. :func:`load_policy` turns a name, ``file.py:Class`` or
``module:Class`` into a policy; :func:`check_policy` tests one against a scenario.
"""

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
