"""Names that reach git: directories, package paths, file paths, workspaces, branches."""

from __future__ import annotations

import pytest

from porch_operator.errors import InvalidSpec
from porch_operator.gitstore import paths


@pytest.mark.parametrize("good", ["app", "team/app", "a-b/c_d/e.f", "v1.2"])
def test_valid_package_paths(good: str) -> None:
    assert paths.validate_package_path(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "/abs",
        "a/../b",
        "..",
        "a/./b",
        "a//b",
        "a/",
        ".git",
        "a/.GIT/b",
        "x\x00y",
        "a b",
        "a:b",
        "a~1",
        "a^b",
        "a?b",
        "a*b",
        "a[b",
        "a\\b",
        "a@{b",
        ".hidden",
        "a.lock",
        "a.",
        "-opt",
        "a..b",
    ],
)
def test_invalid_package_paths(bad: str) -> None:
    with pytest.raises(InvalidSpec):
        paths.validate_package_path(bad)


def test_file_paths_are_looser_but_safe() -> None:
    paths.validate_file_set(["Kptfile", "a b.yaml", ".hidden", "sub/x:y.txt", "a..b"])
    for bad in ("", "/etc/passwd", "../x", "a/./b", "a//b", ".git/config", "sub/.git", "n\x00ul", "dir/"):
        with pytest.raises(InvalidSpec):
            paths.validate_file_set([bad])
    with pytest.raises(InvalidSpec, match="also used as a directory"):
        paths.validate_file_set(["a", "a/b"])


def test_directories_and_workspaces() -> None:
    assert paths.normalize_directory("/") == ""
    assert paths.normalize_directory("/catalog/gcp/") == "catalog/gcp"
    assert paths.join("", "app") == "app" and paths.join("dir", "app") == "dir/app"
    assert paths.in_directory("dir/app", "dir") and not paths.in_directory("dir2/app", "dir")
    assert paths.relative_to("dir/a/b", "dir") == "a/b"
    assert paths.validate_workspace("ws-1") == "ws-1"
    for bad in ("WS", "-ws", "ws-", "w_s", "a" * 64, "", "w.s"):
        with pytest.raises(InvalidSpec):
            paths.validate_workspace(bad)
