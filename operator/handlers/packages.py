"""Per-package derived state: the latest-revision labels and the Package summary objects.

Which published revision is the latest of a package is computed from git (revisions whose objects are being
deleted do not count); the `porch.kpt.dev/latest-revision` label is "true" on exactly that one and "false"
on the other revisions, and each package in git has a Package object with its latest revision and the count
of revisions per lifecycle.

`refresh` brings every object of the repository (or of some packages) in line, listing them; the sync uses
it. `update` is the cheap form for one package after the operator's own change (a publish, a deletion, a new
draft): the previous latest is read from the Package object, so only the two revisions whose label changes
are touched, and nothing is listed, however many revisions the package has.
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


async def update(worker: RepositoryWorker, package: str, *, leaving: str | None = None) -> None:
    """After the operator's own change to `package`: move the latest label if it moved, and update the
    Package object. `leaving` names a revision being deleted (it no longer counts)."""
    ns, repo = worker.namespace, worker.name
    infos = [
        info for info in worker.package_revisions(package) if manifests.revision_name(repo, info) != leaving
    ]
    latest = manifests.latest_revisions(infos).get(package)
    latest_name = manifests.revision_name(repo, latest) if latest else None
    name = models.package_object_name(repo, package)
    current = await worker.kube.find(kube.PACKAGES, ns, name)
    previous = ((current or {}).get("status") or {}).get("latestRevisionName")
    if previous and previous not in (latest_name, leaving):
        await set_latest(worker, previous, "false")
    if latest_name:
        await set_latest(worker, latest_name, "true")
    await _refresh_package_objects(worker, {package: infos} if infos else {}, {package})


async def set_latest(worker: RepositoryWorker, name: str, value: str) -> None:
    revision = await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, name)
    if revision is None or revision["metadata"].get("deletionTimestamp"):
        return
    if revision["metadata"].get("labels", {}).get(models.LATEST_REVISION_LABEL) != value:
        await worker.kube.patch(
            kube.PACKAGE_REVISIONS,
            worker.namespace,
            name,
            {"metadata": {"labels": {models.LATEST_REVISION_LABEL: value}}},
        )
