"""Validation and normalisation of every name that reaches git: directories, package paths, file paths,
workspace and branch names.

Package paths become parts of ref names (`drafts/<path>/<ws>`, `<path>/v3`), so they must satisfy git's
ref-name rules as well as the package rules (relative, no `..`, no `.git`, no NUL). File paths only have to be
safe inside a tree. Every check raises `InvalidSpec` with a sentence that names the offending value; nothing
here touches git.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from porch_operator.errors import InvalidSpec

# Characters git forbids in ref names (git-check-ref-format), plus the ones that make no sense in a path.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def normalize_directory(directory: str) -> str:
    """The Repository's `git.directory` without leading/trailing slashes ("" for the repository root)."""
    trimmed = directory.strip("/")
    if trimmed:
        validate_package_path(trimmed, what="directory")
    return trimmed


def join(directory: str, package: str) -> str:
    """The path from the repository root of `package` in a Repository rooted at `directory`."""
    return f"{directory}/{package}" if directory else package


def in_directory(path: str, directory: str) -> bool:
    """Whether `path` is `directory` or below it (Porch's `packageInDirectory`)."""
    if not directory:
        return True
    return path == directory or path.startswith(directory + "/")


def relative_to(path: str, directory: str) -> str:
    """`path` relative to `directory` (which must contain it)."""
    if not directory:
        return path
    return path[len(directory) + 1 :] if path != directory else ""


def validate_package_path(path: str, *, what: str = "package path") -> str:
    """Check a package path (or directory) that will become part of ref names; return it unchanged."""
    if not isinstance(path, str) or not path:
        raise InvalidSpec(f"The {what} must be a non-empty string.")
    if "\x00" in path:
        raise InvalidSpec(f"The {what} {path!r} contains a NUL byte.")
    if path.startswith("/"):
        raise InvalidSpec(f"The {what} {path!r} is absolute; it must be relative to the repository.")
    for segment in path.split("/"):
        _check_segment(segment, path, what)
        _check_ref_segment(segment, path, what)
    return path


def validate_file_path(path: str) -> str:
    """Check a file path inside a package (relative, normalised, no `..`, no `.git`, no NUL)."""
    if not isinstance(path, str) or not path:
        raise InvalidSpec("A file path in the package is empty.")
    if "\x00" in path:
        raise InvalidSpec(f"The file path {path!r} contains a NUL byte.")
    if path.startswith("/"):
        raise InvalidSpec(f"The file path {path!r} is absolute; paths must be relative to the package.")
    for segment in path.split("/"):
        _check_segment(segment, path, "file path")
    return path


def validate_file_set(paths: Iterable[str]) -> None:
    """Check every path and that no path is both a file and a directory (`a` and `a/b`)."""
    files = set()
    for path in paths:
        files.add(validate_file_path(path))
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in files:
                raise InvalidSpec(f"The file path {prefix!r} is also used as a directory by {path!r}.")


def validate_workspace(workspace: str) -> str:
    """A new workspace name must be a DNS-1123 label (Porch §2.7)."""
    if not isinstance(workspace, str) or not _DNS_LABEL.match(workspace):
        raise InvalidSpec(
            f"The workspace name {workspace!r} is not a DNS-1123 label "
            "(lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter "
            "or digit)."
        )
    return workspace


def validate_ref_part(value: str, *, what: str) -> str:
    """Check a workspace or version that is the last segment of an existing ref (not only DNS labels)."""
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidSpec(f"The {what} {value!r} must be a single non-empty path segment.")
    _check_segment(value, value, what)
    _check_ref_segment(value, value, what)
    return value


def validate_branch(branch: str) -> str:
    """Check the Repository's `git.branch` (a branch name, possibly with slashes)."""
    return validate_package_path(branch, what="branch name")


def _check_segment(segment: str, path: str, what: str) -> None:
    if segment in ("", ".", ".."):
        raise InvalidSpec(f"The {what} {path!r} is not normalised (empty, '.' or '..' segment).")
    if segment.lower() == ".git":
        raise InvalidSpec(f"The {what} {path!r} reaches into a '.git' directory.")


def _check_ref_segment(segment: str, path: str, what: str) -> None:
    if _REF_FORBIDDEN.search(segment) or "@{" in segment or ".." in segment or segment == "@":
        raise InvalidSpec(f"The {what} {path!r} contains characters git does not allow in ref names.")
    if segment.startswith(".") or segment.endswith(".lock") or segment.endswith("."):
        raise InvalidSpec(f"The {what} {path!r} has a segment git does not allow in ref names.")
    if segment.startswith("-"):
        raise InvalidSpec(f"The {what} {path!r} has a segment starting with '-'.")
