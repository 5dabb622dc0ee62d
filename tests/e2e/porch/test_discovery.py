"""Registering a repository makes every revision in git an object; a resync with nothing new writes nothing;
deleting the Repository removes its objects and leaves git alone."""

from __future__ import annotations

from tests.e2e.porch.conftest import Porch
from tests.gitrepos import kptfile


def test_published_drafts_and_placeholders_are_discovered(porch: Porch) -> None:
    repo = porch.repo("blueprints")
    repo.seed_package("basens", publish=1)
    repo.seed_package("basens", {"Kptfile": kptfile("basens", "second")}, publish=2)
    repo.seed_package("catalog/net/vpc", publish=1)
    repo.outside_commit(
        branch="drafts/catalog/net/vpc/wip",
        files={"catalog/net/vpc/Kptfile": kptfile("vpc", "work in progress")},
        message='WIP\n\nkpt:{"package":"catalog/net/vpc","workspaceName":"wip","revision":"0"}\n',
    )
    porch.register("blueprints", repo)
    expected = {
        "blueprints.basens.v1": ("Published", 1, "false"),
        "blueprints.basens.v2": ("Published", 2, "true"),
        "blueprints.basens.main": ("Published", -1, "false"),
        "blueprints.catalog.net.vpc.v1": ("Published", 1, "true"),
        "blueprints.catalog.net.vpc.main": ("Published", -1, "false"),
        "blueprints.catalog.net.vpc.wip": ("Draft", 0, "false"),
    }

    def discovered() -> bool:
        found = porch.revisions()
        return {
            name: (
                r["spec"]["lifecycle"],
                r.get("status", {}).get("revision"),
                r["metadata"]["labels"].get("porch.kpt.dev/latest-revision"),
            )
            for name, r in found.items()
        } == expected

    porch.wait_for("every revision discovered", discovered)
    for name in expected:
        porch.wait_ready(name)
    assert porch.resources("blueprints.basens.v2")["Kptfile"] == kptfile("basens", "second")
    assert porch.resources("blueprints.catalog.net.vpc.wip")["Kptfile"] == kptfile("vpc", "work in progress")
    assert porch.stack.metric("porch_package_revisions", lifecycle="Published") >= 3
    assert porch.stack.metric("porch_package_revisions", lifecycle="Draft") >= 1
    package = porch.admin.get("package", "blueprints.basens")
    assert package["status"]["latestRevision"] == 2
    assert package["status"]["latestRevisionName"] == "blueprints.basens.v2"


def test_deleting_the_repository_removes_its_objects_and_leaves_git_alone(porch: Porch) -> None:
    repo = porch.repo("gone")
    repo.seed_package("app", publish=1)
    porch.register("gone", repo)
    porch.wait_for("discovered", lambda: "gone.app.v1" in porch.revisions())
    refs_before = repo.refs()
    porch.admin.run("delete", "repository", "gone", "--timeout=60s")
    porch.wait_for(
        "objects removed", lambda: not porch.revisions() and not porch.admin.get("packages")["items"]
    )
    assert repo.refs() == refs_before
