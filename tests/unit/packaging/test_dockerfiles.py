"""The Dockerfiles pass hadolint and the project's own rules, without building them (no Docker here).

Project rules: every stage's base image is pinned (exact version tag or digest), the builds are multi-stage,
the final stage runs as a numeric non-root user with an exec-form entrypoint, and the fnrunner image installs
exactly the distributions fnrunner imports, at the versions pinned in pyproject.toml.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "hack" / "images"))
import requirements

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = [REPO_ROOT / "Dockerfile.operator", REPO_ROOT / "Dockerfile.fnrunner"]
HADOLINT = Path(sys.executable).parent / "hadolint"
# An exact version (1.26.8, 3.11.14) in the tag, or a digest.
_PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_report_problems(tmp_path: Path) -> None:
    # The linter is really checking: an unpinned base image running as root fails it.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nUSER root\n")
    result = subprocess.run([str(HADOLINT), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3002" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned_and_builds_are_multi_stage(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    args = dict(arg.split("=", 1) for keyword, arg in steps if keyword == "ARG" and "=" in arg)
    bases = [arg.split()[0] for keyword, arg in steps if keyword == "FROM"]
    assert len(bases) >= 2, "multi-stage: build stages plus a runtime stage"
    for base in bases:
        image = args.get(base.removeprefix("${").removesuffix("}"), base) if base.startswith("${") else base
        if image in {name for name in re.findall(r"AS (\w+)", dockerfile.read_text())}:
            continue  # a previous stage
        assert _PINNED.match(image) and (":" in image or "@" in image), f"{image} is not pinned"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_runtime_stage_is_non_root_with_an_exec_entrypoint(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    runtime = steps[last_from:]
    users = [arg for keyword, arg in runtime if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or (gid.isdigit() and int(gid) != 0))
    entrypoints = [arg for keyword, arg in runtime if keyword == "ENTRYPOINT"]
    assert entrypoints and entrypoints[-1].startswith("["), "exec-form ENTRYPOINT"


def _third_party_imports(package: Path) -> set[str]:
    names: set[str] = set()
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "fnrunner"}


def test_the_fnrunner_image_installs_what_fnrunner_imports() -> None:
    by_module = importlib.metadata.packages_distributions()
    imported = _third_party_imports(REPO_ROOT / "fnrunner")
    needed = {requirements.canonical(dist) for module in imported for dist in by_module[module]}
    installed = {requirements.canonical(name) for name in requirements.FNRUNNER}
    # aiohttp comes with kubernetes-asyncio (its dependency), not as a pin of its own.
    assert needed - {"aiohttp"} <= installed, f"missing from the fnrunner image: {needed - installed}"
    transitive = {
        requirements.canonical(
            line.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
        )
        for dist in requirements.FNRUNNER
        for line in importlib.metadata.requires(dist) or []
    }
    assert installed - needed - transitive == set(), (
        "the fnrunner image installs something fnrunner never imports"
    )


def test_requirements_come_from_the_pins_in_pyproject() -> None:
    lines = requirements.requirements(REPO_ROOT / "pyproject.toml", "fnrunner")
    assert [line.split("==")[0] for line in lines] == list(requirements.FNRUNNER)
    operator = requirements.requirements(REPO_ROOT / "pyproject.toml", "operator")
    assert set(lines) <= set(operator)
    assert all("==" in line for line in operator)
