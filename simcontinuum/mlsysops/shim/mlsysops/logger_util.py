"""``from mlsysops.logger_util import logger`` for policy files run in simcontinuum.

The logger propagates to the standard logger ``simcontinuum.mlsysops.policy``, so a user can
see policy logs with ``logging.basicConfig(level=logging.INFO)``. Like the agent's logger it
also has ``test()`` (the agent's TEST level, between DEBUG and INFO).
"""

from __future__ import annotations

import logging
from typing import Any

_TEST = 15


class _PolicyLogger(logging.Logger):
    """A logger with the agent's extra ``test`` level."""

    def test(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log at the agent's TEST level (15)."""
        if self.isEnabledFor(_TEST):
            self._log(_TEST, msg, args, **kwargs)


def _make_logger() -> _PolicyLogger:
    # made outside logging's manager so the global logger class is never changed
    log = _PolicyLogger("mlsysops")
    log.parent = logging.getLogger("simcontinuum.mlsysops.policy")
    return log


logger = _make_logger()

__all__ = ["logger"]


_FRAMEWORK_ONLY = (
    "CustomFormatter",
    "LOG_COLORS",
    "RESET_COLOR",
    "add_logging_level",
    "setup_logger",
)


def __getattr__(name: str) -> Any:
    if name in _FRAMEWORK_ONLY:
        raise ImportError(
            f"mlsysops.logger_util.{name} configures the agent's own log files (0.1.12); "
            "simcontinuum offers only 'logger' (it logs to 'simcontinuum.mlsysops.policy')"
        )
    raise AttributeError(f"module 'mlsysops.logger_util' has no attribute {name!r}")
