"""Stand-in for the ``mlsysops`` package (0.1.12), for policy files run by simcontinuum.

It offers a subset of 0.1.12's public names — those policy files use — and no name 0.1.12
lacks: :mod:`.logger_util` (``logger``), :mod:`.utilities` (``evaluate_condition``,
``cmp_fields``, ``node_matches_requirements``) and, at the top level as 0.1.12 re-exports them,
those names plus ``parse_interval_string``. It is visible as ``mlsysops`` only while
simcontinuum imports or calls a policy file (see
:func:`simcontinuum.mlsysops.shim.shim_modules`). Asking for one of 0.1.12's other names (the
agent stack: ``MLSAgent``, ``MessageEvents`` …) raises ``ImportError`` saying so; a name
0.1.12 does not have raises as it would there.
"""

from __future__ import annotations

import re
from typing import Any

from simcontinuum.mlsysops.shim.mlsysops import logger_util, utilities
from simcontinuum.mlsysops.shim.mlsysops.logger_util import logger
from simcontinuum.mlsysops.shim.mlsysops.utilities import (
    cmp_fields,
    evaluate_condition,
    node_matches_requirements,
)

# 0.1.12's top-level public names that belong to the agent stack (not simulated here)
FRAMEWORK_ONLY = frozenset(
    [
        "APIPingBehaviour",
        "Agent",
        "AgentConfig",
        "AnalyzeClass",
        "AnalyzeTask",
        "ApplicationController",
        "AssetsBase",
        "BaseController",
        "BaseTask",
        "CheckInactiveClustersBehaviour",
        "Check_ml_deployment_Behaviour",
        "ConfigurationController",
        "CustomFormatter",
        "ExecuteTask",
        "FailoverBehavior",
        "FileEvents",
        "HBReceiverBehaviour",
        "HeartbeatBehaviour",
        "LOG_COLORS",
        "MLSAgent",
        "MLSApplication",
        "MLSSpade",
        "MLSState",
        "MLSTelemetry",
        "ML_process_Behaviour",
        "ManageSubscriptionBehaviour",
        "ManagementModeBehaviour",
        "MechanismsController",
        "MessageEvents",
        "MessageReceivingBehavior",
        "MessageSendingBehavior",
        "MonitorData",
        "MonitorTask",
        "Plan",
        "PlanScheduler",
        "PlanTask",
        "Policy",
        "PolicyController",
        "PolicyDirectoryHandler",
        "PolicyScopes",
        "ProcessBehaviour",
        "RESET_COLOR",
        "RedisManager",
        "Status",
        "Subscribe",
        "TaskLogEntry",
        "TelemetryController",
        "add_logging_level",
        "agent",
        "application",
        "assets",
        "base",
        "behaviors",
        "configuration",
        "controllers",
        "create_otel_pod",
        "create_otel_pod_with_restart",
        "create_svc",
        "data",
        "delete_node_exporter_pod",
        "delete_otel_pod",
        "deploy_node_exporter_pod",
        "events",
        "execute",
        "libs",
        "mechanisms",
        "mls_spade",
        "monitor",
        "plan",
        "policy",
        "redis_mgt",
        "remove_service",
        "scheduler",
        "setup_logger",
        "spade",
        "state",
        "task_log",
        "tasks",
        "telemetry",
    ]
)


def parse_interval_string(interval_string: Any) -> int:
    """Seconds of ``"<int>s|m|h|d"``; 0 (and an error log) when it does not match, as 0.1.12.

    >>> parse_interval_string("2m"), parse_interval_string("fast")
    (120, 0)
    """
    match = re.fullmatch(r"(\d+)([smhd])", interval_string)
    if not match:
        logger.error(f"Invalid analyze interval format: '{interval_string}'")
        return 0
    value, unit = int(match.group(1)), match.group(2)
    return value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def __getattr__(name: str) -> Any:
    if name in FRAMEWORK_ONLY:
        raise ImportError(
            f"mlsysops.{name} is part of the MLSysOps agent stack (0.1.12), which simcontinuum "
            "does not run: a policy receives what it needs as arguments (mechanisms, "
            "telemetry, descriptions)"
        )
    raise AttributeError(f"module 'mlsysops' has no attribute {name!r}")


__all__ = [
    "cmp_fields",
    "evaluate_condition",
    "logger",
    "logger_util",
    "node_matches_requirements",
    "parse_interval_string",
    "utilities",
]
