"""A revision's life through the API: init to a rendered Draft, propose, approval (refused for an author,
accepted for an approver), revision numbers and the latest label, copy, deletion rules and no resurrection."""

from __future__ import annotations

from tests.e2e.porch.conftest import Porch
from tests.gitrepos import git


def latest_label(porch: Porch, name: str) -> str | None:
    return porch.revision(name)["metadata"].get("labels", {}).get("porch.kpt.dev/latest-revision")


def test_init_propose_approve_publish(porch: Porch) -> None:
    repo = porch.repo("deploy")
    porch.register("deploy", repo)
    name = porch.create_revision("deploy", "apps/web", "first", {"init": {"description": "the web app"}})
    ready = porch.wait_ready(name)
    assert ready["status"]["creationSource"] == "init"
    assert ready["status"]["revision"] == 0
    # The creating user is recorded by admission and is the author of the draft's commit.
    assert ready["metadata"]["annotations"]["porch.kpt.dev/created-by"] == "alice"
    assert git(
        "log", "-1", "--format=%an <%ae>", "refs/heads/drafts/apps/web/first", cwd=repo.path
    ).strip() == ("alice <alice>")
    spoof = porch.author.run(
        "annotate",
        "packagerevision",
        name,
        "--overwrite",
        "porch.kpt.dev/created-by=someone-else",
        check=False,
    )
    assert spoof.returncode != 0 and "requesting user" in spoof.stderr
    assert repo.refs().get("refs/heads/drafts/apps/web/first")
    files = porch.resources(name)
    assert "the web app" in files["Kptfile"]
    assert {"Kptfile", "README.md", "package-context.yaml"} <= set(files)

    porch.set_lifecycle(name, "Proposed")
    porch.wait_for("proposed in git", lambda: "refs/heads/proposed/apps/web/first" in repo.refs())
    porch.wait_ready(name)

    refused = porch.author.run(
        "patch",
        "packagerevision",
        name,
        "--type=merge",
        "-p",
        '{"spec":{"lifecycle":"Published"}}',
        check=False,
    )
    assert refused.returncode != 0
    assert "approval" in refused.stderr
    porch.set_lifecycle(name, "Published", as_user=porch.approver)
    published = porch.wait_for(
        "published", lambda: (r := porch.revision(name)).get("status", {}).get("revision") == 1 and r
    )
    porch.wait_ready(name)
    assert published["status"]["publishedAt"]
    assert published["status"]["publishedBy"] == "bob"
    assert published["metadata"]["annotations"]["porch.kpt.dev/approved-by"] == "bob"
    refs = repo.refs()
    assert "refs/tags/apps/web/v1" in refs
    assert "refs/heads/proposed/apps/web/first" not in refs
    porch.wait_for("latest label", lambda: latest_label(porch, name) == "true")
    porch.wait_for("placeholder", lambda: "deploy.apps.web.main" in porch.revisions())
    porch.wait_for(
        "an event says it was published",
        lambda: any(
            e["reason"] == "Publish" and "revision 1" in e["message"]
            for e in porch.admin.get("events", None, f"--field-selector=involvedObject.name={name}")["items"]
        ),
    )


def test_copy_publish_latest_moves_and_back_after_delete(porch: Porch) -> None:
    repo = porch.repo("catalog")
    repo.seed_package("base", publish=1)
    porch.register("catalog", repo)
    porch.wait_ready("catalog.base.v1")
    copy = porch.create_revision("catalog", "base", "edit", {"copyFrom": {"name": "catalog.base.v1"}})
    porch.wait_ready(copy)
    assert porch.resources(copy)["Kptfile"] == porch.resources("catalog.base.v1")["Kptfile"]
    porch.set_lifecycle(copy, "Proposed")
    porch.wait_ready(copy)
    porch.set_lifecycle(copy, "Published", as_user=porch.approver)
    porch.wait_for("v2", lambda: porch.revision(copy).get("status", {}).get("revision") == 2)
    porch.wait_for("latest moved", lambda: latest_label(porch, copy) == "true")
    porch.wait_for("v1 no longer latest", lambda: latest_label(porch, "catalog.base.v1") == "false")

    refused = porch.author.run("delete", "packagerevision", copy, "--wait=false", check=False)
    assert refused.returncode != 0 and "DeletionProposed" in refused.stderr
    porch.set_lifecycle(copy, "DeletionProposed")
    porch.wait_for("deletion proposed in git", lambda: "refs/heads/deletionProposed/base/v2" in repo.refs())
    porch.author.run("delete", "packagerevision", copy, "--timeout=60s")
    porch.wait_for("tag deleted", lambda: "refs/tags/base/v2" not in repo.refs())
    porch.wait_for("latest back on v1", lambda: latest_label(porch, "catalog.base.v1") == "true")
    # No resurrection: a requested sync does not bring it back.
    porch.request_sync("catalog")
    assert copy not in porch.revisions()


def test_delete_a_draft_removes_its_branch(porch: Porch) -> None:
    repo = porch.repo("scratch")
    porch.register("scratch", repo)
    name = porch.create_revision("scratch", "tmp", "one", {"init": {}})
    porch.wait_ready(name)
    assert "refs/heads/drafts/tmp/one" in repo.refs()
    porch.author.run("delete", "packagerevision", name, "--timeout=60s")
    porch.wait_for("branch deleted", lambda: "refs/heads/drafts/tmp/one" not in repo.refs())
    assert not porch.admin.exists("packagerevisionresources", name)
