"""etcd + kube-apiserver + kube-controller-manager on free loopback ports, with TLS and RBAC.

`ControlPlane.start()` writes a fresh PKI into its work directory, starts the three servers in order and
waits until each is ready (etcd `/health`, API server `/readyz` and the `default` namespace, controller
manager `/healthz`). `kubeconfig_for(user, groups)` mints a client certificate for any identity and writes a
kubeconfig for it; the admin identity is in `system:masters`. `stop()` stops the servers in reverse order;
if the owning process dies instead, the kernel kills them (see `processes`).

The controller manager runs the controllers the design relies on: garbage collection (ownerReferences),
namespace deletion, service accounts and their tokens, and the root CA publisher.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from localcluster import pki
from localcluster.processes import LOOPBACK, ManagedProcess, free_port, spawn, wait_http_ok

ADMIN_USER = "porch-admin"
_CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
)


def _safe_file_stem(user: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", user)


@dataclass
class ControlPlane:
    """One local control plane; see the module docstring."""

    bin_dir: Path
    workdir: Path
    controller_manager: bool = True
    start_timeout: float = 90.0
    processes: list[ManagedProcess] = field(default_factory=list)
    api_url: str = ""
    startup_seconds: float = 0.0
    _ca: pki.CertificateAuthority | None = None

    # --- identities -------------------------------------------------------------------------------------
    @property
    def ca_file(self) -> Path:
        return self.workdir / "ca.crt"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.kubeconfig_for(ADMIN_USER, ["system:masters"])

    def kubeconfig_for(self, user: str, groups: list[str] | tuple[str, ...] = ()) -> Path:
        """Write (once) and return a kubeconfig that authenticates as `user` in `groups`."""
        assert self._ca is not None and self.api_url, "start() the control plane first"
        stem = _safe_file_stem("-".join([user, *groups]))
        path = self.workdir / "kubeconfigs" / f"{stem}.kubeconfig"
        if path.exists():
            return path
        pair = self._ca.issue_client(user, groups)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {
                        "server": self.api_url,
                        "certificate-authority-data": base64.b64encode(self._ca.cert_pem).decode(),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": base64.b64encode(pair.cert_pem).decode(),
                        "client-key-data": base64.b64encode(pair.key_pem).decode(),
                    },
                }
            ],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            "current-context": "local",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML: kubectl and every client read it
        path.chmod(0o600)
        return path

    def ssl_context_for(self, user: str, groups: list[str] | tuple[str, ...] = ()) -> ssl.SSLContext:
        """A client TLS context for `user`, for raw HTTPS calls to the API server."""
        assert self._ca is not None
        pair = self._ca.issue_client(user, groups)
        certs = self.workdir / "certs"
        cert, key = pair.write(certs, _safe_file_stem(f"ctx-{user}-{time.monotonic_ns()}"))
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(cert), str(key))
        return context

    # --- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> ControlPlane:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._write_pki()
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url)
            self.admin_kubeconfig  # noqa: B018 - written now, so callers can copy it without minting
            if self.controller_manager:
                self._start_controller_manager()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    # --- components -------------------------------------------------------------------------------------
    def _binary(self, name: str) -> str:
        path = self.bin_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; build it with hack/controlplane/build.sh")
        return str(path)

    def _write_pki(self) -> None:
        certs = self.workdir / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        self._ca = pki.CertificateAuthority()
        self.ca_file.write_bytes(self._ca.cert_pem)
        serving = self._ca.issue_server(
            "kube-apiserver",
            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
            [LOOPBACK],
        )
        serving.write(certs, "apiserver")
        sa = pki.new_service_account_key()
        (certs / "service-account.pub").write_bytes(sa.cert_pem)
        sa_key = certs / "service-account.key"
        sa_key.write_bytes(sa.key_pem)
        sa_key.chmod(0o600)

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url, peer_url = f"http://{LOOPBACK}:{client}", f"http://{LOOPBACK}:{peer}"
        argv = [
            self._binary("etcd"),
            f"--data-dir={self.workdir / 'etcd-data'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",  # test data: durability across power loss is not needed
            "--log-level=warn",
        ]
        process = spawn("etcd", argv, self.workdir)
        self.processes.append(process)
        wait_http_ok(f"{url}/health", process, timeout=self.start_timeout)
        return url

    def _start_apiserver(self, etcd_url: str) -> None:
        certs, port = self.workdir / "certs", free_port()
        self.api_url = f"https://{LOOPBACK}:{port}"
        argv = [
            self._binary("kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={LOOPBACK}",
            # Without it the API server picks the default-route address to advertise.
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={certs / 'apiserver.crt'}",
            f"--tls-private-key-file={certs / 'apiserver.key'}",
            f"--client-ca-file={self.ca_file}",
            f"--service-account-issuer={self.api_url}",
            f"--service-account-key-file={certs / 'service-account.pub'}",
            f"--service-account-signing-key-file={certs / 'service-account.key'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            # As envtest: pods need no ServiceAccount object to exist first.
            "--disable-admission-plugins=ServiceAccount",
            # The kubernetes Service's endpoints would carry a loopback address, which validation rejects.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--v=1",
        ]
        process = spawn("kube-apiserver", argv, self.workdir)
        self.processes.append(process)
        admin = self.ssl_context_for(ADMIN_USER, ["system:masters"])
        wait_http_ok(f"{self.api_url}/readyz", process, admin, timeout=self.start_timeout)
        wait_http_ok(f"{self.api_url}/api/v1/namespaces/default", process, admin, timeout=30)

    def _start_controller_manager(self) -> None:
        certs, port = self.workdir / "certs", free_port()
        kubeconfig = self.kubeconfig_for("system:kube-controller-manager", ["system:masters"])
        argv = [
            self._binary("kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            f"--controllers={','.join(_CONTROLLERS)}",
            f"--service-account-private-key-file={certs / 'service-account.key'}",
            f"--root-ca-file={self.ca_file}",
            "--use-service-account-credentials=false",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'kcm-certs'}",
            "--v=1",
        ]
        process = spawn("kube-controller-manager", argv, self.workdir)
        self.processes.append(process)
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # the KCM serves a self-signed certificate it made itself
        wait_http_ok(f"https://{LOOPBACK}:{port}/healthz", process, insecure, timeout=self.start_timeout)


def versions(bin_dir: Path) -> dict[str, str]:
    """The versions the binaries report, for figures and logs."""
    api = subprocess.run(
        [str(bin_dir / "kube-apiserver"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    etcd = subprocess.run([str(bin_dir / "etcd"), "--version"], capture_output=True, text=True, check=True)
    etcd_version = etcd.stdout.splitlines()[0].split()[-1]
    return {"kubernetes": api, "etcd": etcd_version}
