"""Mirrors and their locks: one mirror (and lock) per URL, repositories independent, caches reusable."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from porch_operator.errors import StoreError
from porch_operator.gitstore import GitStore

from .conftest import AUTHOR, empty_remote, package, porch_fixture


async def test_one_lock_per_repository(tmp_path: Path, store: GitStore) -> None:
    first = await empty_remote(tmp_path, "first")
    second = await empty_remote(tmp_path, "second")
    repo_a = await store.open(first.url)
    repo_a_too = await store.open(first.url, directory="sub")
    repo_b = await store.open(second.url)
    assert repo_a._live is repo_a_too._live, "handles on one URL share the mirror"
    assert repo_a._live is not repo_b._live

    async with repo_a._live.lock:
        blocked = asyncio.ensure_future(
            repo_a_too.create_draft("app", "ws", files=package("app"), author=AUTHOR)
        )
        # The other repository is not held up by the first one's lock...
        done = await asyncio.wait_for(
            repo_b.create_draft("app", "ws", files=package("app"), author=AUTHOR), 30
        )
        assert done.commit in (await second.refs()).values()
        # ...while work on the locked repository waits for it.
        await asyncio.sleep(0.05)
        assert not blocked.done()
    created = await asyncio.wait_for(blocked, 30)
    assert created.path == "sub/app"


async def test_a_cache_survives_a_restart_and_a_damaged_mirror_is_rebuilt(tmp_path: Path) -> None:
    remote = await porch_fixture(tmp_path, "drafts-repository")
    async with GitStore(tmp_path / "cache") as store:
        before = await (await store.open(remote.url)).list_revisions()
    async with GitStore(tmp_path / "cache") as store:
        assert await (await store.open(remote.url)).list_revisions() == before
    mirror_dir = next((tmp_path / "cache" / "git").glob("*-*[0-9a-f]"))
    await asyncio.to_thread((mirror_dir / "HEAD").unlink)
    async with GitStore(tmp_path / "cache") as store:
        assert await (await store.open(remote.url)).list_revisions() == before


async def test_one_cache_directory_per_process(tmp_path: Path) -> None:
    remote = await empty_remote(tmp_path)
    async with GitStore(tmp_path / "cache") as first, GitStore(tmp_path / "cache") as second:
        await first.open(remote.url)
        with pytest.raises(StoreError, match="in use by another process"):
            await second.open(remote.url)


async def test_a_closed_handle_is_unusable_but_others_continue(tmp_path: Path, store: GitStore) -> None:
    remote = await empty_remote(tmp_path)
    repo = await store.open(remote.url)
    other = await store.open(remote.url)
    await repo.close()
    with pytest.raises(RuntimeError, match="closed"):
        await repo.list_revisions()
    assert await other.list_revisions() == []
