"""Value objects the gitstore hands to its callers: package revisions, signatures, locks, remote packages.

Everything here is immutable and free of git machinery, so the operator can keep these objects in caches and
compare them. Callers get them from `GitRepository.list_revisions()` and from every write operation.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping
from typing import Any

from porch_operator.models import Lifecycle


@dataclasses.dataclass(frozen=True)
class Signature:
    """Who made a commit and when (git's author or committer line)."""

    name: str
    email: str
    time: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class GitLock:
    """The exact git coordinates of a package revision (kpt's `upstreamLock.git`).

    `directory` is the package's path from the root of the git repository (the Repository's `git.directory`
    included), so that kpt can fetch the package from the lock alone; `ref` is the short ref name
    (`<dir>/<pkg>/v3`, `drafts/<dir>/<pkg>/<ws>`, `main`).
    """

    repo: str
    directory: str
    ref: str
    commit: str


class RefKind(enum.StrEnum):
    """Which kind of ref a revision was discovered on."""

    BRANCH = "branch"
    TAG = "tag"
    DRAFT = "draft"
    PROPOSED = "proposed"


@dataclasses.dataclass(frozen=True)
class PackageRevisionInfo:
    """One package revision as git stores it.

    - `package`: the package path relative to the Repository's `git.directory` (Porch's packageName).
    - `path`: the package path from the root of the git repository (`git.directory` + `package`).
    - `workspace`: the workspace name; the branch name for the placeholder; the tag version for tags that
      are not `v<N>`.
    - `revision`: 0 for drafts and proposed revisions, N for tags `v<N>`, -1 for the placeholder and for
      tags that are not `v<N>`.
    - `ref_kind`, `ref`: where it was found (`RefKind.*`, short ref name).
    - `commit`: the commit the ref points at (the branch head for the placeholder); `tree`: the git tree of
      the package directory in that commit (equal trees mean equal contents).
    - `author`, `committer`: of the revision's commit; for the placeholder, of the newest commit on the branch
      whose `kpt:` annotation names the package (None when there is none).
    - `task`: the first-class task that created the revision (init, clone, edit or upgrade), read from the
      `kpt:` annotations of its history as Porch does, or None. Read-only: it is shared with the cache.
    """

    package: str
    path: str
    workspace: str
    revision: int
    lifecycle: Lifecycle
    ref_kind: RefKind
    ref: str
    commit: str
    tree: str
    author: Signature | None
    committer: Signature | None
    task: Mapping[str, Any] | None
    lock: GitLock

    @property
    def is_placeholder(self) -> bool:
        """True for the revision that stands for the package on the registered branch."""
        return self.ref_kind == RefKind.BRANCH

    @property
    def is_published(self) -> bool:
        """Published or DeletionProposed (Porch's `LifecycleIsPublished`)."""
        return self.lifecycle in (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED)

    @property
    def published_by(self) -> str | None:
        """The author e-mail of the published commit (Porch's `status.publishedBy`); None unless published."""
        if not self.is_published or self.author is None or not self.author.email:
            return None
        return self.author.email

    @property
    def published_at(self) -> datetime.datetime | None:
        """The author time of the published commit (Porch's `status.publishedAt`); None unless published."""
        if not self.is_published or self.author is None:
            return None
        return self.author.time


@dataclasses.dataclass(frozen=True)
class RemotePackage:
    """A package read from an arbitrary git URL (the `git` source of a clone).

    `files` maps paths relative to the package root to their text (files that are not UTF-8 are left out);
    `lock` records repo, directory, the ref as the caller gave it and the resolved commit.
    """

    files: Mapping[str, str]
    lock: GitLock
