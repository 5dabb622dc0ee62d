"""`GitStore`: the gitstore's entry point. It owns the cache directory and the pool of mirrors, opens
Repository handles, reads packages from arbitrary git URLs (clone sources) and checks connections.

One `GitStore` per process and cache directory. Close it (`await store.aclose()` or `async with`) to stop
GitPython's helper processes.
"""

from __future__ import annotations

import logging
import types
from pathlib import Path

from porch_operator.errors import InvalidSpec
from porch_operator.gitstore import commands, failures, paths, reading, refs, writing
from porch_operator.gitstore import credentials as creds
from porch_operator.gitstore.mirrors import ClonePool
from porch_operator.gitstore.repository import GitRepository, Settings
from porch_operator.gitstore.revisions import GitLock, RemotePackage, Signature

DEFAULT_TIMEOUT = 60.0
DEFAULT_ATTEMPTS = 5


class GitStore:
    """Porch-compatible git storage of package revisions, over local mirrors in `cache_dir`.

    `committer` signs every commit as committer (authors come from each call); `timeout` bounds every git
    command that talks to a remote (seconds); `push_attempts` is how often a write is tried when the remote
    keeps refusing it because refs moved.
    """

    def __init__(
        self,
        cache_dir: Path | str,
        *,
        committer: Signature = writing.PORCH_COMMITTER,
        timeout: float = DEFAULT_TIMEOUT,
        push_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        if push_attempts < 1:
            raise ValueError("push_attempts must be at least 1")
        self._pool = ClonePool(Path(cache_dir))
        self._settings = Settings(committer=committer, time_limit=timeout, attempts=push_attempts)

    async def __aenter__(self) -> GitStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every mirror (handles become unusable)."""
        await self._pool.close()

    async def open(
        self,
        url: str,
        *,
        branch: str = "main",
        directory: str = "",
        credentials: creds.Credentials = None,
        create_branch: bool = False,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> GitRepository:
        """Open the Repository (url, branch, directory): fetch it and check that the branch exists.

        With `create_branch`, a missing branch is created as Porch does; otherwise it is InvalidSpec.
        `logger` receives the handle's messages (retried pushes); by default the module's logger.
        """
        creds.check_url(url)
        creds.git_config(url, credentials)
        paths.validate_branch(branch)
        directory = paths.normalize_directory(directory)
        mirror = await self._pool.acquire(url)
        handle = GitRepository(
            pool=self._pool,
            mirror=mirror,
            branch=branch,
            directory=directory,
            credentials=credentials,
            settings=self._settings,
            logger=logger or logging.getLogger("porch_operator.gitstore"),
        )
        try:
            await handle.refresh()
            if await handle.branch_head() is None:
                if not create_branch:
                    raise InvalidSpec(f"The branch {branch!r} does not exist in {url}.")
                await handle.create_branch()
        except BaseException:
            await handle.close()
            raise
        return handle

    async def read_package(
        self,
        url: str,
        *,
        ref: str,
        directory: str = "",
        credentials: creds.Credentials = None,
    ) -> RemotePackage:
        """Fetch `url` and read the package in `directory` at `ref` (resolved as Porch's git clone does)."""
        creds.check_url(url)
        creds.git_config(url, credentials)
        directory = paths.normalize_directory(directory)
        mirror = await self._pool.acquire(url)
        try:
            async with mirror.lock:
                await mirror.fetch(credentials=credentials, time_limit=self._settings.time_limit)
                commit, files = await reading.read_package(mirror, ref=ref, directory=directory)
        finally:
            await self._pool.release(mirror)
        return RemotePackage(files=files, lock=GitLock(repo=url, directory=directory, ref=ref, commit=commit))

    async def check_connection(
        self,
        url: str,
        *,
        branch: str | None = None,
        credentials: creds.Credentials = None,
    ) -> None:
        """Check that the remote answers with these credentials (and has `branch`, if given): `ls-remote`."""
        creds.check_url(url)
        config = creds.git_config(url, credentials)
        args = ["ls-remote", "--heads", url]
        if branch is not None:
            args.append(refs.branch(paths.validate_branch(branch)))
        result = await commands.run(args, config=config, time_limit=self._settings.time_limit)
        if not result.ok:
            raise failures.classify(result, operation="connect to", url=url, credentials=credentials)
        if branch is not None and not result.stdout.strip():
            raise InvalidSpec(f"The branch {branch!r} does not exist in {url}.")
