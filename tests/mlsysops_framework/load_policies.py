"""Load policy files with the MLSysOps framework's own loader (``mlsysops.policy.Policy``).

Run with the Python of an environment where ``mlsysops==0.1.12`` is installed. argv: policy
files; stdout: JSON ``{path: {"loaded", "scope", "packages", "error"}}``. The agent object
the loader expects is a stand-in that records what ``initialize`` registers (metrics, scrape
intervals); nothing else of the agent is needed to load a file.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import types
from contextlib import redirect_stdout

logging.disable(logging.CRITICAL)

from mlsysops.policy import Policy  # noqa: E402


class _Loop:
    def create_task(self, coro: object) -> None:
        close = getattr(coro, "close", None)
        if close is not None:
            close()


def _agent() -> object:
    async def add(*args: object) -> None:
        return None

    return types.SimpleNamespace(
        current_loop=_Loop(),
        monitor_task=types.SimpleNamespace(add_metric=add),
        telemetry_controller=types.SimpleNamespace(add_new_interval=add),
    )


out = {}
for path in sys.argv[1:]:
    name = os.path.basename(path).split("-")[1].rsplit(".py", 1)[0]
    p = Policy(name, path)
    with redirect_stdout(io.StringIO()):
        packages = p.parse_module_for_context_data()
        p.validate()  # load_module + the three functions
        ok = p.module is not None and all(
            callable(getattr(p.module, f, None)) for f in ("initialize", "analyze", "plan")
        )
        p.initialize(_agent()) if ok else None
    out[path] = {"loaded": ok, "scope": p.scope, "packages": packages}
json.dump(out, sys.stdout)
