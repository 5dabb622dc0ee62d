"""Local bare mirrors of git remotes, one per URL, and the pool that hands them out (`ClonePool`).

A mirror is a bare clone in the cache directory whose `refs/heads/*` and `refs/tags/*` are exactly the
remote's as of the last fetch (fetch refspecs map each onto itself, pruned on every fetch; other remote refs
are not fetched). It is never checked out and nobody commits on its branches: new commits are pushed and
only then appear in the mirror. (Porch's cache keeps branches under `refs/remotes/origin/`; a bare clone
writes its refs packed, which makes the first clone of a repository with thousands of tags much faster.)

Each mirror has one `asyncio.Lock`: every operation on it (fetch, reads, commits, push) runs under that
lock, so operations on one repository are serialised while different repositories proceed in parallel.
The mirror's directory is also locked with `flock` for as long as it is open, so a second process using
the same cache directory fails fast instead of corrupting it.

The mirror keeps in memory what discovery needs and only git can tell: the ref table (refreshed by
`for-each-ref` after a fetch and updated in place after our own pushes), the commit index, and caches keyed
by immutable object ids. Blocking work (GitPython, file I/O) runs in worker threads via `in_thread()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from porch_operator.errors import StoreError, StorePushRejected
from porch_operator.gitstore import commands, failures, history, objects, refs
from porch_operator.gitstore import credentials as creds

logger = logging.getLogger(__name__)

T = TypeVar("T")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Fetches that move more refs than this pack the mirror's refs (loose refs slow every ref scan).
_PACK_AFTER = 64


@dataclasses.dataclass(frozen=True)
class RefUpdate:
    """One ref change of an atomic push: set `ref` to `new` (None deletes it) if it is now at `expected`
    (None: it must not exist)."""

    ref: str
    new: str | None
    expected: str | None


class Mirror:
    """One bare mirror of a remote repository."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self.lock = asyncio.Lock()
        self.refs = refs.RefTable()
        self.index = history.CommitIndex()
        self.origins = history.PackageOrigins()
        # (commit, path) → package tree SHA-1, or None when there is no package (no Kptfile) there.
        self.packages_at: dict[tuple[str, str], str | None] = {}
        # tree SHA-1 → packages found below it (relative path, package tree), for nested discovery.
        self.packages_below: dict[str, tuple[tuple[str, str], ...]] = {}
        # ref target → the commit it peels to (None: not a commit); objects never change.
        self._commits: dict[str, str | None] = {}
        self._objects: objects.ObjectStore | None = None
        self._lock_fd: int | None = None
        self.users = 0

    @property
    def objects(self) -> objects.ObjectStore:
        """The mirror's object database (only valid while open)."""
        if self._objects is None:
            raise StoreError(f"The mirror of {self.url} is closed.")
        return self._objects

    async def open(self) -> None:
        """Lock the mirror's directory and, when a mirror is there already, load its refs.

        A new mirror is cloned by the first `fetch()` (it needs the caller's credentials and time limit).
        """
        fresh = await self.in_thread(self._prepare_directory)
        if not fresh and not (await commands.run(["rev-parse"], git_dir=self.path)).ok:
            # The cache is disposable: a damaged mirror is rebuilt from the remote.
            logger.warning("The mirror %s is damaged; rebuilding it.", self.path)
            await self.in_thread(self._wipe)
            fresh = True
        if not fresh:
            await self._attach()

    async def _attach(self) -> None:
        self._objects = await self.in_thread(lambda: objects.ObjectStore(self.path))
        await self.load_refs()

    def _prepare_directory(self) -> bool:
        """Create and lock the directory; return whether it holds no mirror yet."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent / f"{self.path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StoreError(
                f"The mirror {self.path} is in use by another process; give each process its own cache "
                "directory."
            ) from exc
        self._lock_fd = fd
        return not any(self.path.iterdir())

    def _wipe(self) -> None:
        for child in self.path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    async def _clone(
        self, config: dict[str, str], credentials: creds.Credentials, time_limit: float | None
    ) -> None:
        """Create the mirror with one `clone --bare`, which writes all refs packed, then configure it."""
        # Whatever an interrupted clone left behind goes first: git clones only into an empty directory.
        await self.in_thread(self._wipe)
        result = await commands.run(
            ["clone", "--bare", "--quiet", "--", self.url, str(self.path)],
            config=config,
            time_limit=time_limit,
        )
        if not result.ok:
            await self.in_thread(self._wipe)
            raise failures.classify(result, operation="clone", url=self.url, credentials=credentials)
        settings = [
            ["config", "--replace-all", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"],
            ["config", "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"],
            ["config", "remote.origin.tagOpt", "--no-tags"],
            ["config", "gc.autoDetach", "false"],
            # A commit-graph makes the walks of every push (which excludes all the remote's refs) cheap; each
            # fetch extends it.
            ["config", "fetch.writeCommitGraph", "true"],
            ["commit-graph", "write", "--reachable"],
        ]
        for args in settings:
            step = await commands.run(args, git_dir=self.path)
            if not step.ok:
                raise StoreError(f"Could not configure the mirror {self.path}: {failures.summary(step)}")
        await self._attach()

    def close(self) -> None:
        """Release GitPython's processes and the directory lock."""
        if self._objects is not None:
            self._objects.close()
            self._objects = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def in_thread(self, function: Callable[[], T]) -> T:
        """Run blocking work in a worker thread; on cancellation wait for it, so the lock stays honest."""
        task = asyncio.ensure_future(asyncio.to_thread(function))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
            raise

    async def load_refs(self) -> bool:
        """Re-read the mirror's refs; return whether anything changed."""
        args = ["for-each-ref", "--format=%(objectname) %(refname)", refs.HEADS, refs.TAGS]
        result = await commands.run(args, git_dir=self.path)
        if not result.ok:
            raise StoreError(f"Could not read the refs of the mirror {self.path}: {failures.summary(result)}")
        found = {}
        for line in result.stdout.decode("utf-8", errors="surrogateescape").splitlines():
            sha, name = line.split(" ", 1)
            if name != refs.HEADS + "HEAD":
                found[name] = sha
        await self._learn_commits(set(found.values()))
        table = refs.RefTable(refs.RefEntry(name, sha, self._commits[sha]) for name, sha in found.items())
        changed = table.version != self.refs.version
        self.refs = table
        return changed

    async def _learn_commits(self, shas: set[str]) -> None:
        """Learn which commit each ref target peels to (None for trees and blobs), once per object."""
        unknown = sorted(sha for sha in shas if sha not in self._commits)
        if not unknown:
            return
        stdin = "".join(f"{sha}^{{commit}}\n" for sha in unknown).encode()
        result = await commands.run(["cat-file", "--batch-check"], git_dir=self.path, stdin=stdin)
        lines = result.stdout.decode("utf-8", errors="replace").splitlines()
        if not result.ok or len(lines) != len(unknown):
            raise StoreError(f"Could not peel the refs of the mirror {self.path}: {failures.summary(result)}")
        for sha, line in zip(unknown, lines, strict=True):
            fields = line.split()
            self._commits[sha] = fields[0] if len(fields) == 3 and fields[1] == "commit" else None

    async def fetch(self, *, credentials: creds.Credentials, time_limit: float | None) -> bool:
        """Bring the mirror up to date with the remote; return whether any ref changed.

        The first call clones. Later, a cheap `ls-remote` decides: when every branch and tag is where the
        mirror has it, nothing is fetched. Otherwise branches and tags are fetched (deleted ones pruned);
        after large changes the refs are packed again, which keeps ref scans and pushes fast in
        repositories with thousands of tags.
        """
        config = creds.git_config(self.url, credentials)
        if self._objects is None:
            await self._clone(config, credentials, time_limit)
            return True
        listed = await commands.run(
            ["ls-remote", "--heads", "--tags", "origin"],
            git_dir=self.path,
            config=config,
            time_limit=time_limit,
        )
        if not listed.ok:
            raise failures.classify(
                listed, operation="list the refs of", url=self.url, credentials=credentials
            )
        advertised = _advertised(listed.stdout)
        if advertised == {name: entry.sha for name, entry in self.refs.items()}:
            return False
        result = await commands.run(
            ["fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "--no-auto-gc", "origin"],
            git_dir=self.path,
            config=config,
            time_limit=time_limit,
        )
        if not result.ok:
            raise failures.classify(result, operation="fetch from", url=self.url, credentials=credentials)
        moved = len(set(advertised.items()) ^ {(n, e.sha) for n, e in self.refs.items()})
        if moved > _PACK_AFTER:
            await commands.run(["pack-refs", "--all", "--prune"], git_dir=self.path)
        return await self.load_refs()

    async def push(
        self, updates: list[RefUpdate], *, credentials: creds.Credentials, time_limit: float | None
    ) -> None:
        """Apply `updates` on the remote in one atomic push with compare-and-swap on every ref.

        Raises StorePushRejected when any ref moved (nothing is changed then); on success the mirror's refs
        already reflect the new state.
        """
        args = ["push", "--atomic", "--porcelain", "--no-verify", "origin"]
        for update in updates:
            args.append(f"--force-with-lease={update.ref}:{update.expected or ''}")
        for update in updates:
            args.append(f"{update.new}:{update.ref}" if update.new else f":{update.ref}")
        result = await commands.run(
            args, git_dir=self.path, config=creds.git_config(self.url, credentials), time_limit=time_limit
        )
        rejected = _rejected_refs(result.stdout)
        if rejected:
            raise StorePushRejected(
                f"The remote {self.url} refused the update of {', '.join(rejected)}; it changed meanwhile."
            )
        if not result.ok:
            raise failures.classify(result, operation="push to", url=self.url, credentials=credentials)
        # git has updated the mirror's own refs as part of the push (the fetch refspecs map each ref onto
        # itself); mirror that in memory.
        self.refs = self.refs.with_updates({u.ref: u.new for u in updates})


def _advertised(listing: bytes) -> dict[str, str]:
    """Branches and tags (name → object) from `ls-remote` output, without the peeled `^{}` lines."""
    found = {}
    for line in listing.decode("utf-8", errors="surrogateescape").splitlines():
        sha, _, name = line.partition("\t")
        if (
            name.startswith((refs.HEADS, refs.TAGS))
            and not name.endswith("^{}")
            and name != refs.HEADS + "HEAD"
        ):
            found[name] = sha
    return found


def _rejected_refs(porcelain: bytes) -> list[str]:
    """The refs `git push --porcelain` reports as rejected, with git's reason, the cause first."""
    causes: list[str] = []
    casualties: list[str] = []
    for line in porcelain.decode("utf-8", errors="replace").splitlines():
        fields = line.split("\t")
        if fields[0] != "!" or len(fields) < 2:
            continue
        described = f"{fields[1].rsplit(':', 1)[-1]} {fields[2] if len(fields) > 2 else ''}".strip()
        # With --atomic, every other ref is reported as "atomic push failed": not a cause.
        (casualties if "atomic push failed" in described else causes).append(described)
    return causes or casualties


class ClonePool:
    """Mirrors by URL: one per URL, shared by every handle on that URL, reference counted."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._mirrors: dict[str, Mirror] = {}
        self._opening = asyncio.Lock()

    def path_for(self, url: str) -> Path:
        """The mirror directory of a URL: readable prefix plus a hash (no traversal, bounded length)."""
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        readable = _UNSAFE.sub("-", url).strip("-.")[:80]
        return self._cache_dir / "git" / f"{readable}-{digest}"

    async def acquire(self, url: str) -> Mirror:
        """The mirror of `url`, opened (and created) if needed; pair with `release()`."""
        async with self._opening:
            mirror = self._mirrors.get(url)
            if mirror is None:
                mirror = Mirror(url, self.path_for(url))
                try:
                    await mirror.open()
                except BaseException:
                    mirror.close()
                    raise
                self._mirrors[url] = mirror
            mirror.users += 1
            return mirror

    async def release(self, mirror: Mirror) -> None:
        """Give a mirror back; the last user closes it (its directory stays as a cache)."""
        async with self._opening:
            mirror.users -= 1
            if mirror.users <= 0 and self._mirrors.get(mirror.url) is mirror:
                del self._mirrors[mirror.url]
                async with mirror.lock:
                    mirror.close()

    async def close(self) -> None:
        """Close every mirror."""
        async with self._opening:
            for mirror in list(self._mirrors.values()):
                async with mirror.lock:
                    mirror.close()
            self._mirrors.clear()
