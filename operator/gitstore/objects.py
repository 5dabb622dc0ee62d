"""Git objects of a bare mirror: reading them through GitPython, writing them as loose objects, and the tree
surgery every write operation needs (replace or remove one directory, build a package tree from files).

Reads go through GitPython's object database (one persistent `git cat-file --batch` per mirror). Writes are
plain loose objects (zlib of `<type> <size>\\0<data>` under `objects/xx/`), written to a temporary file and
renamed, so a commit of a package costs no process at all. These functions are synchronous; callers run
them in a worker thread while holding the mirror's lock (GitPython's reader is not thread-safe).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import os
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import git

from porch_operator.errors import InvalidSpec, NotFound, StoreError
from porch_operator.gitstore.revisions import Signature

MODE_TREE = "40000"
MODE_FILE = "100644"
MODE_EXECUTABLE = "100755"
MODE_SYMLINK = "120000"
MODE_SUBMODULE = "160000"
FILE_MODES = frozenset({MODE_FILE, MODE_EXECUTABLE, MODE_SYMLINK, "100664"})
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclasses.dataclass(frozen=True)
class TreeEntry:
    """One entry of a git tree."""

    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        """Whether the entry is a subdirectory."""
        return self.mode == MODE_TREE

    @property
    def is_file(self) -> bool:
        """Whether the entry is a regular file, an executable or a symlink (go-git's `IsFile`)."""
        return self.mode in FILE_MODES


@dataclasses.dataclass(frozen=True)
class Commit:
    """The parts of a commit object the gitstore reads."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str


class ObjectStore:
    """The object database of one bare repository."""

    def __init__(self, git_dir: Path) -> None:
        self._git_dir = git_dir
        self._objects = git_dir / "objects"
        self._repo = git.Repo(git_dir)
        self._trees: dict[str, tuple[TreeEntry, ...]] = {}

    def close(self) -> None:
        """Stop GitPython's persistent reader processes."""
        self._repo.close()

    def read(self, sha: str, expected_type: str) -> bytes:
        """The content of an object, checking its type."""
        try:
            stream = self._repo.odb.stream(bytes.fromhex(sha))
            data: bytes = stream.read()
        except ValueError as exc:
            raise NotFound(f"The git object {sha} is missing from the mirror.") from exc
        kind = stream.type.decode() if isinstance(stream.type, bytes) else str(stream.type)
        if kind != expected_type:
            raise StoreError(f"The git object {sha} is a {kind}, not a {expected_type}.")
        return data

    def tree(self, sha: str) -> tuple[TreeEntry, ...]:
        """The entries of a tree (cached: trees are immutable)."""
        cached = self._trees.get(sha)
        if cached is None:
            cached = parse_tree(self.read(sha, "tree"))
            if len(self._trees) > 100_000:
                self._trees.clear()
            self._trees[sha] = cached
        return cached

    def commit(self, sha: str) -> Commit:
        """A commit object, parsed."""
        return parse_commit(sha, self.read(sha, "commit"))

    def write(self, kind: str, data: bytes) -> str:
        """Store an object as a loose object (if it is not there yet) and return its SHA-1."""
        header = f"{kind} {len(data)}\0".encode()
        sha = hashlib.sha1(header + data, usedforsecurity=False).hexdigest()
        target = self._objects / sha[:2] / sha[2:]
        if target.exists():
            return sha
        target.parent.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix="tmp_obj_", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(zlib.compress(header + data, 1))
            os.chmod(temp, 0o444)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return sha

    def write_tree(self, entries: list[TreeEntry]) -> str:
        """Store a tree made of `entries` (sorted as git requires) and return its SHA-1."""
        data = encode_tree(entries)
        sha = self.write("tree", data)
        self._trees.setdefault(sha, tuple(sorted(entries, key=_tree_order)))
        return sha

    def write_commit(
        self,
        *,
        tree: str,
        parents: list[str],
        author: Signature,
        committer: Signature,
        message: str,
    ) -> Commit:
        """Store a commit and return it parsed (so callers see exactly what git will)."""
        lines = [f"tree {tree}"]
        lines += [f"parent {parent}" for parent in parents]
        lines.append(f"author {format_signature(author)}")
        lines.append(f"committer {format_signature(committer)}")
        data = ("\n".join(lines) + "\n\n" + message).encode("utf-8")
        sha = self.write("commit", data)
        return parse_commit(sha, data)

    def entry_at(self, root_tree: str, path: str) -> TreeEntry | None:
        """The tree entry at `path` below `root_tree`, or None."""
        current = TreeEntry(MODE_TREE, "", root_tree)
        for part in path.split("/"):
            if not current.is_tree:
                return None
            found = next((e for e in self.tree(current.sha) if e.name == part), None)
            if found is None:
                return None
            current = found
        return current

    def replace(self, root_tree: str | None, path: str, new_tree: str | None) -> str:
        """`root_tree` with directory `path` replaced by `new_tree` (None removes it), stored; its SHA-1.

        Missing intermediate directories are created; directories left empty by a removal are dropped.
        """
        return self._replace(root_tree, path.split("/"), new_tree, path) or self.write_tree([])

    def _replace(self, tree: str | None, parts: list[str], new_tree: str | None, path: str) -> str | None:
        entries = {e.name: e for e in self.tree(tree)} if tree else {}
        name = parts[0]
        existing = entries.get(name)
        if len(parts) == 1:
            replacement = new_tree
        else:
            if existing is not None and not existing.is_tree:
                raise InvalidSpec(f"Cannot write package {path!r}: {name!r} is a file in the repository.")
            replacement = self._replace(existing.sha if existing else None, parts[1:], new_tree, path)
        if replacement is None:
            entries.pop(name, None)
        else:
            entries[name] = TreeEntry(MODE_TREE, name, replacement)
        if not entries:
            return None
        return self.write_tree(list(entries.values()))

    def files(self, tree: str, prefix: str = "") -> dict[str, TreeEntry]:
        """Every file below `tree`, keyed by its path relative to `tree` (submodules are skipped)."""
        found: dict[str, TreeEntry] = {}
        for entry in self.tree(tree):
            path = f"{prefix}{entry.name}"
            if entry.is_tree:
                found.update(self.files(entry.sha, path + "/"))
            elif entry.is_file:
                found[path] = entry
        return found

    def build_tree(self, files: Mapping[str, tuple[str, bytes | str]]) -> str:
        """Store a tree holding `files` (path → (mode, content bytes or existing blob SHA-1 as str))."""
        nested: dict[str, object] = {}
        for path, leaf in files.items():
            node = nested
            parts = path.split("/")
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise InvalidSpec(f"The file path {path!r} runs through a file.")
                node = child
            node[parts[-1]] = leaf
        return self._build(nested)

    def _build(self, node: Mapping[str, object]) -> str:
        entries = []
        for name, value in node.items():
            if isinstance(value, dict):
                entries.append(TreeEntry(MODE_TREE, name, self._build(value)))
            else:
                assert isinstance(value, tuple)
                mode, content = value
                sha = content if isinstance(content, str) else self.write("blob", content)
                entries.append(TreeEntry(mode, name, sha))
        return self.write_tree(entries)


def parse_tree(data: bytes) -> tuple[TreeEntry, ...]:
    """Decode a raw tree object."""
    entries = []
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        nul = data.index(b"\0", space)
        mode = data[position:space].decode("ascii")
        name = data[space + 1 : nul].decode("utf-8", errors="surrogateescape")
        sha = data[nul + 1 : nul + 21].hex()
        entries.append(TreeEntry(mode, name, sha))
        position = nul + 21
    return tuple(entries)


def encode_tree(entries: list[TreeEntry]) -> bytes:
    """Encode a tree object; git sorts entries by name, directories as if their name ended in '/'."""
    parts = []
    for entry in sorted(entries, key=_tree_order):
        name = entry.name.encode("utf-8", errors="surrogateescape")
        parts.append(entry.mode.encode("ascii") + b" " + name + b"\0" + bytes.fromhex(entry.sha))
    return b"".join(parts)


def _tree_order(entry: TreeEntry) -> bytes:
    name = entry.name.encode("utf-8", errors="surrogateescape")
    return name + b"/" if entry.is_tree else name


def parse_commit(sha: str, data: bytes) -> Commit:
    """Decode a raw commit object."""
    header, _, body = data.partition(b"\n\n")
    tree = ""
    parents: list[str] = []
    author = committer = Signature(name="", email="")
    for line in header.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode("ascii")
        elif key == b"parent":
            parents.append(value.decode("ascii"))
        elif key == b"author":
            author = parse_signature(value.decode("utf-8", errors="replace"))
        elif key == b"committer":
            committer = parse_signature(value.decode("utf-8", errors="replace"))
    return Commit(
        sha=sha,
        tree=tree,
        parents=tuple(parents),
        author=author,
        committer=committer,
        message=body.decode("utf-8", errors="replace"),
    )


def parse_signature(text: str) -> Signature:
    """Decode `Name <email> 1650000000 -0700` (and, with `--date=raw`, the same without the name part)."""
    name, _, rest = text.partition("<")
    email, _, when = rest.partition(">")
    return Signature(name=name.strip(), email=email.strip(), time=parse_time(when.strip()))


def parse_time(raw: str) -> datetime.datetime | None:
    """Decode git's raw time `1650000000 -0700` into an aware datetime."""
    seconds, _, zone = raw.partition(" ")
    try:
        stamp = int(seconds)
        sign = -1 if zone.startswith("-") else 1
        digits = zone.lstrip("+-")
        offset = datetime.timedelta(hours=int(digits[:2] or 0), minutes=int(digits[2:4] or 0))
        return datetime.datetime.fromtimestamp(stamp, datetime.timezone(sign * offset))
    except (ValueError, OverflowError, OSError):
        return None


def format_signature(signature: Signature) -> str:
    """Encode a signature line; `<`, `>` and newlines are dropped from name and e-mail, as git does."""
    when = signature.time or datetime.datetime.now(datetime.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    offset = when.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{_clean(signature.name)} <{_clean(signature.email)}> {int(when.timestamp())} {zone}"


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch not in "<>\n\r\0").strip()
