"""Kubernetes resource quantities (``resource.Quantity``) as integers of the base unit.

kube-scheduler keeps cpu in millicores and everything else in units (bytes, pods) as
``int64``; its formulas divide integers. These parsers give the same integers:
``"250m"`` cpu is 250 millicores, ``"4"`` is 4000; ``"512Mi"`` is 536870912 bytes, ``"1k"``
is 1000. Fractions round up, as ``Quantity.MilliValue()``/``Value()`` do.

>>> milli("250m"), milli("2"), milli(0.5)
(250, 2000, 500)
>>> value("512Mi"), value("1G"), value("1.5Ki")
(536870912, 1000000000, 1536)
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_SUFFIX: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_RE = re.compile(
    r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?\s*$"
)


def parse(q: object) -> Decimal:
    """A quantity as an exact decimal of the base unit.

    Raises:
        ValueError: not a Kubernetes quantity (the message shows what came).
    """
    if isinstance(q, bool) or q is None:
        raise ValueError(f"expected a quantity like 250m, 2, 512Mi or 1G, got {q!r}")
    if isinstance(q, int | float):
        if not math.isfinite(q):
            raise ValueError(f"expected a finite quantity, got {q!r}")
        return Decimal(str(q))
    m = _RE.match(str(q))
    if not m:
        raise ValueError(f"expected a quantity like 250m, 2, 512Mi or 1G, got {q!r}")
    try:
        number = Decimal(m.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise ValueError(f"expected a quantity, got {q!r}") from exc
    if m.group(2):
        return number * (Decimal(10) ** int(m.group(2)[1:]))
    return number * _SUFFIX[m.group(3) or ""]


def milli(q: object) -> int:
    """``q`` in thousandths, rounded up (``Quantity.MilliValue``): cpu in millicores."""
    return int((parse(q) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def value(q: object) -> int:
    """``q`` in units, rounded up (``Quantity.Value``): bytes, pods."""
    return int(parse(q).to_integral_value(rounding="ROUND_CEILING"))


__all__ = ["milli", "parse", "value"]
