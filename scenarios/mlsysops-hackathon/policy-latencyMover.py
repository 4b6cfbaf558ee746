"""policy-latencyMover.py — an MLSysOps cluster policy (agent name: "latencyMover").

Moves the classifier to the other node of the cluster when the application's
``frame_classify_latency`` (ms) exceeds its qos target (50 ms), then waits for fresh samples
before judging again. Written for the MLSysOps agent 0.1.12; runs unchanged in simcontinuum:

    simcontinuum run --mlsysops scenarios/mlsysops-hackathon/descriptions \
        --overlay scenarios/mlsysops-hackathon/overlay.yaml \
        --policy scenarios/mlsysops-hackathon/policy-latencyMover.py
"""

from mlsysops.logger_util import logger
from mlsysops.utilities import evaluate_condition


def initialize():
    initialContext = {
        "telemetry": {"metrics": ["frame_classify_latency"], "system_scrape_interval": "5s"},
        "mechanisms": ["fluidity"],
        "packages": [],
        "configuration": {"analyze_interval": "10s"},
        "component": "classifier-app",
        "metric": "frame_classify_latency",
        "default_target": 50,
        "settle_seconds": 30,
        "moved_at": None,
        "scope": "application",
    }
    return initialContext


def _target(app, context):
    """The component's qos target for the metric, else the default."""
    for comp in app["spec"].get("components", []):
        if comp["metadata"]["name"] != context["component"]:
            continue
        for q in comp.get("qos_metrics", []):
            if q.get("application_metric_id") == context["metric"]:
                return q["target"]
    return context["default_target"]


async def analyze(
    context, application_description, system_description, mechanisms, telemetry, ml_connector
):
    app = application_description[0]
    comps = mechanisms["fluidity"]["state"]["applications"][app["name"]]["components"]
    victim = comps.get(context["component"])
    if victim is None or victim["node_placed"] is None:
        return False, context  # not deployed yet
    try:
        df = await telemetry["query"](latest=True)
        value = df[context["metric"]].values[0]
        stamp = float(df["timestamp"].values[0])
    except (KeyError, IndexError):
        return False, context  # no sample yet
    if value is None or value != value:  # None or NaN: no request finished in the window
        return False, context
    moved = context.get("moved_at")
    if moved is not None and stamp < moved + context["settle_seconds"]:
        return False, context  # samples still describe the old placement
    if evaluate_condition(float(value), _target(app, context), "greater_than"):
        logger.info(
            "latencyMover: %s = %.1f ms on %s", context["metric"], value, victim["node_placed"]
        )
        context["victim_host"] = victim["node_placed"]
        context["seen_at"] = stamp
        return True, context
    return False, context


async def plan(
    context, application_description, system_description, mechanisms, telemetry, ml_connector
):
    app = application_description[0]
    src = context["victim_host"]
    nodes = mechanisms["fluidity"]["state"]["nodes"]
    others = [
        n
        for n in system_description["MLSysOpsCluster"]["nodes"]
        if n != src and nodes.get(n, {}).get("ready") == "True"
    ]
    if not others:
        return {}, context
    context["moved_at"] = context["seen_at"]
    new_plan = {
        "fluidity": {
            "name": app["name"],
            "deployment_plan": {
                "initial_plan": False,
                context["component"]: [
                    {"action": "move", "src_host": src, "target_host": others[0]}
                ],
            },
        }
    }
    return new_plan, context
