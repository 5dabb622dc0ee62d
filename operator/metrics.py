"""Prometheus metric objects of the operator, declared once (leaf module).

Names follow `porch_<subsystem>_<thing>_<unit>`; label values come from small fixed sets (kind, result,
operation), never from object names. Gauges describing state (objects by lifecycle) are computed at scrape
time by a collector the handlers register, so they are never stale.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

RECONCILES = Counter(
    "porch_reconcile_total",
    "Reconciles by the kind of work (sync, PackageRevision, PackageRevisionResources, ...) and result.",
    ["kind", "result"],
)
RECONCILE_SECONDS = Histogram(
    "porch_reconcile_duration_seconds",
    "Duration of one reconcile, by the kind of work.",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
)
SYNC_SECONDS = Histogram(
    "porch_repository_sync_duration_seconds",
    "Duration of a repository sync (fetch, discovery, object updates), by whether git had changed.",
    ["changed"],
    buckets=_LATENCY_BUCKETS,
)
GIT_SECONDS = Histogram(
    "porch_git_operation_duration_seconds",
    "Duration of git operations the operator asks for, by operation.",
    ["operation"],
    buckets=_LATENCY_BUCKETS,
)
RENDER_SECONDS = Histogram(
    "porch_render_duration_seconds",
    "Duration of a package render (all pipelines), by result.",
    ["result"],
    buckets=_LATENCY_BUCKETS,
)
PUBLISH_SECONDS = Histogram(
    "porch_publish_duration_seconds",
    "Duration of publishing a revision (approval commit, tag, push).",
    buckets=_LATENCY_BUCKETS,
)
API_WRITES = Counter(
    "porch_api_writes_total",
    "Writes the operator sent to the Kubernetes API (answered or not), by HTTP verb and kind (/status).",
    ["verb", "kind"],
)
