"""PackageRevision reconcile: apply `spec.source` once, drive git to `spec.lifecycle`, report status, and
clean git up when the object is deleted.

Level-based: each reconcile compares the object with its revision in git (from the worker's discovery) and
does what differs, so it is cheap and writes nothing when nothing differs (an operator restart included).

- **Source.** A revision with `spec.source` whose status has no `selfLock` has not reached git yet: the
  source is built (`sources.build`) and committed as a new draft, and its PackageRevisionResources created;
  the render then happens there (`contents`). If the draft branch already exists (the operator died after
  pushing it), it is adopted instead of created twice.
- **Lifecycle.** Draft→Proposed needs a successful render of the current content; Proposed→Published
  needs every readiness gate of the Kptfile to be True (else `Ready=False`, reason `ReadinessGatesPending`,
  and git stays Proposed); Published↔DeletionProposed toggles the deletion proposal. A publish assigns the
  revision number in git (the gitstore's atomic push); labels and Package summaries follow.
- **Deletion.** The finalizer refuses while another revision clones or upgrades from this one (condition
  `DeletionBlocked` naming it), then deletes the git refs (draft branch; or tag and deletion proposal), the
  PackageRevisionResources, and the finalizer. Deleting a Repository leaves git alone (see registration).
- **Conditions.** `Ready` (the desired lifecycle is reached and, for drafts, the content is rendered),
  `Rendered` (owned by `contents`), `Reconciling`/`Stalled` only while true; all carry observedGeneration.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from porch_operator import errors, metrics, models
from porch_operator.engine import lifecycle as rules
from porch_operator.gitstore import PackageRevisionInfo
from porch_operator.handlers import conditions, kube, manifests, outcomes, packages, sources
from porch_operator.handlers.conditions import Condition
from porch_operator.handlers.workqueue import PACKAGE_REVISION, PACKAGE_REVISION_RESOURCES, Key

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import PackageFacts, RepositoryWorker

Body = dict[str, Any]
Lifecycle = models.Lifecycle


async def handle(worker: RepositoryWorker, key: Key, body: Body | None) -> None:
    revision = await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, key.name)
    if revision is None:
        return
    try:
        await reconcile(worker, revision)
    except Exception as exc:
        await report_failure(worker, key.name, exc)
        raise


# --- conditions -------------------------------------------------------------------------------------------


def ready_conditions(revision: Body, *, facts: PackageFacts | None, generation: int) -> list[Body]:
    """Conditions of a revision that is as its spec asks (used for revisions discovered in git)."""
    updates = [Condition.true("Ready", "Ready", "The revision is in git as requested.")]
    if facts is not None and facts.error:
        updates = [Condition.false("Ready", "InvalidPackage", facts.error)]
    existing = (revision.get("status") or {}).get("conditions")
    return conditions.merge(existing, updates, generation=generation)


async def write_status(worker: RepositoryWorker, revision: Body, status: Body) -> Body:
    """Patch the status fields that differ (None removes a field); returns the object as written."""
    current = revision.get("status") or {}
    patch = {k: v for k, v in status.items() if current.get(k) != v and not (v is None and k not in current)}
    if not patch:
        return revision
    updated = await worker.kube.patch(
        kube.PACKAGE_REVISIONS,
        worker.namespace,
        revision["metadata"]["name"],
        {"status": patch},
        subresource="status",
    )
    metrics.API_WRITES.labels(verb="patch").inc()
    return updated


async def report_failure(worker: RepositoryWorker, name: str, error: BaseException) -> None:
    revision = await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, name)
    if revision is None:
        return
    outcome = outcomes.classify(error)
    generation = revision["metadata"].get("generation", 1)
    status = revision.get("status") or {}
    merged = conditions.merge(
        status.get("conditions"),
        [
            Condition.false("Ready", outcome.reason, outcome.message),
            Condition("Stalled", "True" if outcome.permanent else "False", outcome.reason, outcome.message),
            Condition(
                "Reconciling", "False" if outcome.permanent else "True", outcome.reason, outcome.message
            ),
        ],
        generation=generation,
    )
    try:
        await write_status(worker, revision, {"observedGeneration": generation, "conditions": merged})
    except errors.PorchError as exc:
        worker.logger.warning("Could not report the failure of %s: %s", name, exc)


# --- reconcile --------------------------------------------------------------------------------------------


async def reconcile(worker: RepositoryWorker, revision: Body) -> None:
    meta, spec = revision["metadata"], revision["spec"]
    if meta.get("deletionTimestamp"):
        await finalize(worker, revision)
        return
    if manifests.FINALIZER not in meta.get("finalizers", []):
        revision = await _add_finalizer(worker, revision)
    info = worker.revision(spec["packageName"], spec["workspaceName"])
    status = revision.get("status") or {}
    if info is None:
        if spec.get("source") and not status.get("selfLock"):
            info = await create_from_source(worker, revision)
            revision = await worker.kube.get(kube.PACKAGE_REVISIONS, worker.namespace, meta["name"])
        else:
            worker.enqueue(Key("sync", "full"))  # git no longer has it: the sync removes the object
            return
    elif spec.get("source") and not status.get("creationSource"):
        worker.logger.info("Adopting the draft of %s found in git (created before a restart).", meta["name"])
    if spec.get("source") and info.lifecycle == Lifecycle.DRAFT:
        await _ensure_resources(worker, revision, info)
    info, blocked = await drive_lifecycle(worker, revision, info)
    await update_status(worker, revision, info, blocked=blocked)


async def _ensure_resources(worker: RepositoryWorker, revision: Body, info: PackageRevisionInfo) -> None:
    """Create the draft's PackageRevisionResources from git if it is missing: the operator stopped after
    pushing the draft and before creating them (`create_from_source` does both, not atomically)."""
    from porch_operator.handlers import syncing  # cycle: the sync creates objects through this module too

    name = revision["metadata"]["name"]
    if await worker.kube.find(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name) is not None:
        return
    files = await worker.files_of(info)
    await syncing.create_resources(worker, revision, info, files, rendered=False)
    worker.enqueue(Key(PACKAGE_REVISION_RESOURCES, name))
    worker.logger.info("Created the missing resources of draft %s from git.", name)


async def _add_finalizer(worker: RepositoryWorker, revision: Body) -> Body:
    finalizers = [*revision["metadata"].get("finalizers", []), manifests.FINALIZER]
    updated = await worker.kube.patch(
        kube.PACKAGE_REVISIONS,
        worker.namespace,
        revision["metadata"]["name"],
        [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": revision["metadata"]["resourceVersion"],
            },
            {"op": "add", "path": "/metadata/finalizers", "value": finalizers},
        ],
    )
    metrics.API_WRITES.labels(verb="patch").inc()
    return updated


async def create_from_source(worker: RepositoryWorker, revision: Body) -> PackageRevisionInfo:
    """Build the source, commit it as a new draft, and create the revision's PackageRevisionResources."""
    from porch_operator.handlers import syncing  # cycle: the sync creates objects through this module too

    spec = revision["spec"]
    built = await sources.build(worker, revision)
    assert worker.git is not None
    started = time.monotonic()
    info = await worker.git.create_draft(
        spec["packageName"],
        spec["workspaceName"],
        files=built.files.to_dict(),
        author=worker.author(revision["metadata"].get("annotations")),
        task=built.task,
    )
    metrics.GIT_SECONDS.labels(operation="create_draft").observe(time.monotonic() - started)
    await worker.rediscover()
    info = worker.revision(spec["packageName"], spec["workspaceName"]) or info
    generation = revision["metadata"].get("generation", 1)
    status = {
        "observedGeneration": generation,
        "creationSource": built.creation_source.value,
        "revision": 0,
        "selfLock": manifests.lock_of(info),
        "deployment": bool(worker.spec.get("deployment", False)),
        "conditions": conditions.merge(
            (revision.get("status") or {}).get("conditions"),
            [
                Condition.false("Ready", "Rendering", "The source is in git; rendering its content."),
                Condition("Rendered", "Unknown", "Pending", "The content has not been rendered yet."),
                Condition.true("Reconciling", "Rendering", "Rendering the new content."),
                Condition.false("Stalled", "Progressing"),
            ],
            generation=generation,
        ),
    }
    revision = await write_status(worker, revision, status)
    resources = await syncing.create_resources(worker, revision, info, built.files.to_dict(), rendered=False)
    worker.enqueue(Key(PACKAGE_REVISION_RESOURCES, resources["metadata"]["name"]))
    await packages.refresh(worker, packages={spec["packageName"]})
    worker.logger.info(
        "Created draft %s from its %s source.", revision["metadata"]["name"], built.creation_source.value
    )
    return info


# --- lifecycle --------------------------------------------------------------------------------------------


async def drive_lifecycle(
    worker: RepositoryWorker, revision: Body, info: PackageRevisionInfo
) -> tuple[PackageRevisionInfo, Condition | None]:
    """Move git from `info.lifecycle` towards `spec.lifecycle`; returns the new revision and, if the move
    must wait, the condition saying why."""
    desired = Lifecycle(revision["spec"]["lifecycle"])
    current = info.lifecycle
    if desired == current:
        return info, None
    if info.is_placeholder:
        return info, Condition.false(
            "Ready",
            "PlaceholderReadOnly",
            "The branch placeholder follows the branch; its lifecycle cannot change.",
        )
    name = revision["metadata"]["name"]
    package, workspace = info.package, info.workspace
    assert worker.git is not None
    if current in (Lifecycle.DRAFT, Lifecycle.PROPOSED) and desired in (
        Lifecycle.PROPOSED,
        Lifecycle.PUBLISHED,
    ):
        waiting = await _render_pending(worker, name)
        if waiting is not None:
            return info, waiting
    started = time.monotonic()
    if current == Lifecycle.DRAFT and desired == Lifecycle.PROPOSED:
        info = await worker.git.propose(package, workspace, expected_commit=info.commit)
        operation = "propose"
    elif current == Lifecycle.PROPOSED and desired == Lifecycle.DRAFT:
        info = await worker.git.reject(package, workspace, expected_commit=info.commit)
        operation = "reject"
    elif current in (Lifecycle.DRAFT, Lifecycle.PROPOSED) and desired == Lifecycle.PUBLISHED:
        unmet = await _unmet_gates(worker, info)
        if unmet:
            return info, Condition.false(
                "Ready",
                "ReadinessGatesPending",
                "Not published: readiness gates without a True condition: " + ", ".join(unmet) + ".",
            )
        info = await worker.git.publish(
            package,
            workspace,
            author=worker.author(revision["metadata"].get("annotations")),
            expected_commit=info.commit,
        )
        metrics.PUBLISH_SECONDS.observe(time.monotonic() - started)
        operation = "publish"
    elif current == Lifecycle.PUBLISHED and desired == Lifecycle.DELETION_PROPOSED:
        info = await worker.git.propose_deletion(package, info.revision)
        operation = "propose_deletion"
    elif current == Lifecycle.DELETION_PROPOSED and desired == Lifecycle.PUBLISHED:
        info = await worker.git.undo_deletion_proposal(package, info.revision)
        operation = "undo_deletion_proposal"
    else:
        return info, Condition.false(
            "Ready",
            "LifecycleDiverged",
            f"The revision is {current.value} in git and cannot become {desired.value}: a published revision "
            "cannot go back to Draft or Proposed.",
        )
    metrics.GIT_SECONDS.labels(operation=operation).observe(time.monotonic() - started)
    await worker.rediscover()
    info = worker.revision(package, workspace) or info
    worker.logger.info("%s is now %s in git (%s).", name, info.lifecycle.value, operation)
    await _after_lifecycle_change(worker, name, info)
    return info, None


async def _after_lifecycle_change(worker: RepositoryWorker, name: str, info: PackageRevisionInfo) -> None:
    """What moves with a lifecycle change: the resources' label and, on publish, the package's placeholder
    (created by the first publish), the latest labels and the Package summary."""
    from porch_operator.handlers import syncing  # cycle: the sync creates objects through this module too

    worker.enqueue(Key(PACKAGE_REVISION_RESOURCES, name))
    await syncing.reconcile_objects(worker, package=info.package)


async def _render_pending(worker: RepositoryWorker, name: str) -> Condition | None:
    resources = await worker.kube.find(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name)
    if resources is None:
        return Condition.false("Ready", "RenderPending", "Waiting for the package resources to be rendered.")
    status = resources.get("status") or {}
    if status.get("observedGeneration") != resources["metadata"].get("generation"):
        worker.enqueue(Key(PACKAGE_REVISION_RESOURCES, name))
        return Condition.false("Ready", "RenderPending", "Waiting for the latest content to be rendered.")
    rendered = conditions.find(status.get("conditions"), "Rendered")
    if rendered is not None and rendered.get("status") == "False":
        return Condition.false(
            "Ready",
            "RenderFailed",
            "Not proposed or published: the content failed to render. " + rendered["message"],
        )
    return None


async def _unmet_gates(worker: RepositoryWorker, info: PackageRevisionInfo) -> list[str]:
    from porch_operator.handlers.repositories import PackageFacts

    facts = PackageFacts(await worker.files_of(info))
    if facts.meta is None:
        raise errors.InvalidSpec(f"The Kptfile of the revision cannot be read: {facts.error}")
    return list(rules.unmet_readiness_gates(facts.meta.readiness_gates, facts.meta.conditions))


# --- status -----------------------------------------------------------------------------------------------


async def update_status(
    worker: RepositoryWorker, revision: Body, info: PackageRevisionInfo, *, blocked: Condition | None
) -> None:
    from porch_operator.handlers.repositories import PackageFacts

    facts = PackageFacts(await worker.files_of(info))
    generation = revision["metadata"].get("generation", 1)
    current = revision.get("status") or {}
    status = manifests.git_status(info, repository=worker.body, meta=facts.meta, upstream=facts.upstream_lock)
    for key in ("upstreamLock", "publishedBy", "publishedAt", "packageConditions"):
        status.setdefault(key, None)
    status["creationSource"] = current.get("creationSource") or manifests.creation_source(info)
    status["observedGeneration"] = generation
    rendered = conditions.find(current.get("conditions"), "Rendered")
    render_ok = rendered is None or rendered.get("status") == "True" or info.lifecycle != Lifecycle.DRAFT
    if blocked is not None:
        updates = [blocked, Condition.false("Reconciling", "Waiting"), Condition.false("Stalled", "Waiting")]
    elif facts.error:
        updates = [Condition.false("Ready", "InvalidPackage", facts.error)]
    elif not render_ok:
        updates = [Condition.false("Ready", "RenderFailed", (rendered or {}).get("message", ""))]
    else:
        updates = [
            Condition.true("Ready", "Ready", f"The revision is {info.lifecycle.value} in git."),
            Condition.false("Reconciling", "Ready"),
            Condition.false("Stalled", "Ready"),
        ]
    status["conditions"] = conditions.merge(current.get("conditions"), updates, generation=generation)
    await write_status(worker, revision, status)


# --- deletion ---------------------------------------------------------------------------------------------


async def finalize(worker: RepositoryWorker, revision: Body) -> None:
    """Delete the revision's git refs and resources, then let the object go (see the module docstring)."""
    meta, spec = revision["metadata"], revision["spec"]
    name = meta["name"]
    if manifests.FINALIZER not in meta.get("finalizers", []):
        return
    dependents = await _dependents(worker, name)
    if dependents:
        generation = meta.get("generation", 1)
        message = "Not deleted: it is referenced as upstream by " + ", ".join(sorted(dependents)) + "."
        status = revision.get("status") or {}
        merged = conditions.merge(
            status.get("conditions"),
            [Condition.false("Ready", "DeletionBlocked", message)],
            generation=generation,
        )
        await write_status(worker, revision, {"conditions": merged})
        worker.enqueue(Key(PACKAGE_REVISION, name), delay=30)
        return
    info = worker.revision(spec["packageName"], spec["workspaceName"])
    if info is not None and not info.is_placeholder and not await _owner_going_away(worker):
        assert worker.git is not None
        try:
            if info.is_published:
                await worker.git.delete_published(info.package, info.revision)
            else:
                await worker.git.delete_draft(info.package, info.workspace)
        except errors.NotFound:
            pass  # already gone from git: nothing to clean up
        await worker.rediscover()
        worker.logger.info("Deleted %s from git.", name)
    await worker.kube.delete(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name)
    await remove_finalizer(worker, revision)
    await packages.refresh(worker, packages={spec["packageName"]})


async def _owner_going_away(worker: RepositoryWorker) -> bool:
    """Whether the Repository or the namespace is being deleted: then git is left as it is."""
    if worker.body.get("metadata", {}).get("deletionTimestamp"):
        return True
    namespace = await worker.kube.find(kube.NAMESPACES, "", worker.namespace)
    return namespace is None or bool(namespace["metadata"].get("deletionTimestamp"))


async def remove_finalizer(worker: RepositoryWorker, revision: Body) -> None:
    finalizers = [f for f in revision["metadata"].get("finalizers", []) if f != manifests.FINALIZER]
    try:
        await worker.kube.patch(
            kube.PACKAGE_REVISIONS,
            worker.namespace,
            revision["metadata"]["name"],
            [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": revision["metadata"]["resourceVersion"],
                },
                {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
            ],
        )
    except errors.NotFound:
        return
    metrics.API_WRITES.labels(verb="patch").inc()


async def _dependents(worker: RepositoryWorker, name: str) -> set[str]:
    """Revisions in the namespace that clone or upgrade from `name`: by their `spec.source`, or, for revisions
    made elsewhere, by the task recorded in git. Placeholders never count."""
    found = set()
    for other in await worker.kube.list_all(kube.PACKAGE_REVISIONS, worker.namespace):
        if other["metadata"].get("deletionTimestamp") or other["metadata"]["name"] == name:
            continue
        if name in sources.referenced_names(other.get("spec", {})):
            found.add(other["metadata"]["name"])
    for owner in worker.runtime.workers:
        if owner.namespace != worker.namespace:
            continue
        for info in owner.revisions():
            if not info.is_placeholder and name in sources.task_references(info.task):
                found.add(manifests.revision_name(owner.name, info))
    found.discard(name)
    return found
