"""The end-to-end suite against a kind cluster running the built images (`make test-e2e-kind`, needs Docker).

When PORCH_E2E_KIND_CLUSTER names a kind cluster, the session's `control_plane` is that cluster
(`KindCluster`: the admin kubeconfig from `kind get kubeconfig`, identities minted with the cluster's own CA,
read from the control-plane node) and the operator suite's `stack` is the deployed operator
(`DeployedStack`: the Deployment of config/kind, which is config/default plus a hostPath mount of the test
session's directory, so the suite's file:// git repositories have the same paths inside the pod; pytest runs
with umask 000 so that the operator's uid may push to them). Killing and restarting the operator become pod
deletions and rollouts; metrics are read through the API server's pod proxy.

Not verified on the development machine (it has no Docker engine). Tests that serve git over HTTP on the test
machine's loopback cannot be reached from the pod.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.api import install
from tests.e2e.kube import eventually
from tests.e2e.operator_process import OperatorStack

CLUSTER_ENV = "PORCH_E2E_KIND_CLUSTER"
KIND_ENV = "PORCH_E2E_KIND"
NAMESPACE = "porch-system"
SELECTOR = "app.kubernetes.io/name=porch-operator,app.kubernetes.io/component=operator"


def enabled() -> bool:
    return bool(os.environ.get(CLUSTER_ENV))


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@dataclass
class KindCluster:
    """What the suite uses of `ControlPlane`, for an existing kind cluster."""

    name: str
    workdir: Path
    api_url: str = ""
    _ca_cert: x509.Certificate | None = None
    _ca_key: Any = None
    _minted: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def connect(cls, workdir: Path) -> KindCluster:
        cluster = cls(os.environ[CLUSTER_ENV], workdir)
        kind = os.environ.get(KIND_ENV, "kind")
        config = _run(kind, "get", "kubeconfig", "--name", cluster.name)
        cluster.admin_kubeconfig.write_text(config)
        cluster.admin_kubeconfig.chmod(0o600)
        cluster.api_url = yaml.safe_load(config)["clusters"][0]["cluster"]["server"]
        node = f"{cluster.name}-control-plane"
        cert = _run("docker", "exec", node, "cat", "/etc/kubernetes/pki/ca.crt")
        key = _run("docker", "exec", node, "cat", "/etc/kubernetes/pki/ca.key")
        cluster.ca_file.write_text(cert)
        cluster._ca_cert = x509.load_pem_x509_certificate(cert.encode())
        cluster._ca_key = serialization.load_pem_private_key(key.encode(), password=None)
        return cluster

    def __enter__(self) -> KindCluster:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "ca.crt"

    def kubeconfig_for(self, user: str, groups: list[str] | tuple[str, ...] = ()) -> Path:
        key = json.dumps([user, *groups])
        if key in self._minted:
            return self._minted[key]
        assert self._ca_cert is not None
        private = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, user)]
            + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        key_pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kind",
                    "cluster": {
                        "server": self.api_url,
                        "certificate-authority-data": base64.b64encode(self.ca_file.read_bytes()).decode(),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": base64.b64encode(
                            cert.public_bytes(serialization.Encoding.PEM)
                        ).decode(),
                        "client-key-data": base64.b64encode(key_pem).decode(),
                    },
                }
            ],
            "contexts": [{"name": "kind", "context": {"cluster": "kind", "user": user}}],
            "current-context": "kind",
        }
        path = self.workdir / "kubeconfigs" / f"{len(self._minted)}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        self._minted[key] = path
        return path


@dataclass
class DeployedStack(OperatorStack):
    """OperatorStack's interface over the operator `make deploy` installed in the kind cluster."""

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        install.install(self.admin)  # the suite's identities and roles, as for the local stack
        self.start_operator()

    def _pods(self) -> list[dict[str, Any]]:
        return list(self.admin.in_namespace(NAMESPACE).get("pods", None, "-l", SELECTOR)["items"])

    def _active_pod(self) -> str | None:
        """The pod whose kopf peering record has the highest priority among live ones."""
        peering = self.admin.get("clusterkopfpeering", "porch-operator").get("status") or {}
        running = {
            p["metadata"]["name"]
            for p in self._pods()
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        }
        live = {name: peer["priority"] for name, peer in peering.items() if name in running}
        return max(live, key=lambda name: live[name]) if live else None

    def start_operator(self) -> None:
        ns = self.admin.in_namespace(NAMESPACE)
        ns.run("rollout", "status", "deployment/porch-operator", "--timeout=300s", timeout=320)
        eventually(self._active_pod, timeout=120, what="an operator replica is active")

    def stop_process(self, name: str) -> None:
        return None  # the Deployment keeps the operator running; kill_operator and restart_operator act on it

    def stop(self) -> None:
        return None

    def kill_operator(self) -> None:
        active = self._active_pod()
        assert active is not None
        self.admin.in_namespace(NAMESPACE).run("delete", "pod", active, "--grace-period=0", "--force")

    def restart_operator(self) -> None:
        ns = self.admin.in_namespace(NAMESPACE)
        ns.run("rollout", "restart", "deployment/porch-operator")
        time.sleep(1)
        self.start_operator()

    def log_tail(self, name: str = "operator", lines: int = 80) -> str:
        pod = self._active_pod() or "deployment/porch-operator"
        result = self.admin.in_namespace(NAMESPACE).run(
            "logs", pod, "-c", name, f"--tail={lines}", check=False
        )
        return result.stdout + result.stderr

    def metric(self, name: str, **labels: str) -> float:
        pod = self._active_pod()
        assert pod is not None
        text = self.admin.run(
            "get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:9464/proxy/metrics"
        ).stdout
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                sample, value = line.rsplit(" ", 1)
                if sample.split("{")[0] == name and all(f'{k}="{v}"' in sample for k, v in labels.items()):
                    total += float(value)
        return total
