"""The operator's ClusterRole is not broader than it needs: take one rule away and the operation that needs
it fails, with the API server's refusal in the object's status; give it back and the operation succeeds.

The operator runs as a process with the token of the ServiceAccount config/default installs (`stack`), on
the packaging suite's own control plane, so the role can be changed without touching other suites.
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.kube import Kubectl
from tests.e2e.packaging.conftest import CONFIG, PackagedStack, wait_condition
from tests.git_http import GitHttpServer
from tests.gitrepos import BareRepo

ROLE = CONFIG / "rbac" / "role.yaml"


def role_without(api_group: str, resource: str, verb: str) -> dict[str, Any]:
    """config/rbac/role.yaml less `verb` on `resource` (other resources of the same rule keep it)."""
    role = yaml.safe_load(ROLE.read_text())
    rules = []
    found = False
    for rule in role["rules"]:
        if api_group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            found = True
            others = [r for r in rule["resources"] if r != resource]
            if others:
                rules.append({**copy.deepcopy(rule), "resources": others})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append({**copy.deepcopy(rule), "resources": [resource], "verbs": verbs})
        else:
            rules.append(rule)
    assert found, f"config/rbac/role.yaml grants no {verb} on {resource}"
    return {**role, "rules": rules}


@pytest.fixture
def operator_role(installed: Kubectl) -> Iterator[Kubectl]:
    """Restores the shipped ClusterRole afterwards."""
    try:
        yield installed
    finally:
        installed.run("apply", "--server-side", "--force-conflicts", "-f", str(ROLE))


def request_sync(kubectl: Kubectl, repository: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kubectl.run(
        "patch",
        "repository",
        repository,
        "--type=merge",
        "-p",
        f'{{"spec": {{"sync": {{"runOnceAt": "{now}"}}}}}}',
    )


def repository(name: str, url: str, secret: str | None = None) -> dict[str, Any]:
    git: dict[str, Any] = {"repo": url, "branch": "main"}
    if secret:
        git["secretRef"] = {"name": secret}
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name},
        "spec": {"type": "git", "git": git},
    }


def test_without_secrets_get_credentials_cannot_be_read(
    stack: PackagedStack, operator_role: Kubectl, work_namespace: Kubectl, tmp_path: Path
) -> None:
    kubectl = work_namespace
    root = tmp_path / "served"
    BareRepo.create(root, "blueprints")
    header = "Basic " + base64.b64encode(b"porch:s3cret").decode()
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-credentials"},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "porch", "password": "s3cret"},
        }
    )
    with GitHttpServer(root, accepted={header}) as server:
        url = f"{server.base_url}/blueprints.git"
        # With the shipped role: the credentials are read and git accepts them.
        kubectl.apply(repository("with-role", url, "git-credentials"))
        wait_condition(kubectl, "repository", "with-role", type_="Ready", status="True")

        operator_role.apply(role_without("", "secrets", "get"), "--server-side", "--force-conflicts")
        kubectl.apply(repository("without-role", url, "git-credentials"))
        refused = wait_condition(
            kubectl, "repository", "without-role", type_="Ready", status="False", reason="Forbidden"
        )
        stalled = [c for c in refused["status"]["conditions"] if c["type"] == "Stalled"]
        assert stalled and stalled[0]["status"] == "True"
        ready = next(c for c in refused["status"]["conditions"] if c["type"] == "Ready")
        assert "secrets" in ready["message"]
        assert "s3cret" not in yaml.safe_dump(refused)

        operator_role.run("apply", "--server-side", "--force-conflicts", "-f", str(ROLE))
        request_sync(kubectl, "without-role")
        wait_condition(kubectl, "repository", "without-role", type_="Ready", status="True")
        assert header in server.seen_headers


def test_without_packagerevisions_create_discovery_fails(
    stack: PackagedStack, operator_role: Kubectl, work_namespace: Kubectl, tmp_path: Path
) -> None:
    kubectl = work_namespace
    repo = BareRepo.create(tmp_path / "git", "catalog")
    repo.seed_package("basens", publish=1)

    operator_role.apply(
        role_without("porch.kpt.dev", "packagerevisions", "create"), "--server-side", "--force-conflicts"
    )
    kubectl.apply(repository("catalog", repo.url))
    refused = wait_condition(
        kubectl, "repository", "catalog", type_="Ready", status="False", reason="Forbidden"
    )
    ready = next(c for c in refused["status"]["conditions"] if c["type"] == "Ready")
    assert "packagerevisions" in ready["message"]
    assert kubectl.get("packagerevisions")["items"] == []

    operator_role.run("apply", "--server-side", "--force-conflicts", "-f", str(ROLE))
    request_sync(kubectl, "catalog")
    wait_condition(kubectl, "repository", "catalog", type_="Ready", status="True")
    assert kubectl.exists("packagerevision", "catalog.basens.v1")
