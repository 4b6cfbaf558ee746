"""MLSysOps compatibility (sim-to-real): descriptions in, policy files run unchanged.

- :func:`load_descriptions` turns a directory of ``MLSysOpsApp`` / ``MLSysOpsNode`` /
  ``MLSysOpsCluster`` / ``MLSysOpsContinuum`` YAML files, plus an overlay in the scenario format
  for what they lack, into a :class:`~simcontinuum.model.Scenario`
  (:mod:`~simcontinuum.mlsysops.translate`);
- :func:`load_policy_file` makes a simcontinuum policy of ``policy-<name>.py`` files written
  for the MLSysOps agent (``initialize`` / ``async analyze`` / ``async plan``), run through the
  agent's contract: argument shapes, analyze intervals, the plan scheduler, ``fluidity`` plans
  with their real rules (:mod:`~simcontinuum.mlsysops.adapter`);
  ``load_policy("path/policy-x.py")`` gives the same;
- :func:`check_policy_file` checks a file statically, as the agent's loader reads it;
- :func:`node_matches_requirements` is the framework's eligibility rule.

Importing this package is cheap; the parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simcontinuum.lazy import lazy_exports

if TYPE_CHECKING:
    from simcontinuum.mlsysops.adapter import MLSysOpsPolicy, load_policy_file, load_policy_spec
    from simcontinuum.mlsysops.agent import MLSysOpsWarning
    from simcontinuum.mlsysops.check import check_policy_file
    from simcontinuum.mlsysops.descriptions import Descriptions, read_descriptions
    from simcontinuum.mlsysops.requirements import (
        node_matches_requirements,
        parse_interval,
        requirement_mismatch,
    )
    from simcontinuum.mlsysops.translate import (
        load_descriptions,
        scenario_document,
        scenario_from_args,
    )

_EXPORTS = {
    "load_descriptions": "simcontinuum.mlsysops.translate",
    "scenario_from_args": "simcontinuum.mlsysops.translate",
    "scenario_document": "simcontinuum.mlsysops.translate",
    "read_descriptions": "simcontinuum.mlsysops.descriptions",
    "Descriptions": "simcontinuum.mlsysops.descriptions",
    "load_policy_file": "simcontinuum.mlsysops.adapter",
    "load_policy_spec": "simcontinuum.mlsysops.adapter",
    "MLSysOpsPolicy": "simcontinuum.mlsysops.adapter",
    "MLSysOpsWarning": "simcontinuum.mlsysops.agent",
    "check_policy_file": "simcontinuum.mlsysops.check",
    "node_matches_requirements": "simcontinuum.mlsysops.requirements",
    "requirement_mismatch": "simcontinuum.mlsysops.requirements",
    "parse_interval": "simcontinuum.mlsysops.requirements",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "Descriptions",
    "MLSysOpsPolicy",
    "MLSysOpsWarning",
    "check_policy_file",
    "load_descriptions",
    "load_policy_file",
    "load_policy_spec",
    "node_matches_requirements",
    "parse_interval",
    "read_descriptions",
    "requirement_mismatch",
    "scenario_document",
    "scenario_from_args",
]
