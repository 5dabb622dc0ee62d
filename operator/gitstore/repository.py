"""`GitRepository`: the handle through which the operator reads and writes one registered Repository.

A handle is bound to (URL, branch, directory, credentials) and shares its URL's mirror (and lock) with every
other handle on the same URL. Reads (`list_revisions`, `read_files`) are local to the mirror; `refresh()`
fetches. Writes follow `writing.apply`: one atomic push each, retried after a fetch when the remote moved.
Package names are paths relative to the Repository's `git.directory`, as in Porch's `packageName`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from porch_operator.gitstore import credentials as creds
from porch_operator.gitstore import discovery, drafts, paths, publishing, reading, refs, writing
from porch_operator.gitstore.mirrors import ClonePool, Mirror
from porch_operator.gitstore.revisions import PackageRevisionInfo, Signature


@dataclasses.dataclass(frozen=True)
class Settings:
    """Store-wide write settings a handle inherits."""

    committer: Signature
    time_limit: float | None
    attempts: int


class GitRepository:
    """One registered Repository: its package revisions in git, and every write Porch's lifecycle needs."""

    def __init__(
        self,
        *,
        pool: ClonePool,
        mirror: Mirror,
        branch: str,
        directory: str,
        credentials: creds.Credentials,
        settings: Settings,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self._pool = pool
        self._mirror: Mirror | None = mirror
        self._branch = branch
        self._directory = directory
        self._credentials = credentials
        self._settings = settings
        self._logger = logger
        self._discovered: tuple[str, list[PackageRevisionInfo]] | None = None

    @property
    def url(self) -> str:
        """The remote's URL."""
        return self._live.url

    @property
    def branch(self) -> str:
        """The registered branch."""
        return self._branch

    @property
    def directory(self) -> str:
        """The Repository's `git.directory` without surrounding slashes ("" for the root)."""
        return self._directory

    @property
    def version(self) -> str:
        """A digest of every ref of the mirror; it changes exactly when some ref changes."""
        return self._live.refs.version

    @property
    def _live(self) -> Mirror:
        if self._mirror is None:
            raise RuntimeError("This GitRepository handle is closed.")
        return self._mirror

    def update_credentials(self, credentials: creds.Credentials) -> None:
        """Use new credentials from now on (the Secret changed)."""
        creds.git_config(self.url, credentials)
        self._credentials = credentials

    async def close(self) -> None:
        """Release the handle (the mirror stays on disk as a cache)."""
        if self._mirror is not None:
            mirror, self._mirror = self._mirror, None
            await self._pool.release(mirror)

    async def refresh(self) -> bool:
        """Fetch from the remote; return True when any ref changed since the last look."""
        mirror = self._live
        async with mirror.lock:
            return await mirror.fetch(credentials=self._credentials, time_limit=self._settings.time_limit)

    async def branch_head(self) -> str | None:
        """The commit at the head of the registered branch (None when the branch is gone)."""
        return self._live.refs.commit_of(refs.branch(self._branch))

    async def list_revisions(self, *, package: str | None = None) -> list[PackageRevisionInfo]:
        """Every package revision (of one package, if given), from the mirror as last fetched.

        Free when no ref changed since the previous call: the result is cached by `version`.
        """
        mirror = self._live
        async with mirror.lock:
            version = mirror.refs.version
            if self._discovered is None or self._discovered[0] != version:
                found = await discovery.discover(mirror, branch=self._branch, directory=self._directory)
                self._discovered = (version, found)
            result = self._discovered[1]
        return [info for info in result if package is None or info.package == package]

    async def read_files(self, package: str, *, commit: str) -> dict[str, str]:
        """The text files of `package` in `commit`, keyed by path relative to the package root."""
        path = paths.join(self._directory, paths.validate_package_path(package))
        reading.check_commit_id(commit)
        mirror = self._live
        async with mirror.lock:
            return await mirror.in_thread(lambda: reading.read_files(mirror, commit, path))

    async def read_revision(self, revision: PackageRevisionInfo) -> dict[str, str]:
        """The text files of a discovered revision."""
        mirror = self._live
        async with mirror.lock:
            return await mirror.in_thread(lambda: reading.read_files(mirror, revision.commit, revision.path))

    async def create_draft(
        self,
        package: str,
        workspace: str,
        *,
        files: Mapping[str, str],
        author: Signature,
        task: Mapping[str, Any] | None = None,
    ) -> PackageRevisionInfo:
        """Commit a new Draft on `drafts/<path>/<workspace>` from the branch head; Conflict if it exists."""
        async with self._live.lock:
            return await drafts.create(
                self._target(), package=package, workspace=workspace, files=files, task=task, author=author
            )

    async def update_draft(
        self,
        package: str,
        workspace: str,
        *,
        files: Mapping[str, str],
        author: Signature,
        expected_commit: str | None = None,
        task: Mapping[str, Any] | None = None,
    ) -> PackageRevisionInfo:
        """Replace the Draft's files in a new commit; Conflict when the draft is not at `expected_commit`."""
        async with self._live.lock:
            return await drafts.update(
                self._target(),
                package=package,
                workspace=workspace,
                files=files,
                expected_commit=expected_commit,
                task=task,
                author=author,
            )

    async def propose(
        self, package: str, workspace: str, *, expected_commit: str | None = None
    ) -> PackageRevisionInfo:
        """Draft → Proposed: move `drafts/...` to `proposed/...` (a no-op when already proposed)."""
        async with self._live.lock:
            return await drafts.move(
                self._target(),
                package=package,
                workspace=workspace,
                to_proposed=True,
                expected_commit=expected_commit,
            )

    async def reject(
        self, package: str, workspace: str, *, expected_commit: str | None = None
    ) -> PackageRevisionInfo:
        """Proposed → Draft: move `proposed/...` back to `drafts/...` (a no-op when already a draft)."""
        async with self._live.lock:
            return await drafts.move(
                self._target(),
                package=package,
                workspace=workspace,
                to_proposed=False,
                expected_commit=expected_commit,
            )

    async def publish(
        self, package: str, workspace: str, *, author: Signature, expected_commit: str | None = None
    ) -> PackageRevisionInfo:
        """Proposed → Published: approval commit on the branch + tag `<path>/v<N>`, one atomic push."""
        async with self._live.lock:
            return await publishing.publish(
                self._target(),
                package=package,
                workspace=workspace,
                author=author,
                expected_commit=expected_commit,
            )

    async def propose_deletion(self, package: str, revision: int) -> PackageRevisionInfo:
        """Published → DeletionProposed: create `deletionProposed/<path>/v<N>` (idempotent)."""
        async with self._live.lock:
            return await publishing.set_deletion_proposed(
                self._target(), package=package, revision=revision, proposed=True
            )

    async def undo_deletion_proposal(self, package: str, revision: int) -> PackageRevisionInfo:
        """DeletionProposed → Published: delete `deletionProposed/<path>/v<N>` (idempotent)."""
        async with self._live.lock:
            return await publishing.set_deletion_proposed(
                self._target(), package=package, revision=revision, proposed=False
            )

    async def delete_draft(self, package: str, workspace: str) -> None:
        """Delete a Draft or Proposed revision; NotFound when there is none."""
        async with self._live.lock:
            await drafts.delete(self._target(), package=package, workspace=workspace)

    async def delete_published(self, package: str, revision: int) -> None:
        """Delete the tag `<path>/v<N>` and any deletion proposal; the package stays on the branch."""
        async with self._live.lock:
            await publishing.delete_published(self._target(), package=package, revision=revision)

    async def delete_placeholder(self, package: str, *, author: Signature) -> None:
        """Commit "Delete <path>" on the branch (removing the package directory) and drop its proposal."""
        async with self._live.lock:
            await publishing.delete_placeholder(self._target(), package=package, author=author)

    async def create_branch(self) -> None:
        """Create the registered branch if it is missing (README.md "Created by porch")."""
        async with self._live.lock:
            await publishing.create_branch(self._target())

    def _target(self) -> writing.Target:
        return writing.Target(
            mirror=self._live,
            branch=self._branch,
            directory=self._directory,
            credentials=self._credentials,
            committer=self._settings.committer,
            time_limit=self._settings.time_limit,
            attempts=self._settings.attempts,
            logger=self._logger,
        )
