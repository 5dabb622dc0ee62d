"""Package-creation tasks as pure transforms of package resources.

Each module exposes a frozen `<Name>Task` dataclass with the task's resolved inputs and

    async def apply(working_set: PackageResources, task: <Name>Task) -> PackageResources

`working_set` is what the task starts from (empty when a revision is created; init and clone add to it,
copy and upgrade replace it). The operator
resolves every reference (upstream revisions, git refs, locks) before calling a task; tasks never look
anything up. Render is not part of a task: the caller renders the result.

* `init`    - a new package: Kptfile, README.md, package-context.yaml (optionally as a subpackage);
* `clone`   - a new package from an upstream revision: upstream/upstreamLock, name, package context for
              deployment repositories, merge keys;
* `copy`    - a new revision of the same package: an exact copy;
* `upgrade` - a new revision that moves the local package to a new upstream revision with one of the four
              strategies (resource-merge, fast-forward, force-delete-replace, copy-merge).
"""
