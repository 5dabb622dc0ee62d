"""Prometheus metrics of the function runner, declared once (house-style §5.5).

Labels come from small fixed sets: `evaluator` (builtin, executable, pod, none) and `result` (success,
failed, not_found, timeout, invalid, too_large, unavailable, error). Image names are not labels: they are
user-supplied and unbounded. The pool-size gauge is filled at scrape time by the pod evaluator's collector.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVALUATIONS = Counter(
    "porch_fn_evaluations_total",
    "Function evaluations by the evaluator that ran them and their result.",
    ["evaluator", "result"],
)
EVALUATION_SECONDS = Histogram(
    "porch_fn_evaluation_duration_seconds",
    "Time to answer one EvaluateFunction call, by evaluator.",
    ["evaluator"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
POOL_PODS = Gauge(
    "porch_fn_pool_pods",
    "Function pods in the warm pool, by state (starting, ready).",
    ["state"],
)
POOL_IMAGES = Gauge("porch_fn_pool_images", "Images with at least one pod slot in the warm pool.")
POOL_WAITING = Gauge("porch_fn_pool_waiting", "Callers waiting for a function pod to become ready.")
