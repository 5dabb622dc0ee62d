"""Repositories: directories and nested packages, namespaces kept apart, a broken or hanging repository
reported without delaying others, outside changes picked up by a requested sync, credentials from Secrets
(never shown), and the sync schedule in status."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kube import Kubectl
from tests.e2e.porch.conftest import Porch
from tests.git_http import GitHttpServer, SilentServer, closed_port
from tests.gitrepos import BareRepo, kptfile


def ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready")


def apply_repository(kubectl: Kubectl, name: str, url: str, **git: Any) -> None:
    kubectl.apply(
        {
            "apiVersion": "config.porch.kpt.dev/v1alpha1",
            "kind": "Repository",
            "metadata": {"name": name},
            "spec": {"type": "git", "git": {"repo": url, "branch": "main", **git}},
        }
    )


def not_ready(porch: Porch, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        repo = porch.admin.get("repository", name)
        conditions = repo.get("status", {}).get("conditions", [])
        return (
            ready_condition(repo)
            if any(c["type"] == "Ready" and c["status"] == "False" for c in conditions)
            else None
        )

    return porch.wait_for(f"{name} not ready", check)  # type: ignore[no-any-return]


def test_directory_repository_with_nested_packages(porch: Porch) -> None:
    repo = porch.repo("mono")
    repo.seed_package("catalog/net/vpc", publish=1)
    repo.seed_package("catalog/app", publish=1)
    repo.seed_package("other/thing", publish=1)
    porch.register("catalog", repo, directory="catalog")
    porch.wait_for("discovered", lambda: {"catalog.net.vpc.v1", "catalog.app.v1"} <= set(porch.revisions()))
    names = set(porch.revisions())
    assert not any("thing" in name for name in names), names
    vpc = porch.wait_ready("catalog.net.vpc.v1")
    assert vpc["spec"]["packageName"] == "net/vpc"
    assert vpc["status"]["selfLock"]["git"]["ref"] == "catalog/net/vpc/v1"
    selected = porch.revisions("--field-selector=spec.packageName=net/vpc")
    assert set(selected) == {"catalog.net.vpc.v1", "catalog.net.vpc.main"}
    name = porch.create_revision("catalog", "net/subnet", "ws", {"init": {}})
    porch.wait_ready(name)
    assert "refs/heads/drafts/catalog/net/subnet/ws" in repo.refs()


def test_namespaces_are_isolated(porch: Porch, admin: Kubectl) -> None:
    first = porch.repo("first")
    first.seed_package("alpha", publish=1)
    second = porch.repo("second")
    second.seed_package("beta", publish=1)
    porch.register("shared", first)
    other_ns = f"{porch.namespace}-b"
    admin.run("create", "namespace", other_ns)
    try:
        other = admin.in_namespace(other_ns)
        apply_repository(other, "shared", second.url)
        porch.stack.wait_ready("repository", "shared", other)
        porch.wait_for("alpha here", lambda: "shared.alpha.v1" in porch.revisions())
        porch.wait_for(
            "beta there",
            lambda: "shared.beta.v1" in {i["metadata"]["name"] for i in other.get("rpkg")["items"]},
        )
        assert "shared.beta.v1" not in porch.revisions()
    finally:
        admin.run("delete", "namespace", other_ns, "--wait=false")


def test_broken_and_hanging_repositories_do_not_delay_others(porch: Porch) -> None:
    silent = SilentServer()
    try:
        apply_repository(porch.admin, "hanging", f"{silent.base_url}/repo.git")
        apply_repository(porch.admin, "refused", f"http://127.0.0.1:{closed_port()}/repo.git")
        apply_repository(porch.admin, "missing", "file:///nonexistent/repo.git")
        good = porch.repo("good")
        good.seed_package("fine", publish=1)
        started = time.monotonic()
        porch.register("good", good)
        porch.wait_ready("good.fine.v1")
        elapsed = time.monotonic() - started
        assert elapsed < 60, f"a healthy repository waited {elapsed:.0f}s behind broken ones"
        for name in ("refused", "missing", "hanging"):
            condition = not_ready(porch, name)
            assert condition["reason"] in {"StoreUnavailable", "GitTimeout", "NotFound", "InvalidSpec"}, (
                condition
            )
            assert condition["message"]
    finally:
        silent.close()


def test_outside_changes_appear_after_a_requested_sync(porch: Porch) -> None:
    repo = porch.repo("outside")
    repo.seed_package("app", publish=1)
    porch.register("outside", repo)
    porch.wait_ready("outside.app.v1")
    repo.seed_package("app", {"Kptfile": kptfile("app", "second")}, publish=2)
    repo.outside_commit(
        branch="drafts/app/manual",
        files={"app/Kptfile": kptfile("app", "by hand")},
        message='by hand\n\nkpt:{"package":"app","workspaceName":"manual","revision":"0"}\n',
    )
    porch.request_sync("outside")
    porch.wait_ready("outside.app.v2")
    assert porch.revision("outside.app.v2")["metadata"]["labels"]["porch.kpt.dev/latest-revision"] == "true"
    assert porch.resources("outside.app.manual")["Kptfile"] == kptfile("app", "by hand")
    status = porch.admin.get("repository", "outside")["status"]
    assert status["gitCommitHash"] == repo.refs()["refs/heads/main"]
    assert status["lastFullSyncTime"]


def test_cron_schedule_is_reported(porch: Porch) -> None:
    repo = porch.repo("scheduled")
    porch.register("scheduled", repo)
    porch.admin.run(
        "patch", "repository", "scheduled", "--type=merge", "-p", '{"spec":{"sync":{"schedule":"0 3 * * *"}}}'
    )
    status = porch.wait_for(
        "next sync reported",
        lambda: (s := porch.admin.get("repository", "scheduled")["status"]).get("nextFullSyncTime") and s,
    )
    assert status["nextFullSyncTime"].endswith("03:00:00Z")
    porch.admin.run(
        "patch",
        "repository",
        "scheduled",
        "--type=merge",
        "-p",
        '{"spec":{"sync":{"schedule":"not a cron"}}}',
    )
    condition = not_ready(porch, "scheduled")
    assert condition["reason"] == "InvalidSchedule"


@pytest.fixture
def http_server(tmp_path: Path) -> Any:
    secret = base64.b64encode(b"robot:s3cret-pa55").decode()
    with GitHttpServer(tmp_path / "served", {f"Basic {secret}"}) as server:
        yield server


def test_credentials_from_a_secret_and_never_shown(porch: Porch, http_server: GitHttpServer) -> None:
    repo = BareRepo.create(http_server.root, "private")
    repo.seed_package("secret-app", publish=1)
    porch.admin.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-auth"},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "robot", "password": "s3cret-pa55"},
        }
    )
    porch.admin.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "wrong-auth"},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "robot", "password": "not-the-password"},
        }
    )
    apply_repository(
        porch.admin, "private", f"{http_server.base_url}/private.git", secretRef={"name": "git-auth"}
    )
    porch.stack.wait_ready("repository", "private", porch.admin)
    porch.wait_ready("private.secret-app.v1")
    apply_repository(
        porch.admin, "denied", f"{http_server.base_url}/private.git", secretRef={"name": "wrong-auth"}
    )
    condition = not_ready(porch, "denied")
    assert condition["reason"] == "StoreAuthError"
    everything = json.dumps(porch.admin.get("repository", "denied")) + json.dumps(porch.admin.get("events"))
    log = (porch.stack.workdir / "operator.log").read_text()
    for secret in ("s3cret-pa55", "not-the-password", base64.b64encode(b"robot:not-the-password").decode()):
        assert secret not in everything
        assert secret not in log
