"""Package resources: the path rules, immutability and the 1 MiB budget."""

from __future__ import annotations

import pytest

from porch_operator.engine import resources
from porch_operator.engine.resources import PackageResources
from porch_operator.errors import InvalidSpec


@pytest.mark.parametrize(
    "path",
    ["Kptfile", "a/b/c.yaml", "README.md", ".gitignore", "dir.with.dots/x", "ünïcode/файл.yaml", "a b/c d"],
)
def test_valid_paths_are_accepted(path: str) -> None:
    assert resources.validate_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../outside", "'..'"),
        ("a/../../b", "'..'"),
        ("a/./b", "'.'"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        (".git/config", ".git"),
        ("sub/.GIT/hooks/pre-commit", ".git"),
        ("nul\x00byte", "control character"),
        ("new\nline", "control character"),
        ("back\\slash", "backslash"),
        ("x" * 5000, "longer than"),
        ("a/" + "b" * 300, "segment longer"),
    ],
)
def test_hostile_paths_are_refused_with_a_message_naming_them(path: str, reason: str) -> None:
    with pytest.raises(InvalidSpec, match="File path") as caught:
        resources.validate_path(path)
    assert reason in str(caught.value)


def test_a_path_cannot_be_both_file_and_directory() -> None:
    with pytest.raises(InvalidSpec, match="which is a file"):
        PackageResources({"a": "x", "a/b": "y"})


def test_non_text_content_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="NUL"):
        PackageResources({"bin": "a\x00b"})
    with pytest.raises(InvalidSpec, match="not text"):
        PackageResources({"bin": b"bytes"})  # type: ignore[dict-item]


def test_resources_are_an_immutable_sorted_mapping() -> None:
    package = PackageResources({"b.yaml": "b", "Kptfile": "k"})
    assert list(package) == ["Kptfile", "b.yaml"]
    assert package == {"Kptfile": "k", "b.yaml": "b"}
    assert hash(package) == hash(PackageResources({"Kptfile": "k", "b.yaml": "b"}))
    changed = package.with_files({"c.yaml": "c"}).without(["b.yaml"])
    assert dict(changed) == {"Kptfile": "k", "c.yaml": "c"}
    assert dict(package) == {"Kptfile": "k", "b.yaml": "b"}
    with pytest.raises(TypeError):
        package["x"] = "y"  # type: ignore[index]
    with pytest.raises(InvalidSpec):
        package.with_files({"../x": "y"})


def test_size_budget() -> None:
    files = {"a": "é" * 10}
    assert resources.check_size(files) == 20
    assert PackageResources(files).size_bytes() == 20
    with pytest.raises(InvalidSpec, match="limit of 1048576 bytes"):
        resources.check_size({"big": "x" * (resources.MAX_RESOURCES_BYTES + 1)})


def test_package_directories() -> None:
    paths = ["Kptfile", "a/Kptfile", "a/b/Kptfile", "a/b/x.yaml", "c/x.yaml", "a/y.yaml"]
    assert resources.package_dirs(paths) == ["", "a", "a/b"]
    packages = resources.package_dirs(paths)
    assert resources.owning_package("a/b/x.yaml", packages) == "a/b"
    assert resources.owning_package("c/x.yaml", packages) == ""
    assert resources.owning_package("a/y.yaml", packages) == "a"
    assert resources.parent_package("a/b", packages) == "a"
    assert resources.parent_package("a", packages) == ""
    assert resources.owning_package("x", ["a"]) is None
