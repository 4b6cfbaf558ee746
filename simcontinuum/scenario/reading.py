"""Reading a scenario's YAML into plain Python data, safely.

The YAML dialect is YAML 1.2 in spirit: only ``true``/``false`` are booleans (so the on/off
arrival's ``on:`` and ``off:`` keys stay text), dates stay text, and a key repeated in one
mapping is an error rather than silently overwritten. Syntax errors name the file, line and
column. Documents that are absurdly deep or large (e.g. an alias bomb) are refused before
anything walks them recursively.

Everything here raises :class:`~simcontinuum.errors.ScenarioError` and nothing else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import yaml

from simcontinuum.errors import ScenarioError
from simcontinuum.scenario.problems import path_of

MAX_DEPTH = 40
MAX_ITEMS = 2_000_000
MAX_FILE_BYTES = 64 * 2**20

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


if TYPE_CHECKING:
    _BaseLoader = yaml.SafeLoader
else:  # libyaml's C parser when present: several times faster on large files
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):
    """A safe loader that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key_node.value}' "
                    f"(first given on line {seen[key_node.value] + 1})",
                    key_node.start_mark,
                )
            seen[key_node.value] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


# Only true/false are booleans and timestamps stay text (YAML 1.2 habits); see module doc.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, name: str = "<text>") -> Any:
    """Parse YAML text; errors say ``name:line:column``.

    Raises:
        ScenarioError: the text is not valid YAML, or is nested too deeply.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        what = err.problem or err.context or "invalid YAML"
        raise ScenarioError([f"{where}: invalid YAML: {what}"], source=name) from None
    except yaml.YAMLError as err:
        raise ScenarioError([f"{name}: invalid YAML: {err}"], source=name) from None
    except RecursionError:
        raise ScenarioError(
            [f"{name}: the YAML is nested too deeply (at most {MAX_DEPTH} levels)"], source=name
        ) from None
    except (ValueError, TypeError, OverflowError) as err:
        raise ScenarioError([f"{name}: invalid YAML value: {err}"], source=name) from None


def read_yaml_file(path: str | os.PathLike[str]) -> Any:
    """Read and parse a YAML file.

    Raises:
        ScenarioError: the file is missing, unreadable, too large, not UTF-8 or not YAML.
    """
    name = os.fspath(path)
    try:
        if os.path.getsize(name) > MAX_FILE_BYTES:
            raise ScenarioError(
                [f"{name}: the file is larger than {MAX_FILE_BYTES // 2**20} MiB"], source=name
            )
        with open(name, encoding="utf-8") as fh:
            # read one character past the limit: special files (/dev/zero) report size 0
            text = fh.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise ScenarioError(
                [f"{name}: the file is larger than {MAX_FILE_BYTES // 2**20} MiB"], source=name
            )
    except FileNotFoundError:
        raise ScenarioError([f"{name}: no such file"], source=name) from None
    except IsADirectoryError:
        raise ScenarioError([f"{name}: is a folder, expected a .yaml file"], source=name) from None
    except UnicodeDecodeError as err:
        raise ScenarioError(
            [f"{name}: not UTF-8 text (byte {err.start}); save the file as UTF-8"], source=name
        ) from None
    except OSError as err:
        raise ScenarioError(
            [f"{name}: cannot read the file: {err.strerror}"], source=name
        ) from None
    return parse_yaml(text, name)


def check_shape(doc: object, source: str | None = None) -> None:
    """Refuse documents deeper than ``MAX_DEPTH`` or with more than ``MAX_ITEMS`` values.

    The walk is iterative and bounded, so self-referencing or alias-bomb documents end
    quickly with a clear message instead of a ``RecursionError``.

    Raises:
        ScenarioError: the document is too deep or too large.
    """
    stack: list[tuple[object, tuple[object, ...]]] = [(doc, ())]
    seen = 0
    while stack:
        value, where = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            raise ScenarioError(
                [
                    f"(top level): the document holds more than {MAX_ITEMS} values "
                    "(or refers to itself)"
                ],
                source=source,
            )
        if len(where) > MAX_DEPTH:
            raise ScenarioError(
                [
                    f"{path_of(where[:MAX_DEPTH])}: nested deeper than {MAX_DEPTH} levels "
                    "(or refers to itself)"
                ],
                source=source,
            )
        if isinstance(value, dict):
            stack.extend((v, (*where, k)) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((v, (*where, i)) for i, v in enumerate(value))


__all__ = ["MAX_DEPTH", "MAX_ITEMS", "check_shape", "parse_yaml", "read_yaml_file"]
