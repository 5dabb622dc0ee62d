"""Per-package derived state: the latest-revision labels and the Package summary objects.

After every change of a repository's revisions (a sync, a publish, a deletion) the worker calls `refresh`
for the packages concerned. It computes, from git, which published revision is the latest of each package
(revisions whose objects are being deleted do not count) and patches the `porch.kpt.dev/latest-revision`
label of every PackageRevision whose value differs ("true" on exactly one published revision per package,
"false" on all others); it then creates, updates or deletes the Package objects so that each package in git
has one, with its latest revision and the count of revisions per lifecycle.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from porch_operator import models
from porch_operator.gitstore import PackageRevisionInfo
from porch_operator.handlers import kube, manifests

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import RepositoryWorker

Body = dict[str, Any]


async def refresh(worker: RepositoryWorker, *, packages: set[str] | None) -> None:
    """Bring the labels and Package objects of `packages` (every package when None) in line with git."""
    ns, repo = worker.namespace, worker.name
    selector = f"spec.repository={repo}"
    if packages is not None and len(packages) == 1:
        selector += f",spec.packageName={next(iter(packages))}"
    objects = await worker.kube.list_all(kube.PACKAGE_REVISIONS, ns, field_selector=selector)
    terminating = {o["metadata"]["name"] for o in objects if o["metadata"].get("deletionTimestamp")}
    by_package: dict[str, list[PackageRevisionInfo]] = defaultdict(list)
    for info in worker.revisions():
        if manifests.revision_name(repo, info) not in terminating:
            by_package[info.package].append(info)
    latest = manifests.latest_revisions([i for infos in by_package.values() for i in infos])
    latest_names = {manifests.revision_name(repo, info) for info in latest.values()}
    for revision in objects:
        package = revision["spec"]["packageName"]
        name = revision["metadata"]["name"]
        if (packages is not None and package not in packages) or name in terminating:
            continue
        desired = "true" if name in latest_names else "false"
        if revision["metadata"].get("labels", {}).get(models.LATEST_REVISION_LABEL) != desired:
            await worker.kube.patch(
                kube.PACKAGE_REVISIONS,
                ns,
                name,
                {"metadata": {"labels": {models.LATEST_REVISION_LABEL: desired}}},
            )
    await _refresh_package_objects(worker, by_package, packages)


async def _refresh_package_objects(
    worker: RepositoryWorker, by_package: dict[str, list[PackageRevisionInfo]], packages: set[str] | None
) -> None:
    ns, repo = worker.namespace, worker.name
    existing = {
        p["spec"]["packageName"]: p
        for p in await worker.kube.list_all(
            kube.PACKAGES, ns, label_selector=f"{models.REPOSITORY_LABEL}={repo}"
        )
    }
    wanted = set(by_package) if packages is None else packages
    for package in sorted(wanted | (set(existing) if packages is None else set())):
        infos = by_package.get(package, [])
        current = existing.get(package)
        if not infos:
            if current is not None:
                await worker.kube.delete(kube.PACKAGES, ns, current["metadata"]["name"])
            continue
        if current is None:
            current = await worker.kube.create(
                kube.PACKAGES, ns, manifests.package_object(worker.body, package)
            )
        status = manifests.package_status(repo, package, infos)
        status.setdefault("latestRevisionName", None)  # null in a merge patch removes a stale name
        status["observedGeneration"] = current["metadata"].get("generation", 1)
        if {k: (current.get("status") or {}).get(k) for k in status} != status:
            await worker.kube.patch(
                kube.PACKAGES, ns, current["metadata"]["name"], {"status": status}, subresource="status"
            )
