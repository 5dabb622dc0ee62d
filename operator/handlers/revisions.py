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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from porch_operator import errors, metrics, models
from porch_operator.engine import lifecycle as rules
from porch_operator.gitstore import PackageRevisionInfo
from porch_operator.handlers import (
    conditions,
    events,
    kube,
    manifests,
    outcomes,
    packages,
    rendering,
    sources,
)
from porch_operator.handlers.conditions import Condition
from porch_operator.handlers.workqueue import PACKAGE_REVISION, PACKAGE_REVISION_RESOURCES, Key

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import PackageFacts, RepositoryWorker

Body = dict[str, Any]
Lifecycle = models.Lifecycle


async def handle(worker: RepositoryWorker, key: Key, body: Body | None) -> None:
    if body is not None and in_sync(
        body, worker.revision(body["spec"]["packageName"], body["spec"]["workspaceName"])
    ):
        return  # the watched body already says so; a stale body can only make us do (harmless) work
    revision = await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, key.name)
    if revision is None:
        return
    try:
        await reconcile(worker, revision)
    except Exception as exc:
        await report_failure(worker, key.name, exc)
        raise


# --- conditions -------------------------------------------------------------------------------------------


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
        updated = await write_status(
            worker, revision, {"observedGeneration": generation, "conditions": merged}
        )
    except errors.PorchError as exc:
        worker.logger.warning("Could not report the failure of %s: %s", name, exc)
        return
    if updated is not revision:  # a new failure, not the same one again
        events.warning(revision, outcome.reason, outcome.message)


# --- reconcile --------------------------------------------------------------------------------------------


async def reconcile(worker: RepositoryWorker, revision: Body) -> None:
    """See the module docstring. The revision's status is written once, right after the git change; what
    follows from the change (resources, placeholder, labels, Package, events) comes after it."""
    meta, spec = revision["metadata"], revision["spec"]
    if meta.get("deletionTimestamp"):
        await finalize(worker, revision)
        return
    if manifests.FINALIZER not in meta.get("finalizers", []):
        revision = await _add_finalizer(worker, revision)
    info = worker.revision(spec["packageName"], spec["workspaceName"])
    status = revision.get("status") or {}
    created: Created | None = None
    if info is None:
        if not spec.get("source") or status.get("selfLock"):
            worker.enqueue(Key("sync", "full"))  # git no longer has it: the sync removes the object
            return
        created = await create_from_source(worker, revision)
        info = created.info
    elif spec.get("source") and not status.get("creationSource"):
        worker.logger.info("Adopting the draft of %s found in git (created before a restart).", meta["name"])
        if info.lifecycle == Lifecycle.DRAFT:
            await _ensure_resources(worker, revision, info)
    change = await drive_lifecycle(worker, revision, info)
    await update_status(worker, revision, change.info, blocked=change.blocked, created=created)
    if created is not None:
        await _after_creation(worker, revision, created)
    if change.operation:
        await _after_lifecycle_change(worker, revision, change)


async def _ensure_resources(worker: RepositoryWorker, revision: Body, info: PackageRevisionInfo) -> None:
    """Create the draft's PackageRevisionResources from git if it is missing: the operator stopped after
    pushing the draft and before creating them (`create_from_source` does both, not atomically)."""
    from porch_operator.handlers import syncing  # cycle: the sync creates objects through this module too

    name = revision["metadata"]["name"]
    if await worker.kube.find(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name) is not None:
        return
    files = await worker.files_of(info)
    await syncing.create_resources(worker, revision, info, files)
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
    return updated


@dataclass(frozen=True)
class Created:
    """A draft just made from a source: its revision in git, its source kind and how its render went."""

    info: PackageRevisionInfo
    creation_source: str
    rendered: Condition


async def create_from_source(worker: RepositoryWorker, revision: Body) -> Created:
    """Build the source, render it, commit it as a new draft, and create the revision's resources.

    A content that fails to render is still committed (unrendered), so that the user can fix it by editing
    the draft; the revision then says Rendered=False.
    """
    from porch_operator.handlers import syncing  # cycle: the sync creates objects through this module too

    spec = revision["spec"]
    built = await sources.build(worker, revision)
    outcome = await rendering.render(worker.runtime, built.files.to_dict(), keep_on_failure=False)
    files = outcome.files if outcome.files is not None else built.files.to_dict()
    assert worker.git is not None
    started = time.monotonic()
    info = await worker.git.create_draft(
        spec["packageName"],
        spec["workspaceName"],
        files=files,
        author=worker.author(revision["metadata"].get("annotations")),
        task=built.task,
    )
    metrics.GIT_SECONDS.labels(operation="create_draft").observe(time.monotonic() - started)
    worker.record(info)
    await syncing.create_resources(worker, revision, info, files, render=outcome)
    return Created(info, built.creation_source.value, outcome.rendered)


async def _after_creation(worker: RepositoryWorker, revision: Body, created: Created) -> None:
    name = revision["metadata"]["name"]
    await packages.set_latest(worker, name, "false")  # a draft is never the latest
    await packages.update(worker, revision["spec"]["packageName"])
    await worker.refresh_summary()
    worker.logger.info("Created draft %s from its %s source.", name, created.creation_source)
    events.normal(
        revision,
        "Created",
        f"The draft is in git on {created.info.ref}, from its {created.creation_source} source.",
    )


# --- lifecycle --------------------------------------------------------------------------------------------


_placeholder_read_only = Condition.false(
    "Ready", "PlaceholderReadOnly", "The branch placeholder follows the branch; its lifecycle cannot change."
)


@dataclass(frozen=True)
class Change:
    """What `drive_lifecycle` did: the revision in git now, the git operation run (None: none), and, when
    the move must wait, the condition saying why."""

    info: PackageRevisionInfo
    operation: str | None = None
    blocked: Condition | None = None


async def drive_lifecycle(worker: RepositoryWorker, revision: Body, info: PackageRevisionInfo) -> Change:
    """Move git from `info.lifecycle` towards `spec.lifecycle`."""
    desired = Lifecycle(revision["spec"]["lifecycle"])
    current = info.lifecycle
    if desired == current:
        return Change(info)
    if info.is_placeholder:
        return Change(info, blocked=_placeholder_read_only)
    name = revision["metadata"]["name"]
    package, workspace = info.package, info.workspace
    assert worker.git is not None
    if current in (Lifecycle.DRAFT, Lifecycle.PROPOSED) and desired in (
        Lifecycle.PROPOSED,
        Lifecycle.PUBLISHED,
    ):
        waiting = await _render_pending(worker, name)
        if waiting is not None:
            return Change(info, blocked=waiting)
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
            message = "Not published: readiness gates without a True condition: " + ", ".join(unmet) + "."
            return Change(info, blocked=Condition.false("Ready", "ReadinessGatesPending", message))
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
        message = (
            f"The revision is {current.value} in git and cannot become {desired.value}: a published revision "
            "cannot go back to Draft or Proposed."
        )
        return Change(info, blocked=Condition.false("Ready", "LifecycleDiverged", message))
    metrics.GIT_SECONDS.labels(operation=operation).observe(time.monotonic() - started)
    worker.record(info)
    worker.logger.info("%s is now %s in git (%s).", name, info.lifecycle.value, operation)
    return Change(info, operation=operation)


async def _after_lifecycle_change(worker: RepositoryWorker, revision: Body, change: Change) -> None:
    """What moves with a lifecycle change: the resources' label; on publish also the package's placeholder
    (created by the first publish) and the latest label; the Package summary; an event."""
    from porch_operator.handlers import syncing  # cycle: the sync creates objects through this module too

    info = change.info
    worker.enqueue(Key(PACKAGE_REVISION_RESOURCES, revision["metadata"]["name"]))
    if info.is_published:
        await syncing.ensure_placeholder(worker, info.package)
    await packages.update(worker, info.package)
    await worker.refresh_summary()
    message = f"The revision is now {info.lifecycle.value} in git" + (
        f" as revision {info.revision}." if change.operation == "publish" else "."
    )
    events.normal(revision, (change.operation or "").title().replace("_", ""), message)


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


def desired_status(
    worker: RepositoryWorker,
    revision: Body,
    info: PackageRevisionInfo,
    facts: PackageFacts,
    *,
    blocked: Condition | None = None,
    created: Created | None = None,
) -> Body:
    """The whole status of a revision, from git and the object (used by the sync and the reconcile alike, so
    that what one writes the other finds equal). `created` is the source just applied, if any."""
    generation = revision["metadata"].get("generation", 1)
    current = dict(revision.get("status") or {})
    if created is not None:
        current["creationSource"] = created.creation_source
        current["conditions"] = conditions.merge(
            current.get("conditions"), [created.rendered], generation=generation
        )
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
    return status


async def update_status(
    worker: RepositoryWorker,
    revision: Body,
    info: PackageRevisionInfo,
    *,
    blocked: Condition | None,
    created: Created | None = None,
) -> None:
    from porch_operator.handlers.repositories import PackageFacts

    facts = PackageFacts(await worker.files_of(info))
    status = desired_status(worker, revision, info, facts, blocked=blocked, created=created)
    await write_status(worker, revision, status)


def in_sync(revision: Body, info: PackageRevisionInfo | None) -> bool:
    """Whether a revision needs no work: its generation handled, its git state recorded, nothing pending."""
    meta, status = revision["metadata"], revision.get("status") or {}
    if info is None or meta.get("deletionTimestamp") or manifests.FINALIZER not in meta.get("finalizers", []):
        return False
    ready = conditions.find(status.get("conditions"), "Ready")
    rendered = conditions.find(status.get("conditions"), "Rendered")
    return bool(
        (rendered is None or rendered.get("status") == "True")
        and status.get("observedGeneration") == meta.get("generation")
        and status.get("selfLock", {}).get("git", {}).get("commit") == info.commit
        and status.get("revision") == info.revision
        and revision["spec"].get("lifecycle") == info.lifecycle.value
        and ready is not None
        and ready.get("status") == "True"
    )


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
        worker.forget(info.package, info.workspace)
        worker.logger.info("Deleted %s from git.", name)
    await worker.kube.delete(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name)
    await remove_finalizer(worker, revision)
    await packages.update(worker, spec["packageName"], leaving=name)
    if worker.git is not None:
        await worker.refresh_summary()


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
