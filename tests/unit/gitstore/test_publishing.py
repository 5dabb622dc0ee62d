"""Publishing and the life of published revisions on real remotes; concurrency; kpt reading our output."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from porch_operator.errors import InvalidSpec, NotFound
from porch_operator.gitstore import GitRepository, GitStore, RefKind, Signature
from porch_operator.models import Lifecycle

from .conftest import AUTHOR, Remote, git, package, porch_fixture

RemoteFactory = Callable[..., Awaitable[Remote]]
APPROVER = Signature(name="Ann Approver", email="ann@example.com")
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  key: value\n"


async def proposed(repo: GitRepository, name: str, workspace: str, **files: str) -> str:
    """Create and propose a revision; return its commit."""
    await repo.create_draft(name, workspace, files=package(name, **files), author=AUTHOR)
    return (await repo.propose(name, workspace)).commit


async def test_publish_makes_the_approval_commit_and_the_tag(
    store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    old_head = await remote.commit_of("refs/heads/main")
    commit = await proposed(repo, "app", "ws1", **{"cm.yaml": CM})
    published = await repo.publish("app", "ws1", author=APPROVER)

    refs = await remote.refs()
    assert refs["refs/tags/app/v1"] == published.commit == refs["refs/heads/main"]
    assert "refs/heads/proposed/app/ws1" not in refs
    assert (published.revision, published.workspace, published.lifecycle) == (1, "ws1", Lifecycle.PUBLISHED)
    assert published.ref == "app/v1" and published.ref_kind == RefKind.TAG
    assert published.published_by == "ann@example.com" and published.published_at is not None
    assert published.lock.ref == "app/v1" and published.lock.commit == published.commit
    parents = (await git("rev-list", "--parents", "-n1", published.commit, cwd=remote.path)).split()[1:]
    assert parents == [old_head, commit]
    annotation = {"package": "app", "workspaceName": "ws1", "revision": "1"}
    expected_message = (
        f"Approving package revision app/1\n\nkpt:{json.dumps(annotation, separators=(',', ':'))}\n"
    )
    assert await remote.show(published.commit) == expected_message + "\n"
    assert await repo.read_revision(published) == package("app", **{"cm.yaml": CM})

    revisions = {(r.revision, r.lifecycle) for r in await repo.list_revisions(package="app")}
    assert revisions == {(1, Lifecycle.PUBLISHED), (-1, Lifecycle.PUBLISHED)}
    placeholder = next(r for r in await repo.list_revisions(package="app") if r.is_placeholder)
    assert placeholder.published_by == "ann@example.com" and placeholder.commit == published.commit

    other = await proposed(repo, "other", "ws1")
    await repo.publish("other", "ws1", author=APPROVER)
    await proposed(repo, "app", "ws2", **{"cm.yaml": CM.replace("value", "other")})
    second = await repo.publish("app", "ws2", author=APPROVER)
    assert second.revision == 2 and (await remote.refs())["refs/tags/app/v2"] == second.commit
    # Each placeholder names the publish of its own package, not the branch head.
    heads = {r.package: r.commit for r in await repo.list_revisions() if r.is_placeholder}
    assert heads["app"] == second.commit and heads["other"] not in (second.commit, other)
    assert heads["other"] == (await remote.commit_of("refs/tags/other/v1"))
    assert (await repo.read_revision(second))["cm.yaml"].endswith("key: other\n")


async def test_publish_keeps_other_packages_and_the_directory(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository")
    repo = await store.open(remote.url, directory="catalog/gcp")
    before = set(await remote.tree("refs/heads/main"))
    published = await repo.publish("bucket", "v2", author=APPROVER)
    assert published.revision == 2 and published.path == "catalog/gcp/bucket"
    assert (await remote.refs())["refs/tags/catalog/gcp/bucket/v2"] == published.commit
    after = set(await remote.tree("refs/heads/main"))
    outside = {p for p in before if not p.startswith("catalog/gcp/bucket/")}
    assert outside <= after
    assert "refs/heads/drafts/catalog/gcp/bucket/v2" not in await remote.refs()
    assert {(r.package, r.revision) for r in await repo.list_revisions(package="bucket")} == {
        ("bucket", -1),
        ("bucket", 1),
        ("bucket", 2),
    }


async def test_ten_concurrent_publishes_get_revisions_one_to_ten(
    store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    for n in range(10):
        await proposed(repo, "app", f"ws{n}", **{"n.txt": str(n)})
    results = await asyncio.gather(*(repo.publish("app", f"ws{n}", author=APPROVER) for n in range(10)))
    assert sorted(r.revision for r in results) == list(range(1, 11))
    tags = sorted(name for name in await remote.refs() if name.startswith("refs/tags/app/"))
    assert tags == sorted(f"refs/tags/app/v{n}" for n in range(1, 11))
    # Every tag holds the content of the workspace that got that number.
    for result in results:
        assert (await repo.read_revision(result))["n.txt"] == result.workspace.removeprefix("ws")


async def test_two_processes_publishing_one_package_never_share_a_number(
    tmp_path: Path, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    async with (
        GitStore(tmp_path / "a", push_attempts=20) as a,
        GitStore(tmp_path / "b", push_attempts=20) as b,
    ):
        repo_a, repo_b = await a.open(remote.url), await b.open(remote.url)
        for n in range(4):
            await proposed(repo_a, "app", f"a{n}")
            await proposed(repo_b, "app", f"b{n}")
        jobs = [repo_a.publish("app", f"a{n}", author=APPROVER) for n in range(4)]
        jobs += [repo_b.publish("app", f"b{n}", author=APPROVER) for n in range(4)]
        results = await asyncio.gather(*jobs)
    assert sorted(r.revision for r in results) == list(range(1, 9))
    refs = await remote.refs()
    assert sorted(n for n in refs if n.startswith("refs/tags/app/")) == sorted(
        f"refs/tags/app/v{n}" for n in range(1, 9)
    )
    assert not any(n.startswith("refs/heads/proposed/") for n in refs)
    # The branch history holds all eight approvals, none lost to a concurrent push.
    log = await git("log", "--format=%s", "refs/heads/main", cwd=remote.path)
    assert sorted(line for line in log.splitlines() if line.startswith("Approving")) == sorted(
        f"Approving package revision app/{n}" for n in range(1, 9)
    )


async def test_a_push_racing_an_outside_commit_is_retried(
    tmp_path: Path, store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await proposed(repo, "app", "ws")
    # Someone commits on the branch after our last fetch: our first push must fail and be rebuilt.
    outside = await remote.outside_commit(
        tmp_path / "work", branch="main", files={"docs/README.md": "hello\n"}, message="docs"
    )
    published = await repo.publish("app", "ws", author=APPROVER)
    head = await remote.commit_of("refs/heads/main")
    assert head == published.commit
    ancestry = await git("merge-base", "--is-ancestor", outside, head, cwd=remote.path)
    assert ancestry == ""
    assert {"docs/README.md", "app/Kptfile"} <= set(await remote.tree(head))


async def test_deletion_proposal_and_deletion(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await proposed(repo, "app", "ws1")
    v1 = await repo.publish("app", "ws1", author=APPROVER)
    await proposed(repo, "app", "ws2")
    await repo.publish("app", "ws2", author=APPROVER)

    marked = await repo.propose_deletion("app", 1)
    assert marked.lifecycle == Lifecycle.DELETION_PROPOSED
    assert (await remote.refs())["refs/heads/deletionProposed/app/v1"] == v1.commit
    assert (await repo.propose_deletion("app", 1)).lifecycle == Lifecycle.DELETION_PROPOSED
    lifecycles = {r.revision: r.lifecycle for r in await repo.list_revisions(package="app")}
    assert lifecycles == {-1: Lifecycle.PUBLISHED, 1: Lifecycle.DELETION_PROPOSED, 2: Lifecycle.PUBLISHED}

    restored = await repo.undo_deletion_proposal("app", 1)
    assert restored.lifecycle == Lifecycle.PUBLISHED
    assert "refs/heads/deletionProposed/app/v1" not in await remote.refs()

    await repo.propose_deletion("app", 1)
    branch_tree = await remote.tree("refs/heads/main")
    await repo.delete_published("app", 1)
    refs = await remote.refs()
    assert "refs/tags/app/v1" not in refs and "refs/heads/deletionProposed/app/v1" not in refs
    assert await remote.tree("refs/heads/main") == branch_tree, "deleting a tag leaves the branch alone"
    assert {r.revision for r in await repo.list_revisions(package="app")} == {-1, 2}
    with pytest.raises(NotFound):
        await repo.delete_published("app", 1)
    with pytest.raises(NotFound):
        await repo.propose_deletion("app", 1)


async def test_deleting_the_highest_revision_frees_its_number(
    store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    for workspace in ("ws1", "ws2"):
        await proposed(repo, "app", workspace)
        await repo.publish("app", workspace, author=APPROVER)
    await repo.delete_published("app", 2)
    await proposed(repo, "app", "ws3")
    assert (await repo.publish("app", "ws3", author=APPROVER)).revision == 2


async def test_delete_placeholder_removes_the_directory(
    store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await proposed(repo, "team/app", "ws")
    await proposed(repo, "team/other", "ws")
    await repo.publish("team/app", "ws", author=APPROVER)
    await repo.publish("team/other", "ws", author=APPROVER)
    head = await remote.commit_of("refs/heads/main")
    await repo.delete_placeholder("team/app", author=AUTHOR)
    new_head = await remote.commit_of("refs/heads/main")
    assert (await git("rev-parse", f"{new_head}^", cwd=remote.path)).strip() == head
    assert (await remote.show(new_head)).strip() == "Delete team/app"
    assert not any(path.startswith("team/app/") for path in await remote.tree(new_head))
    assert any(path.startswith("team/other/") for path in await remote.tree(new_head))
    placeholders = {r.package for r in await repo.list_revisions() if r.is_placeholder}
    assert placeholders == {"team/other"}
    # The tag is a separate revision and stays.
    assert "refs/tags/team/app/v1" in await remote.refs()
    with pytest.raises(NotFound):
        await repo.delete_placeholder("team/app", author=AUTHOR)


async def test_bad_revision_numbers_write_nothing(store: GitStore, remote_factory: RemoteFactory) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await proposed(repo, "app", "ws")
    before = await remote.refs()
    for bad in (0, -1, True):
        with pytest.raises(InvalidSpec, match="revision"):
            await repo.propose_deletion("app", bad)
        with pytest.raises(InvalidSpec, match="revision"):
            await repo.delete_published("app", bad)
    with pytest.raises(NotFound):
        await repo.publish("app", "nope", author=APPROVER)
    with pytest.raises(InvalidSpec):
        await repo.publish("../app", "ws", author=APPROVER)
    assert await remote.refs() == before


async def test_kpt_reads_what_we_publish(
    tmp_path: Path, store: GitStore, remote_factory: RemoteFactory
) -> None:
    if shutil.which("kpt") is None:
        pytest.skip("kpt is not installed")
    remote = await remote_factory("catalog")
    repo = await store.open(remote.url, directory="blueprints")
    sub_kptfile = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: sub\n"
    files = {"cm.yaml": CM, "README.md": "# app\n", "sub/Kptfile": sub_kptfile, "sub/cm.yaml": CM}
    await proposed(repo, "app", "ws1", **files)
    published = await repo.publish("app", "ws1", author=APPROVER)
    ours = await repo.read_revision(published)

    out = tmp_path / "fetched"
    process = await asyncio.create_subprocess_exec(
        "kpt",
        "pkg",
        "get",
        f"file://{remote.path}/blueprints/app@blueprints/app/v{published.revision}",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    theirs = await asyncio.to_thread(_read_tree, out)
    assert set(theirs) == set(ours)
    for name, text in ours.items():
        if name == "Kptfile":
            kptfile = yaml.safe_load(theirs[name])
            assert kptfile["upstreamLock"]["git"]["commit"] == published.commit
            assert kptfile["upstreamLock"]["git"]["ref"] == published.ref
            for key in ("upstream", "upstreamLock"):
                kptfile.pop(key)
            kptfile["metadata"].pop("name")
            expected = yaml.safe_load(text)
            expected["metadata"].pop("name")
            assert kptfile == expected
        elif name.endswith(".yaml") or name.endswith("Kptfile"):
            assert _without_kpt_merge_marks(yaml.safe_load(theirs[name])) == yaml.safe_load(text)
        else:
            assert theirs[name] == text


def _read_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def _without_kpt_merge_marks(resource: dict[str, Any]) -> dict[str, Any]:
    """kpt adds an upstream-identifier annotation to each resource it fetches; take it off again."""
    annotations = resource.get("metadata", {}).get("annotations", {})
    annotations.pop("internal.kpt.dev/upstream-identifier", None)
    if "annotations" in resource.get("metadata", {}) and not annotations:
        del resource["metadata"]["annotations"]
    return resource


async def test_tags_that_are_not_vn_are_read_but_not_written(
    store: GitStore, remote_factory: RemoteFactory
) -> None:
    remote = await remote_factory()
    repo = await store.open(remote.url)
    await proposed(repo, "app", "ws")
    v1 = await repo.publish("app", "ws", author=APPROVER)
    await git("tag", "app/v2.0.0", v1.commit, cwd=remote.path)
    await git("tag", "release-1", v1.commit, cwd=remote.path)
    await repo.refresh()
    found = {(r.workspace, r.revision, r.ref_kind) for r in await repo.list_revisions(package="app")}
    # Porch's rule: a version that is not v<N> gives revision -1 with the version as workspace; tags
    # without a slash are release tags, not revisions.
    assert found == {("main", -1, RefKind.BRANCH), ("ws", 1, RefKind.TAG), ("v2.0.0", -1, RefKind.TAG)}
    before = await remote.refs()
    with pytest.raises(InvalidSpec, match="v1, v2"):
        await repo.delete_published("app", -1)
    assert await remote.refs() == before
    # The next number only counts v<N> tags.
    await proposed(repo, "app", "ws2")
    assert (await repo.publish("app", "ws2", author=APPROVER)).revision == 2
