"""The operator survives being killed: a restart with nothing new writes nothing, and a SIGKILL in the middle
of publishing loses and duplicates no revision."""

from __future__ import annotations

import time

from tests.e2e.porch.conftest import Porch


def versions(porch: Porch) -> dict[str, str]:
    found = {}
    for kind in ("repositories", "packagerevisions", "packagerevisionresources", "packages"):
        for item in porch.admin.get(kind)["items"]:
            found[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return found


def test_restart_with_nothing_new_writes_nothing(porch: Porch) -> None:
    repo = porch.repo("steady")
    for index in range(3):
        repo.seed_package(f"pkg{index}", publish=1)
    porch.register("steady", repo)
    draft = porch.create_revision("steady", "pkg0", "draft", {"copyFrom": {"name": "steady.pkg0.v1"}})
    for name in ("steady.pkg0.v1", "steady.pkg1.v1", "steady.pkg2.v1", draft):
        porch.wait_ready(name)
    time.sleep(2)  # let the last status writes land
    before = versions(porch)
    repo_before = porch.admin.get("repository", "steady")
    porch.stack.restart_operator()
    # Something the restarted operator must do proves it is working before we compare.
    probe = porch.repo("probe")
    porch.register("probe", probe)
    name = porch.create_revision("probe", "p", "ws", {"init": {}})
    porch.wait_ready(name)
    time.sleep(3)
    after = {key: value for key, value in versions(porch).items() if "probe" not in key}
    repo_after = porch.admin.get("repository", "steady")
    assert after == before, (repo_before, repo_after)


def test_sigkill_in_the_middle_of_publishing(porch: Porch) -> None:
    repo = porch.repo("crash")
    repo.seed_package("app", publish=1)
    porch.register("crash", repo)
    porch.wait_ready("crash.app.v1")
    drafts = [
        porch.create_revision("crash", "app", f"change-{i}", {"copyFrom": {"name": "crash.app.v1"}})
        for i in range(5)
    ]
    for name in drafts:
        porch.wait_ready(name)
        porch.set_lifecycle(name, "Proposed")
    for name in drafts:
        porch.wait_ready(name)
    for name in drafts:
        porch.set_lifecycle(name, "Published", as_user=porch.approver)
    time.sleep(0.3)  # some publishes done, some in flight, some not started
    porch.stack.kill_operator()
    porch.stack.start_operator()
    for name in drafts:
        porch.wait_ready(name, timeout=120)
    numbers = sorted(porch.revision(name)["status"]["revision"] for name in drafts)
    assert numbers == [2, 3, 4, 5, 6]
    tags = sorted(ref for ref in repo.refs() if ref.startswith("refs/tags/app/"))
    assert tags == [f"refs/tags/app/v{n}" for n in range(1, 7)]
    assert not [ref for ref in repo.refs() if ref.startswith(("refs/heads/drafts/", "refs/heads/proposed/"))]
    latest = [
        n
        for n, r in porch.revisions().items()
        if r["metadata"]["labels"].get("porch.kpt.dev/latest-revision") == "true"
    ]
    assert len(latest) == 1 and porch.revision(latest[0])["status"]["revision"] == 6
