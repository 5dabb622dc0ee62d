"""Pure builders of the objects the operator derives from git: PackageRevision, PackageRevisionResources and
Package bodies, and the parts of their status that come from git.

No I/O: callers pass what they know (the Repository, a discovered revision, its package metadata) and get wire
dicts back, ready for the Kubernetes API. Keeping them pure lets the sync compare desired with actual state
field by field, and write only what differs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from porch_operator import models
from porch_operator.engine import metadata as pkgmetadata
from porch_operator.gitstore import PackageRevisionInfo

Body = dict[str, Any]

FINALIZER = "porch.kpt.dev/packagerevision"
"""On every PackageRevision the operator manages: git is cleaned up before the object goes."""
COMMIT_ANNOTATION = "porch.kpt.dev/commit"
"""On a PackageRevisionResources: the git commit its content was read from or written to."""
CREATED_BY_ANNOTATION = "porch.kpt.dev/created-by"
APPROVED_BY_ANNOTATION = "porch.kpt.dev/approved-by"
"""Stamped by the MutatingAdmissionPolicy with the requesting user; used as commit authors."""

_CREATION_SOURCES = {
    "init": models.CreationSource.INIT,
    "clone": models.CreationSource.CLONE,
    "edit": models.CreationSource.COPY,
    "upgrade": models.CreationSource.UPGRADE,
}


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True) -> Body:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": False,
    }


def revision_name(repository: str, info: PackageRevisionInfo) -> str:
    return models.revision_name(repository, info.package, info.workspace)


def lock_of(info: PackageRevisionInfo) -> Body:
    lock = info.lock
    return models.UpstreamLock(
        type="git",
        git=models.GitLock(repo=lock.repo, directory=lock.directory, ref=lock.ref, commit=lock.commit),
    ).to_wire()


def upstream_lock_of(meta: pkgmetadata.PackageMetadata | None, upstream: Any) -> Body | None:
    """The Kptfile's upstreamLock as a status field (None when the package has no git upstream)."""
    if upstream is None:
        return None
    return models.UpstreamLock(
        type="git",
        git=models.GitLock(
            repo=upstream.repo, directory=upstream.directory, ref=upstream.ref, commit=upstream.commit or None
        ),
    ).to_wire()


def package_conditions(meta: pkgmetadata.PackageMetadata | None) -> list[Body] | None:
    if meta is None or not meta.conditions:
        return None
    return [
        models.PackageCondition(
            type=c.type, status=c.status, reason=c.reason or None, message=c.message or None
        ).to_wire()
        for c in meta.conditions
    ]


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def git_status(
    info: PackageRevisionInfo,
    *,
    repository: Mapping[str, Any],
    meta: pkgmetadata.PackageMetadata | None,
    upstream: Any,
) -> Body:
    """The status fields of a PackageRevision that git determines (conditions are the caller's)."""
    status: Body = {
        "revision": info.revision,
        "selfLock": lock_of(info),
        "deployment": bool(repository.get("spec", {}).get("deployment", False)),
    }
    optional = {
        "upstreamLock": upstream_lock_of(meta, upstream),
        "publishedBy": info.published_by,
        "publishedAt": _time(info.published_at),
        "packageConditions": package_conditions(meta),
    }
    status.update({key: value for key, value in optional.items() if value is not None})
    return status


def creation_source(info: PackageRevisionInfo) -> str | None:
    task_type = (info.task or {}).get("type")
    source = _CREATION_SOURCES.get(str(task_type)) if task_type else None
    return source.value if source else None


def discovered_revision(
    repository: Mapping[str, Any],
    info: PackageRevisionInfo,
    *,
    meta: pkgmetadata.PackageMetadata | None,
    latest: bool,
) -> Body:
    """The PackageRevision object for a revision found in git (no `spec.source`: it was not made here)."""
    name = repository["metadata"]["name"]
    spec: Body = {
        "packageName": info.package,
        "repository": name,
        "workspaceName": info.workspace,
        "lifecycle": info.lifecycle.value,
    }
    if meta is not None and meta.readiness_gates:
        spec["readinessGates"] = [{"conditionType": gate} for gate in meta.readiness_gates]
    return {
        "apiVersion": models.PackageRevision.crd.api_version,
        "kind": models.PackageRevision.crd.kind,
        "metadata": {
            "name": revision_name(name, info),
            "namespace": repository["metadata"]["namespace"],
            "labels": {
                models.REPOSITORY_LABEL: name,
                models.LATEST_REVISION_LABEL: "true" if latest else "false",
            },
            "ownerReferences": [owner_reference(repository)],
            "finalizers": [FINALIZER],
        },
        "spec": spec,
    }


def resources_object(
    revision: Mapping[str, Any],
    *,
    files: Mapping[str, str] | None,
    lifecycle: models.Lifecycle,
    commit: str,
) -> Body:
    """The PackageRevisionResources of `revision` holding `files` (None: too large to hold, left empty)."""
    spec = revision["spec"]
    return {
        "apiVersion": models.PackageRevisionResources.crd.api_version,
        "kind": models.PackageRevisionResources.crd.kind,
        "metadata": {
            "name": revision["metadata"]["name"],
            "namespace": revision["metadata"]["namespace"],
            "labels": {
                models.REPOSITORY_LABEL: spec["repository"],
                models.LIFECYCLE_LABEL: lifecycle.value,
            },
            "annotations": {COMMIT_ANNOTATION: commit},
            "ownerReferences": [owner_reference(revision)],
        },
        "spec": {
            "packageName": spec["packageName"],
            "repository": spec["repository"],
            "workspaceName": spec["workspaceName"],
            "resources": dict(files or {}),
        },
    }


def too_large(files: Mapping[str, str]) -> bool:
    return sum(len(text) for text in files.values()) > models.MAX_RESOURCES_CHARS


def package_object(repository: Mapping[str, Any], package: str) -> Body:
    """The Package summary object of `package` (its status is computed by `package_status`)."""
    name = repository["metadata"]["name"]
    return {
        "apiVersion": models.Package.crd.api_version,
        "kind": models.Package.crd.kind,
        "metadata": {
            "name": models.package_object_name(name, package),
            "namespace": repository["metadata"]["namespace"],
            "labels": {models.REPOSITORY_LABEL: name},
            "ownerReferences": [owner_reference(repository)],
        },
        "spec": {"repository": name, "packageName": package},
    }


def package_status(repository: str, package: str, revisions: list[PackageRevisionInfo]) -> Body:
    """Latest published revision and counts per lifecycle of one package (placeholder not counted)."""
    counts = {lifecycle: 0 for lifecycle in models.Lifecycle}
    latest: PackageRevisionInfo | None = None
    for info in revisions:
        if info.is_placeholder:
            continue
        counts[info.lifecycle] += 1
        if info.is_published and info.revision > 0 and (latest is None or info.revision > latest.revision):
            latest = info
    status = models.PackageStatus(
        latest_revision=latest.revision if latest else 0,
        latest_revision_name=revision_name(repository, latest) if latest else None,
        revision_counts=models.LifecycleCounts(
            draft=counts[models.Lifecycle.DRAFT],
            proposed=counts[models.Lifecycle.PROPOSED],
            published=counts[models.Lifecycle.PUBLISHED],
            deletion_proposed=counts[models.Lifecycle.DELETION_PROPOSED],
        ),
    )
    return status.to_wire()


def latest_revisions(revisions: list[PackageRevisionInfo]) -> dict[str, PackageRevisionInfo]:
    """package → its latest published revision (highest number; placeholders and non-vN tags never)."""
    latest: dict[str, PackageRevisionInfo] = {}
    for info in revisions:
        if info.is_published and info.revision > 0:
            current = latest.get(info.package)
            if current is None or info.revision > current.revision:
                latest[info.package] = info
    return latest
