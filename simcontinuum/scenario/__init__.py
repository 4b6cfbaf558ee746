"""Scenarios: the YAML file format (version 1) and its loading into :mod:`simcontinuum.model`.

``load_scenario`` is the one way in: it reads a file, YAML text or a dict, checks everything
(structure, units, references, graphs, traces) and returns a frozen ``Scenario`` in base units,
or raises ``ScenarioError`` listing every problem as ``path: message``. ``validate_file`` returns
those problems instead of raising; ``scenario_digest`` names a document by content. The unit
parsers of :mod:`simcontinuum.scenario.units` are exported for other readers of unit strings.
"""

from simcontinuum.scenario.loader import load_scenario, scenario_digest, validate_file
from simcontinuum.scenario.units import (
    parse_bandwidth,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_rate,
    parse_size,
)

__all__ = [
    "load_scenario",
    "parse_bandwidth",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
    "parse_rate",
    "parse_size",
    "scenario_digest",
    "validate_file",
]
