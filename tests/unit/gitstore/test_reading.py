"""Reading a package from any git URL (the `git` source of a clone): Porch's ref resolution, the lock, and
the refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from porch_operator.errors import InvalidSpec, NotFound
from porch_operator.gitstore import GitLock, GitStore

from .conftest import Remote, empty_remote, git


async def commit_files(remote: Remote, work: Path, files: dict[str, str]) -> str:
    """A commit holding exactly `files`, pushed nowhere yet (its objects are sent to the remote)."""
    if not await asyncio.to_thread(work.exists):
        await git("init", "--quiet", str(work))
    await git("checkout", "--quiet", "--orphan", f"scratch-{len(files)}-{abs(hash(str(files)))}", cwd=work)
    await git("rm", "-rf", "--quiet", "--ignore-unmatch", ".", cwd=work)
    for name, text in files.items():
        target = work / name
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(target.write_text, text)
    await git("add", "--all", cwd=work)
    await git("commit", "--quiet", "-m", "files", cwd=work)
    sha = (await git("rev-parse", "HEAD", cwd=work)).strip()
    await git("push", "--quiet", str(remote.path), f"{sha}:refs/heads/scratch/{sha}", cwd=work)
    await git("update-ref", "-d", f"refs/heads/scratch/{sha}", cwd=remote.path)
    return sha


def kptfile(marker: str) -> str:
    return f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {marker}\n"


async def test_refs_resolve_in_porchs_order(tmp_path: Path, store: GitStore) -> None:
    remote = await empty_remote(tmp_path, "upstream")
    work = tmp_path / "work"
    commits = {}
    for marker in ("dir-tag", "dir-branch", "tag", "branch"):
        commits[marker] = await commit_files(remote, work, {"pkgs/app/Kptfile": kptfile(marker)})
    refs = {
        "refs/tags/pkgs/app/v1": "dir-tag",
        "refs/heads/pkgs/app/v1": "dir-branch",
        "refs/tags/v1": "tag",
        "refs/heads/v1": "branch",
    }
    for ref, marker in refs.items():
        await git("update-ref", ref, commits[marker], cwd=remote.path)
    for ref, marker in refs.items():
        read = await store.read_package(remote.url, ref="v1", directory="/pkgs/app/")
        assert read.files == {"Kptfile": kptfile(marker)}
        assert read.lock == GitLock(repo=remote.url, directory="pkgs/app", ref="v1", commit=commits[marker])
        await git("update-ref", "-d", ref, cwd=remote.path)
    with pytest.raises(NotFound, match="'v1'"):
        await store.read_package(remote.url, ref="v1", directory="pkgs/app")


async def test_commit_ids_full_ref_names_and_the_root(tmp_path: Path, store: GitStore) -> None:
    remote = await empty_remote(tmp_path, "upstream")
    sha = await commit_files(remote, tmp_path / "work", {"Kptfile": kptfile("root"), "a/b.yaml": "b: 1\n"})
    await git("update-ref", "refs/heads/release", sha, cwd=remote.path)
    by_id = await store.read_package(remote.url, ref=sha)
    assert by_id.files == {"Kptfile": kptfile("root"), "a/b.yaml": "b: 1\n"}
    assert by_id.lock.commit == sha and by_id.lock.directory == ""
    by_name = await store.read_package(remote.url, ref="refs/heads/release", directory="/")
    assert by_name.lock.commit == sha


async def test_refusals(tmp_path: Path, store: GitStore) -> None:
    remote = await empty_remote(tmp_path, "upstream")
    sha = await commit_files(remote, tmp_path / "work", {"docs/README.md": "no package\n", "Kptfile": "x"})
    await git("update-ref", "refs/tags/docs/v1", sha, cwd=remote.path)
    with pytest.raises(InvalidSpec, match="no Kptfile"):
        await store.read_package(remote.url, ref="v1", directory="docs")
    with pytest.raises(InvalidSpec, match="no Kptfile"):
        await store.read_package(remote.url, ref="docs/v1", directory="elsewhere")
    for bad_directory in ("../up", ".git", "a/../b"):
        with pytest.raises(InvalidSpec):
            await store.read_package(remote.url, ref="v1", directory=bad_directory)
    for bad_ref in ("", "-v1", "v1\nv2", "a b"):
        with pytest.raises(InvalidSpec, match="ref"):
            await store.read_package(remote.url, ref=bad_ref, directory="docs")
