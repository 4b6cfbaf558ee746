"""Writing quantities as the scenario file's unit strings, rounded so that files stay short.

Each formatter is exact for what it writes: the loader reads back the rounded value, and the
generator computes rates from the rounded values, not the raw draws.
"""

from __future__ import annotations

import math


def rounded(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant digits.

    >>> rounded(0.0123456), rounded(123456.0, 3)
    (0.01235, 123000.0)
    """
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def num(x: float) -> str:
    """A number without exponent or trailing zeros.

    >>> num(2.50), num(3.0), num(0.000125)
    ('2.5', '3', '0.000125')
    """
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def ms(seconds: float) -> str:
    """A duration: ``"12.5ms"`` below a second, else ``"3.2s"`` (3 significant digits).

    >>> ms(0.0125), ms(0.0002), ms(75.0)
    ('12.5ms', '0.2ms', '75s')
    """
    if seconds < 1.0:
        return f"{num(rounded(seconds * 1000, 3))}ms"
    return f"{num(rounded(seconds, 3))}s"


def seconds(x: float) -> str:
    """A duration in whole-ish seconds: ``"60s"``.

    >>> seconds(60.0), seconds(7.25)
    ('60s', '7.25s')
    """
    return f"{num(rounded(x, 6))}s"


def size(nbytes: float) -> str:
    """A size in decimal units (``"200KB"``, ``"1.2MB"``), 3 significant digits.

    >>> size(200_000), size(1_234_567), size(512)
    ('200KB', '1.23MB', '512B')
    """
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= factor:
            return f"{num(rounded(nbytes / factor, 3))}{unit}"
    return f"{num(round(nbytes))}B"


def memory(nbytes: float) -> str:
    """Memory in whole mebibytes (``"2048Mi"``), or gibibytes when exact (``"16Gi"``).

    >>> memory(16 * 2**30), memory(1.5 * 2**30)
    ('16Gi', '1536Mi')
    """
    mib = max(1, round(nbytes / 2**20))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def bandwidth(bits: float) -> str:
    """A bandwidth: ``"1Gbps"``, ``"250Mbps"``, 3 significant digits.

    >>> bandwidth(1e9), bandwidth(2.5e8), bandwidth(12e3)
    ('1Gbps', '250Mbps', '12kbps')
    """
    for unit, factor in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bits >= factor:
            return f"{num(rounded(bits / factor, 3))}{unit}"
    return f"{num(rounded(bits, 3))}bps"


__all__ = ["bandwidth", "memory", "ms", "num", "rounded", "seconds", "size"]
