"""Command line of the local cluster: `up`, `down`, `run` (see `python -m localcluster --help`).

`up` starts a detached supervisor (`serve`) that owns the control plane and returns once it is ready,
printing the `export KUBECONFIG=...` line; `down` asks the supervisor to stop and waits for it. `run` keeps
the control plane in the foreground until Ctrl-C. State lives in `--state-dir` (default `.local`): the admin
kubeconfig (`kubeconfig`), the supervisor's pid and logs, and the servers' work directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from localcluster import binaries
from localcluster.controlplane import ControlPlane


def _paths(state: Path) -> dict[str, Path]:
    return {
        "pid": state / "controlplane.pid",
        "kubeconfig": state / "kubeconfig",
        "log": state / "controlplane.log",
        "work": state / "controlplane",
    }


def _running_pid(state: Path) -> int | None:
    pid_file = _paths(state)["pid"]
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _wait_for_stop_signal() -> None:
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)
    while not received:
        signal.pause()


def start_control_plane(state: Path) -> ControlPlane:
    """Start a fresh control plane under `state` and publish its admin kubeconfig there."""
    paths = _paths(state)
    shutil.rmtree(paths["work"], ignore_errors=True)
    plane = ControlPlane(bin_dir=binaries.binary_dir(), workdir=paths["work"]).start()
    shutil.copyfile(plane.admin_kubeconfig, paths["kubeconfig"])
    paths["kubeconfig"].chmod(0o600)
    return plane


def cmd_serve(state: Path) -> int:
    paths = _paths(state)
    paths["pid"].write_text(str(os.getpid()))
    plane = start_control_plane(state)
    try:
        print(f"Control plane ready at {plane.api_url} in {plane.startup_seconds:.1f}s.", flush=True)
        _wait_for_stop_signal()
    finally:
        plane.stop()
        for name in ("pid", "kubeconfig"):
            paths[name].unlink(missing_ok=True)
    return 0


def cmd_run(state: Path) -> int:
    if _running_pid(state) is not None:
        print(
            "A control plane from `make controlplane-up` is running; stop it with `make controlplane-down`."
        )
        return 1
    plane = start_control_plane(state)
    try:
        print(f"Control plane ready at {plane.api_url} in {plane.startup_seconds:.1f}s. In another terminal:")
        print(f"export KUBECONFIG={_paths(state)['kubeconfig']}")
        print("Press Ctrl-C to stop everything.", flush=True)
        _wait_for_stop_signal()
    finally:
        print("Stopping the control plane.", flush=True)
        plane.stop()
        _paths(state)["kubeconfig"].unlink(missing_ok=True)
    return 0


def cmd_up(state: Path) -> int:
    paths = _paths(state)
    if _running_pid(state) is None:
        paths["kubeconfig"].unlink(missing_ok=True)
        with open(paths["log"], "ab") as log:
            supervisor = subprocess.Popen(
                [sys.executable, "-m", "localcluster", "--state-dir", str(state), "serve"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the terminal and `make` that started it
            )
        while not paths["kubeconfig"].exists():
            if supervisor.poll() is not None:
                print(paths["log"].read_text()[-4000:], file=sys.stderr)
                print("The control plane failed to start; the log is above.", file=sys.stderr)
                return 1
            time.sleep(0.2)
    print("Control plane is running. To use it:")
    print(f"export KUBECONFIG={paths['kubeconfig'].resolve()}")
    return 0


def cmd_down(state: Path) -> int:
    pid = _running_pid(state)
    if pid is None:
        print("No control plane is running.")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            print("Control plane stopped.")
            return 0
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)  # its servers die with it (PR_SET_PDEATHSIG)
    print("Control plane killed after 60s.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    parser.add_argument("command", choices=["up", "down", "run", "serve"])
    args = parser.parse_args(argv)
    state: Path = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    return {"up": cmd_up, "down": cmd_down, "run": cmd_run, "serve": cmd_serve}[args.command](state)


if __name__ == "__main__":
    sys.exit(main())
