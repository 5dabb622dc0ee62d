"""Porch's ref layout: names of the refs of each lifecycle, how they parse, and the mirror's ref table.

Refs are named as the remote has them (`refs/heads/...`, `refs/tags/...`); the mirror keeps them under the
same names. Nothing here runs git.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping

HEADS = "refs/heads/"
TAGS = "refs/tags/"

DRAFTS_PREFIX = "drafts/"
PROPOSED_PREFIX = "proposed/"
DELETION_PROPOSED_PREFIX = "deletionProposed/"

# Go's strconv.Atoi after trimming one leading "v" (Porch's Revision2Int).
_ATOI = re.compile(r"^[+-]?[0-9]+$")
_INT64_MAX = 2**63 - 1


def parse_revision(version: str) -> int:
    """Porch's revision of a tag version or branch name: `v3` → 3, anything not an integer → -1."""
    text = version[1:] if version.startswith("v") else version
    if not _ATOI.match(text):
        return -1
    value = int(text)
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else -1


def version_of(revision: int) -> str:
    """The tag version of a published revision number."""
    return f"v{revision}"


def draft_branch(path: str, workspace: str) -> str:
    """Full remote ref of the draft branch of a revision."""
    return f"{HEADS}{DRAFTS_PREFIX}{path}/{workspace}"


def proposed_branch(path: str, workspace: str) -> str:
    """Full remote ref of the proposed branch of a revision."""
    return f"{HEADS}{PROPOSED_PREFIX}{path}/{workspace}"


def deletion_proposed_branch(path: str, version: str) -> str:
    """Full remote ref of the branch that marks a published revision as DeletionProposed."""
    return f"{HEADS}{DELETION_PROPOSED_PREFIX}{path}/{version}"


def tag(path: str, version: str) -> str:
    """Full remote ref of the tag of a published revision."""
    return f"{TAGS}{path}/{version}"


def branch(name: str) -> str:
    """Full remote ref of a branch."""
    return f"{HEADS}{name}"


def short(ref: str) -> str:
    """The short name of a full remote ref (`refs/heads/main` → `main`, `refs/tags/a/v1` → `a/v1`)."""
    for prefix in (HEADS, TAGS):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def split_last(name: str) -> tuple[str, str] | None:
    """Split `a/b/c` into (`a/b`, `c`) at the last slash; None when there is no slash or a side is empty."""
    slash = name.rfind("/")
    if slash <= 0 or slash == len(name) - 1:
        return None
    return name[:slash], name[slash + 1 :]


@dataclasses.dataclass(frozen=True)
class RefEntry:
    """One ref of the mirror: the object it names and the commit it peels to (None if not a commit)."""

    name: str
    sha: str
    commit: str | None


class RefTable(Mapping[str, RefEntry]):
    """The refs of a mirror keyed by their remote name, with a version that changes when any ref changes."""

    def __init__(self, entries: Iterable[RefEntry] = ()) -> None:
        self._entries: dict[str, RefEntry] = {e.name: e for e in entries}
        self._version: str | None = None

    def __getitem__(self, name: str) -> RefEntry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def version(self) -> str:
        """SHA-256 over every ref and its target (Porch's repository `Version()`)."""
        if self._version is None:
            digest = hashlib.sha256()
            for name in sorted(self._entries):
                digest.update(f"{name} {self._entries[name].sha}\n".encode())
            self._version = digest.hexdigest()
        return self._version

    def commit_of(self, name: str) -> str | None:
        """The commit a ref points at (peeled), or None if the ref is missing or not a commit."""
        entry = self._entries.get(name)
        return entry.commit if entry else None

    def with_updates(self, updates: Mapping[str, str | None]) -> RefTable:
        """A new table with refs set to commits (or removed for None), as after a successful push."""
        entries = dict(self._entries)
        for name, sha in updates.items():
            if sha is None:
                entries.pop(name, None)
            else:
                entries[name] = RefEntry(name=name, sha=sha, commit=sha)
        return RefTable(entries.values())

    def names_with_prefix(self, prefix: str) -> list[str]:
        """Every ref name starting with `prefix`."""
        return [name for name in self._entries if name.startswith(prefix)]
