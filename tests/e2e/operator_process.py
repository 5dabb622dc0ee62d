"""The operator and the function runner as real processes against the test session's control plane.

`OperatorStack.start()` installs what an admin installs (the CRDs and admission policies of `crds/`, the
operator's ServiceAccount and RBAC of `config/rbac`), mints a token for that ServiceAccount, and starts the
fnrunner (builtin and executable evaluators) and the operator (`python -m porch_operator.handlers
--standalone`) with it: the operator runs with exactly the permissions `config/rbac` grants. Logs go to files
whose tails are attached to failures. `kill()` sends SIGKILL (crash tests); `restart()` starts the operator
again on the same git cache.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.controlplane import ControlPlane
from localcluster.processes import free_port, log_tail
from tests.e2e.api import install
from tests.e2e.kube import Kubectl, eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "porch-system"
SERVICE_ACCOUNT = "porch-operator"


def service_account_kubeconfig(plane: ControlPlane, admin: Kubectl, path: Path) -> Path:
    token = admin.run(
        "create", "token", SERVICE_ACCOUNT, f"--namespace={NAMESPACE}", "--duration=24h"
    ).stdout.strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": plane.api_url,
                    "certificate-authority-data": base64.b64encode(plane.ca_file.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": SERVICE_ACCOUNT}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


@dataclass
class OperatorStack:
    plane: ControlPlane
    admin: Kubectl
    workdir: Path
    sync_interval: float = 300.0
    fnrunner_port: int = 0
    metrics_port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kubeconfig: Path | None = None

    def install(self) -> None:
        install.install(self.admin)
        self.admin.run("create", "namespace", NAMESPACE, check=False)
        self.admin.run("apply", "-k", str(REPO_ROOT / "config" / "rbac"))
        self.kubeconfig = service_account_kubeconfig(
            self.plane, self.admin, self.workdir / "operator.kubeconfig"
        )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        self.processes[name] = process
        return process

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig is None:
            self.install()
        self.fnrunner_port = free_port()
        self._spawn(
            "fnrunner",
            [
                sys.executable,
                "-m",
                "fnrunner",
                "--port",
                str(self.fnrunner_port),
                "--disable-runtimes",
                "pod",
                "--watch-function-configs",
                "false",
                "--metrics-port",
                "0",
            ],
            {**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
        )
        self.start_operator()

    def start_operator(self) -> None:
        assert self.kubeconfig is not None
        self.metrics_port = free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "NO_PROXY": "127.0.0.1,localhost",
            "PORCH_CACHE_DIR": str(self.workdir / "git-cache"),
            "PORCH_FUNCTION_RUNNER": f"127.0.0.1:{self.fnrunner_port}",
            "PORCH_METRICS_PORT": str(self.metrics_port),
            "PORCH_METRICS_ADDRESS": "127.0.0.1",
            "PORCH_SYNC_INTERVAL": str(self.sync_interval),
            "PORCH_GIT_TIMEOUT": "10",
        }
        self._spawn(
            "operator",
            [
                sys.executable,
                "-m",
                "porch_operator.handlers",
                "--standalone",
                "--verbose",
                "--log-format=plain",
            ],
            env,
        )
        eventually(self._metrics_up, timeout=60, what="the operator serves metrics")

    def _metrics_up(self) -> bool:
        process = self.processes["operator"]
        if process.poll() is not None:
            raise RuntimeError(f"the operator exited with {process.returncode}:\n{self.log_tail('operator')}")
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
        process = self.processes["operator"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def restart_operator(self) -> None:
        self.stop_process("operator")
        self.start_operator()

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

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
