"""Loading a scenario: YAML or a dict in, a frozen :class:`~simcontinuum.model.Scenario` out.

The phases are: read (YAML, with file:line:column on syntax errors) → shape (bounded depth and
size) → version → structure (pydantic models of :mod:`.schema`, every quantity in base units)
→ expansion (node groups, group links) → semantic checks (:mod:`.checks`) → conversion
(:mod:`.build`). Each phase reports *all* of its problems at once; a later phase runs only when
the earlier ones found none, because its messages would otherwise be noise.

Invariant: the public functions raise :class:`~simcontinuum.errors.ScenarioError` and nothing
else, whatever the input. Should a bug slip through, it is reported as an internal error in a
``ScenarioError`` rather than as a bare ``KeyError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from simcontinuum.errors import ScenarioError
from simcontinuum.model import Scenario
from simcontinuum.scenario import build
from simcontinuum.scenario.checks import check_scenario
from simcontinuum.scenario.plausible import ScenarioWarning, implausible
from simcontinuum.scenario.problems import validation_problems
from simcontinuum.scenario.reading import check_shape, parse_yaml, read_yaml_file
from simcontinuum.scenario.schema import SCENARIO_VERSION, ScenarioDoc
from simcontinuum.scenario.traces import TraceReader
from simcontinuum.scenario.units import describe

MAX_TOTAL_NODES = 1_000_000
MAX_TOTAL_CORES = 20_000_000  # one server slot per core is kept in memory

Source = str | os.PathLike[str] | Mapping[str, Any]


def scenario_digest(doc: Mapping[str, Any], files: Mapping[str, str] | None = None) -> str:
    """The sha256 (hex) of the document's canonical JSON (sorted keys, no spaces, UTF-8) and
    of every file the scenario reads (``files``: path as named -> sha256 of the content, e.g.
    arrival traces), so editing a trace changes the digest like editing the YAML does.

    Two documents that differ only in key order or YAML formatting have the same digest; a
    scenario that reads no file has the digest of its document alone.

    >>> scenario_digest({"b": 1, "a": [1, 2]}) == scenario_digest({"a": [1, 2], "b": 1})
    True
    >>> doc = {"a": 1}
    >>> scenario_digest(doc, {"t.csv": "00"}) == scenario_digest(doc, {"t.csv": "01"})
    False

    Raises:
        ScenarioError: the document is nested too deeply to be a scenario.
    """
    check_shape(doc)
    text = json.dumps(
        _canonical(doc),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if not files:
        return digest
    h = hashlib.sha256(f"scenario\0{digest}\0".encode())
    for name, content in sorted(files.items()):
        h.update(f"file\0{name}\0{content}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _file_path(path: str) -> str:
    """``path`` when the OS can take it; a NUL or a lone surrogate would make ``open`` raise
    ValueError or UnicodeEncodeError, so it is a ScenarioError here."""
    try:
        usable = "\x00" not in path and bool(os.fsencode(path))
    except UnicodeError:
        usable = False
    if not usable:
        shown = ascii(path if len(path) <= 60 else path[:59] + "...")
        raise ScenarioError(
            [f"{shown}: not a usable file path (empty, or a NUL or unencodable character)"]
        )
    return path


def _read(src: object) -> tuple[object, str | None, str, str]:
    """``(document, source path, folder for relative paths, default name)``."""
    if isinstance(src, Mapping):
        return dict(src), None, os.getcwd(), "scenario"
    if isinstance(src, os.PathLike) or (
        isinstance(src, str) and (os.path.exists(src) or "\n" not in src)
    ):
        path = os.fspath(src)
        if not isinstance(path, str):
            raise ScenarioError([f"expected a text path, got {describe(path)}"])
        doc = read_yaml_file(_file_path(path))
        stem = os.path.splitext(os.path.basename(path))[0] or "scenario"
        return doc, os.path.abspath(path), os.path.dirname(os.path.abspath(path)), stem
    if isinstance(src, str):
        return parse_yaml(src, "<text>"), None, os.getcwd(), "scenario"
    raise ScenarioError(
        [f"expected a scenario file path, YAML text or a dict, got {describe(src)}"]
    )


def _check_version(doc: Mapping[Any, Any], source: str | None) -> None:
    version = doc.get("version", SCENARIO_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ScenarioError(
            [f"version: expected {SCENARIO_VERSION}, got {describe(version)}"], source=source
        )
    if version != SCENARIO_VERSION:
        raise ScenarioError(
            [
                f"version: this simcontinuum reads scenario version {SCENARIO_VERSION}, "
                f"got {version}; upgrade simcontinuum or convert the file"
            ],
            source=source,
        )


def _validate(doc: object, source: str | None) -> ScenarioDoc:
    """Shape, version and structure; the validated document."""
    check_shape(doc, source)
    if doc is None:
        raise ScenarioError(
            ["(top level): the scenario is empty; start from scenarios/quickstart.yaml"],
            source=source,
        )
    if not isinstance(doc, dict):
        raise ScenarioError(
            [
                "(top level): expected a mapping of keys (version, name, duration, ...), "
                f"got {describe(doc)}"
            ],
            source=source,
        )
    _check_version(doc, source)
    try:
        sdoc = ScenarioDoc.model_validate(doc)
    except ValidationError as err:
        raise ScenarioError(validation_problems(err, ScenarioDoc), source=source) from None
    total = sum(g.count for c in sdoc.infrastructure.clusters for g in c.node_groups)
    if total > MAX_TOTAL_NODES:
        raise ScenarioError(
            [
                f"infrastructure.clusters: node groups add up to {total} nodes, "
                f"more than the limit of {MAX_TOTAL_NODES}"
            ],
            source=source,
        )
    clusters = sdoc.infrastructure.clusters
    cores = sum(n.cores for c in clusters for n in c.nodes)
    cores += sum(g.count * g.cores for c in clusters for g in c.node_groups)
    if cores > MAX_TOTAL_CORES:
        raise ScenarioError(
            [
                f"infrastructure.clusters: the nodes add up to {cores} cores, more than the "
                f"limit of {MAX_TOTAL_CORES}; describe fewer or smaller nodes"
            ],
            source=source,
        )
    return sdoc


def _load_doc(
    doc: object, source: str | None, base_dir: str, name: str, seed: int | None
) -> Scenario:
    if seed is not None and isinstance(doc, dict):
        doc = {**doc, "seed": seed}
    sdoc = _validate(doc, source)
    exp = build.expand(sdoc)
    traces = TraceReader(base_dir)
    problems = check_scenario(sdoc, exp, traces)
    if problems:
        raise ScenarioError(problems, source=source)
    assert isinstance(doc, dict)  # _validate refused anything else
    for text in implausible(sdoc, doc):
        warnings.warn(ScenarioWarning(f"{source or name}: {text}"), stacklevel=4)
    return build.scenario(
        sdoc,
        exp,
        traces,
        name=name,
        source_path=source,
        digest=scenario_digest(doc, traces.digests()),
    )


def _guarded(load: Callable[[], Scenario], source: str | None) -> Scenario:
    """Run ``load``; any exception that is not a ScenarioError becomes one (a bug of ours)."""
    try:
        return load()
    except ScenarioError:
        raise
    except Exception as err:
        raise ScenarioError(
            [
                f"internal error while loading the scenario ({type(err).__name__}: {err}); "
                "please report it with the file"
            ],
            source=source,
        ) from err


def load_scenario(src: Source, *, seed: int | None = None) -> Scenario:
    """Load and check a scenario.

    Args:
        src: a path to a YAML file, YAML text (a string with a newline that is not an
            existing path), or an already parsed document (a dict).
        seed: overrides the file's ``seed`` (the CLI's ``--seed``).

    Returns:
        The frozen scenario in base units, with ``digest`` (see :func:`scenario_digest`,
        taken with the effective seed) and ``source_path`` (None unless read from a file).

    Raises:
        ScenarioError: with every problem found, each as ``path: message``.
    """

    def load() -> Scenario:
        return _load_doc(*_read(src), seed)

    return _guarded(load, None)


def validate_file(path: str | os.PathLike[str]) -> list[str]:
    """Every problem of the scenario file at ``path``; an empty list means it is valid.

    Never raises for a bad file: problems are returned, YAML syntax errors included.
    """

    def load() -> Scenario:
        name = os.fspath(path)
        if isinstance(name, str):
            _file_path(name)
        full = os.path.abspath(name)
        stem = os.path.splitext(os.path.basename(name))[0] or "scenario"
        return _load_doc(read_yaml_file(name), full, os.path.dirname(full), stem, None)

    try:
        _guarded(load, None)
    except ScenarioError as err:
        return list(err.problems)
    return []


__all__ = [
    "MAX_TOTAL_CORES",
    "MAX_TOTAL_NODES",
    "load_scenario",
    "scenario_digest",
    "validate_file",
]
