"""Lazy package attributes (PEP 562): a package names what it offers, each loads on first use.

A package's ``__init__`` keeps its imports under ``TYPE_CHECKING`` (for readers, mypy and the
documentation) and hands the same names to :func:`lazy_exports`::

    __getattr__, __dir__ = lazy_exports(__name__, {"FirstFit": "simcontinuum.policy.builtins"})

so that importing one light submodule (a policy worker needs only ``simcontinuum.policy.api``)
does not import its siblings. A name that is not exported but is a submodule loads as one, as
an eager ``__init__`` used to give it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for ``exports`` (name -> module).

    >>> getattr_, dir_ = lazy_exports("simcontinuum", {"Scenario": "simcontinuum.model"})
    >>> getattr_("Scenario").__name__
    'Scenario'
    >>> "Scenario" in dir_()
    True
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:  # a submodule
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
