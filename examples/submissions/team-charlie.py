"""Team charlie: the built-in Kubernetes-like baseline, submitted as is."""

from simcontinuum.policy.builtins import K8sDefault  # noqa: F401  (named by POLICY)

POLICY = "K8sDefault"
