"""The upgrade task: move a local package to a new upstream revision.

Inputs are resolved files: the old upstream (the common ancestor the local package was cloned from), the new
upstream, the local revision, and the new upstream's lock. Strategies
(`porch_operator.models.UpgradeStrategy`):

* `resource-merge` (default): kpt's three-way merge, see `packagemerge.resource_merge`;
* `fast-forward`: like force-delete-replace, but refused with `Conflict` when the local package has changes of
  its own (Kptfile upstream, upstreamLock and status are ignored); clears the Kptfile's render status;
* `force-delete-replace`: everything from the new upstream, except the local root Kptfile;
* `copy-merge`: Kptfile merged, every upstream file copied over, files removed upstream removed locally,
  purely local files kept.

Afterwards the root Kptfile's `upstream` and `upstreamLock` point at the new upstream (its name stays) and
merge keys are added.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from porch_operator.engine import packagemerge
from porch_operator.engine.kptfile import GitLock, Kptfile
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.engine.tasks.clone import normalise_lock
from porch_operator.errors import InvalidSpec
from porch_operator.models import UpgradeStrategy


@dataclass(frozen=True)
class UpgradeTask:
    """The three packages of an upgrade, the new upstream's lock and the strategy."""

    old_upstream: PackageResources
    new_upstream: PackageResources
    local: PackageResources
    new_upstream_lock: GitLock
    strategy: UpgradeStrategy = UpgradeStrategy.RESOURCE_MERGE


def _merged(task: UpgradeTask) -> dict[str, str]:
    local, old, new = task.local, task.old_upstream, task.new_upstream
    if task.strategy == UpgradeStrategy.FAST_FORWARD:
        return packagemerge.fast_forward(local, old, new)
    if task.strategy == UpgradeStrategy.FORCE_DELETE_REPLACE:
        return packagemerge.force_delete_replace(local, new)
    if task.strategy == UpgradeStrategy.COPY_MERGE:
        return packagemerge.copy_merge(local, old, new)
    return packagemerge.resource_merge(local, old, new)


def _upgrade(task: UpgradeTask) -> PackageResources:
    for role, package in (("local", task.local), ("new upstream", task.new_upstream)):
        if KPTFILE not in package:
            raise InvalidSpec(f"The {role} package of the upgrade has no Kptfile at its root.")
    files = _merged(task)
    kptfile = Kptfile.parse(files[KPTFILE], path=KPTFILE)
    kptfile.set_upstream(normalise_lock(task.new_upstream_lock))
    files[KPTFILE] = kptfile.text()
    return PackageResources(files)


async def apply(working_set: PackageResources, task: UpgradeTask) -> PackageResources:
    """The upgraded package; the working set is replaced by the result."""
    del working_set  # an upgrade starts from the local revision in the task
    return await asyncio.to_thread(_upgrade, task)
