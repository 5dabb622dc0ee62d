"""Reading package contents: the files of a revision, and a package at any ref of any git URL.

Contents are returned as a mapping from the path relative to the package root (subpackages included) to the
file's text. Files that are not valid UTF-8 cannot be text; like Porch (whose resources are strings) we leave
them out, and say so in a log line. Writing a draft keeps such files (see `drafts.update`).

For clone-from-git, a ref resolves as in Porch (porch-behaviour §3.3): `<directory>/<ref>` as a tag, then as
a branch, then `<ref>` itself (a full ref name, a tag, or a commit id), then `<ref>` as a branch.
"""

from __future__ import annotations

import logging
import re

from porch_operator.errors import InvalidSpec, NotFound
from porch_operator.gitstore import commands, discovery, refs
from porch_operator.gitstore.mirrors import Mirror

logger = logging.getLogger(__name__)

_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")


def check_commit_id(commit: str) -> str:
    """A full lowercase hexadecimal commit id, or InvalidSpec."""
    if not isinstance(commit, str) or not _COMMIT_ID.match(commit):
        raise InvalidSpec(f"{commit!r} is not a full git commit id (40 hexadecimal digits).")
    return commit


def read_files(mirror: Mirror, commit: str, path: str) -> dict[str, str]:
    """The text files of the package at `path` (from the repository root; "" for the root) in `commit`.

    Blocking: run in a worker thread under the mirror's lock. NotFound when the commit or the directory is
    missing.
    """
    store = mirror.objects
    root = store.commit(commit).tree
    tree = root
    if path:
        entry = store.entry_at(root, path)
        if entry is None or not entry.is_tree:
            raise NotFound(f"There is no package directory {path!r} in commit {commit}.")
        tree = entry.sha
    found: dict[str, str] = {}
    for name, entry in sorted(store.files(tree).items()):
        data = store.read(entry.sha, "blob")
        try:
            found[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            logger.info("Leaving out %s/%s of commit %s: it is not UTF-8 text.", path, name, commit[:12])
    return found


async def resolve(mirror: Mirror, *, ref: str, directory: str) -> str:
    """The commit that `ref` names for a package in `directory`, tried in Porch's order."""
    candidates: list[str] = []
    if directory:
        candidates += [refs.tag(directory, ref), refs.branch(f"{directory}/{ref}")]
    candidates += [ref, refs.TAGS + ref]
    for candidate in candidates:
        commit = mirror.refs.commit_of(candidate)
        if commit is not None:
            return commit
    if _COMMIT_ID.match(ref) and await _has_commit(mirror, ref):
        return ref
    commit = mirror.refs.commit_of(refs.branch(ref))
    if commit is not None:
        return commit
    tried = ", ".join([*candidates, refs.branch(ref)])
    raise NotFound(f"The ref {ref!r} does not exist in {mirror.url} (tried {tried}).")


async def _has_commit(mirror: Mirror, sha: str) -> bool:
    result = await commands.run(["cat-file", "-e", f"{sha}^{{commit}}"], git_dir=mirror.path)
    return result.ok


async def read_package(mirror: Mirror, *, ref: str, directory: str) -> tuple[str, dict[str, str]]:
    """Resolve `ref`, check the package (a Kptfile in `directory`), and read it: (commit, files)."""
    if not isinstance(ref, str) or not ref or ref.startswith("-") or any(c in ref for c in "\x00\n\r "):
        raise InvalidSpec(f"The git ref {ref!r} is not a valid ref name.")
    commit = await resolve(mirror, ref=ref, directory=directory)
    if directory:
        await discovery.ensure_package_trees(mirror, {(commit, directory)})
        has_package = mirror.packages_at.get((commit, directory)) is not None
    else:
        has_package = await mirror.in_thread(lambda: _root_has_kptfile(mirror, commit))
    if not has_package:
        where = f"directory {directory!r}" if directory else "the repository root"
        raise InvalidSpec(f"There is no package (no Kptfile) in {where} at {ref!r} of {mirror.url}.")
    files = await mirror.in_thread(lambda: read_files(mirror, commit, directory))
    return commit, files


def _root_has_kptfile(mirror: Mirror, commit: str) -> bool:
    store = mirror.objects
    entry = store.entry_at(store.commit(commit).tree, "Kptfile")
    return entry is not None and entry.is_file
