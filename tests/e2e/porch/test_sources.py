"""Creating revisions from sources: clone (from a registered revision, into a deployment repository, from a
git URL), upgrade keeping local edits, and the creation rules (copy stays in its package, clone makes a new
package, workspaces are unique, placeholders are not sources, a missing upstream is waited for)."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.porch.conftest import Porch
from tests.gitrepos import configmap, kptfile


def stalled(porch: Porch, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        revision = porch.revision(name)
        conditions = revision.get("status", {}).get("conditions", [])
        return revision if any(c["type"] == "Stalled" and c["status"] == "True" for c in conditions) else None

    return porch.wait_for(f"{name} stalled", check)  # type: ignore[no-any-return]


def message(revision: dict[str, Any], type_: str = "Ready") -> str:
    return next(c["message"] for c in revision["status"]["conditions"] if c["type"] == type_)


def publish(porch: Porch, name: str) -> dict[str, Any]:
    porch.set_lifecycle(name, "Proposed")
    porch.wait_ready(name)
    porch.set_lifecycle(name, "Published", as_user=porch.approver)
    porch.wait_for(f"{name} published", lambda: porch.revision(name).get("status", {}).get("revision", 0) > 0)
    return porch.wait_ready(name)


def test_clone_into_a_deployment_repository_then_upgrade_keeps_local_edits(porch: Porch) -> None:
    upstream = porch.repo("upstream")
    upstream.seed_package(
        "blueprint",
        {"Kptfile": kptfile("blueprint"), "cm.yaml": configmap("app", color="blue", size="small")},
        publish=1,
    )
    porch.register("upstream", upstream)
    downstream = porch.repo("edge")
    porch.register("edge", downstream, deployment=True)
    porch.wait_ready("upstream.blueprint.v1")

    clone = porch.create_revision(
        "edge", "site-a", "first", {"cloneFrom": {"upstreamRef": {"name": "upstream.blueprint.v1"}}}
    )
    ready = porch.wait_ready(clone)
    assert ready["status"]["creationSource"] == "clone"
    lock = ready["status"]["upstreamLock"]["git"]
    assert lock["ref"] == "blueprint/v1"
    assert lock["commit"] == upstream.refs()["refs/tags/blueprint/v1"]
    files = porch.resources(clone)
    assert "name: site-a" in files["Kptfile"]
    assert "package-path: site-a" in files["package-context.yaml"]
    # A local edit downstream, then publish.
    files["cm.yaml"] = files["cm.yaml"].replace("small", "large")
    body = porch.admin.get("packagerevisionresources", clone)
    body["spec"]["resources"] = files
    porch.author.run("replace", "-f", "-", stdin=json.dumps(body))
    porch.wait_for(
        "edit rendered",
        lambda: "large" in downstream.show("refs/heads/drafts/site-a/first", "site-a/cm.yaml"),
    )
    publish(porch, clone)

    # Upstream v2 changes another field; the upgrade keeps the local edit and takes the new field.
    upstream.seed_package(
        "blueprint",
        {"Kptfile": kptfile("blueprint"), "cm.yaml": configmap("app", color="green", size="small")},
        publish=2,
    )
    porch.request_sync("upstream")
    porch.wait_ready("upstream.blueprint.v2")
    upgrade = porch.create_revision(
        "edge",
        "site-a",
        "upgrade",
        {
            "upgrade": {
                "oldUpstream": {"name": "upstream.blueprint.v1"},
                "newUpstream": {"name": "upstream.blueprint.v2"},
                "currentPackage": {"name": clone},
            }
        },
    )
    ready = porch.wait_ready(upgrade)
    assert ready["status"]["creationSource"] == "upgrade"
    cm = porch.resources(upgrade)["cm.yaml"]
    assert "green" in cm and "large" in cm
    assert ready["status"]["upstreamLock"]["git"]["ref"] == "blueprint/v2"


def test_clone_from_a_git_url(porch: Porch) -> None:
    outside = porch.repo("outside")
    outside.seed_package("pkgs/redis", {"Kptfile": kptfile("redis"), "svc.yaml": configmap("redis")})
    target = porch.repo("target")
    porch.register("target", target)
    name = porch.create_revision(
        "target",
        "cache",
        "v1",
        {"cloneFrom": {"git": {"repo": outside.url, "ref": "main", "directory": "pkgs/redis"}}},
    )
    ready = porch.wait_ready(name)
    assert ready["status"]["upstreamLock"]["git"]["directory"] == "pkgs/redis"
    assert "name: redis" in porch.resources(name)["svc.yaml"]


def test_creation_rules_are_reported(porch: Porch) -> None:
    repo = porch.repo("rules")
    repo.seed_package("one", publish=1)
    repo.seed_package("two", publish=1)
    porch.register("rules", repo)
    porch.wait_ready("rules.one.v1")

    copy = porch.create_revision("rules", "two", "copy", {"copyFrom": {"name": "rules.one.v1"}})
    assert "same package" in message(stalled(porch, copy))

    clone = porch.create_revision(
        "rules", "one", "again", {"cloneFrom": {"upstreamRef": {"name": "rules.two.v1"}}}
    )
    assert "already exists" in message(stalled(porch, clone))

    # A workspace is unique per package because it is part of the object name: the API server refuses it.
    taken = porch.author.run(
        "create",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "porch.kpt.dev/v1alpha2",
                "kind": "PackageRevision",
                "metadata": {"name": "rules.one.main"},
                "spec": {
                    "repository": "rules",
                    "packageName": "one",
                    "workspaceName": "main",
                    "source": {"copyFrom": {"name": "rules.one.v1"}},
                },
            }
        ),
        check=False,
    )
    assert taken.returncode != 0 and "AlreadyExists" in taken.stderr

    placeholder = porch.create_revision(
        "rules", "three", "ws", {"cloneFrom": {"upstreamRef": {"name": "rules.one.main"}}}
    )
    assert "placeholder" in message(stalled(porch, placeholder))
    for name in (copy, clone, placeholder):
        assert not any(
            ref.endswith(name.split(".")[-1]) for ref in repo.refs() if ref.startswith("refs/heads/drafts")
        )


def test_a_missing_upstream_is_waited_for(porch: Porch) -> None:
    repo = porch.repo("later")
    porch.register("later", repo)
    name = porch.create_revision(
        "later", "app", "ws", {"cloneFrom": {"upstreamRef": {"name": "later.base.v1"}}}
    )
    porch.wait_for(
        "not found reported",
        lambda: (
            "does not exist" in message(porch.revision(name)) if porch.revision(name).get("status") else False
        ),
    )
    repo.seed_package("base", publish=1)
    porch.request_sync("later")
    porch.wait_ready(name, timeout=120)
