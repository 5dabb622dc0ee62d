"""The clone task: a new package made from an upstream revision (or a package at a git ref).

The caller resolves the upstream and passes its files and lock (repository URL, directory, ref, commit). The
task:

1. copies every upstream file (subpackages included) over the working set (files it does not produce stay);
2. sets the root Kptfile's `metadata.name` to the new package name and its `upstream` / `upstreamLock` to
   the lock (repository URL normalised to end in `.git`, directory without a leading `/`, as Porch does);
3. for deployment repositories, regenerates package-context.yaml with the package name and path;
4. adds kpt's merge keys to every resource (best effort, as in Porch: files that are not KRM are skipped).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from porch_operator.engine import packagecontext, packagemerge
from porch_operator.engine.kptfile import GitLock, Kptfile
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import InvalidSpec


@dataclass(frozen=True)
class CloneTask:
    """The resolved upstream and where the clone goes.

    `package_path` is what package-context.yaml records for deployment repositories; it defaults to
    `package_name` (Porch uses the parent's path joined with the name when a parent is given).
    """

    upstream: PackageResources
    lock: GitLock
    package_name: str
    deployment: bool = False
    package_path: str = ""


def normalise_lock(lock: GitLock) -> GitLock:
    """Porch's normalisation: repository URL ends with `.git`, directory has no leading `/`."""
    repo = lock.repo if lock.repo.endswith(".git") else lock.repo + ".git"
    return GitLock(repo=repo, directory=lock.directory.lstrip("/"), ref=lock.ref, commit=lock.commit)


def _clone(working_set: PackageResources, task: CloneTask) -> PackageResources:
    if KPTFILE not in task.upstream:
        raise InvalidSpec(f"The upstream of package {task.package_name!r} has no Kptfile at its root.")
    kptfile = Kptfile.parse(task.upstream[KPTFILE], path=KPTFILE)
    kptfile.set_name(task.package_name)
    kptfile.set_upstream(normalise_lock(task.lock))
    files = dict(working_set)
    files.update(task.upstream)
    files[KPTFILE] = kptfile.text()
    cloned = PackageResources(files)
    if task.deployment:
        cloned = packagecontext.regenerate(cloned, package_path=task.package_path or task.package_name)
    return PackageResources(packagemerge.with_merge_keys(cloned))


async def apply(working_set: PackageResources, task: CloneTask) -> PackageResources:
    """The working set with the upstream package cloned into it."""
    return await asyncio.to_thread(_clone, working_set, task)
