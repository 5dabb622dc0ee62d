"""Two operator replicas, started with the Deployment's own command line, peer through config/'s
ClusterKopfPeering with the RBAC config/ grants: the first started reconciles, the second waits as a standby
and takes over when the first stops.

The command and environment are taken from the built config/default (the operator container of the
Deployment) and run as processes with the ServiceAccount's token. Only what cannot work outside a pod is
changed: the liveness endpoint listens on a free loopback port, the git cache is a temporary directory,
and metrics are off. No function runner runs: these repositories need none.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster import porch
from localcluster.controlplane import ControlPlane
from localcluster.processes import free_port, log_tail
from tests.e2e.kube import Kubectl, eventually
from tests.e2e.packaging.conftest import kustomize, wait_condition
from tests.gitrepos import BareRepo


def operator_container() -> dict[str, Any]:
    deployment = next(d for d in kustomize("default") if d["kind"] == "Deployment")
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "operator")


class Replica:
    """One operator replica as the Deployment would start it (see the module docstring for the changes)."""

    def __init__(self, name: str, kubeconfig: Path, workdir: Path) -> None:
        container = operator_container()
        self.name = name
        self.liveness_port = free_port()
        command = container["args"][0].replace(
            "--liveness=http://0.0.0.0:8080/healthz",
            f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz",
        )
        assert f"127.0.0.1:{self.liveness_port}" in command
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        env.update(
            POD_ID=name,  # the Deployment takes it from the pod name
            KUBECONFIG=str(kubeconfig),
            PORCH_CACHE_DIR=str(workdir / name / "git"),
            PORCH_METRICS_PORT="0",
            HOME=str(workdir / name),
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            NO_PROXY="127.0.0.1,localhost",
        )
        (workdir / name).mkdir(parents=True)
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*container["command"], command], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def logged(self, text: str) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.tail()}")
        return text in self.log.read_text()

    def alive(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def tail(self) -> str:
        return log_tail(self.log, 60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def replicas(plane: ControlPlane, installed: Kubectl, tmp_path: Path) -> Iterator[list[Replica]]:
    kubeconfig = porch.install_identity(plane, installed.kubeconfig, tmp_path / "operator.kubeconfig")
    started: list[Replica] = []

    def start(name: str) -> Replica:
        replica = Replica(name, kubeconfig, tmp_path)
        started.append(replica)
        return replica

    try:
        start("replica-a")  # the first at once; the test starts the second
        yield started
    finally:
        live = [r for r in started if r.process.poll() is None]
        if live:
            installed.run(
                "delete", "repositories.config.porch.kpt.dev", "--all", "-A", "--timeout=60s", check=False
            )
        for replica in reversed(started):
            replica.stop()


def repository(name: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name},
        "spec": {"type": "git", "git": {"repo": url, "branch": "main"}},
    }


def peers(admin: Kubectl) -> dict[str, Any]:
    return admin.get("clusterkopfpeering", "porch-operator").get("status") or {}


def test_first_replica_reconciles_second_waits_and_takes_over(
    replicas: list[Replica], plane: ControlPlane, installed: Kubectl, work_namespace: Kubectl, tmp_path: Path
) -> None:
    first = replicas[0]
    eventually(first.alive, timeout=60, what="the first replica's liveness endpoint")
    eventually(lambda: "replica-a" in peers(installed), timeout=60, what="the first replica in the peering")
    repo = BareRepo.create(tmp_path / "git", "blueprints")
    work_namespace.apply(repository("before-standby", repo.url))
    wait_condition(work_namespace, "repository", "before-standby", type_="Ready", status="True")

    kubeconfig = tmp_path / "operator.kubeconfig"
    second = Replica("replica-b", kubeconfig, tmp_path)
    replicas.append(second)
    # With --peering, kopf starts paused and resumes only when no live peer has a higher priority.
    eventually(lambda: "replica-b" in peers(installed), timeout=60, what="the second replica in the peering")
    priorities = {name: peer["priority"] for name, peer in peers(installed).items()}
    assert priorities["replica-a"] > priorities["replica-b"], priorities
    eventually(second.alive, timeout=60, what="the paused replica's liveness endpoint")
    # While both run, the first one does the work; the second never resumes.
    work_namespace.apply(repository("with-standby", repo.url))
    wait_condition(work_namespace, "repository", "with-standby", type_="Ready", status="True")
    assert not second.logged("Resuming operations")
    assert not second.logged("Serving Repository")

    first.stop()
    eventually(lambda: second.logged("Resuming operations"), timeout=90, what="the standby takes over")
    work_namespace.apply(repository("after-failover", repo.url))
    wait_condition(work_namespace, "repository", "after-failover", type_="Ready", status="True")
    assert second.logged(f"Serving Repository {work_namespace.namespace}/after-failover")
    assert "replica-a" not in peers(installed)
