"""Repository sync: make the objects of a Repository match what git says, and report it in its status.

A sync fetches, rediscovers, and then, when git changed, when it was requested or when this worker has not
compared objects with git yet, reconciles the objects of the repository as a diff:

- a revision in git without an object gets a PackageRevision (with its status), a PackageRevisionResources
  holding its files, and its package a Package;
- an object whose revision vanished from git is deleted (without touching git: there is nothing left there),
  unless it is being created from a `spec.source` right now or is already being deleted;
- an object whose git state moved (another commit, another lifecycle) is queued for its own reconcile, which
  recomputes its status and content;
- the latest-revision labels and the Package summaries are recomputed.

Nothing is written when nothing differs, so a resync of an unchanged repository, or an operator restart,
costs API reads only. A revision deleted through the API is never resurrected: its git refs are deleted
before its object goes (the PackageRevision finalizer), and worker order keeps a sync from seeing the refs
in between.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from porch_operator import errors, metrics, models
from porch_operator.gitstore import PackageRevisionInfo
from porch_operator.handlers import conditions, kube, manifests, outcomes, packages, rendering, schedules
from porch_operator.handlers.conditions import Condition
from porch_operator.handlers.workqueue import Key

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import RepositoryWorker

Body = dict[str, Any]


async def handle(worker: RepositoryWorker, key: Key, body: Body | None) -> None:
    requested = key.name == "full"
    try:
        await sync(worker, requested=requested)
    except Exception as exc:
        await report_failure(worker, exc)
        raise


async def sync(worker: RepositoryWorker, *, requested: bool) -> None:
    started = time.monotonic()
    git = await worker.open_git()
    changed = await git.refresh()
    await worker.rediscover()
    if changed or requested or not worker.objects_synced:
        await reconcile_objects(worker)
        worker.objects_synced = True
    worker.last_check = dt.datetime.now(dt.UTC)
    await write_status(worker, requested=requested, head=await git.branch_head())
    metrics.SYNC_SECONDS.labels(changed=str(changed).lower()).observe(time.monotonic() - started)


async def _bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[None]]]) -> None:
    """Run `jobs` with at most `limit` in flight; the first failure is raised after all have finished."""
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with semaphore:
            await job()

    results = await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _is_pending_creation(revision: Body) -> bool:
    """A revision made from `spec.source` whose source has not reached git yet."""
    return bool(revision.get("spec", {}).get("source")) and not revision.get("status", {}).get("selfLock")


async def reconcile_objects(worker: RepositoryWorker, *, package: str | None = None) -> None:
    """Make the objects of the repository (or of one `package` of it) match the worker's discovery."""
    ns, repo = worker.namespace, worker.name
    selector = f"spec.repository={repo}" + (f",spec.packageName={package}" if package else "")
    existing = {
        r["metadata"]["name"]: r
        for r in await worker.kube.list_all(kube.PACKAGE_REVISIONS, ns, field_selector=selector)
    }
    resources = {
        r["metadata"]["name"]: r
        for r in await worker.kube.list_all(kube.PACKAGE_REVISION_RESOURCES, ns, field_selector=selector)
    }
    revisions = [i for i in worker.revisions() if package is None or i.package == package]
    desired = {manifests.revision_name(repo, info): info for info in revisions}
    latest = manifests.latest_revisions(revisions)
    jobs: list[Callable[[], Awaitable[None]]] = []
    for name, info in desired.items():
        current = existing.get(name)
        if current is None:
            is_latest = latest.get(info.package) is info
            jobs.append(functools.partial(create_revision, worker, info, latest=is_latest))
        elif _needs_reconcile(current, resources.get(name), info):
            worker.enqueue_revision(name)
    for name, current in existing.items():
        if name in desired or current["metadata"].get("deletionTimestamp") or _is_pending_creation(current):
            continue
        jobs.append(functools.partial(remove_vanished, worker, current))
    await _bounded(worker.runtime.settings.write_concurrency, jobs)
    await packages.refresh(worker, packages=None if package is None else {package})


async def ensure_placeholder(worker: RepositoryWorker, package: str) -> None:
    """After a publish: the package's placeholder object exists (the first publish creates it) and follows
    the branch head."""
    await worker.rediscover()  # the publish moved the branch head: the placeholder changed
    placeholder = worker.revision(package, worker.branch)
    if placeholder is None:
        return
    name = manifests.revision_name(worker.name, placeholder)
    if await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, name) is None:
        await create_revision(worker, placeholder, latest=False)
    else:
        worker.enqueue_revision(name)


def _needs_reconcile(revision: Body, resources: Body | None, info: PackageRevisionInfo) -> bool:
    status = revision.get("status", {})
    commit = status.get("selfLock", {}).get("git", {}).get("commit")
    if commit != info.commit or status.get("revision") != info.revision:
        return True
    if revision.get("spec", {}).get("lifecycle") != info.lifecycle.value:
        return True
    if resources is None:
        return True
    recorded = resources.get("metadata", {}).get("annotations", {}).get(manifests.COMMIT_ANNOTATION)
    return bool(recorded != info.commit)


async def create_revision(worker: RepositoryWorker, info: PackageRevisionInfo, *, latest: bool) -> None:
    """Create the PackageRevision and PackageRevisionResources of a revision discovered in git."""
    from porch_operator.handlers import revisions  # cycle: revisions uses this module's helpers

    files = await worker.files_of(info)
    facts = worker_facts(files)
    body = manifests.discovered_revision(worker.body, info, meta=facts.meta, latest=latest)
    try:
        created = await worker.kube.create(kube.PACKAGE_REVISIONS, worker.namespace, body)
    except errors.AlreadyExists:
        worker.enqueue_revision(body["metadata"]["name"])  # made meanwhile (by a user?): reconcile it instead
        return
    status = revisions.desired_status(worker, created, info, facts)
    await revisions.write_status(worker, created, status)
    await create_resources(worker, created, info, files)


async def create_resources(
    worker: RepositoryWorker,
    revision: Body,
    info: PackageRevisionInfo,
    files: dict[str, str],
    *,
    render: rendering.Outcome | None = None,
) -> Body:
    """Create the PackageRevisionResources of `revision` holding `files` (or none, when too large), with the
    outcome of the render that made them (None: the files are as git has them)."""
    large = manifests.too_large(files)
    body = manifests.resources_object(
        revision, files=None if large else files, lifecycle=info.lifecycle, commit=info.commit
    )
    try:
        created = await worker.kube.create(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, body)
    except errors.AlreadyExists:
        worker.enqueue(Key("PackageRevisionResources", body["metadata"]["name"]))
        return body
    generation = created["metadata"].get("generation", 1)
    if large:
        rendered = Condition.false(
            "Rendered",
            "TooLarge",
            f"The package holds more than {models.MAX_RESOURCES_CHARS} characters of text; its files are "
            "only in git.",
        )
    elif render is not None:
        rendered = render.rendered
    else:
        rendered = Condition.true("Rendered", "AsInGit", "The files are as git has them.")
    ready = (
        Condition.false("Ready", rendered.reason, rendered.message)
        if render is not None and not render.ok
        else Condition.true("Ready", "Ready", "The files are in sync with git.")
    )
    status: Body = {
        "observedGeneration": generation,
        "conditions": conditions.merge(None, [rendered, ready], generation=generation),
    }
    if render is not None and render.render_status is not None:
        status["renderStatus"] = render.render_status
    await worker.kube.patch(
        kube.PACKAGE_REVISION_RESOURCES,
        worker.namespace,
        body["metadata"]["name"],
        {"status": status},
        subresource="status",
    )
    return created


def worker_facts(files: dict[str, str]) -> Any:
    from porch_operator.handlers.repositories import PackageFacts

    return PackageFacts(files)


async def remove_vanished(worker: RepositoryWorker, revision: Body) -> None:
    """Delete the object of a revision that is no longer in git (and leave git alone: nothing is there)."""
    name = revision["metadata"]["name"]
    finalizers = [f for f in revision["metadata"].get("finalizers", []) if f != manifests.FINALIZER]
    if manifests.FINALIZER in revision["metadata"].get("finalizers", []):
        await worker.kube.patch(
            kube.PACKAGE_REVISIONS,
            worker.namespace,
            name,
            [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": revision["metadata"]["resourceVersion"],
                },
                {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
            ],
        )
    await worker.kube.delete(kube.PACKAGE_REVISIONS, worker.namespace, name, uid=revision["metadata"]["uid"])
    await worker.kube.delete(kube.PACKAGE_REVISION_RESOURCES, worker.namespace, name)
    worker.logger.info("Deleted %s: its revision is no longer in git.", name)


async def write_status(worker: RepositoryWorker, *, requested: bool, head: str | None) -> None:
    """The Repository's status after a successful sync; written only when something differs."""
    now = dt.datetime.now(dt.UTC)
    body = worker.body
    spec, current = body.get("spec", {}), body.get("status", {}) or {}
    generation = body["metadata"].get("generation", 1)
    sync_spec = spec.get("sync", {}) or {}
    status: Body = {
        "observedGeneration": generation,
        "packageCount": len(worker.revisions()),
        "gitCommitHash": head or "",
        "lastFullSyncTime": schedules.format_time(now) if requested else current.get("lastFullSyncTime"),
        "observedRunOnceAt": current.get("observedRunOnceAt"),
    }
    run_once = schedules.parse_time(sync_spec.get("runOnceAt"))
    if requested and run_once is not None and run_once <= now:
        status["observedRunOnceAt"] = sync_spec["runOnceAt"]
    try:
        plan = schedules.plan_next(
            now=now,
            schedule=sync_spec.get("schedule"),
            run_once_at=run_once,
            observed_run_once_at=schedules.parse_time(status.get("observedRunOnceAt")),
            last_full_sync=schedules.parse_time(status.get("lastFullSyncTime")),
            last_check=worker.last_check,
            interval=worker.runtime.settings.sync_interval,
        )
        ready = Condition.true("Ready", "Ready", "Repository Ready")
    except schedules.ScheduleError as exc:
        plan = schedules.Plan(
            worker.last_check + dt.timedelta(seconds=worker.runtime.settings.sync_interval),
            False,
            "periodic check",
        )
        ready = Condition.false("Ready", "InvalidSchedule", str(exc))
    worker.next_sync = plan
    status["nextFullSyncTime"] = schedules.format_time(plan.next_full_sync) if plan.next_full_sync else None
    status["conditions"] = conditions.merge(
        current.get("conditions"),
        [ready, Condition.false("Reconciling", "Synced"), Condition.false("Stalled", "Synced")],
        generation=generation,
    )
    await _write_repository_status(worker, status)


async def report_failure(worker: RepositoryWorker, error: BaseException) -> None:
    outcome = outcomes.classify(error)
    body = worker.body
    generation = body.get("metadata", {}).get("generation", 1)
    current = body.get("status", {}) or {}
    updates = [
        Condition.false("Ready", outcome.reason, outcome.message),
        Condition("Stalled", "True" if outcome.permanent else "False", outcome.reason, outcome.message),
    ]
    status = dict(current)
    status["observedGeneration"] = generation
    status["conditions"] = conditions.merge(current.get("conditions"), updates, generation=generation)
    try:
        await _write_repository_status(worker, status)
    except errors.PorchError as exc:
        worker.logger.warning("Could not report the sync failure on the Repository: %s", exc)


async def _write_repository_status(worker: RepositoryWorker, status: Body) -> None:
    current = worker.body.get("status", {}) or {}
    patch = {k: v for k, v in status.items() if current.get(k) != v}
    if not patch:
        return
    updated = await worker.kube.patch(
        kube.REPOSITORIES, worker.namespace, worker.name, {"status": patch}, subresource="status"
    )
    worker.body = updated
