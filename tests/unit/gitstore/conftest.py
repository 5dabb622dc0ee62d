"""Fixtures of the gitstore tests: real git remotes (bare repositories over file://), a store per test, and
small helpers that act on a remote the way an outside writer (a person with git) would.

Nothing is mocked: every remote is a real bare repository, every operation runs real git.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from porch_operator.gitstore import GitStore, Signature
from tests import porch_fixtures

AUTHOR = Signature(name="Jane Author", email="jane@example.com")
KPTFILE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: {name}
info:
  description: test package
"""


async def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    """Run git like a person would (no gitstore code involved); return stdout, fail loudly."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Outside Writer",
        "GIT_AUTHOR_EMAIL": "outside@example.com",
        "GIT_COMMITTER_NAME": "Outside Writer",
        "GIT_COMMITTER_EMAIL": "outside@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "safe.directory=*",
        "-c",
        "init.defaultBranch=main",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    if process.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {err.decode()}")
    return out.decode("utf-8", errors="surrogateescape")


class Remote:
    """A bare repository standing in for the git server."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    async def refs(self) -> dict[str, str]:
        """Every ref of the remote (name → the object it names)."""
        out = await git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.path)
        return dict(line.split(" ", 1) for line in out.splitlines())

    async def commit_of(self, ref: str) -> str:
        return (await git("rev-parse", f"{ref}^{{commit}}", cwd=self.path)).strip()

    async def show(self, revision: str) -> str:
        return await git("show", "--no-patch", "--format=%B", revision, cwd=self.path)

    async def tree(self, revision: str) -> list[str]:
        return (await git("ls-tree", "-r", "--name-only", revision, cwd=self.path)).splitlines()

    async def outside_commit(self, work: Path, *, branch: str, files: dict[str, str], message: str) -> str:
        """Commit `files` on `branch` from a separate clone and push it (someone else writing)."""
        if not await asyncio.to_thread(work.exists):
            await git("clone", "--quiet", self.url, str(work))
        await git("fetch", "--quiet", "origin", cwd=work)
        await git("checkout", "--quiet", "-B", branch, f"origin/{branch}", cwd=work)
        await asyncio.to_thread(_write_files, work, files)
        await git("add", "--all", cwd=work)
        await git("commit", "--quiet", "-m", message, cwd=work)
        await git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
        return (await git("rev-parse", "HEAD", cwd=work)).strip()


def _write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


async def porch_fixture(tmp_path: Path, name: str, *, branch: str = "main") -> Remote:
    """A bare copy of one of Porch's fixture repositories, with `main` renamed to `branch`."""
    source = tmp_path / "unpacked" / name
    source.mkdir(parents=True)
    bare = tmp_path / "remotes" / f"{name}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    if name == "test-blueprints":
        await git(
            "clone", "--quiet", "--mirror", str(porch_fixtures.fixture("test-blueprints.bundle")), str(bare)
        )
        await git("update-ref", "-d", "refs/remotes/origin/HEAD", cwd=bare)
        await git("update-ref", "-d", "refs/remotes/origin/main", cwd=bare)
    else:
        await _untar(porch_fixtures.fixture(name), source)
        await git("clone", "--quiet", "--mirror", str(source / ".git"), str(bare))
    if branch != "main" and "refs/heads/main" in await Remote(bare).refs():
        await git("branch", "-m", "main", branch, cwd=bare)
    return Remote(bare)


async def _untar(archive: Path, destination: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        "tar", "xf", str(archive), "--no-same-owner", "-C", str(destination)
    )
    assert await process.wait() == 0


async def empty_remote(tmp_path: Path, name: str = "repo", *, with_branch: str | None = "main") -> Remote:
    """A new bare repository named `<name>.git`, with one empty commit on `with_branch` (if given)."""
    bare = tmp_path / "remotes" / f"{name}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    await git("init", "--quiet", "--bare", str(bare))
    if with_branch:
        tree = (await git("mktree", cwd=bare, stdin=b"")).strip()
        commit = (await git("commit-tree", tree, "-m", "Empty Commit", cwd=bare)).strip()
        await git("update-ref", f"refs/heads/{with_branch}", commit, cwd=bare)
    return Remote(bare)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[GitStore]:
    async with GitStore(tmp_path / "cache", timeout=30) as opened:
        yield opened


@pytest.fixture
def remote_factory(tmp_path: Path) -> Callable[..., Awaitable[Remote]]:
    async def make(name: str = "repo", **kwargs: object) -> Remote:
        return await empty_remote(tmp_path, name, **kwargs)  # type: ignore[arg-type]

    return make


def package(name: str, **extra: str) -> dict[str, str]:
    """A small package: a Kptfile plus `extra` files."""
    return {"Kptfile": KPTFILE.format(name=name), **extra}
