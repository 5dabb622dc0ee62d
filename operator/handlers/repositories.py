"""The repository worker: everything the operator does for one Repository, one item at a time.

A kopf daemon per Repository runs `RepositoryWorker.run()`. It first syncs (fetch, discover, make the objects
match git), then takes work from its queue: PackageRevisions and PackageRevisionResources of this repository
(enqueued by watch events) and further syncs (on spec changes, `runOnceAt`, the cron schedule, and a periodic
check). Because one worker does all the git writes and object updates of its repository in order, discovery,
lifecycle changes and renders never race each other there; repositories proceed in parallel, and a slow or
broken repository delays only itself.

The worker also holds what the reconcilers share: the open git handle, the latest discovery of the
repository (`revision()`), a small cache of package files by commit, and the Repository object itself.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from porch_operator import errors, metrics, models
from porch_operator.engine import kptfile as pkgkptfile
from porch_operator.engine import metadata as pkgmetadata
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.gitstore import GitRepository, PackageRevisionInfo, Signature, credentials_from_secret
from porch_operator.handlers import contents, kube, outcomes, revisions, schedules, syncing
from porch_operator.handlers.runtime import Runtime
from porch_operator.handlers.workqueue import (
    PACKAGE_REVISION,
    PACKAGE_REVISION_RESOURCES,
    SYNC,
    Key,
    WorkQueue,
)

Body = dict[str, Any]
FULL_SYNC = Key(SYNC, "full")
CHECK = Key(SYNC, "check")
_FILES_CACHE_ENTRIES = 256
_POLL = 1.0  # seconds between checks of the daemon's stop flag while idle


class PackageFacts:
    """What the operator reads from a revision's root Kptfile: metadata and the upstream lock."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.meta: pkgmetadata.PackageMetadata | None = None
        self.upstream_lock: pkgkptfile.GitLock | None = None
        self.error: str = ""
        try:
            package = PackageResources(files)
            self.meta = pkgmetadata.read(package)
            self.upstream_lock = pkgkptfile.Kptfile.parse(package[KPTFILE]).upstream_lock
        except errors.PorchError as exc:
            self.error = str(exc)


class RepositoryWorker:
    """See the module docstring."""

    def __init__(self, runtime: Runtime, namespace: str, name: str) -> None:
        self.runtime = runtime
        self.namespace = namespace
        self.name = name
        self.queue = WorkQueue()
        self.body: Body = {}
        self.git: GitRepository | None = None
        self.logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = logging.getLogger(__name__)
        self._revisions: dict[tuple[str, str], PackageRevisionInfo] = {}
        self._files: collections.OrderedDict[tuple[str, str], dict[str, str]] = collections.OrderedDict()
        self.objects_synced = False
        self.last_check = dt.datetime.now(dt.UTC)
        self.next_sync: schedules.Plan | None = None

    # --- what the reconcilers share ----------------------------------------------------------------------
    @property
    def kube(self) -> kube.KubeClient:
        return self.runtime.kube

    @property
    def spec(self) -> Mapping[str, Any]:
        spec: Mapping[str, Any] = self.body.get("spec", {})
        return spec

    @property
    def branch(self) -> str:
        return str(self.spec.get("git", {}).get("branch", "main"))

    def revisions(self) -> list[PackageRevisionInfo]:
        return list(self._revisions.values())

    def revision(self, package: str, workspace: str) -> PackageRevisionInfo | None:
        return self._revisions.get((package, workspace))

    def package_revisions(self, package: str) -> list[PackageRevisionInfo]:
        return [info for (pkg, _), info in self._revisions.items() if pkg == package]

    async def rediscover(self) -> None:
        """Re-read the revisions from the local mirror (after our own writes, which update it)."""
        assert self.git is not None
        self._revisions = {(i.package, i.workspace): i for i in await self.git.list_revisions()}

    def record(self, info: PackageRevisionInfo) -> None:
        """Our own write changed one revision: take the gitstore's answer instead of rediscovering
        everything (the branch placeholder, which a publish moves, is rediscovered where it matters)."""
        self._revisions[(info.package, info.workspace)] = info

    def forget(self, package: str, workspace: str) -> None:
        self._revisions.pop((package, workspace), None)

    async def refresh_summary(self) -> None:
        """Keep the Repository's packageCount and gitCommitHash current after the operator's own writes."""
        assert self.git is not None
        await syncing.write_status(self, requested=False, head=await self.git.branch_head())

    async def files_of(self, info: PackageRevisionInfo) -> dict[str, str]:
        """The files of a revision (cached by commit and path: published content never changes)."""
        assert self.git is not None
        key = (info.commit, info.path)
        cached = self._files.get(key)
        if cached is not None:
            self._files.move_to_end(key)
            return cached
        files = await self.git.read_revision(info)
        self._files[key] = files
        if len(self._files) > _FILES_CACHE_ENTRIES:
            self._files.popitem(last=False)
        return files

    def author(self, annotations: Mapping[str, str] | None = None) -> Signature:
        """Who a commit is by: the Repository's git author, else the requesting user, else the operator."""
        git = self.spec.get("git", {})
        name, email = git.get("author"), git.get("email")
        if name or email:
            return Signature(name or email, email or name)
        for key in (
            "porch.kpt.dev/approved-by",
            "porch.kpt.dev/created-by",
        ):
            user = (annotations or {}).get(key)
            if user:
                return Signature(user, user)
        settings = self.runtime.settings
        return Signature(settings.committer_name, settings.committer_email)

    def enqueue(self, key: Key, body: Body | None = None, *, delay: float = 0.0) -> None:
        self.queue.enqueue(key, body, delay=delay)

    def enqueue_revision(self, name: str) -> None:
        self.queue.enqueue(Key(PACKAGE_REVISION, name))
        self.queue.enqueue(Key(PACKAGE_REVISION_RESOURCES, name))

    # --- git handle ----------------------------------------------------------------------------------------
    async def credentials(self) -> object:
        ref = self.spec.get("git", {}).get("secretRef", {}) or {}
        if not ref.get("name"):
            return None
        secret = await self.kube.find(kube.SECRETS, self.namespace, ref["name"])
        if secret is None:
            raise errors.NotFound(
                f"The Secret {ref['name']!r} named by spec.git.secretRef does not exist in {self.namespace}."
            )
        return credentials_from_secret(secret.get("type", "Opaque"), secret.get("data") or {})

    async def open_git(self) -> GitRepository:
        if self.spec.get("type", "git") != "git" or not self.spec.get("git"):
            raise errors.InvalidSpec("Only git repositories are supported (spec.type: git with spec.git).")
        credentials = await self.credentials()
        if self.git is not None:
            self.git.update_credentials(credentials)  # type: ignore[arg-type]
            return self.git
        git = self.spec["git"]
        self.git = await self.runtime.store.open(
            git["repo"],
            branch=git.get("branch", "main"),
            directory=git.get("directory", ""),
            credentials=credentials,  # type: ignore[arg-type]
            create_branch=bool(git.get("createBranch", False)),
            logger=self.logger,
        )
        return self.git

    async def close(self) -> None:
        if self.git is not None:
            await self.git.close()
            self.git = None

    # --- the loop ------------------------------------------------------------------------------------------
    async def run(self, body: Mapping[str, Any], stopped: Any, logger: Any) -> None:
        """The daemon: sync first, then serve the queue until kopf stops the daemon."""
        self.logger = logger
        self.body = dict(body)
        logger.info("Serving Repository %s/%s: its first sync is queued.", self.namespace, self.name)
        # The first sync after a start compares every object with git but is not a requested one: an
        # operator restart alone changes nothing, not even lastFullSyncTime.
        self.enqueue(CHECK)
        handlers = {
            SYNC: syncing.handle,
            PACKAGE_REVISION: revisions.handle,
            PACKAGE_REVISION_RESOURCES: contents.handle,
        }
        try:
            while not stopped:
                self._take_newer(body)
                if self.body.get("metadata", {}).get("deletionTimestamp"):
                    return
                self._schedule_due_sync()
                item = await self.queue.get(timeout=_POLL)
                if item is None:
                    continue
                if item.key.kind != SYNC and not self.objects_synced:
                    # Nothing can be reconciled against git before the first sync has seen it.
                    self.enqueue(item.key, item.body, delay=_POLL)
                    continue
                await self._process(handlers[item.key.kind], item.key, item.body)
        finally:
            await self.close()

    def _take_newer(self, live: Mapping[str, Any]) -> None:
        """Use kopf's live body unless the copy from our own last write is newer (the watch lags behind)."""

        def version(body: Mapping[str, Any]) -> int:
            value = str(body.get("metadata", {}).get("resourceVersion", "0"))
            return int(value) if value.isdigit() else 0

        if version(live) >= version(self.body):
            self.body = dict(live)

    def _schedule_due_sync(self) -> None:
        plan = self.next_sync
        if plan is not None and plan.at <= dt.datetime.now(dt.UTC):
            self.next_sync = None
            self.enqueue(FULL_SYNC if plan.requested else CHECK)

    async def _process(self, handler: Any, key: Key, body: Body | None) -> None:
        started = time.monotonic()
        try:
            await handler(self, key, body)
        except Exception as exc:  # every failure is reported on its object; the worker carries on
            outcome = outcomes.classify(exc)
            if outcome.expected:
                self.logger.warning("%s %s failed: %s", key.kind, key.name or self.name, outcome.message)
            else:
                self.logger.exception("%s %s failed unexpectedly.", key.kind, key.name or self.name)
            metrics.RECONCILES.labels(kind=key.kind, result="error").inc()
            if not outcome.permanent:
                self.queue.retry(key, body)
            return
        finally:
            metrics.RECONCILE_SECONDS.labels(kind=key.kind).observe(time.monotonic() - started)
        metrics.RECONCILES.labels(kind=key.kind, result="ok").inc()
        self.queue.succeeded(key)


class WorkerRegistry:
    """The workers by (namespace, Repository name); created on first use, removed with their Repository."""

    def __init__(self, factory: Callable[[str, str], RepositoryWorker]) -> None:
        self._factory = factory
        self._workers: dict[tuple[str, str], RepositoryWorker] = {}

    def get(self, namespace: str, name: str) -> RepositoryWorker:
        key = (namespace, name)
        worker = self._workers.get(key)
        if worker is None:
            worker = self._workers[key] = self._factory(namespace, name)
        return worker

    def find(self, namespace: str, name: str) -> RepositoryWorker | None:
        return self._workers.get((namespace, name))

    def remove(self, namespace: str, name: str) -> None:
        self._workers.pop((namespace, name), None)

    def __iter__(self) -> Iterator[RepositoryWorker]:
        return iter(list(self._workers.values()))


class RevisionsCollector:
    """Prometheus gauges computed at scrape time from every worker's view of git (never stale)."""

    def __init__(self, workers: WorkerRegistry) -> None:
        self._workers = workers

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        revisions = GaugeMetricFamily(
            "porch_package_revisions",
            "Package revisions in git, by lifecycle (placeholders not counted).",
            labels=["lifecycle"],
        )
        counts = dict.fromkeys(models.Lifecycle, 0)
        workers = list(self._workers)
        for worker in workers:
            for info in worker.revisions():
                if not info.is_placeholder:
                    counts[info.lifecycle] += 1
        for lifecycle, count in counts.items():
            revisions.add_metric([lifecycle.value], count)
        yield revisions
        yield GaugeMetricFamily(
            "porch_repositories", "Repositories the operator works on.", value=len(workers)
        )
        pending = GaugeMetricFamily(
            "porch_work_queue_depth", "Items waiting in the repository workers' queues."
        )
        pending.add_metric([], sum(len(worker.queue) for worker in workers))
        yield pending
