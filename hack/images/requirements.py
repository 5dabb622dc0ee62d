"""Print pinned requirements for a container image, taking the versions from pyproject.toml.

`python requirements.py PYPROJECT fnrunner` prints the runtime dependencies the function runner imports (the
fnrunner image installs only those); `... operator` prints all runtime dependencies. The image builds run it
with the standard library only (tomllib), so pyproject.toml stays the one place where versions are pinned.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# Distributions whose modules fnrunner imports (kubernetes-asyncio brings aiohttp). A unit test checks this
# against fnrunner's imports.
FNRUNNER = (
    "grpcio",
    "grpcio-health-checking",
    "protobuf",
    "kubernetes-asyncio",
    "PyYAML",
    "ruamel.yaml",
    "yaml-rs",
    "prometheus-client",
    "starlark-pyo3",
)

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(pyproject: Path) -> dict[str, str]:
    """Canonical distribution name -> the `name==version` line of pyproject's runtime dependencies."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    found: dict[str, str] = {}
    for line in dependencies:
        match = _PIN.match(line.strip())
        if match is None:
            raise SystemExit(f"runtime dependency {line!r} is not pinned exactly (name==version)")
        found[canonical(match.group(1))] = line.strip()
    return found


def requirements(pyproject: Path, image: str) -> list[str]:
    pinned = pins(pyproject)
    if image == "operator":
        return sorted(pinned.values())
    if image == "fnrunner":
        missing = [name for name in FNRUNNER if canonical(name) not in pinned]
        if missing:
            raise SystemExit(f"not pinned in {pyproject}: {', '.join(missing)}")
        return [pinned[canonical(name)] for name in FNRUNNER]
    raise SystemExit(f"unknown image {image!r}: operator or fnrunner")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: requirements.py PYPROJECT (operator|fnrunner)")
    print("\n".join(requirements(Path(argv[0]), argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
