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

from localcluster import binaries, porch, samples
from localcluster.controlplane import ControlPlane
from localcluster.processes import free_port


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


_TRY = """
porch-operator is running. In another terminal:

  export KUBECONFIG={kubeconfig}
  kubectl get repositories                       # blueprints and deployments, Ready
  kubectl get packagerevisions                   # every revision found in git (short name: rpkg)
  kubectl get packages

  # a new draft, cloned from a published blueprint into the deployment repository:
  kubectl apply -f - <<YAML
  apiVersion: porch.kpt.dev/v1alpha2
  kind: PackageRevision
  metadata:
    name: deployments.my-namespace.first
  spec:
    repository: deployments
    packageName: my-namespace
    workspaceName: first
    lifecycle: Draft
    source:
      cloneFrom:
        upstreamRef:
          name: blueprints.basens.v2
  YAML
  kubectl wait rpkg/deployments.my-namespace.first --for=condition=Ready
  kubectl get packagerevisionresources deployments.my-namespace.first -o yaml   # its files, editable
  kubectl patch rpkg deployments.my-namespace.first --type=merge -p '{{"spec":{{"lifecycle":"Proposed"}}}}'
  kubectl patch rpkg deployments.my-namespace.first --type=merge -p '{{"spec":{{"lifecycle":"Published"}}}}'
  kubectl get rpkg deployments.my-namespace.first   # revision 1, latest
  git -C {git} log --oneline --all                 # what the operator wrote

Logs: {logs}/operator.log and {logs}/fnrunner.log. Metrics: http://127.0.0.1:{metrics}/metrics
Press Ctrl-C to stop everything.
"""


def cmd_run(state: Path) -> int:
    """The whole system in the foreground: control plane, API, operator, fnrunner and sample repositories."""
    if _running_pid(state) is not None:
        print(
            "A control plane from `make controlplane-up` is running; stop it with `make controlplane-down`."
        )
        return 1
    plane = start_control_plane(state)
    processes = []
    try:
        admin = _paths(state)["kubeconfig"]
        print(
            f"Control plane ready at {plane.api_url} in {plane.startup_seconds:.1f}s; installing porch.",
            flush=True,
        )
        porch.install_api(admin)
        work = state / "porch"
        work.mkdir(exist_ok=True)
        identity = porch.install_identity(plane, admin, work / "operator.kubeconfig")
        fnrunner_port, metrics_port = free_port(), free_port()
        processes.append(porch.start_fnrunner(work, fnrunner_port))
        processes.append(
            porch.start_operator(work, identity, fnrunner_port=fnrunner_port, metrics_port=metrics_port)
        )
        repos = samples.create(state / "git")
        porch.kubectl(admin, "apply", "-f", "-", stdin=samples.repository("blueprints", repos["blueprints"]))
        porch.kubectl(
            admin,
            "apply",
            "-f",
            "-",
            stdin=samples.repository("deployments", repos["deployments"], deployment=True),
        )
        porch.kubectl(
            admin, "wait", "--for=condition=Ready", "repository", "--all", "-n", "default", "--timeout=120s"
        )
        print(
            _TRY.format(kubeconfig=admin, git=repos["deployments"], logs=work, metrics=metrics_port),
            flush=True,
        )
        _wait_for_stop_signal()
    finally:
        print("Stopping porch-operator and the control plane.", flush=True)
        for process in reversed(processes):
            process.stop()
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
