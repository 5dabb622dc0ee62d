"""The committed gRPC stubs (Python and Go) are exactly what hack/generate_proto.py makes of the proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.fnrunner.conftest import REPO

GENERATED = [
    "fnrunner/api/evaluator_pb2.py",
    "fnrunner/api/evaluator_pb2.pyi",
    "fnrunner/api/evaluator_pb2_grpc.py",
    "fnrunner/wrapper/evaluator/evaluator.pb.go",
    "fnrunner/wrapper/evaluator/evaluator_grpc.pb.go",
]


def test_stubs_match_the_proto(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "hack" / "generate_proto.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    stale = [path for path in GENERATED if (tmp_path / path).read_bytes() != (REPO / path).read_bytes()]
    assert not stale, f"run `make proto`: {stale} differ from the generated stubs"
