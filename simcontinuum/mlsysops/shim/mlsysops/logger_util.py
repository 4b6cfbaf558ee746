"""``from mlsysops.logger_util import logger`` for policy files run in simcontinuum.

The logger propagates to the standard logger ``simcontinuum.mlsysops.policy``, so a user can
see policy logs with ``logging.basicConfig(level=logging.INFO)``. Like the agent's logger it
also has ``test()`` (the agent's TEST level, between DEBUG and INFO).
"""

from __future__ import annotations

import logging
from typing import Any

TEST = 15


class PolicyLogger(logging.Logger):
    """A logger with the agent's extra ``test`` level."""

    def test(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log at the agent's TEST level (15)."""
        if self.isEnabledFor(TEST):
            self._log(TEST, msg, args, **kwargs)


def _make_logger() -> PolicyLogger:
    # made outside logging's manager so the global logger class is never changed
    log = PolicyLogger("mlsysops")
    log.parent = logging.getLogger("simcontinuum.mlsysops.policy")
    return log


logger = _make_logger()

__all__ = ["TEST", "PolicyLogger", "logger"]
