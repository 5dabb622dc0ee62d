"""Drafts and proposed revisions: the commits and refs they make on a real remote, and the refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from porch_operator.errors import Conflict, InvalidSpec, NotFound
from porch_operator.gitstore import PORCH_COMMITTER, GitStore, RefKind
from porch_operator.models import Lifecycle

from .conftest import AUTHOR, Remote, git, package

INIT = {"type": "init", "init": {"description": "test package"}}
RemoteFactory = Callable[..., Awaitable[Remote]]


async def test_create_draft_commits_on_a_draft_branch(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    head = await remote.commit_of("refs/heads/main")
    repo = await store.open(remote.url)
    files = package("app", **{"cm.yaml": "kind: ConfigMap\n", "sub/Kptfile": "kind: Kptfile\n"})
    draft = await repo.create_draft("apps/app", "ws1", files=files, author=AUTHOR, task=INIT)

    refs = await remote.refs()
    assert refs["refs/heads/drafts/apps/app/ws1"] == draft.commit
    assert (draft.package, draft.workspace, draft.revision) == ("apps/app", "ws1", 0)
    assert draft.lifecycle == Lifecycle.DRAFT and draft.ref_kind == RefKind.DRAFT
    assert draft.ref == "drafts/apps/app/ws1" and draft.task == INIT
    assert draft.lock.directory == "apps/app" and draft.lock.commit == draft.commit

    parents = (await git("rev-list", "--parents", "-n1", draft.commit, cwd=remote.path)).split()
    assert parents == [draft.commit, head]
    assert sorted(await remote.tree(draft.commit)) == [
        "apps/app/Kptfile",
        "apps/app/cm.yaml",
        "apps/app/sub/Kptfile",
    ]
    message = await remote.show(draft.commit)
    annotation = {"package": "apps/app", "workspaceName": "ws1", "revision": "0", "task": INIT}
    assert (
        message == f"Creating new empty revision\n\n\nkpt:{json.dumps(annotation, separators=(',', ':'))}\n\n"
    )
    who = await git("log", "-1", "--format=%an <%ae>|%cn <%ce>", draft.commit, cwd=remote.path)
    assert who.strip() == f"Jane Author <jane@example.com>|{PORCH_COMMITTER.name} <{PORCH_COMMITTER.email}>"
    assert await repo.read_files("apps/app", commit=draft.commit) == files


async def test_a_taken_workspace_is_a_conflict(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await repo.create_draft("app", "ws1", files=package("app"), author=AUTHOR)
    before = await remote.refs()
    with pytest.raises(Conflict, match="ws1"):
        await repo.create_draft("app", "ws1", files=package("app"), author=AUTHOR)
    await repo.propose("app", "ws1")
    with pytest.raises(Conflict):
        await repo.create_draft("app", "ws1", files=package("app"), author=AUTHOR)
    assert set(await remote.refs()) == set(before) - {"refs/heads/drafts/app/ws1"} | {
        "refs/heads/proposed/app/ws1"
    }


async def test_another_process_taking_the_workspace_is_a_conflict(
    tmp_path: Path, store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    async with GitStore(tmp_path / "other-cache") as other_store:
        other = await other_store.open(remote.url)
        theirs = await other.create_draft("app", "ws1", files=package("app"), author=AUTHOR)
    # Our mirror has not seen their branch: the push is refused, and after a fetch we see the conflict.
    with pytest.raises(Conflict):
        await repo.create_draft("app", "ws1", files=package("app", x="mine"), author=AUTHOR)
    assert (await remote.refs())["refs/heads/drafts/app/ws1"] == theirs.commit


async def test_update_replaces_the_package_directory(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    first = await repo.create_draft("app", "ws", files=package("app", **{"a.yaml": "a: 1\n"}), author=AUTHOR)
    render = {"type": "render"}
    new_files = package("app", **{"b.yaml": "b: 2\n"})
    second = await repo.update_draft(
        "app", "ws", files=new_files, author=AUTHOR, expected_commit=first.commit, task=render
    )
    assert second.commit != first.commit
    assert (await remote.refs())["refs/heads/drafts/app/ws"] == second.commit
    assert await repo.read_files("app", commit=second.commit) == new_files
    assert (await git("rev-parse", f"{second.commit}^", cwd=remote.path)).strip() == first.commit
    assert (await remote.show(second.commit)).startswith("Rendering package\n\n\nkpt:")
    # The creation task survives later commits.
    assert second.task is None and first.task is None

    same = await repo.update_draft("app", "ws", files=new_files, author=AUTHOR, expected_commit=second.commit)
    assert same.commit == second.commit, "identical content makes no commit"


async def test_update_with_a_stale_expected_commit_is_a_conflict(
    tmp_path: Path, store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    draft = await repo.create_draft("app", "ws", files=package("app"), author=AUTHOR, task=INIT)
    # Someone else moves the draft branch after our last look.
    outside = await remote.outside_commit(
        tmp_path / "work", branch="drafts/app/ws", files={"app/extra.yaml": "x: 1\n"}, message="edit"
    )
    with pytest.raises(Conflict, match=outside):
        await repo.update_draft(
            "app", "ws", files=package("app", y="2"), author=AUTHOR, expected_commit=draft.commit
        )
    assert (await remote.refs())["refs/heads/drafts/app/ws"] == outside
    with pytest.raises(Conflict):
        await repo.update_draft(
            "app", "ws", files=package("app"), author=AUTHOR, expected_commit=draft.commit
        )


async def test_update_keeps_binary_files_and_executable_bits(
    tmp_path: Path, store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await repo.create_draft("app", "ws", files=package("app", **{"run.sh": "echo\n"}), author=AUTHOR)
    work = tmp_path / "work"
    await remote.outside_commit(
        work, branch="drafts/app/ws", files={"app/logo.png": "placeholder"}, message="x"
    )
    await _write_bytes(work / "app" / "logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe")
    await git("update-index", "--chmod=+x", "app/run.sh", cwd=work)
    await git("add", "app/logo.png", cwd=work)
    await git("commit", "--quiet", "-m", "binary", cwd=work)
    await git("push", "--quiet", "origin", "HEAD:refs/heads/drafts/app/ws", cwd=work)
    await repo.refresh()
    draft = next(r for r in await repo.list_revisions() if r.workspace == "ws")

    files = await repo.read_revision(draft)
    assert "logo.png" not in files, "non-UTF-8 files are left out of the text view"
    files["run.sh"] = "echo changed\n"
    updated = await repo.update_draft("app", "ws", files=files, author=AUTHOR, expected_commit=draft.commit)
    listing = await git("ls-tree", "-r", f"{updated.commit}:app", cwd=remote.path)
    modes = {line.split("\t")[1]: line.split()[0] for line in listing.splitlines()}
    assert modes == {"Kptfile": "100644", "logo.png": "100644", "run.sh": "100755"}
    blob = await git("cat-file", "-p", f"{updated.commit}:app/logo.png", cwd=remote.path)
    assert blob.encode("utf-8", "surrogateescape") == b"\x89PNG\r\n\x1a\n\xff\xfe"


async def _write_bytes(path: Path, data: bytes) -> None:
    await asyncio.to_thread(path.write_bytes, data)


async def test_propose_reject_and_delete(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    draft = await repo.create_draft("app", "ws", files=package("app"), author=AUTHOR)
    proposed = await repo.propose("app", "ws", expected_commit=draft.commit)
    assert proposed.lifecycle == Lifecycle.PROPOSED and proposed.commit == draft.commit
    refs = await remote.refs()
    assert "refs/heads/drafts/app/ws" not in refs and refs["refs/heads/proposed/app/ws"] == draft.commit
    assert (await repo.propose("app", "ws")).lifecycle == Lifecycle.PROPOSED, "proposing twice is a no-op"
    with pytest.raises(Conflict, match="Proposed"):
        await repo.update_draft("app", "ws", files=package("app"), author=AUTHOR)

    rejected = await repo.reject("app", "ws")
    assert rejected.lifecycle == Lifecycle.DRAFT
    refs = await remote.refs()
    assert "refs/heads/proposed/app/ws" not in refs and refs["refs/heads/drafts/app/ws"] == draft.commit

    await repo.delete_draft("app", "ws")
    assert not any("app/ws" in name for name in await remote.refs())
    assert [r for r in await repo.list_revisions() if r.package == "app"] == []
    with pytest.raises(NotFound):
        await repo.delete_draft("app", "ws")
    with pytest.raises(NotFound):
        await repo.propose("app", "ws")


@pytest.mark.parametrize(
    "case",
    [
        ("../escape", "ws", package("x"), "not normalised"),
        ("/abs/path", "ws", package("x"), "absolute"),
        (".git/hooks", "ws", package("x"), ".git"),
        ("a/.git", "ws", package("x"), ".git"),
        ("nul\x00byte", "ws", package("x"), "NUL"),
        ("app", "Not_A_Label", package("x"), "DNS-1123"),
        ("app", "ws/sub", package("x"), "DNS-1123"),
        ("app", "ws", {"README.md": "no kptfile\n"}, "Kptfile"),
        ("app", "ws", package("x", **{"../outside.yaml": "x"}), "not normalised"),
        ("app", "ws", package("x", **{"/etc/passwd": "x"}), "absolute"),
        ("app", "ws", package("x", **{".git/config": "x"}), ".git"),
        ("app", "ws", package("x", **{"a\x00b": "x"}), "NUL"),
        ("app", "ws", package("x", **{"a": "x", "a/b": "y"}), "also used as a directory"),
        ("app", "ws", package("x", **{"a//b": "x"}), "not normalised"),
        ("app", "ws", {"Kptfile": b"bytes"}, "not text"),
    ],
)
async def test_bad_input_writes_nothing(
    store: GitStore, remote_factory: RemoteFactory, case: tuple[str, str, dict[str, Any], str]
) -> None:
    package_name, workspace, files, complaint = case
    remote = await remote_factory()
    repo = await store.open(remote.url)
    before = await remote.refs()
    with pytest.raises(InvalidSpec, match=complaint):
        await repo.create_draft(package_name, workspace, files=files, author=AUTHOR)
    assert await remote.refs() == before


async def test_bad_task_and_commit_ids_are_refused(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    before = await remote.refs()
    with pytest.raises(InvalidSpec, match="task"):
        await repo.create_draft("app", "ws", files=package("app"), author=AUTHOR, task={"init": {}})
    with pytest.raises(InvalidSpec, match="JSON"):
        await repo.create_draft(
            "app", "ws", files=package("app"), author=AUTHOR, task={"type": "x", "v": {1, 2}}
        )
    with pytest.raises(InvalidSpec, match="commit id"):
        await repo.read_files("app", commit="main")
    assert await remote.refs() == before


async def test_missing_branch_is_invalid(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory(with_branch="main")
    with pytest.raises(InvalidSpec, match="'release'"):
        await store.open(remote.url, branch="release")
    with pytest.raises(InvalidSpec, match="branch name"):
        await store.open(remote.url, branch="bad..name")
    repo = await store.open(remote.url, branch="release", create_branch=True)
    assert (await remote.refs()).keys() == {"refs/heads/main", "refs/heads/release"}
    assert await repo.branch_head() == await remote.commit_of("refs/heads/release")
