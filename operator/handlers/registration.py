"""Every kopf handler of the operator, kept thin: they route work to repository workers.

- start-up builds the `Runtime` (in kopf's memo), configures kopf's own bookkeeping (annotation prefix and
  finalizer under porch.kpt.dev, no namespace/CRD scanning) and the metrics endpoint;
- a daemon per Repository runs its `RepositoryWorker` (kopf stops daemons while a standby replica waits,
  so only the active replica ever writes);
- watch events of Repositories, PackageRevisions and PackageRevisionResources only *enqueue* work on the
  owning repository's worker, and only when there is something to do (a new generation, a deletion, a
  source not yet applied), so the operator's own status writes do not make work;
- deleting a Repository removes its objects and leaves git alone;
- PackageVariants and PackageVariantSets are reconciled by the `VariantController` (in kopf's memo): the watch
  events of variants, sets, revisions, resources and Repositories are handed to it, and it decides what to
  reconcile (its own work queue and workers, started and stopped with the operator).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import kopf
import prometheus_client

from porch_operator import errors, models
from porch_operator.handlers import apiconnection, conditions, kube, manifests
from porch_operator.handlers.repositories import (
    FULL_SYNC,
    RepositoryWorker,
    RevisionsCollector,
    WorkerRegistry,
)
from porch_operator.handlers.runtime import Runtime
from porch_operator.handlers.settings import OperatorSettings
from porch_operator.handlers.variantcontroller import VariantController
from porch_operator.handlers.workqueue import PACKAGE_REVISION, PACKAGE_REVISION_RESOURCES, Key

REPOSITORY = ("config.porch.kpt.dev", "v1alpha1", "repositories")
PACKAGE_REVISION_KIND = ("porch.kpt.dev", "v1alpha2", "packagerevisions")
RESOURCES_KIND = ("porch.kpt.dev", "v1alpha2", "packagerevisionresources")
PACKAGE_VARIANT_KIND = ("config.porch.kpt.dev", "v1alpha1", "packagevariants")
PACKAGE_VARIANT_SET_KIND = ("config.porch.kpt.dev", "v1alpha2", "packagevariantsets")


class _QuietEventHandlers(logging.Filter):
    """Drop kopf's "Handler '..._event' succeeded." line: the watch-event handlers run for every write the
    operator itself makes (thousands while a large repository registers) and only enqueue work; failures
    are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not (message.startswith("Handler '") and message.endswith("_event' succeeded."))


logging.getLogger("kopf.objects").addFilter(_QuietEventHandlers())


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


def _variants(memo: Any) -> VariantController:
    controller: VariantController = memo.variants
    return controller


@kopf.on.startup()
async def start(*, settings: kopf.OperatorSettings, memo: Any, logger: kopf.Logger, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="porch.kpt.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="porch.kpt.dev")
    settings.persistence.finalizer = "porch.kpt.dev/repository"
    settings.scanning.disabled = True
    settings.posting.level = logging.WARNING
    operator_settings = OperatorSettings.from_environment()
    runtime = await Runtime.start(
        operator_settings, lambda: apiconnection.endpoint(apiconnection.connection(settings))
    )
    runtime.workers = WorkerRegistry(lambda namespace, name: RepositoryWorker(runtime, namespace, name))
    memo.runtime = runtime
    prometheus_client.REGISTRY.register(RevisionsCollector(runtime.workers))
    if operator_settings.metrics_port:
        prometheus_client.start_http_server(
            operator_settings.metrics_port, addr=operator_settings.metrics_address
        )
        logger.info(
            "Serving metrics on %s:%d.", operator_settings.metrics_address, operator_settings.metrics_port
        )


@kopf.on.login()
def login(*, settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    """kopf acts as the same identity as the operator's own client (see `apiconnection`)."""
    return apiconnection.connection(settings)


@kopf.on.startup()
async def start_variants(*, memo: Any, **_: Any) -> None:
    """After `start` (kopf runs start-up handlers in order): the variant controller uses the runtime."""
    controller = VariantController(_runtime(memo).kube, resync_interval=_runtime(memo).settings.sync_interval)
    controller.start()
    memo.variants = controller


@kopf.on.cleanup()
async def stop_variants(*, memo: Any, **_: Any) -> None:
    """Before `stop` closes the API client."""
    if hasattr(memo, "variants"):
        await _variants(memo).stop()


@kopf.on.cleanup()
async def stop(*, memo: Any, **_: Any) -> None:
    if hasattr(memo, "runtime"):
        await _runtime(memo).close()


# --- repositories -----------------------------------------------------------------------------------------


# One kopf handler per kind, which also tells the variant controller: kopf's per-handler work (invocation,
# outcome, a log line) is a visible share of the operator's CPU when thousands of objects are written.


@kopf.on.event(*REPOSITORY)
async def repository_event(*, event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    _variants(memo).on_repository(event)
    body = event["object"]
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    if event["type"] == "DELETED":
        _runtime(memo).workers.remove(namespace, name)
        return
    status = body.get("status") or {}
    if status.get("observedGeneration") != body["metadata"].get("generation"):
        _runtime(memo).workers.get(namespace, name).enqueue(FULL_SYNC)


@kopf.daemon(*REPOSITORY, cancellation_backoff=5.0, cancellation_timeout=60.0)
async def repository_worker(
    *,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    stopped: kopf.DaemonStopped,
    memo: Any,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    await _runtime(memo).workers.get(namespace or "", name).run(body, stopped, logger)


@kopf.on.delete(*REPOSITORY)
async def repository_deleted(
    *, namespace: str | None, name: str, memo: Any, logger: kopf.Logger, **_: Any
) -> None:
    """Delete the Repository's objects, leaving git alone: no PackageRevision finalizer touches git here."""
    runtime = _runtime(memo)
    namespace = namespace or ""
    selector = f"spec.repository={name}"
    for revision in await runtime.kube.list_all(kube.PACKAGE_REVISIONS, namespace, field_selector=selector):
        finalizers = [f for f in revision["metadata"].get("finalizers", []) if f != manifests.FINALIZER]
        if finalizers != revision["metadata"].get("finalizers", []):
            await runtime.kube.patch(
                kube.PACKAGE_REVISIONS,
                namespace,
                revision["metadata"]["name"],
                [{"op": "replace", "path": "/metadata/finalizers", "value": finalizers}],
            )
        await runtime.kube.delete(kube.PACKAGE_REVISIONS, namespace, revision["metadata"]["name"])
    for resources in await runtime.kube.list_all(
        kube.PACKAGE_REVISION_RESOURCES, namespace, field_selector=selector
    ):
        await runtime.kube.delete(kube.PACKAGE_REVISION_RESOURCES, namespace, resources["metadata"]["name"])
    for package in await runtime.kube.list_all(
        kube.PACKAGES, namespace, label_selector=f"{models.REPOSITORY_LABEL}={name}"
    ):
        await runtime.kube.delete(kube.PACKAGES, namespace, package["metadata"]["name"])
    runtime.workers.remove(namespace, name)
    logger.info(
        "Removed the objects of Repository %s/%s; its git repository is left as it is.", namespace, name
    )


# --- package revisions and their resources ----------------------------------------------------------------


def _needs_work(body: kopf.RawBody) -> bool:
    meta, status = body["metadata"], body.get("status") or {}
    return bool(
        meta.get("deletionTimestamp")
        or status.get("observedGeneration") != meta.get("generation")
        or (body.get("spec", {}).get("source") and not status.get("selfLock"))
    )


async def _route(memo: Any, body: kopf.RawBody, kind: str) -> RepositoryWorker | None:
    """The worker of the object's repository; None (and a condition on the object) when it does not exist."""
    runtime = _runtime(memo)
    namespace, repository = body["metadata"]["namespace"], body.get("spec", {}).get("repository", "")
    worker = runtime.workers.find(namespace, repository)
    if worker is not None:
        return worker
    if await runtime.kube.find(kube.REPOSITORIES, namespace, repository) is not None:
        return runtime.workers.get(namespace, repository)  # its daemon is starting
    if kind == PACKAGE_REVISION and not body["metadata"].get("deletionTimestamp"):
        await _report_missing_repository(runtime, body, repository)
    elif body["metadata"].get("deletionTimestamp"):
        await _release(runtime, body, kind)
    return None


async def _report_missing_repository(runtime: Runtime, body: kopf.RawBody, repository: str) -> None:
    generation = int(str(body["metadata"].get("generation", 1)))
    status = body.get("status") or {}
    message = f"The Repository {repository!r} does not exist in namespace {body['metadata']['namespace']}."
    merged = conditions.merge(
        status.get("conditions"),
        [
            conditions.Condition.false("Ready", "RepositoryNotFound", message),
            conditions.Condition.true("Stalled", "RepositoryNotFound", message),
        ],
        generation=generation,
    )
    if merged != status.get("conditions") or status.get("observedGeneration") != generation:
        with contextlib.suppress(errors.NotFound):
            await runtime.kube.patch(
                kube.PACKAGE_REVISIONS,
                body["metadata"]["namespace"],
                body["metadata"]["name"],
                {"status": {"observedGeneration": generation, "conditions": merged}},
                subresource="status",
            )


async def _release(runtime: Runtime, body: kopf.RawBody, kind: str) -> None:
    """A revision being deleted whose Repository is gone: nothing in git to clean up; let it go."""
    if kind != PACKAGE_REVISION or manifests.FINALIZER not in body["metadata"].get("finalizers", []):
        return
    finalizers = [f for f in body["metadata"]["finalizers"] if f != manifests.FINALIZER]
    with contextlib.suppress(errors.NotFound):
        await runtime.kube.patch(
            kube.PACKAGE_REVISIONS,
            body["metadata"]["namespace"],
            body["metadata"]["name"],
            [{"op": "replace", "path": "/metadata/finalizers", "value": finalizers}],
        )


@kopf.on.event(*PACKAGE_REVISION_KIND)
async def package_revision_event(*, event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    _variants(memo).on_revision(event)
    body = event["object"]
    if event["type"] == "DELETED" or not _needs_work(body):
        return
    worker = await _route(memo, body, PACKAGE_REVISION)
    if worker is not None:
        worker.enqueue(Key(PACKAGE_REVISION, body["metadata"]["name"]), dict(body))


@kopf.on.event(*RESOURCES_KIND)
async def resources_event(*, event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    _variants(memo).on_resources(event)
    body = event["object"]
    if event["type"] == "DELETED" or not _needs_work(body):
        return
    worker = await _route(memo, body, PACKAGE_REVISION_RESOURCES)
    if worker is not None:
        worker.enqueue(Key(PACKAGE_REVISION_RESOURCES, body["metadata"]["name"]), dict(body))


# --- package variants and sets (the VariantController decides what to reconcile) ---------------------------


@kopf.on.event(*PACKAGE_VARIANT_KIND)
async def package_variant_event(*, event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    _variants(memo).on_variant(event)


@kopf.on.event(*PACKAGE_VARIANT_SET_KIND)
async def package_variant_set_event(*, event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    _variants(memo).on_variant_set(event)
