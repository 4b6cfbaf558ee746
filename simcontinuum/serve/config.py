"""``competition.yaml``: the phases, limits and secret of a competition (pydantic, strict).

A document::

    name: Edge placement cup
    secret:                       # where the organizer's secret is; never in this file
      env: SIMCONTINUUM_COMPETITION_SECRET     # or: file: /etc/simcontinuum/cup.secret
    database: competition.db      # SQLite file (relative to this file) or a SQLAlchemy URL
    phases:
      - name: public
        kind: public              # scenarios published, scores shown (through the Ladder)
        scenarios: [public/]      # files or folders, relative to this file
        seeds: 3                  # scoring seeds, drawn from the secret for this phase
        ladder_margin: 0.01       # a new public score shows only when it beats the best by this
      - name: private
        kind: private             # hidden scenarios; scores shown once the organizer reveals
        scenarios: [hidden/]
        seeds: 5
    limits:
      max_submissions_per_day: 10 # per team, per UTC day (EvalAI's max_submissions_per_day)
      max_submissions_total: 100
      max_upload_kib: 256
      wall_s: 600                 # per evaluation (all scenarios × seeds of one phase)
      cpu_s: 600
      memory_mib: 2048
    workers: 2                    # evaluations at once
    isolation: auto               # bubblewrap or refuse; insecure: without it where it fails
    rate_limit_per_minute: 120    # HTTP requests per client
    server_lease_s: 30            # one server per database: a crashed one's lease expires after
    final_submissions: 2          # a team marks up to this many as final for the private board

Seeds are never stored: :func:`phase_seeds` derives them as HMAC-SHA256(secret, "phase:i"),
so they are fresh for every phase, equal on every restart, and unknown to anyone without the
secret. The secret file must not sit in a scenario folder (it would be published with the
public scenarios or copied with the hidden ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simcontinuum.errors import SimContinuumError

DEFAULT_SECRET_ENV = "SIMCONTINUUM_COMPETITION_SECRET"
SECRET_HINT = "python -c 'import secrets; print(secrets.token_hex(32))'"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class CompetitionError(SimContinuumError):
    """``competition.yaml`` or the competition's database is not usable; says where and why.

    Attributes:
        problems: each as ``"path: message"``.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = f"{head}{self.problems[0]}"
        else:
            text = f"{head}{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSpec(_Strict):
    """Where the organizer's secret lives: an environment variable or a separate file."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSpec:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env: VARIABLE' or 'file: PATH'")
        return self


class PhaseSpec(_Strict):
    """One phase: its scenarios, how many scoring seeds, and whether scores show at once."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["public", "private"]
    scenarios: list[str] = Field(min_length=1)
    seeds: int = Field(default=3, ge=1, le=1000)
    ladder_margin: float = Field(default=0.01, gt=0)
    opens: dt.datetime | None = None
    closes: dt.datetime | None = None
    description: str = ""


class LimitsSpec(_Strict):
    """Per-team submission limits and per-evaluation resource limits."""

    max_submissions_per_day: int = Field(default=10, ge=1)
    max_submissions_total: int = Field(default=100, ge=1)
    max_upload_kib: int = Field(default=256, ge=1, le=10240)
    wall_s: float = Field(default=600.0, gt=0)
    cpu_s: int = Field(default=600, ge=1)
    memory_mib: int = Field(default=2048, ge=0)


class CompetitionSpec(_Strict):
    """The whole ``competition.yaml``."""

    name: str = Field(min_length=1, max_length=200)
    secret: SecretSpec = SecretSpec(env=DEFAULT_SECRET_ENV)
    database: str = "competition.db"
    phases: list[PhaseSpec] = Field(min_length=1)
    limits: LimitsSpec = LimitsSpec()
    workers: int = Field(default=2, ge=1, le=256)
    isolation: Literal["auto", "insecure", "none"] = "auto"
    rate_limit_per_minute: int = Field(default=120, ge=1)
    server_lease_s: float = Field(default=30.0, ge=2.0, le=3600.0)
    final_submissions: int = Field(default=2, ge=1, le=100)

    @model_validator(mode="after")
    def _unique(self) -> CompetitionSpec:
        names = [p.name for p in self.phases]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"phase names must be unique; repeated: {', '.join(dup)}")
        total = self.limits.max_submissions_total
        if self.final_submissions > total:
            raise ValueError(
                f"final_submissions ({self.final_submissions}) is more than "
                f"limits.max_submissions_total ({total}): a team could never select that many; "
                f"lower it to at most {total}"
            )
        return self


@dataclass(frozen=True)
class Phase:
    """A phase as the server uses it: the spec, its scenario files and their labels."""

    spec: PhaseSpec
    files: tuple[Path, ...]
    labels: tuple[str, ...]

    @property
    def name(self) -> str:
        """The phase's name."""
        return self.spec.name

    @property
    def public(self) -> bool:
        """True when scores show at once and the scenarios are published."""
        return self.spec.kind == "public"


@dataclass(frozen=True)
class Competition:
    """A loaded ``competition.yaml``: the spec, where it came from, and the phases."""

    spec: CompetitionSpec
    path: Path
    phases: tuple[Phase, ...]

    @property
    def root(self) -> Path:
        """The folder of ``competition.yaml``; relative paths start here."""
        return self.path.parent

    def phase(self, name: str) -> Phase:
        """The phase called ``name``.

        Raises:
            CompetitionError: no such phase (with the names there are).
        """
        for p in self.phases:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.phases)
        raise CompetitionError(f"no phase '{name}'; the phases are: {known}", str(self.path))

    def database_url(self, override: str | None = None) -> str:
        """The SQLAlchemy URL of the database (``--db`` wins over ``database:``)."""
        value = override or self.spec.database
        if "://" in value:
            return value
        return f"sqlite:///{(self.root / value).resolve()}"

    def secret(self) -> bytes:
        """The organizer's secret.

        Raises:
            CompetitionError: the variable is unset or the file is missing or empty.
        """
        s = self.spec.secret
        if s.env is not None:
            value = os.environ.get(s.env, "")
            if not value.strip():
                raise CompetitionError(
                    f"secret.env: the environment variable {s.env} is not set; set it to a "
                    f"long random text, e.g. export {s.env}=$({SECRET_HINT})",
                    str(self.path),
                )
            return value.strip().encode()
        assert s.file is not None
        path = _resolve(self.root, s.file)
        try:
            data = path.read_bytes().strip()
        except OSError as exc:
            raise CompetitionError(
                f"secret.file: cannot read {path} ({exc.strerror}); create it with "
                f"{SECRET_HINT} > {path} && chmod 600 {path}",
                str(self.path),
            ) from None
        if len(data) < 16:
            raise CompetitionError(
                f"secret.file: {path} holds fewer than 16 characters; use {SECRET_HINT}",
                str(self.path),
            )
        return data

    def seeds(self, phase: str) -> list[int]:
        """The scoring seeds of ``phase`` (see :func:`phase_seeds`)."""
        return phase_seeds(self.secret(), phase, self.phase(phase).spec.seeds)


def phase_seeds(secret: bytes, phase: str, n: int) -> list[int]:
    """``n`` seeds for ``phase``: HMAC-SHA256(secret, "phase:i"), 63 bits each.

    The same secret gives the same seeds (a restarted server scores alike); another phase or
    secret gives unrelated ones, and without the secret they cannot be guessed.

    >>> phase_seeds(b"s" * 16, "public", 2) == phase_seeds(b"s" * 16, "public", 2)
    True
    >>> phase_seeds(b"s" * 16, "public", 1) != phase_seeds(b"s" * 16, "private", 1)
    True
    """
    out = []
    for i in range(n):
        digest = hmac.new(secret, f"{phase}:{i}".encode(), hashlib.sha256).digest()
        out.append(int.from_bytes(digest[:8], "big") >> 1)
    return out


def _resolve(root: Path, item: str) -> Path:
    p = Path(item).expanduser()
    return p if p.is_absolute() else root / p


def load_competition(path: str | os.PathLike[str]) -> Competition:
    """Read, validate and resolve ``competition.yaml``; every scenario is loaded once here.

    Raises:
        CompetitionError: every problem, each with its path in the document and the fix.
        ScenarioError: a scenario of a phase is invalid.
    """
    import yaml

    from simcontinuum.experiment.grid import scenario_files, scenario_specs
    from simcontinuum.scenario.problems import validation_problems

    source = Path(path)
    try:
        doc: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompetitionError(f"cannot read the file ({exc.strerror})", str(source)) from None
    except yaml.YAMLError as exc:
        raise CompetitionError(f"not valid YAML: {exc}", str(source)) from None
    if not isinstance(doc, dict):
        raise CompetitionError("expected a mapping with name, phases, ...", str(source))
    try:
        spec = CompetitionSpec.model_validate(doc)
    except ValidationError as err:
        raise CompetitionError(validation_problems(err, CompetitionSpec), str(source)) from None
    root = source.resolve().parent
    problems: list[str] = []
    phases = []
    folders: set[Path] = set()
    for i, p in enumerate(spec.phases):
        try:
            files = scenario_files([_resolve(root, s) for s in p.scenarios])
        except FileNotFoundError as exc:
            problems.append(f"phases[{i}].scenarios: {exc}; paths are relative to {root}")
            continue
        labels = [s.label for s in scenario_specs(files)]
        phases.append(Phase(p, tuple(files), tuple(_short_labels(files, labels))))
        folders.update(f.parent for f in files)
        if p.opens and p.closes and p.closes <= p.opens:
            problems.append(f"phases[{i}].closes: must be after opens ({p.opens.isoformat()})")
    if spec.secret.file is not None:
        secret_dir = _resolve(root, spec.secret.file).resolve().parent
        if secret_dir in folders:
            problems.append(
                f"secret.file: {spec.secret.file} sits in a scenario folder ({secret_dir}); "
                "keep it elsewhere, e.g. /etc/simcontinuum/"
            )
    if problems:
        raise CompetitionError(problems, str(source))
    return Competition(spec, source.resolve(), tuple(phases))


def _short_labels(files: Sequence[Path], labels: Sequence[str]) -> list[str]:
    """Scenario labels: the file stems (``p1`` for ``public/p1.yaml``: what the URLs and
    reports show); where two files share a stem, the scenario names (or paths) instead."""
    stems = [f.stem for f in files]
    if len(set(stems)) == len(stems):
        return stems
    return list(labels)


__all__ = [
    "DEFAULT_SECRET_ENV",
    "Competition",
    "CompetitionError",
    "CompetitionSpec",
    "LimitsSpec",
    "Phase",
    "PhaseSpec",
    "SecretSpec",
    "load_competition",
    "phase_seeds",
]
