"""What every benchmark prints about the machine it ran on (cores, Python, git, Kubernetes)."""

from __future__ import annotations

import os
import platform
import subprocess


def describe() -> list[str]:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return [
        f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}",
        f"python: {platform.python_version()}",
        f"git: {git.removeprefix('git version ')}",
    ]


def figure(name: str, value: float, unit: str, target: str = "") -> str:
    """One `name: value unit (target: ...)` line."""
    line = f"{name}: {value:.1f} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}"
    return f"{line} (target: {target})" if target else line
