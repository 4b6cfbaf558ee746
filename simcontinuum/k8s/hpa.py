"""The HorizontalPodAutoscaler (autoscaling/v2) as the controller decides, on cpu.

Followed: kubernetes/kubernetes v1.31 ``pkg/controller/podautoscaler`` (``replica_calculator.go``,
``horizontal.go``) and ``pkg/apis/autoscaling/v2/defaults.go``.

**Replica calculation** (:func:`resource_replicas`): utilisation = ``Σ usage × 100 // Σ
requests`` (integer percent) over ready pods with metrics, ratio = utilisation / target.
Without missing or unready pods: within ``tolerance`` (0.1) of 1 keep the current count, else
``ceil(ratio × ready pods)``. Missing pods count as 100 % of their request (or the target,
if higher) when scaling down and 0 % when scaling up; unready pods count 0 % when scaling
up; then the ratio is recomputed and the change is dropped if it is within the tolerance,
flips direction, or the new count goes the other way (``ceil(new ratio × pods with metrics)``).

**Normalisation** with ``spec.behavior`` (:class:`Autoscaler`): the recommendation is
stabilised — scale-up takes the minimum, scale-down the maximum of the recommendations in
their windows (defaults 0 s and 300 s) — then limited per direction by its policies (defaults
up: 4 pods or 100 % per 15 s, ``Max``; down: 100 % per 15 s), counting the replicas already
added or removed within each policy's period, and clamped to ``[minReplicas, maxReplicas]``.
Without ``behavior`` the v1 rules apply: the maximum recommendation of the last 300 s, scale-up
at most ``max(2 × current, 4)``. A current count of 0 disables scaling; one outside the range
is brought into it first.

Invariants: pure integer decisions from the inputs and the autoscaler's own history; time is
the caller's (simulated) clock; the sync period (15 s) is the caller's loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from simcontinuum.k8s.manifests import HPASpec, ScalingRules

TOLERANCE = 0.1
SYNC_PERIOD = 15.0
DOWNSCALE_STABILISATION = 300.0
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
DEFAULT_SCALE_UP = ScalingRules(0.0, "Max", (("Pods", 4, 15.0), ("Percent", 100, 15.0)))
DEFAULT_SCALE_DOWN = ScalingRules(300.0, "Max", (("Percent", 100, 15.0),))


@dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod as the replica calculator sees it: ``state`` ready | unready | missing,
    ``usage`` (millicores, ready pods) and ``request`` (millicores)."""

    state: str
    request: int
    usage: int = 0


def utilisation(usage: Sequence[int], requests: Sequence[int]) -> int:
    """``GetResourceUtilizationRatio``'s integer percent."""
    total = sum(requests)
    if total == 0:
        raise ValueError("no pods with cpu requests: utilisation is undefined")
    return sum(usage) * 100 // total


def resource_replicas(
    current: int,
    pods: Sequence[PodMetric],
    target: int,
    *,
    tolerance: float = TOLERANCE,
    scale_up_tolerance: float | None = None,
    scale_down_tolerance: float | None = None,
) -> int:
    """``GetResourceReplicas`` for a Utilization target (percent of requests).

    >>> resource_replicas(3, [PodMetric("ready", 1000, 900)] * 3, 50)
    6
    >>> resource_replicas(3, [PodMetric("ready", 1000, 520)] * 3, 50)  # within tolerance
    3

    Raises:
        ValueError: no pod has a metric (the HPA then keeps the current count).
    """
    ready = [p for p in pods if p.state == "ready"]
    unready = [p for p in pods if p.state == "unready"]
    missing = [p for p in pods if p.state == "missing"]
    if not ready:
        raise ValueError("did not receive metrics for any ready pod")
    ratio = utilisation([p.usage for p in ready], [p.request for p in ready]) / target
    up_tol = tolerance if scale_up_tolerance is None else scale_up_tolerance
    down_tol = tolerance if scale_down_tolerance is None else scale_down_tolerance

    def within(r: float) -> bool:
        return (r > 1.0 and r - 1.0 <= up_tol) or (r <= 1.0 and 1.0 - r <= down_tol)

    up_with_unready = bool(unready) and ratio > 1.0
    if not up_with_unready and not missing:
        if within(ratio):
            return current
        return math.ceil(ratio * len(ready))
    usage = [p.usage for p in ready]
    requests = [p.request for p in ready]
    if ratio != 1.0:
        # scale-down: a missing pod uses its request (or the target, above 100 %);
        # scale-up: it uses nothing
        fallback = max(100, target)
        for p in missing:
            usage.append(p.request * fallback // 100 if ratio < 1.0 else 0)
            requests.append(p.request)
    if up_with_unready:
        for p in unready:
            usage.append(0)
            requests.append(p.request)
    new_ratio = utilisation(usage, requests) / target
    if within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * len(usage))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def average_value_replicas(
    current: int, pods: Sequence[PodMetric], target_milli: int, *, tolerance: float = TOLERANCE
) -> int:
    """``GetResourceReplicas`` for an AverageValue target: the same rules on
    ``Σ usage / (target × ready pods)`` (``GetMetricUsageRatio``)."""
    ready = [p for p in pods if p.state == "ready"]
    if not ready:
        raise ValueError("did not receive metrics for any ready pod")
    # an AverageValue target is a Utilization target with every request equal to the target
    scaled = [PodMetric(p.state, target_milli, p.usage) for p in pods]
    return resource_replicas(current, scaled, 100, tolerance=tolerance)


def _complete(rules: ScalingRules | None, default: ScalingRules) -> ScalingRules:
    """``GenerateHPAScaleUpRules``/``ScaleDownRules``: fill what a behavior leaves unset."""
    if rules is None:
        return default
    return ScalingRules(
        default.window if rules.window is None else rules.window,
        rules.select or default.select,
        rules.policies or default.policies,
        rules.tolerance,
    )


@dataclass
class Autoscaler:
    """One HPA's controller state: its recommendations and scale events over time."""

    spec: HPASpec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[tuple[float, int]] = field(default_factory=list)
    down_events: list[tuple[float, int]] = field(default_factory=list)
    last: dict[str, object] = field(default_factory=dict)  # the last sync, for the record

    @property
    def behavior(self) -> bool:
        return self.spec.scale_up is not None or self.spec.scale_down is not None

    @property
    def up_rules(self) -> ScalingRules:
        return _complete(self.spec.scale_up, DEFAULT_SCALE_UP)

    @property
    def down_rules(self) -> ScalingRules:
        return _complete(self.spec.scale_down, DEFAULT_SCALE_DOWN)

    def metric_replicas(self, current: int, pods: Sequence[PodMetric]) -> int:
        """The metric's recommendation (raises ``ValueError`` without metrics)."""
        up, down = self.spec.scale_up, self.spec.scale_down
        if self.spec.target_average_milli is not None:
            return average_value_replicas(current, pods, self.spec.target_average_milli)
        return resource_replicas(
            current,
            pods,
            self.spec.target_utilization or 80,
            scale_up_tolerance=up.tolerance if up else None,
            scale_down_tolerance=down.tolerance if down else None,
        )

    def sync(self, now: float, current: int, pods: Sequence[PodMetric]) -> int:
        """One reconcile at ``now`` with ``current`` = the workload's ``spec.replicas``:
        the new ``spec.replicas`` (equal to ``current`` when nothing changes)."""
        lo, hi = self.spec.min_replicas, self.spec.max_replicas
        self.last = {"time": now, "current": current}
        if current == 0 and lo != 0:
            desired = 0  # scaling is disabled
        elif current > hi:
            desired = hi
        elif current < lo:
            desired = lo
        else:
            try:
                proposal = self.metric_replicas(current, pods)
            except ValueError as exc:
                self.last["error"] = str(exc)
                return current
            self.last["metric_replicas"] = proposal
            if self.behavior:
                desired = self._with_behavior(now, current, proposal)
            else:
                desired = self._without_behavior(now, current, proposal)
        if desired != current:
            change = desired - current
            (self.up_events if change > 0 else self.down_events).append((now, abs(change)))
            self._forget(now)
        self.last["desired"] = desired
        return desired

    # ------------------------------------------------------------------ v2 behavior
    def _store(self, now: float, value: int, cutoff: float) -> None:
        for i, (t, _r) in enumerate(self.recommendations):
            if t < cutoff:
                self.recommendations[i] = (now, value)
                return
        self.recommendations.append((now, value))

    def _with_behavior(self, now: float, current: int, proposal: int) -> int:
        up, down = self.up_rules, self.down_rules
        up_cut, down_cut = now - (up.window or 0.0), now - (down.window or 0.0)
        up_rec = down_rec = proposal
        for t, r in self.recommendations:
            if t > up_cut:
                up_rec = min(up_rec, r)
            if t > down_cut:
                down_rec = max(down_rec, r)
        stabilised = max(current, up_rec)
        stabilised = min(stabilised, down_rec)
        self._store(now, proposal, min(up_cut, down_cut))
        self.last["stabilised"] = stabilised
        lo, hi = self.spec.min_replicas, self.spec.max_replicas
        low, high = lo, hi
        if stabilised > current:
            limit = max(self.scale_up_limit(now, current, up), current)
            high = min(hi, limit)
        elif stabilised < current:
            limit = min(self.scale_down_limit(now, current, down), current)
            low = max(lo, limit)
        return min(max(stabilised, low), high)

    def _changed(self, now: float, period: float, events: list[tuple[float, int]]) -> int:
        return sum(c for t, c in events if t > now - period)

    def _period_start(self, now: float, current: int, period: float) -> int:
        """The replica count at the start of a policy's period: ``current`` without the
        scale-ups and with the scale-downs made in it (both upstream limits start here)."""
        return (
            current
            - self._changed(now, period, self.up_events)
            + self._changed(now, period, self.down_events)
        )

    def scale_up_limit(self, now: float, current: int, rules: ScalingRules) -> int:
        """``calculateScaleUpLimitWithScalingRules``."""
        if rules.select == "Disabled":
            return current
        pick = min if rules.select == "Min" else max
        result: int | None = None
        for typ, value, period in rules.policies:
            start = self._period_start(now, current, period)
            proposed = start + value if typ == "Pods" else math.ceil(start * (1 + value / 100))
            result = proposed if result is None else pick(result, proposed)
        return current if result is None else result

    def scale_down_limit(self, now: float, current: int, rules: ScalingRules) -> int:
        """``calculateScaleDownLimitWithBehaviors`` (Min means the smallest change)."""
        if rules.select == "Disabled":
            return current
        pick = max if rules.select == "Min" else min
        result: int | None = None
        for typ, value, period in rules.policies:
            start = self._period_start(now, current, period)
            proposed = start - value if typ == "Pods" else int(start * (1 - value / 100))
            result = proposed if result is None else pick(result, proposed)
        return current if result is None else result

    def _forget(self, now: float) -> None:
        longest = max(
            (p for _t, _v, p in (*self.up_rules.policies, *self.down_rules.policies)),
            default=0.0,
        )
        self.up_events = [(t, c) for t, c in self.up_events if t > now - longest]
        self.down_events = [(t, c) for t, c in self.down_events if t > now - longest]

    # ------------------------------------------------------------------ v1 rules
    def _without_behavior(self, now: float, current: int, proposal: int) -> int:
        cutoff = now - DOWNSCALE_STABILISATION
        best = proposal
        for t, r in self.recommendations:
            if t >= cutoff and r > best:
                best = r
        self._store(now, proposal, cutoff)
        self.last["stabilised"] = best
        lo, hi = self.spec.min_replicas, self.spec.max_replicas
        low = 1 if lo == 0 else lo
        up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
        high = min(hi, up_limit)
        return min(max(best, low), high)


__all__ = [
    "DEFAULT_SCALE_DOWN",
    "DEFAULT_SCALE_UP",
    "SYNC_PERIOD",
    "TOLERANCE",
    "Autoscaler",
    "PodMetric",
    "average_value_replicas",
    "resource_replicas",
    "utilisation",
]
