"""kstatus's reading of objects, from the real implementation Flux uses (hack/kstatus, Go, cli-utils).

`build()` builds (or finds in the cache) the `porch-kstatus` binary with hack/kstatus/build.sh; `read(binary,
objects)` returns one `Reading` per object: `status` is Current, InProgress, Failed, Terminating or Unknown.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Reading:
    status: str
    message: str


def build() -> Path:
    result = subprocess.run(
        [str(REPO_ROOT / "hack" / "kstatus" / "build.sh")], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def read(binary: Path, objects: list[dict[str, Any]]) -> list[Reading]:
    result = subprocess.run(
        [str(binary)], input=json.dumps(objects), capture_output=True, text=True, timeout=60, check=True
    )
    return [Reading(**item) for item in json.loads(result.stdout)]
