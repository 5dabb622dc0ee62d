"""The `operator/` folder is imported as `porch_operator`, never as `operator` (house-style §0).

A package named `operator` at the repository root would shadow the standard library's `operator` module
(imported by `enum`, `collections`, `dataclasses`) whenever the root is on sys.path. These tests install the
project into fresh virtual environments, once normally and once in editable mode, and run the guard commands
from the repository root, where the shadowing would happen.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GUARD = (
    "import operator, enum, collections; import porch_operator.handlers, porch_operator.errors; "
    "import fnrunner; "
    "assert operator.itemgetter.__module__ == 'operator', operator.itemgetter; "
    "assert operator.__file__.startswith(sys.base_prefix), operator.__file__; "
    "print(porch_operator.handlers.__file__)"
)


@pytest.fixture(scope="module", params=["regular", "editable"])
def installed_python(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    tmp_path = tmp_path_factory.mktemp(f"install-{request.param}")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    target = ["-e", str(REPO_ROOT)] if request.param == "editable" else [str(REPO_ROOT)]
    # --no-deps: importing the packages must not need third-party code at import time of their __init__.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", *target],
        check=True,
        cwd=tmp_path,
        capture_output=True,
    )
    return request.param, python


def test_stdlib_operator_is_not_shadowed_from_the_repository_root(installed_python: tuple[str, Path]) -> None:
    mode, python = installed_python
    result = subprocess.run(
        [str(python), "-c", f"import sys; {GUARD}"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{mode} install: {result.stderr}"
    location = Path(result.stdout.strip())
    if mode == "editable":
        assert location == REPO_ROOT / "operator" / "handlers" / "__init__.py"
    else:
        assert "site-packages" in location.parts, location


def test_pip_runs_from_the_repository_root(installed_python: tuple[str, Path]) -> None:
    mode, python = installed_python
    result = subprocess.run(
        [str(python), "-m", "pip", "--version"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{mode} install: {result.stderr}"
    assert result.stdout.startswith("pip "), result.stdout


def test_the_repository_has_no_operator_package_init() -> None:
    # The guard above only holds while operator/ stays a folder without __init__.py.
    assert not (REPO_ROOT / "operator" / "__init__.py").exists()


def test_this_interpreter_sees_the_stdlib_operator() -> None:
    import operator

    assert operator.__file__ is not None
    assert Path(operator.__file__).is_relative_to(Path(sys.base_prefix))
