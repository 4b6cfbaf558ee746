"""Named random streams: one seed, many independent ``numpy.random.Generator`` s.

Every random draw of a simulation goes through ``Streams.get(name)``. A stream is derived from
``(seed, sha256(name))`` only, so adding a new consumer never shifts the draws of another, and
the same seed replays every stream exactly. Never use the global ``random`` or ``np.random``
state.
"""

from __future__ import annotations

import hashlib

import numpy as np


class Streams:
    """Independent, named, reproducible random generators derived from one seed.

    >>> s = Streams(7)
    >>> a = s.get("workload/app").random()
    >>> a == Streams(7).get("workload/app").random()
    True
    >>> a == Streams(7).get("workload/other").random()
    False
    """

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator named ``name`` (created on first use, then the same object)."""
        gen = self._streams.get(name)
        if gen is None:
            digest = hashlib.sha256(name.encode("utf-8")).digest()
            words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
            gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, *words])))
            self._streams[name] = gen
        return gen

    def names(self) -> list[str]:
        """The names of the streams used so far, sorted."""
        return sorted(self._streams)
