"""Package discovery: every package revision of a Repository (branch + directory), read from a mirror's refs
exactly as Porch's git cache reads them (porch-behaviour §4.5).

1. Registered branch: below `directory`, a directory holding a file named `Kptfile` is a package and is not
   descended into (nested Kptfiles are subpackages); other directories are searched. Each package yields
   the placeholder: revision -1, workspace = the branch name, Published (DeletionProposed when
   `deletionProposed/<path>/<branch>` exists); author = the newest branch commit annotated for it; commit =
   the newest first-parent commit of the branch that changed the package (Porch: the branch head; see
   `history.PackageOrigins`).
2. Tags `<path>/<version>` (tags without a slash are release tags and ignored) whose path is inside the
   directory and holds a Kptfile in the tagged commit: revision = the version parsed as Porch does
   (`v3` → 3, else -1); workspace = the tagged commit's annotation for the package, else `v<N>` (or the
   version itself for -1); DeletionProposed when `deletionProposed/<path>/v<N>` exists.
3. Branches `drafts/<path>/<ws>` and `proposed/<path>/<ws>` (split at the last slash) whose path is inside
   the directory and holds a Kptfile: revision 0, Draft or Proposed.

Where Porch fails a whole listing (a draft branch without a workspace part) we skip that ref and log it.
Everything derived from immutable objects is cached on the mirror, so a repeated discovery only looks at
refs that are new.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from porch_operator.errors import StoreError
from porch_operator.gitstore import commands, history, objects, paths, refs
from porch_operator.gitstore.mirrors import Mirror
from porch_operator.gitstore.revisions import GitLock, PackageRevisionInfo, RefKind
from porch_operator.models import Lifecycle

logger = logging.getLogger(__name__)

_MEMO_LIMIT = 200_000


async def discover(mirror: Mirror, *, branch: str, directory: str) -> list[PackageRevisionInfo]:
    """Every package revision in the Repository (branch, directory) of the mirror, sorted."""
    table = mirror.refs
    await mirror.index.update(mirror.path, {e.commit for e in table.values() if e.commit})
    candidates = list(_candidates(table, directory))
    await ensure_package_trees(mirror, {(commit, path) for _, path, _, commit in candidates})
    found = [
        info
        for kind, path, name, commit in candidates
        if (info := _describe(mirror, kind=kind, path=path, name=name, commit=commit, directory=directory))
    ]
    head = table.commit_of(refs.branch(branch))
    if head is not None:
        found.extend(await _placeholders(mirror, head=head, branch=branch, directory=directory))
    return sorted(found, key=lambda i: (i.package, i.revision, i.workspace, i.ref_kind))


def _candidates(table: refs.RefTable, directory: str) -> Iterable[tuple[RefKind, str, str, str]]:
    """(kind, package path, workspace or version, commit) of every tag and draft/proposed branch."""
    prefixes = (
        (refs.HEADS + refs.DRAFTS_PREFIX, RefKind.DRAFT),
        (refs.HEADS + refs.PROPOSED_PREFIX, RefKind.PROPOSED),
        (refs.TAGS, RefKind.TAG),
    )
    for entry in table.values():
        for prefix, kind in prefixes:
            if not entry.name.startswith(prefix):
                continue
            split = refs.split_last(entry.name[len(prefix) :])
            if split is None:
                if kind != RefKind.TAG:
                    logger.info("Ignoring the branch %s: it names no workspace.", refs.short(entry.name))
                break
            path, name = split
            if entry.commit is None or not paths.in_directory(path, directory) or path == directory:
                break
            yield kind, path, name, entry.commit
            break


async def ensure_package_trees(mirror: Mirror, pairs: set[tuple[str, str]]) -> None:
    """Learn, in one `cat-file --batch-check`, which (commit, path) pairs hold a package (a Kptfile)."""
    missing = sorted(pair for pair in pairs if pair not in mirror.packages_at)
    if not missing:
        return
    stdin = "".join(f"{commit}:{path}\n{commit}:{path}/Kptfile\n" for commit, path in missing)
    result = await commands.run(["cat-file", "--batch-check"], git_dir=mirror.path, stdin=stdin.encode())
    if not result.ok:
        raise StoreError(f"Could not read package trees in the mirror {mirror.path}: {result.stderr_text()}")
    lines = result.stdout.decode("utf-8", errors="replace").splitlines()
    if len(lines) != 2 * len(missing):
        raise StoreError(f"git cat-file answered {len(lines)} lines for {2 * len(missing)} questions.")
    if len(mirror.packages_at) > _MEMO_LIMIT:
        mirror.packages_at.clear()
    for index, pair in enumerate(missing):
        tree_line, kptfile_line = lines[2 * index].split(), lines[2 * index + 1].split()
        is_tree = len(tree_line) == 3 and tree_line[1] == "tree"
        has_kptfile = len(kptfile_line) == 3 and kptfile_line[1] == "blob"
        mirror.packages_at[pair] = tree_line[0] if is_tree and has_kptfile else None


def _describe(
    mirror: Mirror, *, kind: RefKind, path: str, name: str, commit: str, directory: str
) -> PackageRevisionInfo | None:
    tree = mirror.packages_at.get((commit, path))
    if tree is None:
        logger.debug("Skipping %s %s/%s: no Kptfile at %s in %s.", kind, path, name, path, commit[:12])
        return None
    meta = mirror.index.get(commit)
    if kind == RefKind.TAG:
        revision = refs.parse_revision(name)
        workspace = name if revision == -1 else (_tagged_workspace(meta, path) or refs.version_of(revision))
        dp_version = name if revision == -1 else refs.version_of(revision)
        deletion_proposed = refs.deletion_proposed_branch(path, dp_version) in mirror.refs
        lifecycle = Lifecycle.DELETION_PROPOSED if deletion_proposed else Lifecycle.PUBLISHED
        ref = f"{path}/{name}"
    else:
        revision, workspace = 0, name
        lifecycle = Lifecycle.DRAFT if kind == RefKind.DRAFT else Lifecycle.PROPOSED
        prefix = refs.DRAFTS_PREFIX if kind == RefKind.DRAFT else refs.PROPOSED_PREFIX
        ref = f"{prefix}{path}/{name}"
    return PackageRevisionInfo(
        package=paths.relative_to(path, directory),
        path=path,
        workspace=workspace,
        revision=revision,
        lifecycle=lifecycle,
        ref_kind=kind,
        ref=ref,
        commit=commit,
        tree=tree,
        author=meta.author if meta else None,
        committer=meta.committer if meta else None,
        task=mirror.index.creation_task(path, workspace),
        lock=GitLock(repo=mirror.url, directory=path, ref=ref, commit=commit),
    )


def _tagged_workspace(meta: history.CommitMeta | None, path: str) -> str:
    """The workspace the tagged commit's annotation gives the package ("" when it gives none)."""
    for annotation in meta.annotations if meta else ():
        if annotation.package == path and annotation.workspace:
            return annotation.workspace
    return ""


async def _placeholders(
    mirror: Mirror, *, head: str, branch: str, directory: str
) -> list[PackageRevisionInfo]:
    found = await mirror.in_thread(lambda: branch_packages(mirror, head, directory))
    authors = mirror.index.newest_annotated(head, (path for path, _ in found))
    origins = await mirror.origins.of(
        mirror.path, mirror.index, branch=branch, head=head, paths=[path for path, _ in found]
    )
    deletion_proposed = {
        path for path, _ in found if refs.deletion_proposed_branch(path, branch) in mirror.refs
    }
    result = []
    for path, tree in found:
        meta = authors.get(path)
        result.append(
            PackageRevisionInfo(
                package=paths.relative_to(path, directory),
                path=path,
                workspace=branch,
                revision=-1,
                lifecycle=Lifecycle.DELETION_PROPOSED if path in deletion_proposed else Lifecycle.PUBLISHED,
                ref_kind=RefKind.BRANCH,
                ref=branch,
                commit=origins[path],
                tree=tree,
                author=meta.author if meta else None,
                committer=meta.committer if meta else None,
                task=mirror.index.creation_task(path, branch),
                lock=GitLock(repo=mirror.url, directory=path, ref=branch, commit=origins[path]),
            )
        )
    return result


def branch_packages(mirror: Mirror, commit: str, directory: str) -> list[tuple[str, str]]:
    """(path from the repository root, package tree) of every package below `directory` in `commit`.

    Blocking (reads trees through GitPython); run it in a worker thread under the mirror's lock.
    """
    store = mirror.objects
    root = store.commit(commit).tree
    start = root
    if directory:
        entry = store.entry_at(root, directory)
        if entry is None or not entry.is_tree:
            return []
        start = entry.sha
    prefix = f"{directory}/" if directory else ""
    # A Kptfile right in `directory` would make the whole directory one package with an empty name; Porch
    # cannot name such a package either, so it yields nothing.
    return [(prefix + rel, tree) for rel, tree in _packages_below(mirror, store, start) if rel]


def _packages_below(mirror: Mirror, store: objects.ObjectStore, tree: str) -> tuple[tuple[str, str], ...]:
    known = mirror.packages_below.get(tree)
    if known is not None:
        return known
    entries = store.tree(tree)
    if any(entry.name == "Kptfile" and entry.is_file for entry in entries):
        found: tuple[tuple[str, str], ...] = (("", tree),)
    else:
        collected = []
        for entry in entries:
            if entry.is_tree:
                for rel, sub in _packages_below(mirror, store, entry.sha):
                    collected.append((f"{entry.name}/{rel}" if rel else entry.name, sub))
        found = tuple(collected)
    if len(mirror.packages_below) > _MEMO_LIMIT:
        mirror.packages_below.clear()
    mirror.packages_below[tree] = found
    return found


async def describe(
    mirror: Mirror, *, kind: RefKind, path: str, name: str, directory: str
) -> PackageRevisionInfo:
    """The revision on one tag or draft/proposed branch (after a write, without a full discovery)."""
    if kind == RefKind.TAG:
        ref = refs.tag(path, name)
    elif kind == RefKind.DRAFT:
        ref = refs.draft_branch(path, name)
    else:
        ref = refs.proposed_branch(path, name)
    commit = mirror.refs.commit_of(ref)
    if commit is None:
        raise StoreError(f"The ref {refs.short(ref)} is not in the mirror of {mirror.url}.")
    if commit not in mirror.index:
        await mirror.index.update(mirror.path, {e.commit for e in mirror.refs.values() if e.commit})
    await ensure_package_trees(mirror, {(commit, path)})
    info = _describe(mirror, kind=kind, path=path, name=name, commit=commit, directory=directory)
    if info is None:
        raise StoreError(f"The ref {refs.short(ref)} holds no package at {path}.")
    return info
