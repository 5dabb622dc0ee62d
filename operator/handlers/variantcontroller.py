"""The work loop of PackageVariants and PackageVariantSets: which watch events make which object reconcile.

kopf delivers raw watch events (registration hands them over); this module keeps small in-memory indexes of
the variants and sets (which upstream and downstream package each one uses) and turns events into keys on one
deduplicating work queue, served by a few concurrent workers. One object is never reconciled by two workers
at once; different objects are. Reconciles are level-based (`variants.reconcile`, `variantsets.reconcile`),
so a spurious key costs reads only, and a missed one is caught by the periodic resync of every known object.

What enqueues what:

* a variant or set: its own creation, a new generation, its deletion, and the initial listing after a start;
* a PackageRevision: its owning variant when something a variant reacts to changed (lifecycle, revision
  number, git state, upstream lock, Ready/Stalled/Rendered); variants and sets whose *upstream* is its
  package when it appears, goes, or changes lifecycle or number (a publish); variants whose *downstream* is
  its package when it appears, goes or changes lifecycle (adoption, a revision made elsewhere);
* a PackageRevisionResources: the variant owning its revision when a render finished;
* a Repository: every set of its namespace when it appears, goes, or its labels change (selectors, CEL);
* a generated variant deleted or changed by someone else: its set, which restores it.

Transient failures come back with per-key exponential backoff; reconciles that wait for a revision ask to be
looked at again after a while, should an event be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from porch_operator import metrics
from porch_operator.handlers import conditions, outcomes, variants, variantsets
from porch_operator.handlers.kube import KubeClient
from porch_operator.handlers.workqueue import Key, WorkQueue

Body = dict[str, Any]
VARIANT = "PackageVariant"
VARIANT_SET = "PackageVariantSet"
_WORKERS = 8
_BUSY_DELAY = 0.2
_POLL = 1.0

logger = logging.getLogger(__name__)
Where = tuple[str, str, str]  # namespace, repository, package


def _key(kind: str, namespace: str, name: str) -> Key:
    return Key(kind, f"{namespace}/{name}")


def _needs_work(body: Mapping[str, Any]) -> bool:
    meta, status = body["metadata"], body.get("status") or {}
    return bool(meta.get("deletionTimestamp")) or status.get("observedGeneration") != meta.get("generation")


def _owners(body: Mapping[str, Any], kind: str) -> list[str]:
    return [
        str(ref["name"])
        for ref in body["metadata"].get("ownerReferences") or []
        if ref.get("kind") == kind and str(ref.get("apiVersion", "")).startswith("config.porch.kpt.dev/")
    ]


def _condition(body: Mapping[str, Any], type_: str) -> tuple[str, str] | None:
    found = conditions.find((body.get("status") or {}).get("conditions"), type_)
    return (str(found.get("status")), str(found.get("reason"))) if found else None


def revision_signature(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a variant reacts to in a PackageRevision; events that change none of it are ignored."""
    status = body.get("status") or {}
    return (
        body.get("spec", {}).get("lifecycle"),
        status.get("revision"),
        ((status.get("selfLock") or {}).get("git") or {}).get("commit"),
        ((status.get("upstreamLock") or {}).get("git") or {}).get("ref"),
        _condition(body, "Ready"),
        _condition(body, "Stalled"),
        _condition(body, "Rendered"),
        bool(body["metadata"].get("deletionTimestamp")),
        tuple(_owners(body, VARIANT)),
    )


class _Index:
    """Which variants or sets use which package, as upstream or downstream."""

    def __init__(self) -> None:
        self.by_name: dict[tuple[str, str], tuple[Where, Where | None]] = {}
        self.by_upstream: defaultdict[Where, set[str]] = defaultdict(set)
        self.by_downstream: defaultdict[Where, set[str]] = defaultdict(set)

    def put(self, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        self.drop(namespace, name)
        upstream = spec.get("upstream") or {}
        downstream = spec.get("downstream") or {}
        up: Where = (namespace, str(upstream.get("repo", "")), str(upstream.get("package", "")))
        down: Where | None = None
        if downstream:
            down = (namespace, str(downstream.get("repo", "")), str(downstream.get("package", "")))
            self.by_downstream[down].add(name)
        self.by_upstream[up].add(name)
        self.by_name[(namespace, name)] = (up, down)

    def drop(self, namespace: str, name: str) -> None:
        found = self.by_name.pop((namespace, name), None)
        if found is None:
            return
        up, down = found
        self.by_upstream[up].discard(name)
        if down is not None:
            self.by_downstream[down].discard(name)

    def names(self) -> list[tuple[str, str]]:
        return list(self.by_name)


class VariantController:
    """See the module docstring. `start()` spawns the workers; `stop()` cancels them."""

    def __init__(self, client: KubeClient, *, resync_interval: float, workers: int = _WORKERS) -> None:
        self.client = client
        self.resync_interval = resync_interval
        self.queue = WorkQueue()
        self._workers = workers
        self._inflight: set[Key] = set()
        self._variants = _Index()
        self._sets = _Index()
        self._revision_owners: dict[tuple[str, str], list[str]] = {}
        self._seen: dict[tuple[str, str, str], Any] = {}  # the last signature of each watched object
        self._tasks: list[asyncio.Task[None]] = []

    # --- life ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"variants-{i}") for i in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._resync(), name="variants-resync"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def enqueue(self, kind: str, namespace: str, name: str, *, delay: float = 0.0) -> None:
        self.queue.enqueue(_key(kind, namespace, name), delay=delay)

    # --- events --------------------------------------------------------------------------------------------
    def on_variant(self, event: Mapping[str, Any]) -> None:
        body = event["object"]
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        # A generated variant deleted or changed (a new generation) by someone else: its set restores it. Its
        # creation (ADDED) and the initial listing are the set's own doing.
        generation_moved = self._changed(("pv-set", namespace, name), body["metadata"].get("generation"))
        if event["type"] == "DELETED" or (event["type"] == "MODIFIED" and generation_moved):
            for owner in _owners(body, VARIANT_SET):
                self.enqueue(VARIANT_SET, namespace, owner)
        if event["type"] == "DELETED":
            self._variants.drop(namespace, name)
            self._seen.pop(("pv-set", namespace, name), None)
            return
        self._variants.put(namespace, name, body.get("spec") or {})
        if event["type"] is None or _needs_work(body):
            self.enqueue(VARIANT, namespace, name)

    def on_variant_set(self, event: Mapping[str, Any]) -> None:
        body = event["object"]
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if event["type"] == "DELETED":
            self._sets.drop(namespace, name)
            return
        self._sets.put(namespace, name, body.get("spec") or {})
        if event["type"] is None or _needs_work(body):
            self.enqueue(VARIANT_SET, namespace, name)

    def on_revision(self, event: Mapping[str, Any]) -> None:
        body = event["object"]
        meta, spec = body["metadata"], body.get("spec") or {}
        namespace, name = meta["namespace"], meta["name"]
        where: Where = (namespace, str(spec.get("repository", "")), str(spec.get("packageName", "")))
        deleted = event["type"] == "DELETED"
        owners = _owners(body, VARIANT)
        previous = self._seen.get(("pr", namespace, name))
        signature = None if deleted else revision_signature(body)
        if deleted:
            self._seen.pop(("pr", namespace, name), None)
            self._revision_owners.pop((namespace, name), None)
        else:
            self._seen[("pr", namespace, name)] = signature
            self._revision_owners[(namespace, name)] = owners
        if previous == signature:
            return
        previous_owners: tuple[str, ...] = previous[-1] if previous else ()
        for owner in set(owners) | set(previous_owners):
            self.enqueue(VARIANT, namespace, owner)
        published_moved = deleted or previous is None or signature is None or previous[:2] != signature[:2]
        if published_moved:
            for variant in self._variants.by_upstream.get(where, ()):
                self.enqueue(VARIANT, namespace, variant)
            for variant_set in self._sets.by_upstream.get(where, ()):
                self.enqueue(VARIANT_SET, namespace, variant_set)
            for variant in self._variants.by_downstream.get(where, ()):
                self.enqueue(VARIANT, namespace, variant)

    def on_resources(self, event: Mapping[str, Any]) -> None:
        body = event["object"]
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        if event["type"] == "DELETED":
            self._seen.pop(("prr", namespace, name), None)
            return
        status = body.get("status") or {}
        rendered = status.get("observedGeneration") == meta.get("generation")
        signature = (meta.get("generation"), status.get("observedGeneration"), _condition(body, "Rendered"))
        if self._changed(("prr", namespace, name), signature) and rendered:
            for owner in self._revision_owners.get((namespace, name), ()):
                self.enqueue(VARIANT, namespace, owner)

    def on_repository(self, event: Mapping[str, Any]) -> None:
        body = event["object"]
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        deleted = event["type"] == "DELETED"
        signature = None if deleted else tuple(sorted((body["metadata"].get("labels") or {}).items()))
        if deleted:
            self._seen.pop(("repo", namespace, name), None)
        elif not self._changed(("repo", namespace, name), signature):
            return
        for set_namespace, variant_set in self._sets.names():
            if set_namespace == namespace:
                self.enqueue(VARIANT_SET, namespace, variant_set)

    def _changed(self, key: tuple[str, str, str], signature: Any) -> bool:
        previous = self._seen.get(key, self)  # `self` as a sentinel: never equal to a signature
        self._seen[key] = signature
        return bool(previous != signature)

    # --- work ----------------------------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            item = await self.queue.get(timeout=_POLL)
            if item is None:
                continue
            if item.key in self._inflight:
                self.queue.enqueue(item.key, delay=_BUSY_DELAY)
                continue
            self._inflight.add(item.key)
            try:
                await self._process(item.key)
            finally:
                self._inflight.discard(item.key)

    async def _process(self, key: Key) -> None:
        namespace, _, name = key.name.partition("/")
        reconcile = variants.reconcile if key.kind == VARIANT else variantsets.reconcile
        started = time.monotonic()
        try:
            again = await reconcile(self.client, namespace, name)
        except Exception as exc:  # reported on the object already; retried unless the user must act
            outcome = outcomes.classify(exc)
            if outcome.expected:
                logger.warning("%s %s failed: %s", key.kind, key.name, outcome.message)
            else:
                logger.exception("%s %s failed unexpectedly.", key.kind, key.name)
            metrics.RECONCILES.labels(kind=key.kind, result="error").inc()
            if not outcome.permanent:
                self.queue.retry(key)
            return
        finally:
            metrics.RECONCILE_SECONDS.labels(kind=key.kind).observe(time.monotonic() - started)
        metrics.RECONCILES.labels(kind=key.kind, result="ok").inc()
        self.queue.succeeded(key)
        if again is not None:
            self.queue.enqueue(key, delay=again)

    async def _resync(self) -> None:
        """Every `resync_interval`, look at every known variant and set again (spread over a while)."""
        while True:
            await asyncio.sleep(self.resync_interval)
            known = [(VARIANT, ns, name) for ns, name in self._variants.names()]
            known += [(VARIANT_SET, ns, name) for ns, name in self._sets.names()]
            spread = min(self.resync_interval / 2, 60.0)
            for index, (kind, namespace, name) in enumerate(known):
                self.enqueue(kind, namespace, name, delay=spread * index / max(len(known), 1))
