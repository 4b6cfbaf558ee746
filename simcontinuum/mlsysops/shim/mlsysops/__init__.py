"""Stand-in for the ``mlsysops`` agent package, for policy files run by simcontinuum.

Only what policy files import is here: :mod:`.logger_util` (``logger``) and :mod:`.utilities`
(``evaluate_condition``). It is visible as ``mlsysops`` only while simcontinuum imports or
calls a policy file (see :func:`simcontinuum.mlsysops.shim.shim_modules`); any other
``mlsysops.*`` import fails with ``ModuleNotFoundError``, as the agent stack is not simulated.
"""

from simcontinuum.mlsysops.shim.mlsysops import logger_util, utilities

__all__ = ["logger_util", "utilities"]
