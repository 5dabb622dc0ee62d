"""Unpublished revisions: create and update drafts, propose and reject them, delete them.

A draft lives on `drafts/<path>/<ws>`, a proposed revision on `proposed/<path>/<ws>` (only one of the two at
a time). A new draft's commit has the registered branch's head as parent and that head's tree with the
package directory replaced by the package's files; later content changes are commits on top of the draft.
Every commit message carries Porch's human line and the `kpt:` annotation with the real task.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from porch_operator.errors import Conflict, NotFound
from porch_operator.gitstore import discovery, messages, objects, paths, refs, writing
from porch_operator.gitstore.mirrors import RefUpdate
from porch_operator.gitstore.revisions import PackageRevisionInfo, RefKind, Signature


async def create(
    target: writing.Target,
    *,
    package: str,
    workspace: str,
    files: Mapping[str, str],
    task: Mapping[str, Any] | None,
    author: Signature,
) -> PackageRevisionInfo:
    """Commit a new draft on `drafts/<path>/<ws>` (Conflict if that revision exists already)."""
    path = paths.join(target.directory, paths.validate_package_path(package))
    paths.validate_workspace(workspace)
    encoded = writing.package_files(files)
    task = writing.checked_task(task)
    mirror = target.mirror

    async def build() -> writing.Plan[PackageRevisionInfo]:
        draft, proposed = refs.draft_branch(path, workspace), refs.proposed_branch(path, workspace)
        if draft in mirror.refs or proposed in mirror.refs:
            raise Conflict(f"The package {package!r} already has a revision with workspace {workspace!r}.")
        head = writing.branch_head(target)

        def commit() -> tuple[objects.Commit, str]:
            store = mirror.objects
            tree = store.build_tree({name: (objects.MODE_FILE, data) for name, data in encoded.items()})
            root = store.replace(store.commit(head).tree, path, tree)
            message = messages.draft_message(path=path, workspace=workspace, task=task)
            return _write_commit(target, root, [head], author, message), tree

        new, tree = await mirror.in_thread(commit)
        return writing.Plan(
            updates=[RefUpdate(draft, new.sha, None)],
            commits=[new],
            package_trees={(new.sha, path): tree},
            finish=functools.partial(_describe, target, RefKind.DRAFT, path, workspace),
        )

    return await writing.apply(target, build)


async def update(
    target: writing.Target,
    *,
    package: str,
    workspace: str,
    files: Mapping[str, str],
    expected_commit: str | None,
    task: Mapping[str, Any] | None,
    author: Signature,
) -> PackageRevisionInfo:
    """Replace the draft's package directory with `files` in a new commit on the draft branch.

    Conflict when the draft is not at `expected_commit` (another writer got there first) or is Proposed.
    Files of the old package that are not UTF-8 text (and so were never shown to the caller) are kept, as
    are executable bits of files that stay. Identical content makes no commit.
    """
    path = paths.join(target.directory, paths.validate_package_path(package))
    paths.validate_ref_part(workspace, what="workspace name")
    encoded = writing.package_files(files)
    task = writing.checked_task(task)
    mirror = target.mirror

    async def build() -> writing.Plan[PackageRevisionInfo]:
        draft = refs.draft_branch(path, workspace)
        current = mirror.refs.commit_of(draft)
        if current is None:
            if refs.proposed_branch(path, workspace) in mirror.refs:
                raise Conflict(f"The revision {package}/{workspace} is Proposed; only Drafts can be edited.")
            raise NotFound(f"The package {package!r} has no draft with workspace {workspace!r}.")
        _check_expected(current, expected_commit, f"{package}/{workspace}")

        def commit() -> tuple[objects.Commit | None, str]:
            store = mirror.objects
            old = store.commit(current)
            old_entry = store.entry_at(old.tree, path)
            old_files = store.files(old_entry.sha) if old_entry and old_entry.is_tree else {}
            tree = store.build_tree(_merge_files(store, encoded, old_files))
            if old_entry is not None and tree == old_entry.sha:
                return None, tree
            root = store.replace(old.tree, path, tree)
            message = messages.draft_message(path=path, workspace=workspace, task=task)
            return _write_commit(target, root, [current], author, message), tree

        new, tree = await mirror.in_thread(commit)
        finish = functools.partial(_describe, target, RefKind.DRAFT, path, workspace)
        if new is None:
            return writing.Plan(updates=[], commits=[], package_trees={}, finish=finish)
        return writing.Plan(
            updates=[RefUpdate(draft, new.sha, current)],
            commits=[new],
            package_trees={(new.sha, path): tree},
            finish=finish,
        )

    return await writing.apply(target, build)


async def move(
    target: writing.Target, *, package: str, workspace: str, to_proposed: bool, expected_commit: str | None
) -> PackageRevisionInfo:
    """Propose (drafts/ → proposed/) or reject (proposed/ → drafts/) a revision; idempotent."""
    path = paths.join(target.directory, paths.validate_package_path(package))
    paths.validate_ref_part(workspace, what="workspace name")
    draft, proposed = refs.draft_branch(path, workspace), refs.proposed_branch(path, workspace)
    source, destination = (draft, proposed) if to_proposed else (proposed, draft)
    kind = RefKind.PROPOSED if to_proposed else RefKind.DRAFT
    mirror = target.mirror

    async def build() -> writing.Plan[PackageRevisionInfo]:
        finish = functools.partial(_describe, target, kind, path, workspace)
        current = mirror.refs.commit_of(source)
        if current is None:
            if destination in mirror.refs:
                return writing.Plan(updates=[], commits=[], package_trees={}, finish=finish)
            raise NotFound(f"The package {package!r} has no unpublished revision {workspace!r}.")
        _check_expected(current, expected_commit, f"{package}/{workspace}")
        if destination in mirror.refs:
            raise Conflict(f"Both {refs.short(draft)} and {refs.short(proposed)} exist; resolve that first.")
        updates = [RefUpdate(destination, current, None), RefUpdate(source, None, mirror.refs[source].sha)]
        return writing.Plan(updates=updates, commits=[], package_trees={}, finish=finish)

    return await writing.apply(target, build)


async def delete(target: writing.Target, *, package: str, workspace: str) -> None:
    """Delete a Draft or Proposed revision (its branch); NotFound when there is none."""
    path = paths.join(target.directory, paths.validate_package_path(package))
    paths.validate_ref_part(workspace, what="workspace name")
    mirror = target.mirror

    async def build() -> writing.Plan[None]:
        names = [refs.draft_branch(path, workspace), refs.proposed_branch(path, workspace)]
        updates = [RefUpdate(name, None, mirror.refs[name].sha) for name in names if name in mirror.refs]
        if not updates:
            raise NotFound(f"The package {package!r} has no unpublished revision {workspace!r}.")
        return writing.Plan(updates=updates, commits=[], package_trees={}, finish=writing.nothing)

    await writing.apply(target, build)


def _check_expected(current: str, expected: str | None, what: str) -> None:
    if expected is not None and expected != current:
        raise Conflict(f"The revision {what} is at commit {current}, not at the expected {expected}.")


def _write_commit(
    target: writing.Target, tree: str, parents: list[str], author: Signature, message: str
) -> objects.Commit:
    return target.mirror.objects.write_commit(
        tree=tree,
        parents=parents,
        author=writing.signature_now(author),
        committer=writing.signature_now(target.committer),
        message=message,
    )


def _merge_files(
    store: objects.ObjectStore, new: Mapping[str, bytes], old: Mapping[str, objects.TreeEntry]
) -> dict[str, tuple[str, bytes | str]]:
    merged: dict[str, tuple[str, bytes | str]] = {}
    for name, data in new.items():
        previous = old.get(name)
        keep_mode = previous is not None and previous.mode in (objects.MODE_EXECUTABLE, objects.MODE_SYMLINK)
        if keep_mode and previous is not None and previous.mode == objects.MODE_SYMLINK:
            keep_mode = store.read(previous.sha, "blob") == data
        merged[name] = (previous.mode if keep_mode and previous else objects.MODE_FILE, data)
    for name, entry in old.items():
        if name not in merged and not _is_text(store.read(entry.sha, "blob")):
            merged[name] = (entry.mode, entry.sha)
    paths.validate_file_set(merged)
    return merged


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _describe(target: writing.Target, kind: RefKind, path: str, workspace: str) -> PackageRevisionInfo:
    return await discovery.describe(
        target.mirror, kind=kind, path=path, name=workspace, directory=target.directory
    )
