"""Discovery of repositories written by Porch: every revision exactly as Porch's git cache lists it.

The expected tables restate Porch's own expectations for these archives (its git adapter tests), with the
same repository directories and branches, plus the fields Porch derives from history (publishedBy/At,
workspace names from annotations, creation tasks).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from porch_operator.errors import InvalidSpec
from porch_operator.gitstore import GitStore, PackageRevisionInfo, RefKind
from porch_operator.models import Lifecycle

from .conftest import git, porch_fixture

P, D = Lifecycle.PUBLISHED, Lifecycle.DRAFT


def table(revisions: list[PackageRevisionInfo]) -> set[tuple[str, str, int, Lifecycle, str]]:
    return {(r.package, r.workspace, r.revision, r.lifecycle, r.ref) for r in revisions}


@pytest.mark.parametrize("branch", ["main", "nested/release"])
async def test_simple_repository(tmp_path: Path, store: GitStore, branch: str) -> None:
    remote = await porch_fixture(tmp_path, "simple-repository", branch=branch)
    repo = await store.open(remote.url, branch=branch)
    assert table(await repo.list_revisions()) == {
        ("basens", "v1", 1, P, "basens/v1"),
        ("basens", "v2", 2, P, "basens/v2"),
        ("empty", "v1", 1, P, "empty/v1"),
        ("istions", "v1", 1, P, "istions/v1"),
        ("istions", "v2", 2, P, "istions/v2"),
        ("basens", branch, -1, P, branch),
        ("empty", branch, -1, P, branch),
        ("istions", branch, -1, P, branch),
    }


async def test_drafts_repository(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "drafts-repository")
    repo = await store.open(remote.url)
    revisions = await repo.list_revisions()
    assert table(revisions) == {
        ("basens", "v1", 1, P, "basens/v1"),
        ("basens", "v2", 2, P, "basens/v2"),
        ("empty", "v1", 1, P, "empty/v1"),
        ("istions", "v1", 1, P, "istions/v1"),
        ("istions", "v2", 2, P, "istions/v2"),
        ("bucket", "v1", 0, D, "drafts/bucket/v1"),
        ("none", "v1", 0, D, "drafts/none/v1"),
        ("pkg-with-history", "v1", 0, D, "drafts/pkg-with-history/v1"),
        ("basens", "main", -1, P, "main"),
        ("empty", "main", -1, P, "main"),
        ("istions", "main", -1, P, "main"),
    }
    history = next(r for r in revisions if r.package == "pkg-with-history")
    # Old Porch wrote the workspace into `revision`; the init task is still found.
    assert history.task == {"type": "init", "init": {"description": "sample description"}}
    assert history.ref_kind == RefKind.DRAFT and history.published_by is None
    drafts = {r.package: r for r in revisions if r.lifecycle == D}
    assert drafts["bucket"].commit == await remote.commit_of("refs/heads/drafts/bucket/v1")
    assert drafts["bucket"].lock.ref == "drafts/bucket/v1"
    assert drafts["bucket"].lock.directory == "bucket"
    assert drafts["bucket"].lock.repo == remote.url


@pytest.mark.parametrize("branch", ["main", "feature"])
async def test_nested_repository_at_the_root(tmp_path: Path, store: GitStore, branch: str) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository", branch=branch)
    repo = await store.open(remote.url, branch=branch)
    revisions = await repo.list_revisions()
    expected = {
        ("catalog/empty", "v1", 1, P, "catalog/empty/v1"),
        ("catalog/gcp/bucket", "v1", 1, P, "catalog/gcp/bucket/v1"),
        ("catalog/gcp/bucket", "v2", 0, D, "drafts/catalog/gcp/bucket/v2"),
        ("catalog/gcp/cloud-sql", "v1", 0, D, "drafts/catalog/gcp/cloud-sql/v1"),
        ("catalog/gcp/spanner", "v1", 0, D, "drafts/catalog/gcp/spanner/v1"),
        ("sample", "v1", 1, P, "sample/v1"),
        ("sample", "v2", 2, P, "sample/v2"),
    }
    for name in ("basens", "istions"):
        expected |= {
            (f"catalog/namespace/{name}", f"v{n}", n, P, f"catalog/namespace/{name}/v{n}") for n in (1, 2, 3)
        }
    placeholders = (
        "catalog/empty",
        "catalog/gcp/bucket",
        "catalog/namespace/basens",
        "catalog/namespace/istions",
    )
    expected |= {(name, branch, -1, P, branch) for name in (*placeholders, "sample")}
    assert table(revisions) == expected


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("", {("sample", "v1"), ("sample", "v2"), ("sample", "main")}),
        ("nonexistent", set()),
        (
            "catalog/gcp",
            {("cloud-sql", "v1"), ("spanner", "v1"), ("bucket", "v2"), ("bucket", "v1"), ("bucket", "main")},
        ),
        (
            "/catalog/gcp/",
            {("cloud-sql", "v1"), ("spanner", "v1"), ("bucket", "v2"), ("bucket", "v1"), ("bucket", "main")},
        ),
    ],
)
async def test_nested_repository_with_a_directory(
    tmp_path: Path, store: GitStore, directory: str, expected: set[tuple[str, str]]
) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository")
    repo = await store.open(remote.url, directory=directory)
    found = {(r.package, r.workspace) for r in await repo.list_revisions()}
    if directory == "":
        found = {item for item in found if item[0] == "sample"}
    assert found == expected
    for revision in await repo.list_revisions():
        # The lock names the path in the repository; the package name is relative to the directory.
        assert revision.lock.directory == revision.path
        assert revision.path == "/".join(filter(None, (directory.strip("/"), revision.package)))


async def test_invalid_annotation_and_branches_named_like_tags(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository-with-invalid-kpt-annotation")
    repo = await store.open(remote.url, directory="blueprint")
    revisions = await repo.list_revisions()
    by_package: dict[str, set[int]] = {}
    for revision in revisions:
        by_package.setdefault(revision.package, set()).add(revision.revision)
    # The plain branches `blueprint/bp1/v1` and `blueprint/bp2/v1` are not revisions; bp10 is outside.
    assert by_package == {"bp1": {-1, 1, 2, 3}, "bp2": {-1, 1, 2}}
    workspaces = {(r.package, r.revision): r.workspace for r in revisions}
    # v3's workspace comes from its annotation; v2's annotation is not JSON, so it falls back to `v2`.
    assert workspaces[("bp1", 3)] == "v3" and workspaces[("bp1", 2)] == "v2"
    tasks = {(r.package, r.revision): (r.task or {}).get("type") for r in revisions}
    assert tasks[("bp1", 1)] == "init" and tasks[("bp2", 2)] == "edit" and tasks[("bp1", 2)] is None

    other = await store.open(remote.url, directory="blueprint2")
    assert {(r.package, r.revision) for r in await other.list_revisions()} == {("bp10", -1), ("bp10", 1)}


async def test_manually_tagged_package(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "manual-tagged-repository")
    repo = await store.open(remote.url)
    revisions = await repo.list_revisions()
    assert {(r.package, r.revision) for r in revisions} == {("pkg", -1), ("pkg", 1), ("pkg", 2)}
    v2 = next(r for r in revisions if r.revision == 2)
    # pkg/v2 is an annotated tag: the revision is the commit it points to.
    assert v2.commit == await remote.commit_of("refs/tags/pkg/v2")
    assert v2.commit != (await remote.refs())["refs/tags/pkg/v2"]


async def test_who_published_and_when(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "publishinfo-repository")
    repo = await store.open(remote.url)
    found = {(r.package, r.revision): r for r in await repo.list_revisions()}
    when = datetime.datetime(2022, 8, 26, 22, 47, 35, tzinfo=datetime.UTC)
    assert found[("draft-pkg", 0)].published_by is None and found[("draft-pkg", 0)].published_at is None
    assert found[("pkg-with-anno", 1)].published_by == "pkg-with-anno-author@example.com"
    assert found[("pkg-with-anno", 1)].published_at == when
    # On the branch, the newest commit annotated for the package says who published it.
    assert found[("pkg-with-anno", -1)].published_by == "pkg-with-anno-author@example.com"
    assert found[("pkg-with-anno", -1)].published_at == when
    assert found[("pkg-without-anno", -1)].published_by is None
    assert found[("pkg-without-anno", -1)].published_at is None
    assert set(found) == {
        ("draft-pkg", 0),
        ("pkg-with-anno", -1),
        ("pkg-with-anno", 1),
        ("pkg-without-anno", -1),
        ("pkg-without-anno", 1),
        ("some-pkg", -1),
    }


async def test_test_blueprints_catalogue(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "test-blueprints")
    repo = await store.open(remote.url)
    published = {(r.package, r.revision) for r in await repo.list_revisions() if r.revision > 0}
    assert published == {
        ("basens", 1),
        ("basens", 2),
        ("basens", 3),
        ("basens", 4),
        ("bucket", 1),
        ("empty", 1),
        ("redis-bucket", 1),
        ("unready", 1),
        ("update", 1),
        ("update", 2),
    }


async def test_trivial_and_empty_repositories(tmp_path: Path, store: GitStore) -> None:
    trivial = await porch_fixture(tmp_path, "trivial-repository")
    assert await (await store.open(trivial.url)).list_revisions() == []
    empty = await porch_fixture(tmp_path, "empty-repository")
    with pytest.raises(InvalidSpec, match="branch 'main' does not exist"):
        await store.open(empty.url)
    assert await empty.refs() == {}
    repo = await store.open(empty.url, create_branch=True)
    assert await repo.list_revisions() == []
    head = await empty.commit_of("refs/heads/main")
    assert await empty.tree(head) == ["README.md"]
    assert (await empty.show(head)).strip() == "Initial commit: Creating main branch"


async def test_files_of_a_revision_include_subpackages(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository")
    repo = await store.open(remote.url, directory="catalog")
    bucket = next(r for r in await repo.list_revisions() if r.package == "gcp/bucket" and r.revision == 1)
    files = await repo.read_revision(bucket)
    listed = await remote.tree(f"{bucket.commit}:catalog/gcp/bucket")
    assert sorted(files) == sorted(listed)
    assert "Kptfile" in files
    assert files == await repo.read_files("gcp/bucket", commit=bucket.commit)


async def test_unchanged_repository_is_rediscovered_from_the_cache(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "drafts-repository")
    repo = await store.open(remote.url)
    first = await repo.list_revisions()
    version = repo.version
    assert await repo.refresh() is False
    assert repo.version == version
    again = await repo.list_revisions()
    assert again == first
    # The cached objects are reused, not recomputed.
    assert all(a is b for a, b in zip(first, again, strict=True))
    await remote.outside_commit(
        tmp_path / "work", branch="main", files={"newpkg/Kptfile": "kind: Kptfile\n"}, message="Hello"
    )
    await git("tag", "newpkg/v3", "main", cwd=remote.path)
    assert await repo.refresh() is True
    assert repo.version != version
    assert ("newpkg", 3) in {(r.package, r.revision) for r in await repo.list_revisions()}


async def test_deleted_refs_are_pruned(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "drafts-repository")
    repo = await store.open(remote.url)
    assert ("bucket", 0) in {(r.package, r.revision) for r in await repo.list_revisions()}
    await git("update-ref", "-d", "refs/heads/drafts/bucket/v1", cwd=remote.path)
    await git("tag", "-d", "basens/v1", cwd=remote.path)
    assert await repo.refresh() is True
    remaining = {(r.package, r.revision) for r in await repo.list_revisions()}
    assert ("bucket", 0) not in remaining and ("basens", 1) not in remaining and ("basens", 2) in remaining


def placeholders(revisions: list[PackageRevisionInfo]) -> dict[str, str]:
    return {r.package: r.commit for r in revisions if r.is_placeholder}


async def test_a_placeholder_reports_the_newest_commit_that_changed_its_package(
    tmp_path: Path, store: GitStore
) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository")
    repo = await store.open(remote.url)
    before = placeholders(await repo.list_revisions())
    for package, commit in before.items():
        newest = await git(
            "log", "-1", "--first-parent", "--format=%H", "main", "--", package, cwd=remote.path
        )
        assert commit == newest.strip(), package
    # Porch would report the head for all five; here only the package changed last has it.
    assert len(set(before.values())) == len(before) == 5

    # A commit below one package (in a subpackage, even) moves that placeholder and no other.
    changed = next(p for p in before if "/" in p)
    parent = changed.rsplit("/", 1)[0]
    pushed = await remote.outside_commit(
        tmp_path / "work", branch="main", files={f"{changed}/extra.yaml": "a: 1\n"}, message="edit"
    )
    await repo.refresh()
    after = placeholders(await repo.list_revisions())
    moved = {p for p in after if after[p] != before[p]}
    assert moved == {changed} | ({parent} if parent in after else set())
    assert after[changed] == pushed

    # A new cache (an operator restart) derives the same commits from the whole history.
    async with GitStore(tmp_path / "other-cache", timeout=30) as fresh:
        assert placeholders(await (await fresh.open(remote.url)).list_revisions()) == after


async def test_placeholder_commits_after_the_branch_is_rewritten(tmp_path: Path, store: GitStore) -> None:
    remote = await porch_fixture(tmp_path, "nested-repository")
    repo = await store.open(remote.url)
    original = placeholders(await repo.list_revisions())
    old_head = await remote.commit_of("refs/heads/main")
    edited = next(iter(original))
    await remote.outside_commit(
        tmp_path / "work", branch="main", files={f"{edited}/extra.yaml": "a: 1\n"}, message="edit"
    )
    await repo.refresh()
    assert placeholders(await repo.list_revisions())[edited] != original[edited]
    await git("update-ref", "refs/heads/main", old_head, cwd=remote.path)  # a force push back
    await repo.refresh()
    assert placeholders(await repo.list_revisions()) == original
