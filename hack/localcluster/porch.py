"""porch-operator on a local control plane: install the API, the operator's identity, and start the processes.

Shared by `make run` (`python -m localcluster run`) and the end-to-end tests (tests/e2e/operator_process.py):

- `install_api` applies `crds/` (CRDs, admission policies, the operator-identity parameter) and waits until
  the CRDs are established;
- `install_identity` applies `config/rbac` (the operator's ServiceAccount and least-privilege role) and
  mints a token for that ServiceAccount into a kubeconfig, so the operator runs with exactly those
  permissions;
- `start_fnrunner` and `start_operator` start the two processes (they die with their parent; see
  `processes`), logging to files in the work directory.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from localcluster.controlplane import ControlPlane
from localcluster.processes import ManagedProcess, spawn

REPO_ROOT = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "porch-system"
SERVICE_ACCOUNT = "porch-operator"
_NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **_NO_PROXY},
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def install_api(admin: Path) -> None:
    kubectl(admin, "apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    kubectl(
        admin,
        "wait",
        "--for=condition=Established",
        "crd",
        "-l",
        "app.kubernetes.io/part-of=porch-operator",
        "--timeout=60s",
    )


def install_identity(plane: ControlPlane, admin: Path, path: Path) -> Path:
    """The operator's ServiceAccount and RBAC from config/rbac, and a kubeconfig with a token for it."""
    kubectl(admin, "apply", "--server-side", "-k", str(REPO_ROOT / "config" / "rbac"))
    token = kubectl(
        admin, "create", "token", SERVICE_ACCOUNT, f"--namespace={OPERATOR_NAMESPACE}", "--duration=24h"
    ).strip()
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


def start_fnrunner(workdir: Path, port: int, *extra: str) -> ManagedProcess:
    """The function runner with its builtin and executable evaluators (no pods: no kubelet runs locally)."""
    argv = [
        sys.executable,
        "-m",
        "fnrunner",
        "--port",
        str(port),
        "--disable-runtimes",
        "pod",
        "--watch-function-configs",
        "false",
        "--metrics-port",
        "0",
        *extra,
    ]
    return spawn("fnrunner", argv, workdir, env={**os.environ, **_NO_PROXY})


def start_operator(
    workdir: Path,
    kubeconfig: Path,
    *,
    fnrunner_port: int,
    metrics_port: int,
    settings: dict[str, str] | None = None,
) -> ManagedProcess:
    env = {
        **os.environ,
        **_NO_PROXY,
        "KUBECONFIG": str(kubeconfig),
        "PORCH_CACHE_DIR": str(workdir / "git-cache"),
        "PORCH_FUNCTION_RUNNER": f"127.0.0.1:{fnrunner_port}",
        "PORCH_METRICS_PORT": str(metrics_port),
        "PORCH_METRICS_ADDRESS": "127.0.0.1",
        **(settings or {}),
    }
    argv = [sys.executable, "-m", "porch_operator.handlers", "--standalone", "--log-format=plain"]
    return spawn("operator", argv, workdir, env=env)
