"""Figures of the local control plane: cold build time, warm start-to-ready time, memory when running.

The cold build time is the one recorded by hack/controlplane/build.sh when it built the cached binaries
(`.complete` in the cache directory); measuring it again would mean a 10-minute rebuild. Start-to-ready is
measured here over several fresh starts (new PKI and etcd data each time). Memory is the resident set of
etcd, kube-apiserver and kube-controller-manager together, read from /proc after start and after a pause.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe, figure
from localcluster import binaries
from localcluster.controlplane import ControlPlane, versions

STARTS = 3


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    bin_dir = binaries.binary_dir()
    info = dict(
        line.split("=", 1) for line in (bin_dir / ".complete").read_text().splitlines() if "=" in line
    )
    for line in describe():
        print(line)
    v = versions(bin_dir)
    print(f"kubernetes: {v['kubernetes']}, etcd: {v['etcd']}")
    print(
        figure("controlplane_cold_build", float(info["build_seconds"]), "s", "none; built once per machine")
    )
    starts: list[float] = []
    rss_after_start = rss_settled = 0.0
    for attempt in range(STARTS):
        with tempfile.TemporaryDirectory() as work:
            plane = ControlPlane(bin_dir=bin_dir, workdir=Path(work))
            t0 = time.monotonic()
            with plane:
                starts.append(time.monotonic() - t0)
                if attempt == STARTS - 1:
                    rss_after_start = sum(rss_mib(pid) for pid in plane.pids())
                    time.sleep(20)
                    rss_settled = sum(rss_mib(pid) for pid in plane.pids())
    print(figure("controlplane_warm_start_to_ready_median", statistics.median(starts), "s", "<= 30 s"))
    print(figure("controlplane_warm_start_to_ready_max", max(starts), "s"))
    print(figure("controlplane_rss_after_start", rss_after_start, "MiB"))
    print(figure("controlplane_rss_after_20s", rss_settled, "MiB"))


if __name__ == "__main__":
    main()
