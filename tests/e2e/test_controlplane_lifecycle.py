"""The local control plane starts, stops and never outlives whoever started it.

Covers the three ways it is started: the harness object (stop leaves nothing running), a process that is
killed with SIGKILL while it owns a control plane (the kernel kills the servers, PR_SET_PDEATHSIG), and the
`python -m localcluster up`/`down` commands behind `make controlplane-up`/`controlplane-down`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from localcluster import binaries
from localcluster.controlplane import ControlPlane
from tests.e2e.kube import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "hack"), "NO_PROXY": "127.0.0.1,localhost"}


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a container's init may not reap orphans at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    plane = ControlPlane(bin_dir=binaries.binary_dir(), workdir=tmp_path)
    with plane:
        pids = plane.pids()
        assert len(pids) == 3
        assert all(running(pid) for pid in pids)
    assert not [pid for pid in pids if running(pid)]


def test_servers_die_when_their_owner_is_killed(tmp_path: Path) -> None:
    owner_script = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from localcluster.controlplane import ControlPlane
        plane = ControlPlane(bin_dir=Path({str(binaries.binary_dir())!r}), workdir=Path({str(tmp_path)!r}))
        plane.start()
        print(json.dumps(plane.pids()), flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", owner_script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line, owner.stderr.read() if owner.stderr else "owner exited"
        pids = json.loads(line)
        assert len(pids) == 3 and all(running(pid) for pid in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        eventually(lambda: not [p for p in pids if running(p)], timeout=30, what="servers gone after SIGKILL")
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.communicate()


def test_up_and_down_commands(tmp_path: Path) -> None:
    state = tmp_path / "state"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "localcluster", "--state-dir", str(state), *args],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
        )

    up = cli("up")
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = state / "kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in up.stdout
        supervisor = int((state / "controlplane.pid").read_text())
        namespaces = subprocess.run(
            ["kubectl", f"--kubeconfig={kubeconfig}", "get", "namespace", "default", "-o", "name"],
            capture_output=True,
            text=True,
            env=ENV,
        )
        assert namespaces.stdout.strip() == "namespace/default", namespaces.stderr
        # A second `up` finds the running one and starts nothing new.
        again = cli("up")
        assert again.returncode == 0 and int((state / "controlplane.pid").read_text()) == supervisor
        children = [
            int(p) for p in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
        ]
        assert len(children) == 3
    finally:
        down = cli("down")
    assert down.returncode == 0, down.stderr
    assert not running(supervisor)
    assert not [pid for pid in children if running(pid)]
    assert not (state / "kubeconfig").exists()
