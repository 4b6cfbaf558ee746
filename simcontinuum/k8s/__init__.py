"""Kubernetes and Karmada as they are: real manifests in, the real schedulers' decisions out.

- :func:`load_manifests` turns a folder of manifests (``kubectl apply -f DIR``) plus an
  overlay into a :class:`~simcontinuum.model.Scenario` (:mod:`~simcontinuum.k8s.translate`);
- the ``kube-scheduler`` policy (:mod:`~simcontinuum.k8s.policy`) is kube-scheduler's default
  profile (:mod:`~simcontinuum.k8s.scheduler`), the ReplicaSet controller, evictions and the
  HPA (:mod:`~simcontinuum.k8s.hpa`);
- the ``karmada`` policy (:mod:`~simcontinuum.k8s.karmada`) divides replicas over member
  clusters as Karmada's scheduler does, then each cluster schedules its share.

Importing this package is cheap; the parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simcontinuum.lazy import lazy_exports

if TYPE_CHECKING:
    from simcontinuum.k8s.manifests import read_manifests
    from simcontinuum.k8s.translate import load_manifests, scenario_document

_EXPORTS = {
    "load_manifests": "simcontinuum.k8s.translate",
    "scenario_document": "simcontinuum.k8s.translate",
    "read_manifests": "simcontinuum.k8s.manifests",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = ["load_manifests", "read_manifests", "scenario_document"]
