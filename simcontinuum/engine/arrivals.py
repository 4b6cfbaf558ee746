"""Arrival processes and work samplers, drawn in batches from named streams.

Each source owns an :class:`ArrivalClock` that hands out its absolute arrival times in order,
window by window, drawing from its own stream (``workload/<source id>``) a batch at a time
(arrivals are open-loop: they never depend on the state of the run); each component owns a
:class:`WorkSampler` (``work/<app>/<component>``). Batching keeps numpy's per-call cost off the
hot path; naming keeps every stream independent of every other.

Invariant: the times a clock hands out are non-decreasing (equal only in trace replays), all
lie in ``[start, stop)``, and each is handed out once.
"""

from __future__ import annotations

import math

import numpy as np

from simcontinuum.model import Arrival, Work

BATCH = 2048
INF = float("inf")


class ArrivalClock:
    """The arrival times of one source, from ``start`` (the app's arrival) to ``stop``."""

    __slots__ = ("_buf", "_last", "_pos", "arrival", "rng", "start", "stop")

    def __init__(self, arrival: Arrival, rng: np.random.Generator, start: float, stop: float):
        self.arrival = arrival
        self.rng = rng
        self.start = start
        self.stop = stop
        self._buf: np.ndarray = np.empty(0)  # generated times, sorted; consumed up to _pos
        self._pos = 0
        self._last = start  # the last time generated so far
        if arrival.type == "trace":
            times = np.asarray([t for t in arrival.times if start <= t < stop], dtype=float)
            self._buf = np.sort(times, kind="stable")
            self._last = stop

    @property
    def done(self) -> bool:
        """Whether every arrival has been taken."""
        return self._pos >= len(self._buf) and self._last >= self.stop

    def until(self, t_end: float) -> np.ndarray:
        """Take every arrival not yet taken that comes before ``t_end`` (sorted)."""
        out: list[np.ndarray] = []
        while True:
            buf, pos = self._buf, self._pos
            if pos < len(buf):
                k = int(np.searchsorted(buf, t_end, side="left"))
                if k > pos:
                    out.append(buf[pos:k])
                    self._pos = k
                if k < len(buf):
                    break  # the rest come at or after t_end
            if self._last >= self.stop or self._last >= t_end:
                break
            self._refill()
        if not out:
            return np.empty(0)
        times = out[0] if len(out) == 1 else np.concatenate(out)
        return times[times < self.stop]

    def _refill(self) -> None:
        a = self.arrival
        kind = a.type
        if kind == "poisson":
            times = self._poisson(a.rate, self._last)
        elif kind == "periodic":
            times = self._periodic(a.rate)
        elif kind == "diurnal":
            times = self._diurnal(a)
        elif kind == "onoff":
            times = self._onoff(a)
        else:  # trace: everything was loaded at construction
            times = np.empty(0)
        self._buf = times
        self._pos = 0
        self._last = float(times[-1]) if len(times) else self.stop

    def _batch(self, rate: float) -> int:
        """How many draws to take: what the rest of the horizon needs, at most ``BATCH``
        (so thousands of sparse sources do not each hold thousands of unused times)."""
        expected = rate * (self.stop - self._last)
        return int(min(BATCH, max(16.0, 1.25 * expected + 16.0)))

    def _poisson(self, rate: float, base: float) -> np.ndarray:
        if rate <= 0:
            return np.empty(0)
        return base + np.cumsum(self.rng.exponential(1.0 / rate, self._batch(rate)))

    def _periodic(self, rate: float) -> np.ndarray:
        if rate <= 0:
            return np.empty(0)
        period = 1.0 / rate
        if self._last == self.start:  # the first batch: a random phase
            first = self.start + float(self.rng.uniform(0.0, period))
        else:
            first = self._last + period
        return first + period * np.arange(self._batch(rate))

    def _diurnal(self, a: Arrival) -> np.ndarray:
        # Thinning (Lewis & Shedler): candidates at the peak rate, kept with rate(t) / peak.
        peak = a.mean_rate * (1.0 + abs(a.amplitude))
        if peak <= 0:
            return np.empty(0)
        while self._last < self.stop:
            cand = self._poisson(peak, self._last)
            rate = a.mean_rate * (1.0 + a.amplitude * np.sin(2.0 * math.pi * cand / a.period))
            kept = cand[self.rng.random(len(cand)) * peak < rate]
            if len(kept):
                return kept
            self._last = float(cand[-1])  # a silent stretch: move the clock on
        return np.empty(0)

    def _onoff(self, a: Arrival) -> np.ndarray:
        # Poisson in "on time" τ, mapped onto the wall of on/off cycles starting with "on".
        if a.on <= 0 or a.rate <= 0:
            return np.empty(0)
        cycle = a.on + a.off
        tau0 = self._to_tau(self._last)
        tau = tau0 + np.cumsum(self.rng.exponential(1.0 / a.rate, self._batch(a.rate)))
        k = np.floor(tau / a.on)
        return self.start + k * cycle + (tau - k * a.on)

    def _to_tau(self, t: float) -> float:
        a = self.arrival
        cycle = a.on + a.off
        rel = t - self.start
        k = math.floor(rel / cycle)
        return k * a.on + min(rel - k * cycle, a.on)


class WorkSampler:
    """Work per request (core-seconds at speed 1.0) of one component."""

    __slots__ = ("buf", "constant", "rng", "work")

    def __init__(self, work: Work, rng: np.random.Generator) -> None:
        self.work = work
        self.rng = rng
        # drawn ahead, popped from the end; always empty for a constant. The hot path pops
        # it directly and calls draw() only when it is empty (the same values, in order).
        self.buf: list[float] = []
        self.constant: float | None = work.mean if work.dist == "constant" else None

    def draw(self) -> float:
        """One work value."""
        if self.constant is not None:
            return self.constant
        buf = self.buf
        if not buf:
            buf[:] = self._batch().tolist()
        return buf.pop()

    def _batch(self) -> np.ndarray:
        w = self.work
        if w.dist == "exponential":
            return self.rng.exponential(w.mean, BATCH)
        if w.dist == "lognormal":
            sigma2 = math.log1p(w.cv * w.cv)
            mu = math.log(w.mean) - sigma2 / 2.0 if w.mean > 0 else -math.inf
            if w.mean <= 0:
                return np.zeros(BATCH)
            return self.rng.lognormal(mu, math.sqrt(sigma2), BATCH)
        if w.dist == "empirical":
            return self.rng.choice(np.asarray(w.values, dtype=float), BATCH)
        return np.full(BATCH, w.mean)
