"""Where the control-plane binaries are: built on demand by hack/controlplane/build.sh.

The build script keys its cache directory by the versions in the committed wrapper go.mod files and prints
the directory; when it already exists the call costs a few `go list` invocations. `PORCH_CONTROLPLANE_BIN`
overrides the lookup (for example to point at binaries built elsewhere).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "controlplane" / "build.sh"


def binary_dir() -> Path:
    override = os.environ.get("PORCH_CONTROLPLANE_BIN")
    if override:
        return Path(override)
    result = subprocess.run([str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(result.stdout.strip().splitlines()[-1])
