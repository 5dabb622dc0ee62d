"""Package contents as an immutable map from file path to text, and the rules every path must follow.

`PackageResources` is what tasks, render and the metadata helpers take and return; it is also exactly what a
PackageRevisionResources object holds in `spec.resources`. Paths are checked when a map is built, so code
that holds a `PackageResources` never sees a path that could escape the package (architecture §6): relative,
normalised, `/`-separated, no `..` or `.` segments, no empty segment, no `.git` segment, no NUL or other
control characters, no backslash.

The size helpers enforce the 1 MiB budget of a PackageRevisionResources object. This module does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from porch_operator.errors import InvalidSpec

KPTFILE: Final = "Kptfile"
"""Name of the package descriptor file at the root of every package and subpackage."""

MAX_RESOURCES_BYTES: Final = 1024 * 1024
"""At most this many bytes of file text (UTF-8) in one PackageRevisionResources object."""

MAX_PATH_LENGTH: Final = 4096
_MAX_SEGMENT_LENGTH: Final = 255


_CONTROL: Final = re.compile("[\x00-\x1f\x7f]")


def validate_path(path: object) -> str:
    """Return `path` if it is a valid file path inside a package, else raise `InvalidSpec` naming it."""
    if not isinstance(path, str):
        raise InvalidSpec(f"File path {path!r} is not a string.")
    shown = _shown(path)
    if not path:
        raise InvalidSpec("File path must not be empty.")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidSpec(f"File path {shown} is longer than {MAX_PATH_LENGTH} characters.")
    if _CONTROL.search(path):
        raise InvalidSpec(f"File path {shown} contains a NUL or other control character.")
    if "\\" in path:
        raise InvalidSpec(f"File path {shown} contains a backslash; use '/' to separate directories.")
    if path.startswith("/"):
        raise InvalidSpec(f"File path {shown} is absolute; paths are relative to the package root.")
    for segment in path.split("/"):
        if segment == "":
            raise InvalidSpec(f"File path {shown} is not normalised (empty segment or trailing '/').")
        if segment in (".", ".."):
            raise InvalidSpec(f"File path {shown} contains '{segment}'; paths must stay inside the package.")
        if segment.lower() == ".git":
            raise InvalidSpec(f"File path {shown} contains a '.git' segment, which is reserved for git.")
        if len(segment.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_LENGTH:
            raise InvalidSpec(f"File path {shown} has a segment longer than {_MAX_SEGMENT_LENGTH} bytes.")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidSpec(f"File path {shown} is not valid Unicode text.") from exc
    return path


def _shown(path: str) -> str:
    """A printable, bounded rendering of a path for messages (it may contain hostile characters)."""
    text = ascii(path)
    return text if len(text) <= 200 else text[:197] + "...'"


def _validate_text(path: str, text: object) -> str:
    if not isinstance(text, str):
        raise InvalidSpec(f"Content of file {_shown(path)} is not text.")
    if "\x00" in text:
        raise InvalidSpec(
            f"Content of file {_shown(path)} contains a NUL character; only text files are allowed."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidSpec(f"Content of file {_shown(path)} is not valid Unicode text.") from exc
    return text


def _check_no_file_directory_clash(files: Mapping[str, str]) -> None:
    """A path cannot be both a file and a directory (git cannot store that)."""
    for path in files:
        directory = parent_dir(path)
        while directory:
            if directory in files:
                raise InvalidSpec(
                    f"File path {_shown(path)} is inside {_shown(directory)}, "
                    "which is a file, not a directory."
                )
            directory = parent_dir(directory)


class PackageResources(Mapping[str, str]):
    """An immutable map from file path (relative to the package root) to the file's text.

    Building one validates every path and text; equality compares contents. Use `with_files`/`without` to
    derive a changed copy.
    """

    __slots__ = ("_files", "_hash")

    def __init__(self, files: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = files.items() if isinstance(files, Mapping) else files
        checked: dict[str, str] = {}
        for path, text in items:
            checked[validate_path(path)] = _validate_text(path, text)
        _check_no_file_directory_clash(checked)
        self._files = dict(sorted(checked.items()))
        self._hash: int | None = None

    @classmethod
    def _trusted(cls, files: dict[str, str]) -> PackageResources:
        instance = cls.__new__(cls)
        instance._files = dict(sorted(files.items()))
        instance._hash = None
        return instance

    def __getitem__(self, path: str) -> str:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackageResources):
            return self._files == other._files
        if isinstance(other, Mapping):
            return self._files == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._files.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"PackageResources({len(self._files)} files: {', '.join(list(self._files)[:5])}...)"

    def with_files(self, changes: Mapping[str, str]) -> PackageResources:
        """A copy with `changes` added or replacing existing files."""
        merged = dict(self._files)
        for path, text in changes.items():
            merged[validate_path(path)] = _validate_text(path, text)
        _check_no_file_directory_clash(merged)
        return PackageResources._trusted(merged)

    def without(self, paths: Iterable[str]) -> PackageResources:
        """A copy without the given paths (missing paths are ignored)."""
        removed = set(paths)
        return PackageResources._trusted({p: t for p, t in self._files.items() if p not in removed})

    def to_dict(self) -> dict[str, str]:
        """A plain, mutable dict copy (for writing into a custom resource)."""
        return dict(self._files)

    def size_bytes(self) -> int:
        """Total UTF-8 size of all file texts."""
        return total_size(self._files)


def total_size(files: Mapping[str, str]) -> int:
    """Total UTF-8 size of the file texts in `files`."""
    return sum(len(text.encode("utf-8")) for text in files.values())


def check_size(files: Mapping[str, str], *, limit: int = MAX_RESOURCES_BYTES) -> int:
    """Return the total size, or raise `InvalidSpec` naming the limit when the package is larger."""
    size = total_size(files)
    if size > limit:
        raise InvalidSpec(
            f"The package holds {size} bytes of file text, more than the limit of {limit} bytes "
            f"({limit // 1024} KiB) for a PackageRevisionResources object."
        )
    return size


def parent_dir(path: str) -> str:
    """Directory part of a package path ('' for files at the package root)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def join(directory: str, name: str) -> str:
    """Join a package directory ('' for the root) and a relative path."""
    return f"{directory}/{name}" if directory else name


def package_dirs(paths: Iterable[str]) -> list[str]:
    """Directories holding a Kptfile ('' for the root), sorted so that parents come before children."""
    found = {parent_dir(p) for p in paths if p == KPTFILE or p.endswith("/" + KPTFILE)}
    return sorted(found, key=lambda d: (d.count("/") + (1 if d else 0), d))


def owning_package(path: str, packages: Iterable[str]) -> str | None:
    """The innermost package directory that contains `path`, or None when no package contains it."""
    best: str | None = None
    for pkg in packages:
        inside = pkg == "" or path.startswith(pkg + "/")
        if inside and (best is None or len(pkg) > len(best)):
            best = pkg
    return best


def parent_package(package: str, packages: Iterable[str]) -> str:
    """The innermost package directory strictly containing the package directory `package`."""
    best = ""
    for candidate in packages:
        if (
            candidate
            and candidate != package
            and package.startswith(candidate + "/")
            and len(candidate) > len(best)
        ):
            best = candidate
    return best


def relative_to(path: str, directory: str) -> str:
    """`path` relative to `directory` (which must contain it)."""
    return path[len(directory) + 1 :] if directory else path


def path_sort_key(path: str) -> tuple[str, ...]:
    """Sort key that orders paths the way a directory walk visits them (segment by segment)."""
    return tuple(path.split("/"))
