"""Published revisions: publish (approve), propose and undo deletion, delete; the placeholder's deletion; and
creating the registered branch.

Publishing builds the approval commit on the branch head the mirror knows: tree = that head's tree with the
package directory replaced by the proposed revision's package tree, parents = [head, proposed commit],
message "Approving package revision <path>/<N>" with the `kpt:` annotation. One atomic push moves the
branch (expected: that head), creates the tag `<path>/v<N>` (expected: absent) and deletes the proposed
branch (expected: the published commit). N is the highest `v<N>` tag of the package plus one. If anyone moved
the branch, took the tag number or touched the proposed branch, the push fails as a whole, and
`writing.apply` fetches and rebuilds everything, N included, on the fresh refs: the commit always lands on
the branch head that was current, and no number is ever given twice. (Porch fetches before every approval;
we skip that round trip and let the compare-and-swap find out, which is what keeps publishing at the cost
of one push.)
"""

from __future__ import annotations

from porch_operator.errors import Conflict, InvalidSpec, NotFound
from porch_operator.gitstore import discovery, messages, objects, paths, refs, writing
from porch_operator.gitstore.mirrors import RefUpdate
from porch_operator.gitstore.revisions import PackageRevisionInfo, RefKind, Signature

BRANCH_README = "Created by porch"
BRANCH_MESSAGE = "Initial commit: Creating main branch"


async def publish(
    target: writing.Target, *, package: str, workspace: str, author: Signature, expected_commit: str | None
) -> PackageRevisionInfo:
    """Publish the Proposed (or Draft) revision `workspace` of `package` as revision N; return it."""
    path = paths.join(target.directory, paths.validate_package_path(package))
    paths.validate_ref_part(workspace, what="workspace name")
    mirror = target.mirror

    async def build() -> writing.Plan[PackageRevisionInfo]:
        source = refs.proposed_branch(path, workspace)
        if source not in mirror.refs:
            source = refs.draft_branch(path, workspace)
        proposed = mirror.refs.commit_of(source)
        if proposed is None:
            raise NotFound(f"The package {package!r} has no proposed revision {workspace!r} to publish.")
        if expected_commit is not None and expected_commit != proposed:
            raise Conflict(
                f"The revision {package}/{workspace} moved to {proposed}; expected {expected_commit}."
            )
        head = writing.branch_head(target)
        revision = next_revision(mirror.refs, path)
        version = refs.version_of(revision)

        def commit() -> tuple[objects.Commit, str]:
            store = mirror.objects
            entry = store.entry_at(store.commit(proposed).tree, path)
            if entry is None or not entry.is_tree or store.entry_at(entry.sha, "Kptfile") is None:
                raise InvalidSpec(f"The revision {package}/{workspace} has no Kptfile at the package root.")
            root = store.replace(store.commit(head).tree, path, entry.sha)
            message = messages.approval_message(path=path, workspace=workspace, revision=revision)
            new = store.write_commit(
                tree=root,
                parents=[head, proposed],
                author=writing.signature_now(author),
                committer=writing.signature_now(target.committer),
                message=message,
            )
            return new, entry.sha

        new, tree = await mirror.in_thread(commit)
        updates = [
            RefUpdate(refs.branch(target.branch), new.sha, head),
            RefUpdate(refs.tag(path, version), new.sha, None),
            RefUpdate(source, None, mirror.refs[source].sha),
        ]

        async def finish() -> PackageRevisionInfo:
            return await discovery.describe(
                mirror, kind=RefKind.TAG, path=path, name=version, directory=target.directory
            )

        return writing.Plan(
            updates=updates, commits=[new], package_trees={(new.sha, path): tree}, finish=finish
        )

    return await writing.apply(target, build)


def next_revision(table: refs.RefTable, path: str) -> int:
    """The highest revision among the package's tags `<path>/v<N>`, plus one (1 for the first)."""
    prefix = f"{refs.TAGS}{path}/"
    highest = 0
    for name in table.names_with_prefix(prefix):
        version = name[len(prefix) :]
        if "/" not in version:
            highest = max(highest, refs.parse_revision(version))
    return highest + 1


async def set_deletion_proposed(
    target: writing.Target, *, package: str, revision: int, proposed: bool
) -> PackageRevisionInfo:
    """Create (or delete, to undo) the `deletionProposed/<path>/v<N>` branch; idempotent."""
    path, version = _published(target, package, revision)
    mirror = target.mirror

    async def build() -> writing.Plan[PackageRevisionInfo]:
        tag = refs.tag(path, version)
        commit = mirror.refs.commit_of(tag)
        if commit is None:
            raise NotFound(f"The package {package!r} has no published revision {revision}.")
        branch = refs.deletion_proposed_branch(path, version)
        exists = branch in mirror.refs
        updates = []
        if proposed and not exists:
            updates.append(RefUpdate(branch, commit, None))
        elif not proposed and exists:
            updates.append(RefUpdate(branch, None, mirror.refs[branch].sha))

        async def finish() -> PackageRevisionInfo:
            return await discovery.describe(
                mirror, kind=RefKind.TAG, path=path, name=version, directory=target.directory
            )

        return writing.Plan(updates=updates, commits=[], package_trees={}, finish=finish)

    return await writing.apply(target, build)


async def delete_published(target: writing.Target, *, package: str, revision: int) -> None:
    """Delete the tag of a published revision and its deletion proposal; the branch is left alone."""
    path, version = _published(target, package, revision)
    mirror = target.mirror

    async def build() -> writing.Plan[None]:
        tag = refs.tag(path, version)
        if tag not in mirror.refs:
            raise NotFound(f"The package {package!r} has no published revision {revision}.")
        names = [tag, refs.deletion_proposed_branch(path, version)]
        updates = [RefUpdate(name, None, mirror.refs[name].sha) for name in names if name in mirror.refs]
        return writing.Plan(updates=updates, commits=[], package_trees={}, finish=writing.nothing)

    await writing.apply(target, build)


async def delete_placeholder(target: writing.Target, *, package: str, author: Signature) -> None:
    """Remove the package directory from the branch ("Delete <path>") and any deletion proposal of it."""
    path = paths.join(target.directory, paths.validate_package_path(package))
    mirror = target.mirror

    async def build() -> writing.Plan[None]:
        head = writing.branch_head(target)

        def commit() -> objects.Commit | None:
            store = mirror.objects
            root = store.commit(head).tree
            entry = store.entry_at(root, path)
            if entry is None or not entry.is_tree:
                return None
            return store.write_commit(
                tree=store.replace(root, path, None),
                parents=[head],
                author=writing.signature_now(author),
                committer=writing.signature_now(target.committer),
                message=f"Delete {path}",
            )

        new = await mirror.in_thread(commit)
        updates = []
        if new is not None:
            updates.append(RefUpdate(refs.branch(target.branch), new.sha, head))
        proposal = refs.deletion_proposed_branch(path, target.branch)
        if proposal in mirror.refs:
            updates.append(RefUpdate(proposal, None, mirror.refs[proposal].sha))
        if not updates:
            raise NotFound(f"The package {package!r} is not on the branch {target.branch!r}.")
        return writing.Plan(
            updates=updates, commits=[new] if new else [], package_trees={}, finish=writing.nothing
        )

    await writing.apply(target, build)


async def create_branch(target: writing.Target) -> None:
    """Create the registered branch as Porch does: one commit holding README.md "Created by porch"."""
    mirror = target.mirror

    async def build() -> writing.Plan[None]:
        if refs.branch(target.branch) in mirror.refs:
            return writing.Plan(updates=[], commits=[], package_trees={}, finish=writing.nothing)

        def commit() -> objects.Commit:
            store = mirror.objects
            tree = store.build_tree({"README.md": (objects.MODE_FILE, BRANCH_README.encode())})
            who = writing.signature_now(target.committer)
            return store.write_commit(
                tree=tree, parents=[], author=who, committer=who, message=BRANCH_MESSAGE
            )

        new = await mirror.in_thread(commit)
        updates = [RefUpdate(refs.branch(target.branch), new.sha, None)]
        return writing.Plan(updates=updates, commits=[new], package_trees={}, finish=writing.nothing)

    await writing.apply(target, build)


def _published(target: writing.Target, package: str, revision: int) -> tuple[str, str]:
    path = paths.join(target.directory, paths.validate_package_path(package))
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise InvalidSpec(f"The revision {revision!r} is not a published revision number (v1, v2, ...).")
    return path, refs.version_of(revision)
