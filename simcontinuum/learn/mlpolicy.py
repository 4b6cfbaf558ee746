"""A serialized model as a placement policy: score every feasible node, take the best.

A model is any object with ``predict(X)`` (scikit-learn estimators and pipelines, or your
own), saved with joblib or pickle, plus a small feature spec beside it — ``model.joblib`` and
``model.features.json``::

    {"format": 1, "features": ["comp_cpu", ...], "target": "outcome_mean_latency_s",
     "objective": "min"}

``features`` are the model's input columns, in order (names from
:data:`~simcontinuum.learn.features.ALL_FEATURES`); ``target`` says what it predicts and
``objective`` whether lower (``min``, e.g. latency) or higher (``max``, e.g. SLO met) is better.
:func:`save_model` writes both files; ``--policy ml:model.joblib`` (or
``load_policy("ml:model.joblib")``) loads them.

:class:`MLPolicy` places ``replicas_min`` replicas of each component in call order: for each
replica it builds one feature row per feasible node (capacity checked with this call's
tentative reservations, as the baselines do), predicts, and takes the best prediction (ties:
the lower marginal cost, then scenario order). A model that uses telemetry features gets the
telemetry its ``plan`` last saw (NaN before the first delivery).

Loading a pickle runs code from the file: load only models you trust.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum.errors import PolicyError
from simcontinuum.io import atomic_path, atomic_write
from simcontinuum.learn.features import (
    ALL_FEATURES,
    FEATURES,
    TELEMETRY_FEATURES,
    candidate_features,
    telemetry_features,
    telemetry_table,
)
from simcontinuum.policy.reservations import Reservations

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.policy.api import AppView, ClusterView, Placement, TelemetryView

SPEC_FORMAT = 1
DEFAULT_TARGET = "outcome_mean_latency_s"
SAVE_HINT = "save it with simcontinuum.learn.save_model(model, 'model.joblib')"


def spec_path(model_path: str | os.PathLike[str]) -> Path:
    """The feature spec beside a model file: ``model.joblib`` -> ``model.features.json``."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}.features.json")


class MLPolicy:
    """Places each replica on the node with the best predicted outcome.

    Args:
        model: an object with ``predict(X)``; X has one row per candidate node and the
            ``features`` columns (a DataFrame when the model knows its feature names).
        features: the model's input columns, in order.
        objective: ``"min"`` (lower prediction is better) or ``"max"``.
        name: the policy's name in results.
    """

    def __init__(
        self,
        model: Any,
        features: Sequence[str] = FEATURES,
        *,
        objective: str = "min",
        target: str = DEFAULT_TARGET,
        name: str = "ml",
    ) -> None:
        unknown = [f for f in features if f not in ALL_FEATURES]
        if unknown:
            raise PolicyError(f"unknown feature(s) {unknown}; known: {', '.join(ALL_FEATURES)}")
        if objective not in ("min", "max"):
            raise PolicyError(f"objective must be 'min' or 'max', got {objective!r}")
        if not callable(getattr(model, "predict", None)):
            raise PolicyError(f"the model ({type(model).__name__}) has no predict() method")
        self.model = model
        self.features = tuple(features)
        self.objective = objective
        self.target = target
        self.name = name
        self._frame = hasattr(model, "feature_names_in_")
        self._table: dict[tuple[str, str], dict[str, float]] = {}

    @property
    def uses_telemetry(self) -> bool:
        """Whether some input is a telemetry feature (then ``plan`` keeps the latest)."""
        return any(f in TELEMETRY_FEATURES for f in self.features)

    def reset(self, rng: np.random.Generator) -> None:
        """Forget the telemetry of a previous run."""
        self._table = {}

    def place(self, app: AppView, view: ClusterView) -> Placement:
        """``replicas_min`` replicas of every component of ``app``, each on its best node."""
        t = Reservations(view)
        placement: Placement = {}
        live = view.placements.get(app.id, {})
        for cid in app.order():
            comp = app.component(cid)
            callers = [n for c in app.callers(cid) for n in placement.get(c, live.get(c, ()))]
            nodes: list[str] = []
            for i in range(comp.replicas_min):
                cands = t.feasible(comp)
                if not cands:
                    break
                best = self._best(view, app, comp, cands, callers, t, i)
                t.reserve(comp, best)
                nodes.append(best)
            if nodes:
                placement[cid] = nodes
        return placement

    def scores(
        self, view: ClusterView, app: AppView, cid: str, nodes: Iterable[str] | None = None
    ) -> dict[str, float]:
        """The model's prediction for one replica of ``cid`` on each of ``nodes`` (default:
        every feasible node), with the callers placed where they live now."""
        comp = app.component(cid)
        t = Reservations(view)
        live = view.placements.get(app.id, {})
        callers = [n for c in app.callers(cid) for n in live.get(c, ())]
        cands = list(nodes) if nodes is not None else t.feasible(comp)
        if not cands:
            return {}
        pred = self._predict(view, app, comp, cands, callers, t, 0)
        return dict(zip(cands, (float(p) for p in pred), strict=True))

    def _rows(
        self,
        view: ClusterView,
        app: AppView,
        comp: Any,
        cands: Sequence[str],
        callers: Sequence[str],
        t: Reservations,
        i: int,
    ) -> list[dict[str, float]]:
        rows = []
        for nid in cands:
            row = candidate_features(
                view, app, comp, nid, callers=callers, tentative=t, replica_index=i
            )
            if self.uses_telemetry:
                row.update(telemetry_features(self._table, nid, app))
            rows.append(row)
        return rows

    def _predict(
        self,
        view: ClusterView,
        app: AppView,
        comp: Any,
        cands: Sequence[str],
        callers: Sequence[str],
        t: Reservations,
        i: int,
    ) -> np.ndarray:
        rows = self._rows(view, app, comp, cands, callers, t, i)
        X = np.array([[r[f] for f in self.features] for r in rows], dtype=float)
        if self._frame:
            import pandas as pd

            return np.asarray(self.model.predict(pd.DataFrame(X, columns=list(self.features))))
        return np.asarray(self.model.predict(X), dtype=float).reshape(-1)

    def _best(
        self,
        view: ClusterView,
        app: AppView,
        comp: Any,
        cands: list[str],
        callers: list[str],
        t: Reservations,
        i: int,
    ) -> str:
        pred = self._predict(view, app, comp, cands, callers, t, i).astype(float)
        sign = 1.0 if self.objective == "min" else -1.0
        key = [
            (
                sign * p if not math.isnan(p) else math.inf,
                _marginal_cost(view, t, comp, nid),
                k,
            )
            for k, (p, nid) in enumerate(zip(pred, cands, strict=True))
        ]
        return cands[min(key)[2]]

    def __repr__(self) -> str:
        return f"MLPolicy({type(self.model).__name__}, {len(self.features)} features)"


class TelemetryMLPolicy(MLPolicy):
    """An :class:`MLPolicy` whose model reads telemetry features: ``plan`` keeps the latest
    delivered telemetry (and acts on nothing)."""

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Any]:
        """Remember the latest delivered telemetry for the next ``place``."""
        self._table = telemetry_table(telemetry.latest())
        return []


def _marginal_cost(view: ClusterView, t: Reservations, comp: Any, nid: str) -> float:
    price = view.node(nid).price
    wakes = price.billing == "when_active" and not t.hosts_anything(nid)
    return price.per_core_hour * comp.cpu + (price.per_hour if wakes else 0.0)


def make_policy(
    model: Any,
    features: Sequence[str] = FEATURES,
    *,
    objective: str = "min",
    target: str = DEFAULT_TARGET,
    name: str = "ml",
) -> MLPolicy:
    """An :class:`MLPolicy` (a :class:`TelemetryMLPolicy` when a feature needs telemetry)."""
    cls = TelemetryMLPolicy if any(f in TELEMETRY_FEATURES for f in features) else MLPolicy
    return cls(model, features, objective=objective, target=target, name=name)


# ----------------------------------------------------------------------------- files


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] | None = None,
    target: str = DEFAULT_TARGET,
    objective: str = "min",
) -> tuple[Path, Path]:
    """Write ``model`` to ``path`` (joblib, else pickle) and its feature spec beside it.

    Args:
        model: an object with ``predict``.
        path: the model file, e.g. ``model.joblib``.
        features: its input columns in order (default: the model's ``feature_names_in_``,
            else :data:`~simcontinuum.learn.features.FEATURES`).
        target: what it predicts (a dataset column); objective: ``min`` or ``max``.

    Returns:
        The model file and the spec file written.
    """
    if features is None:
        names = getattr(model, "feature_names_in_", None)
        features = [str(n) for n in names] if names is not None else list(FEATURES)
    make_policy(model, features, objective=objective, target=target)  # validates
    out = Path(path)
    with atomic_path(out) as tmp:
        try:
            import joblib

            joblib.dump(model, tmp)
        except ImportError:
            with open(tmp, "wb") as fh:
                pickle.dump(model, fh)
    spec = spec_path(out)
    doc = {
        "format": SPEC_FORMAT,
        "features": list(features),
        "target": target,
        "objective": objective,
        "model": type(model).__name__,
    }
    atomic_write(spec, json.dumps(doc, indent=2) + "\n")
    return out, spec


def load_model(path: str | os.PathLike[str]) -> Any:
    """The object in a joblib or pickle file (no checks; see :func:`load_ml_policy`)."""
    try:
        import joblib
    except ImportError:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    return joblib.load(path)


def load_ml_policy(
    path: str | os.PathLike[str], *, search_path: Iterable[str | os.PathLike[str]] | None = None
) -> MLPolicy:
    """The policy of a model file and its feature spec (the ``ml:PATH`` policy spec).

    Raises:
        PolicyError: the model or its spec is missing, unreadable, not a model, or the spec
            does not match the model; the message names the file and the fix.
    """
    model_path = _resolve(Path(path), search_path)
    spec = spec_path(model_path)
    if not spec.is_file():
        raise PolicyError(
            f"ml model '{model_path}': its feature spec '{spec}' is missing; {SAVE_HINT}, "
            "which writes the model and the spec beside it"
        )
    doc = _read_spec(spec)
    try:
        model = load_model(model_path)
    except ModuleNotFoundError as exc:  # the file is fine: the library it pickles is absent
        extra = "ml" if (exc.name or "").split(".")[0] in ("sklearn", "joblib") else None
        fix = (
            "pip install 'simcontinuum[ml]'"
            if extra
            else f"pip install the package that provides '{exc.name}'"
        )
        raise PolicyError(
            f"ml model '{model_path}' needs the module '{exc.name}' to load, and it is not "
            f"installed; install it with: {fix}"
        ) from exc
    except Exception as exc:
        raise PolicyError(
            f"ml model '{model_path}' cannot be loaded ({type(exc).__name__}: {exc}); it must "
            f"be a joblib or pickle file of an object with predict(); {SAVE_HINT}"
        ) from exc
    if not callable(getattr(model, "predict", None)):
        raise PolicyError(
            f"ml model '{model_path}' holds a {type(model).__name__}, which has no predict() "
            f"method; save a fitted model (e.g. simcontinuum.learn.train_latency_model) with "
            "simcontinuum.learn.save_model"
        )
    features = doc["features"]
    _check_match(model, features, model_path, spec)
    try:
        policy = make_policy(
            model,
            features,
            objective=doc.get("objective", "min"),
            target=doc.get("target", DEFAULT_TARGET),
            name=f"ml:{model_path.name}",
        )
    except PolicyError as exc:
        raise PolicyError(f"ml model '{model_path}' (spec '{spec}'): {exc}") from None
    _smoke(policy, model_path, spec)
    return policy


def _resolve(path: Path, search_path: Iterable[str | os.PathLike[str]] | None) -> Path:
    candidates = [path.expanduser()]
    if not path.is_absolute():
        candidates += [Path(d) / path for d in (search_path or ())]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise PolicyError(
        f"ml model '{path}' not found (looked at: {looked}); train one "
        f"(simcontinuum.learn.train_latency_model) and {SAVE_HINT}, then give ml:PATH"
    )


def _read_spec(spec: Path) -> dict[str, Any]:
    try:
        doc = json.loads(spec.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(
            f"feature spec '{spec}' is not valid JSON ({exc}); expected "
            '{"features": [...], "target": ..., "objective": "min"}'
        ) from None
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list) or not feats or not all(isinstance(f, str) for f in feats):
        raise PolicyError(
            f"feature spec '{spec}': 'features' must be a non-empty list of column names, "
            f"got {feats!r}"
        )
    unknown = [f for f in feats if f not in ALL_FEATURES]
    if unknown:
        raise PolicyError(
            f"feature spec '{spec}' lists unknown feature(s) {unknown}; known: "
            f"{', '.join(ALL_FEATURES)}"
        )
    return dict(doc)


def _check_match(model: Any, features: list[str], model_path: Path, spec: Path) -> None:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and [str(n) for n in names] != features:
        raise PolicyError(
            f"ml model '{model_path}' was fitted on the columns {[str(n) for n in names]} but "
            f"'{spec}' lists {features}; re-save it with save_model(model, path) (the spec "
            "then follows the model's feature_names_in_)"
        )
    n = getattr(model, "n_features_in_", None)
    if isinstance(n, int | np.integer) and int(n) != len(features):
        raise PolicyError(
            f"ml model '{model_path}' expects {int(n)} features but '{spec}' lists "
            f"{len(features)}; list the model's training columns in order in the spec, or "
            f"re-save with save_model(model, path, features=[...])"
        )


def _smoke(policy: MLPolicy, model_path: Path, spec: Path) -> None:
    """One prediction on a row of zeros, so a mismatch shows now and not mid-run."""
    X = np.zeros((1, len(policy.features)))
    try:
        if policy._frame:
            import pandas as pd

            out = policy.model.predict(pd.DataFrame(X, columns=list(policy.features)))
        else:
            out = policy.model.predict(X)
        if len(np.asarray(out).reshape(-1)) != 1:
            raise ValueError(f"predict() returned {len(np.asarray(out).reshape(-1))} values")
    except Exception as exc:
        raise PolicyError(
            f"ml model '{model_path}' fails on one row of the {len(policy.features)} features "
            f"listed in '{spec}' ({type(exc).__name__}: {exc}); the spec must list the "
            "model's training columns in order, and predict() must return one number per row"
        ) from exc


# ----------------------------------------------------------------------------- training


def training_rows(data: pd.DataFrame, target: str = DEFAULT_TARGET) -> pd.DataFrame:
    """The rows of a :func:`~simcontinuum.learn.datasets.dataset` table fit for training on
    ``target``: applied decisions with a measured outcome."""
    if target not in data:
        raise ValueError(f"the dataset has no column {target!r}")
    keep = data["applied"].astype(bool) & data[target].notna()
    if "outcome_requests" in data:
        keep &= data["outcome_requests"] > 0
    return data[keep]


def train_latency_model(
    data: pd.DataFrame,
    *,
    target: str = DEFAULT_TARGET,
    features: Sequence[str] = FEATURES,
    kind: str = "random-forest",
    random_state: int = 0,
) -> Any:
    """Fit a regressor of ``target`` (mean latency by default) on (component, node) features.

    Args:
        data: a :func:`~simcontinuum.learn.datasets.dataset` table (several concatenated is fine).
        target: the outcome column to predict.
        features: input columns (default: every view feature, none from telemetry, so the
            model works at placement time).
        kind: ``gradient-boosting`` or ``random-forest`` (scikit-learn, fixed random_state).
        random_state: the estimator's seed: same data and seed ⇒ the same model.

    Returns:
        The fitted estimator (fitted on a DataFrame, so it knows its feature names); save it
        with :func:`save_model`.
    """
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    rows = training_rows(data, target)
    if len(rows) < 2:
        raise ValueError(
            f"only {len(rows)} usable row(s) for target {target!r}; simulate more seeds"
        )
    X = rows[list(features)].astype(float)
    y = rows[target].astype(float).to_numpy()
    model: Any
    if kind == "gradient-boosting":
        model = GradientBoostingRegressor(
            n_estimators=150, max_depth=3, learning_rate=0.1, random_state=random_state
        )
    elif kind == "random-forest":
        model = RandomForestRegressor(
            n_estimators=100, min_samples_leaf=2, random_state=random_state, n_jobs=1
        )
    else:
        raise ValueError(f"kind must be 'gradient-boosting' or 'random-forest', got {kind!r}")
    model.fit(X, y)
    return model


class MLScheme:
    """The ``ml:PATH`` policy spec: a model file and its feature spec beside it."""

    example = "ml:model.joblib"

    def load(self, arg: str, *, search_path: Iterable[str | os.PathLike[str]] | None) -> Any:
        """The :class:`MLPolicy` of the model ``arg`` (see :func:`load_ml_policy`)."""
        return load_ml_policy(arg, search_path=search_path)

    def files(
        self, arg: str, *, search_path: Iterable[str | os.PathLike[str]] | None
    ) -> list[Path]:
        """The model and its feature spec (those that exist)."""
        try:
            model = _resolve(Path(arg), search_path)
        except PolicyError:
            return []
        return [f for f in (model, spec_path(model)) if f.is_file()]

    def key(self, arg: str) -> str:
        """Only the files' content identifies the policy."""
        return ""


SCHEME = MLScheme()
"""Registered as the ``ml:`` scheme of :mod:`simcontinuum.policy.spec`."""


__all__ = [
    "DEFAULT_TARGET",
    "SCHEME",
    "MLPolicy",
    "MLScheme",
    "TelemetryMLPolicy",
    "load_ml_policy",
    "load_model",
    "make_policy",
    "save_model",
    "spec_path",
    "train_latency_model",
    "training_rows",
]
