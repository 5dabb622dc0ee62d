"""Applying a PackageRevision's `spec.source`: resolve what it refers to, check Porch's creation rules, run
the engine task, and merge the requested package metadata into the Kptfile.

The rules checked here need the cluster and git, so the API server cannot check them: the workspace is new
for the package; init and clone create a new package (no package of that path, none nested above or below
it); clone, copy and upgrade read only published revisions that are not branch placeholders; copy stays in the
same package; an upgrade makes a new revision of the package it upgrades. A broken rule is `InvalidSpec`
(permanent until the spec changes); a referenced object or repository that is not there (yet) is `NotFound`
(retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from porch_operator import errors, models
from porch_operator.engine import kptfile as pkgkptfile
from porch_operator.engine import lifecycle
from porch_operator.engine import metadata as pkgmetadata
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import clone, copy, init, upgrade
from porch_operator.gitstore import PackageRevisionInfo, credentials_from_secret
from porch_operator.handlers import kube

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import RepositoryWorker

Body = dict[str, Any]


@dataclass(frozen=True)
class Built:
    """The files of a new revision, the task to record in git, and which kind of source made it."""

    files: PackageResources
    task: dict[str, Any]
    creation_source: models.CreationSource


@dataclass(frozen=True)
class Resolved:
    """A referenced PackageRevision: its object, its revision in git and its files."""

    name: str
    body: Body
    info: PackageRevisionInfo
    files: PackageResources


async def resolve(worker: RepositoryWorker, name: str, *, role: str) -> Resolved:
    """The revision named `name` in the worker's namespace; it must be published and not a placeholder."""
    body = await worker.kube.find(kube.PACKAGE_REVISIONS, worker.namespace, name)
    if body is None:
        raise errors.NotFound(f"The {role} PackageRevision {name!r} does not exist in {worker.namespace}.")
    spec = body["spec"]
    owner = worker.runtime.workers.find(worker.namespace, spec["repository"])
    if owner is None or not owner.objects_synced:
        raise errors.NotFound(
            f"The repository {spec['repository']!r} of the {role} {name!r} is not synced yet."
        )
    info = owner.revision(spec["packageName"], spec["workspaceName"])
    if info is None:
        raise errors.NotFound(f"The {role} {name!r} is not in git (yet).")
    if info.is_placeholder:
        raise errors.InvalidSpec(
            f"The {role} {name!r} is the placeholder of branch {info.workspace!r}; use a published revision."
        )
    if not info.is_published:
        raise errors.InvalidSpec(f"The {role} {name!r} is {info.lifecycle.value}; it must be published.")
    return Resolved(name=name, body=body, info=info, files=PackageResources(await owner.files_of(info)))


def _engine_lock(info: PackageRevisionInfo) -> pkgkptfile.GitLock:
    return pkgkptfile.GitLock(
        repo=info.lock.repo, directory=info.lock.directory, ref=info.lock.ref, commit=info.lock.commit
    )


def check_creation_rules(worker: RepositoryWorker, spec: Body, *, new_package: bool) -> None:
    package, workspace = spec["packageName"], spec["workspaceName"]
    try:
        lifecycle.validate_workspace(workspace)
        lifecycle.validate_package_path(package)
        used = [info.workspace for info in worker.package_revisions(package)]
        lifecycle.check_workspace_unique(workspace, used)
        if new_package:
            packages = {info.package for info in worker.revisions()}
            lifecycle.check_new_package(package, packages, repository=worker.name)
    except errors.Conflict as exc:  # a rule the user must resolve by changing the spec
        raise errors.InvalidSpec(str(exc)) from exc


async def build(worker: RepositoryWorker, revision: Body) -> Built:
    """The files and task of a new revision from its `spec.source` (see the module docstring)."""
    spec = revision["spec"]
    source = models.PackageRevisionSource.model_validate(spec["source"])
    package = spec["packageName"]
    if source.init is not None:
        check_creation_rules(worker, spec, new_package=True)
        init_task = init.InitTask(
            package_name=package.rsplit("/", 1)[-1],
            description=source.init.description or f"{package} description",
            keywords=tuple(source.init.keywords or ()),
            site=source.init.site or "",
            subpackage=source.init.subpackage or "",
        )
        files = await init.apply(PackageResources(), init_task)
        built = Built(files, {"type": "init", "init": source.init.to_wire()}, models.CreationSource.INIT)
    elif source.clone_from is not None:
        check_creation_rules(worker, spec, new_package=True)
        built = await _clone(worker, spec, source.clone_from)
    elif source.copy_from is not None:
        check_creation_rules(worker, spec, new_package=False)
        src = await resolve(worker, source.copy_from.name, role="copy source")
        try:
            lifecycle.check_copy_source(
                source_repository=src.body["spec"]["repository"],
                source_package=src.info.package,
                repository=worker.name,
                package=package,
            )
        except errors.PorchError as exc:
            raise errors.InvalidSpec(str(exc)) from exc
        files = await copy.apply(PackageResources(), copy.CopyTask(source=src.files))
        task = {"type": "edit", "edit": {"sourceRef": {"name": src.name}}}
        built = Built(files, task, models.CreationSource.COPY)
    elif source.upgrade is not None:
        check_creation_rules(worker, spec, new_package=False)
        built = await _upgrade(worker, spec, source.upgrade)
    else:
        raise errors.InvalidSpec("spec.source needs one of init, cloneFrom, copyFrom or upgrade.")
    return Built(with_requested_metadata(built.files, spec), built.task, built.creation_source)


async def _clone(worker: RepositoryWorker, spec: Body, source: models.CloneSource) -> Built:
    package = spec["packageName"]
    if source.upstream_ref is not None:
        upstream = await resolve(worker, source.upstream_ref.name, role="clone upstream")
        upstream_files, lock = upstream.files, _engine_lock(upstream.info)
        task = {"type": "clone", "clone": {"upstreamRef": {"upstreamRef": {"name": upstream.name}}}}
    elif source.git is not None:
        credentials = None
        if source.git.secret_ref is not None:
            secret = await worker.kube.find(kube.SECRETS, worker.namespace, source.git.secret_ref.name)
            if secret is None:
                raise errors.NotFound(
                    f"The Secret {source.git.secret_ref.name!r} of cloneFrom.git does not exist."
                )
            credentials = credentials_from_secret(secret.get("type", "Opaque"), secret.get("data") or {})
        remote = await worker.runtime.store.read_package(
            source.git.repo, ref=source.git.ref, directory=source.git.directory, credentials=credentials
        )
        upstream_files = PackageResources(remote.files)
        lock = pkgkptfile.GitLock(
            repo=remote.lock.repo,
            directory=remote.lock.directory,
            ref=remote.lock.ref,
            commit=remote.lock.commit,
        )
        location = {"repo": source.git.repo, "ref": source.git.ref, "directory": source.git.directory}
        task = {"type": "clone", "clone": {"upstreamRef": {"type": "git", "git": location}}}
    else:
        raise errors.InvalidSpec("spec.source.cloneFrom needs exactly one of git or upstreamRef.")
    deployment = bool(worker.spec.get("deployment", False))
    files = await clone.apply(
        PackageResources(),
        clone.CloneTask(
            upstream=upstream_files,
            lock=lock,
            package_name=package.rsplit("/", 1)[-1],
            deployment=deployment,
            package_path=package,
        ),
    )
    return Built(files, task, models.CreationSource.CLONE)


async def _upgrade(worker: RepositoryWorker, spec: Body, source: models.UpgradeSource) -> Built:
    old = await resolve(worker, source.old_upstream.name, role="old upstream")
    new = await resolve(worker, source.new_upstream.name, role="new upstream")
    current = await resolve(worker, source.current_package.name, role="current package")
    current_spec = current.body["spec"]
    if (current_spec["repository"], current_spec["packageName"]) != (spec["repository"], spec["packageName"]):
        raise errors.InvalidSpec(
            f"An upgrade makes a new revision of the package it upgrades: {current.name!r} is package "
            f"{current_spec['packageName']!r} in {current_spec['repository']!r}, "
            f"not {spec['packageName']!r} in {spec['repository']!r}."
        )
    files = await upgrade.apply(
        PackageResources(),
        upgrade.UpgradeTask(
            old_upstream=old.files,
            new_upstream=new.files,
            local=current.files,
            new_upstream_lock=_engine_lock(new.info),
            strategy=source.strategy,
        ),
    )
    task = {
        "type": "upgrade",
        "upgrade": {
            "oldUpstreamRef": {"name": old.name},
            "newUpstreamRef": {"name": new.name},
            "localPackageRevisionRef": {"name": current.name},
            "strategy": source.strategy.value,
        },
    }
    return Built(files, task, models.CreationSource.UPGRADE)


def with_requested_metadata(files: PackageResources, spec: Body) -> PackageResources:
    """Merge `spec.packageMetadata` into the Kptfile (keys added or overwritten, others kept) and make its
    readiness gates those of `spec.readinessGates` when given, as Porch does on creation."""
    requested = spec.get("packageMetadata") or {}
    gates = spec.get("readinessGates")
    if not requested and gates is None:
        return files
    return pkgmetadata.apply(
        files,
        labels=requested.get("labels"),
        annotations=requested.get("annotations"),
        readiness_gates=[g["conditionType"] for g in gates] if gates is not None else None,
        merge=True,
    )


def referenced_names(spec: Body) -> set[str]:
    """The revisions a revision's source reads from and depends on (clone upstream, upgrade new upstream)."""
    source = spec.get("source") or {}
    names = set()
    upstream = ((source.get("cloneFrom") or {}).get("upstreamRef") or {}).get("name")
    if upstream:
        names.add(upstream)
    new = ((source.get("upgrade") or {}).get("newUpstream") or {}).get("name")
    if new:
        names.add(new)
    return names


def task_references(task: Any) -> set[str]:
    """The same, read from a creation task recorded in git (Porch's task JSON)."""
    if not isinstance(task, dict):
        return set()
    names = set()
    clone_ref = ((task.get("clone") or {}).get("upstreamRef") or {}).get("upstreamRef") or {}
    if clone_ref.get("name"):
        names.add(str(clone_ref["name"]))
    new = (task.get("upgrade") or {}).get("newUpstreamRef") or {}
    if new.get("name"):
        names.add(str(new["name"]))
    return names
