"""The commit history of a mirror as far as Porch reads it: who made each commit, when, and its `kpt:` lines.

`CommitIndex` holds every commit reachable from the mirror's refs. It grows incrementally: each update runs
one `git log` over the new ref tips only, excluding the tips already walked, so after the first discovery a
publish adds a handful of commits instead of re-reading the history. From the index it answers the two
history questions of Porch's discovery (§3.9, §4.5):

- the creation task of a revision: walking from the revision in committer-time order, the first-class tasks
  (init, clone, edit, upgrade) annotated for its package and workspace are collected until an init or clone;
  the oldest collected wins. That is the newest init/clone annotated for (package, workspace), or else the
  oldest edit/upgrade. We look these up over all indexed commits instead of walking per revision
  (workspaces are unique per package, so the two agree for the revisions Porch and we write).
- the authorship of a placeholder: the newest commit on the branch (committer-time order) whose annotation
  names the package.

`PackageOrigins` answers a third question, ours rather than Porch's: which commit a placeholder's content
comes from, the newest commit on the branch's first-parent line that changed anything below the package.
Porch reports the branch head, which moves with every publish of any package and so makes every other
placeholder look changed; the origin only moves when the package does.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from porch_operator.errors import StoreError
from porch_operator.gitstore import commands, messages, objects
from porch_operator.gitstore.revisions import Signature

logger = logging.getLogger(__name__)

_FORMAT = "%H%x1f%P%x1f%an <%ae> %ad%x1f%cn <%ce> %cd%x1f%B"


@dataclasses.dataclass(frozen=True)
class CommitMeta:
    """What discovery needs of one commit."""

    sha: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    annotations: tuple[messages.Annotation, ...]

    @property
    def order(self) -> float:
        """Committer time as a number (for committer-time ordered walks)."""
        return self.committer.time.timestamp() if self.committer.time else 0.0


@dataclasses.dataclass(frozen=True)
class _TaskPick:
    order: float
    task: Mapping[str, Any]


class CommitIndex:
    """Metadata and annotations of every commit reachable from the refs walked so far."""

    def __init__(self) -> None:
        self._commits: dict[str, CommitMeta] = {}
        self._walked: set[str] = set()
        self._creations: dict[tuple[str, str], _TaskPick] = {}
        self._edits: dict[tuple[str, str], _TaskPick] = {}

    def __contains__(self, sha: object) -> bool:
        return sha in self._commits

    def get(self, sha: str) -> CommitMeta | None:
        """The metadata of a commit, if indexed."""
        return self._commits.get(sha)

    async def update(self, git_dir: Path, tips: Collection[str]) -> None:
        """Index every commit reachable from `tips` that is not indexed yet."""
        new = [sha for sha in tips if sha not in self._walked]
        if not new:
            self._walked = set(tips)
            return
        # Only tips still present may serve as exclusions; everything below them is indexed already.
        exclude = [sha for sha in self._walked if sha in tips]
        stdin = "".join(f"{sha}\n" for sha in new) + "".join(f"^{sha}\n" for sha in exclude)
        result = await commands.run(
            ["log", "-z", "--date=raw", f"--format={_FORMAT}", "--stdin"],
            git_dir=git_dir,
            stdin=stdin.encode(),
        )
        if not result.ok:
            raise StoreError(f"Reading the history of the mirror {git_dir} failed: {result.stderr_text()}")
        self.add_log(result.stdout)
        self._walked = set(tips)

    def add_log(self, output: bytes) -> None:
        """Index the records of a `git log -z --format=_FORMAT` run."""
        for record in output.split(b"\0"):
            if record.strip():
                self.add(_parse_record(record.decode("utf-8", errors="replace")))

    def add_commit(self, commit: objects.Commit) -> None:
        """Index a commit we have just written."""
        found, _ = messages.parse(commit.message)
        self.add(
            CommitMeta(
                sha=commit.sha,
                parents=commit.parents,
                author=commit.author,
                committer=commit.committer,
                annotations=tuple(found),
            )
        )

    def add(self, meta: CommitMeta) -> None:
        """Index one commit and the tasks it records."""
        if meta.sha in self._commits:
            return
        self._commits[meta.sha] = meta
        for annotation in meta.annotations:
            task_type = annotation.task_type
            if task_type not in messages.FIRST_CLASS_TASKS or annotation.task is None:
                continue
            key = (annotation.package, annotation.workspace_key)
            pick = _TaskPick(order=meta.order, task=annotation.task)
            if task_type in messages.CREATION_TASKS:
                known = self._creations.get(key)
                if known is None or pick.order >= known.order:
                    self._creations[key] = pick
            else:
                known = self._edits.get(key)
                if known is None or pick.order < known.order:
                    self._edits[key] = pick

    def creation_task(self, path: str, workspace: str) -> Mapping[str, Any] | None:
        """The task that created the revision (path, workspace), as Porch's task history yields it."""
        pick = self._creations.get((path, workspace)) or self._edits.get((path, workspace))
        return pick.task if pick else None

    def on_first_parent_line(self, head: str, ancestor: str, *, limit: int = 100_000) -> bool:
        """Whether `ancestor` is on the first-parent line of `head` (as far as the index knows it)."""
        sha: str | None = head
        for _ in range(limit):
            if sha == ancestor:
                return True
            meta = self._commits.get(sha) if sha else None
            if meta is None or not meta.parents:
                return False
            sha = meta.parents[0]
        return False

    def newest_annotated(self, head: str, paths: Iterable[str]) -> dict[str, CommitMeta]:
        """For each path, the newest commit reachable from `head` whose annotation names it."""
        wanted = set(paths)
        found: dict[str, CommitMeta] = {}
        start = self._commits.get(head)
        if start is None or not wanted:
            return found
        queue = [(-start.order, start.sha)]
        seen = {start.sha}
        while queue and len(found) < len(wanted):
            _, sha = heapq.heappop(queue)
            meta = self._commits.get(sha)
            if meta is None:
                continue
            for annotation in meta.annotations:
                if annotation.package in wanted and annotation.package not in found:
                    found[annotation.package] = meta
            for parent in meta.parents:
                parent_meta = self._commits.get(parent)
                if parent_meta is not None and parent not in seen:
                    seen.add(parent)
                    heapq.heappush(queue, (-parent_meta.order, parent))
        return found


class PackageOrigins:
    """For each package path on a branch, the newest first-parent commit that changed something below it.

    One `git log --first-parent --name-only` answers it; the answer for the last head of each branch is kept,
    so after a commit on top of that head (a publish) only the new commits are read.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, dict[str, str]]] = {}

    async def of(
        self, git_dir: Path, index: CommitIndex, *, branch: str, head: str, paths: Collection[str]
    ) -> dict[str, str]:
        """The origin commit of each of `paths` (package paths from the repository root) at `head`."""
        wanted = set(paths)
        last_head, known = self._last.get(branch, ("", {}))
        if last_head == head and wanted <= known.keys():
            return {path: known[path] for path in wanted}
        since = last_head if last_head and index.on_first_parent_line(head, last_head) else None
        if since is None:
            known = {}
        # The paths known from the last head are looked for too, so that what is kept stays true.
        asked = wanted | known.keys()
        found = await self._newest_changes(git_dir, head, since, asked) if asked else {}
        # Not changed since the last head: the origin then still holds.
        found = {**known, **found}
        if unknown := wanted - found.keys():
            # Paths not asked about before (and not changed since): their origins need the whole line.
            found |= await self._newest_changes(git_dir, head, None, unknown)
        for path in wanted - found.keys():
            found[path] = head  # no commit changed it (a shallow history): the head holds it
        self._last[branch] = (head, found)
        return {path: found[path] for path in wanted}

    @staticmethod
    async def _newest_changes(
        git_dir: Path, head: str, since: str | None, wanted: set[str]
    ) -> dict[str, str]:
        args = ["log", "--first-parent", "--diff-merges=first-parent", "--name-only", "-z", "--format=%x01%H"]
        args += [head] + ([f"^{since}"] if since else []) + ["--"]
        result = await commands.run(args, git_dir=git_dir)
        if not result.ok:
            raise StoreError(f"Reading the history of the mirror {git_dir} failed: {result.stderr_text()}")
        found: dict[str, str] = {}
        commit = ""
        for token in result.stdout.decode("utf-8", errors="surrogateescape").split("\0"):
            if token.startswith("\x01"):
                commit = token[1:]
                continue
            file = token.lstrip("\n")
            if not file:
                continue
            for directory in _directories_of(file):
                if directory in wanted and directory not in found:
                    found[directory] = commit
            if len(found) == len(wanted):
                break
        return found


def _directories_of(file: str) -> Iterable[str]:
    """Every directory a changed file lies below, the repository root ("") included."""
    yield ""
    parts = file.split("/")[:-1]
    for end in range(1, len(parts) + 1):
        yield "/".join(parts[:end])


def _parse_record(record: str) -> CommitMeta:
    sha, parents, author, committer, message = record.lstrip("\n").split("\x1f", 4)
    found, invalid = messages.parse(message)
    if invalid:
        logger.debug("Commit %s has %d kpt: lines that are not valid JSON; ignoring them.", sha, invalid)
    return CommitMeta(
        sha=sha,
        parents=tuple(parents.split()),
        author=objects.parse_signature(author),
        committer=objects.parse_signature(committer),
        annotations=tuple(found),
    )
