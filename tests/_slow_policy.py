"""A policy that takes 0.1 s per placement and claims (in its own clock) to take none."""

from __future__ import annotations

import time
from typing import Any

from simcontinuum.policy.builtins import FirstFit


class Slow(FirstFit):
    name = "slow"

    def place(self, app: Any, view: Any) -> Any:
        time.sleep(0.1)
        return super().place(app, view)
