"""PackageRevisionResources reconcile: content edits of drafts are rendered and committed; content changed in
git flows back into the object.

Which content is new is decided by generations, not by watching diffs: the API server bumps
`metadata.generation` on every change of `spec.resources`, and `status.observedGeneration` records the
generation the operator last handled. For a Draft whose generation is ahead, the content is rendered through
the engine and the function runner, committed to the draft branch (no commit when the rendered files equal
git's), and the rendered files are written back in one patch that also records the commit and is guarded by
the object's resourceVersion: if the user changed the content meanwhile, the patch fails, the render was
stale, and the newer content is rendered next. Identical content bumps no generation, so it is never
re-rendered, and a failed render records the failing generation, so it is not retried in a loop. With the
revision's annotation `porch.kpt.dev/push-on-render-failure: "true"` a failed render still commits what the
renderer left (the input, or the partial output with `kpt.dev/save-on-render-failure`).

When nothing is pending and git moved (another commit on the draft branch, a publish, the placeholder's
branch), the object is rewritten from git. The lifecycle label the admission policy reads is kept equal to
the revision's lifecycle in git.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from porch_operator import errors, metrics, models
from porch_operator.gitstore import PackageRevisionInfo
from porch_operator.handlers import conditions, events, kube, manifests, outcomes, rendering, revisions
from porch_operator.handlers.conditions import Condition
from porch_operator.handlers.workqueue import PACKAGE_REVISION, Key

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import RepositoryWorker

Body = dict[str, Any]
_COMMIT_PATH = "/metadata/annotations/" + manifests.COMMIT_ANNOTATION.replace("/", "~1")
_LIFECYCLE_PATH = "/metadata/labels/" + models.LIFECYCLE_LABEL.replace("/", "~1")


def in_sync(resources: Body, info: PackageRevisionInfo | None) -> bool:
    """Whether resources need no work: content handled, commit and lifecycle label as git has them."""
    meta = resources["metadata"]
    return bool(
        info is not None
        and not meta.get("deletionTimestamp")
        and (resources.get("status") or {}).get("observedGeneration") == meta.get("generation")
        and meta.get("annotations", {}).get(manifests.COMMIT_ANNOTATION) == info.commit
        and meta.get("labels", {}).get(models.LIFECYCLE_LABEL) == info.lifecycle.value
    )


async def handle(worker: RepositoryWorker, key: Key, body: Body | None) -> None:
    if body is not None and in_sync(
        body, worker.revision(body["spec"]["packageName"], body["spec"]["workspaceName"])
    ):
        return  # see revisions.handle
    resources = await worker.kube.find(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, key.name)
    if resources is None or resources["metadata"].get("deletionTimestamp"):
        return
    try:
        await reconcile(worker, resources)
    except Exception as exc:
        await report_failure(worker, key.name, exc)
        raise


async def reconcile(worker: RepositoryWorker, resources: Body) -> None:
    spec = resources["spec"]
    info = worker.revision(spec["packageName"], spec["workspaceName"])
    if info is None:
        return  # not in git: the revision's own reconcile (or the sync) decides what happens
    meta = resources["metadata"]
    observed = (resources.get("status") or {}).get("observedGeneration")
    if info.lifecycle == models.Lifecycle.DRAFT and observed != meta.get("generation"):
        await render_and_commit(worker, resources, info)
    elif meta.get("annotations", {}).get(manifests.COMMIT_ANNOTATION) != info.commit:
        await refresh_from_git(worker, resources, info)
    elif meta.get("labels", {}).get(models.LIFECYCLE_LABEL) != info.lifecycle.value:
        await _patch(worker, resources, [_set(_LIFECYCLE_PATH, info.lifecycle.value)])


def _set(path: str, value: Any) -> Body:
    return {"op": "add", "path": path, "value": value}


async def _patch(worker: RepositoryWorker, resources: Body, ops: list[Body]) -> Body:
    """A JSON patch guarded by the resourceVersion we read: Conflict when the object moved meanwhile."""
    meta = resources["metadata"]
    guard = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}]
    if "annotations" not in meta:
        guard.append({"op": "add", "path": "/metadata/annotations", "value": {}})
    if "labels" not in meta:
        guard.append({"op": "add", "path": "/metadata/labels", "value": {}})
    updated = await worker.kube.patch(
        kube.PACKAGE_REVISION_RESOURCES, worker.namespace, meta["name"], guard + ops
    )
    return updated


async def _write_status(worker: RepositoryWorker, resources: Body, status: Body) -> None:
    current = resources.get("status") or {}
    patch = {k: v for k, v in status.items() if current.get(k) != v and not (v is None and k not in current)}
    if patch:
        await worker.kube.patch(
            kube.PACKAGE_REVISION_RESOURCES,
            worker.namespace,
            resources["metadata"]["name"],
            {"status": patch},
            subresource="status",
        )


async def refresh_from_git(worker: RepositoryWorker, resources: Body, info: PackageRevisionInfo) -> None:
    files = await worker.files_of(info)
    large = manifests.too_large(files)
    ops = [_set(_COMMIT_PATH, info.commit), _set(_LIFECYCLE_PATH, info.lifecycle.value)]
    if (resources["spec"].get("resources") or {}) != ({} if large else files):
        ops.append(_set("/spec/resources", {} if large else files))
    updated = await _patch(worker, resources, ops)
    generation = updated["metadata"].get("generation", 1)
    rendered = (
        Condition.false(
            "Rendered", "TooLarge", f"More than {models.MAX_RESOURCES_CHARS} characters; in git only."
        )
        if large
        else Condition.true("Rendered", "AsInGit", "The files are as git has them.")
    )
    status = {
        "observedGeneration": generation,
        "conditions": conditions.merge(
            (updated.get("status") or {}).get("conditions"),
            [rendered, Condition.true("Ready", "Ready", "The files are in sync with git.")],
            generation=generation,
        ),
    }
    await _write_status(worker, updated, status)


async def render_and_commit(worker: RepositoryWorker, resources: Body, info: PackageRevisionInfo) -> None:
    name = resources["metadata"]["name"]
    revision = await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, name)
    if revision is None:
        return
    content = resources["spec"].get("resources") or {}
    annotations = revision["metadata"].get("annotations") or {}
    push_anyway = annotations.get(models.PUSH_ON_RENDER_FAILURE_ANNOTATION) == "true"
    outcome = await rendering.render(worker.runtime, content, keep_on_failure=push_anyway)
    files = outcome.files
    if files is not None and files != await worker.files_of(info):
        assert worker.git is not None
        committed = time.monotonic()
        info = await worker.git.update_draft(
            info.package,
            info.workspace,
            files=files,
            author=worker.author(annotations),
            expected_commit=info.commit,
            task={"type": "render"},
        )
        metrics.GIT_SECONDS.labels(operation="update_draft").observe(time.monotonic() - committed)
        worker.record(info)
    ops = []
    meta = resources["metadata"]
    if meta.get("annotations", {}).get(manifests.COMMIT_ANNOTATION) != info.commit:
        ops.append(_set(_COMMIT_PATH, info.commit))
    if meta.get("labels", {}).get(models.LIFECYCLE_LABEL) != info.lifecycle.value:
        ops.append(_set(_LIFECYCLE_PATH, info.lifecycle.value))
    if files is not None and files != content:
        ops.append(_set("/spec/resources", files))
    # A Conflict here means the content moved on while rendering: the newer content is rendered next.
    updated = await _patch(worker, resources, ops) if ops else resources
    await _record(worker, updated, revision, outcome)


async def _record(
    worker: RepositoryWorker, resources: Body, revision: Body, outcome: rendering.Outcome
) -> None:
    """Write the render outcome into the resources' status and the revision's Rendered condition."""
    generation = resources["metadata"]["generation"]
    rendered = outcome.rendered
    status: Body = {"observedGeneration": generation, "renderStatus": outcome.render_status}
    ready = (
        Condition.true("Ready", "Ready", "The files are in sync with git.")
        if outcome.ok
        else Condition.false("Ready", rendered.reason, rendered.message)
    )
    status["conditions"] = conditions.merge(
        (resources.get("status") or {}).get("conditions"), [rendered, ready], generation=generation
    )
    await _write_status(worker, resources, status)
    if outcome.ok:
        events.normal(resources, "Rendered", rendered.message)
    else:
        events.warning(resources, rendered.reason, rendered.message)
    pr_generation = revision["metadata"].get("generation", 1)
    pr_status = revision.get("status") or {}
    merged = conditions.merge(pr_status.get("conditions"), [rendered], generation=pr_generation)
    await revisions.write_status(worker, revision, {"conditions": merged})
    worker.enqueue(Key(PACKAGE_REVISION, revision["metadata"]["name"]))


async def report_failure(worker: RepositoryWorker, name: str, error: BaseException) -> None:
    resources = await worker.kube.find(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name)
    if resources is None:
        return
    outcome = outcomes.classify(error)
    generation = resources["metadata"].get("generation", 1)
    merged = conditions.merge(
        (resources.get("status") or {}).get("conditions"),
        [Condition.false("Ready", outcome.reason, outcome.message)],
        generation=generation,
    )
    try:
        await _write_status(worker, resources, {"conditions": merged})
    except errors.PorchError as exc:
        worker.logger.warning("Could not report the failure of %s: %s", name, exc)
