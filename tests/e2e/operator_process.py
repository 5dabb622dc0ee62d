"""The operator and the function runner as real processes against the test session's control plane.

`OperatorStack.start()` installs what an admin installs (the CRDs and admission policies of `crds/`, the
operator's ServiceAccount and RBAC of `config/rbac`), mints a token for that ServiceAccount, and starts the
fnrunner (builtin and executable evaluators) and the operator (`python -m porch_operator.handlers
--standalone`) with it, through `localcluster.porch` (which `make run` uses too): the operator runs with
exactly the permissions `config/rbac` grants. Logs go to files
whose tails are attached to failures. `kill()` sends SIGKILL (crash tests); `restart()` starts the operator
again on the same git cache.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from localcluster import porch
from localcluster.controlplane import ControlPlane
from localcluster.processes import ManagedProcess, free_port, log_tail
from tests.e2e.api import install
from tests.e2e.kube import Kubectl, eventually

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class OperatorStack:
    plane: ControlPlane
    admin: Kubectl
    workdir: Path
    sync_interval: float = 300.0
    fnrunner_port: int = 0
    metrics_port: int = 0
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    kubeconfig: Path | None = None

    def install(self) -> None:
        install.install(self.admin)
        self.kubeconfig = porch.install_identity(
            self.plane, self.admin.kubeconfig, self.workdir / "operator.kubeconfig"
        )

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig is None:
            self.install()
        self.fnrunner_port = free_port()
        self.processes["fnrunner"] = porch.start_fnrunner(self.workdir, self.fnrunner_port)
        self.start_operator()

    def start_operator(self) -> None:
        assert self.kubeconfig is not None
        self.metrics_port = free_port()
        self.processes["operator"] = porch.start_operator(
            self.workdir,
            self.kubeconfig,
            fnrunner_port=self.fnrunner_port,
            metrics_port=self.metrics_port,
            settings={"PORCH_SYNC_INTERVAL": str(self.sync_interval), "PORCH_GIT_TIMEOUT": "10"},
        )
        eventually(self._metrics_up, timeout=60, what="the operator serves metrics")

    def _metrics_up(self) -> bool:
        process = self.processes["operator"]
        if not process.alive():
            raise RuntimeError(
                f"the operator exited with {process.popen.returncode}:\n{self.log_tail('operator')}"
            )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        """The current value of one metric sample of the operator (0 when absent)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                sample, value = line.rsplit(" ", 1)
                matches = all(f'{k}="{v}"' in sample for k, v in labels.items())
                if sample.split("{")[0] == name and (not wanted or matches):
                    total += float(value)
        return total

    def log_tail(self, name: str = "operator", lines: int = 80) -> str:
        return log_tail(self.workdir / f"{name}.log", lines)

    def kill_operator(self) -> None:
        process = self.processes["operator"].popen
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def restart_operator(self) -> None:
        self.stop_process("operator")
        self.start_operator()

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop(grace=30)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_process(name)

    def wait_ready(self, kind: str, name: str, kubectl: Kubectl, timeout: float = 60) -> dict:  # type: ignore[type-arg]
        """Wait for condition Ready=True (with the object's generation observed); returns the object."""
        deadline = time.monotonic() + timeout
        while True:
            result = kubectl.run(
                "wait",
                "--for=condition=Ready",
                f"{kind}/{name}",
                f"--timeout={max(1, int(deadline - time.monotonic()))}s",
                check=False,
            )
            if result.returncode == 0:
                return kubectl.get(kind, name)  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                obj = kubectl.run("get", kind, name, "-o", "yaml", check=False).stdout
                raise AssertionError(f"{kind}/{name} not Ready after {timeout}s:\n{obj}\n{self.log_tail()}")
            time.sleep(0.2)
