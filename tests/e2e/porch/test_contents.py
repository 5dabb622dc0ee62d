"""Editing a draft's files: the operator renders them through the function pipeline, commits the result to
the draft branch and writes it back; a failing render is reported and fixed by the next edit; identical
content is not re-rendered; push-on-render-failure keeps what was written."""

from __future__ import annotations

import json

from tests.e2e.porch.conftest import Porch
from tests.gitrepos import configmap, kptfile

PIPELINE = """pipeline:
  mutators:
    - image: set-namespace:v0.4.1
      configMap:
        namespace: {namespace}
"""


def edit(porch: Porch, name: str, files: dict[str, str]) -> None:
    patch = json.dumps({"spec": {"resources": files}})
    porch.author.run("patch", "packagerevisionresources", name, "--type=merge", "-p", patch)


def replace_files(porch: Porch, name: str, files: dict[str, str]) -> None:
    body = porch.admin.get("packagerevisionresources", name)
    body["spec"]["resources"] = files
    porch.author.run("replace", "-f", "-", stdin=json.dumps(body))


def rendered(porch: Porch, name: str) -> dict:  # type: ignore[type-arg]
    def done() -> dict | None:  # type: ignore[type-arg]
        obj = porch.admin.get("packagerevisionresources", name)
        status = obj.get("status", {})
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        return obj if any(c["type"] == "Rendered" for c in status.get("conditions", [])) else None

    return porch.wait_for(f"{name} rendered", done)  # type: ignore[no-any-return]


def condition(obj: dict, type_: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in obj["status"]["conditions"] if c["type"] == type_)


def test_edit_renders_commits_and_writes_back(porch: Porch) -> None:
    repo = porch.repo("apps")
    porch.register("apps", repo)
    name = porch.create_revision("apps", "web", "dev", {"init": {}})
    porch.wait_ready(name)
    files = porch.resources(name)
    files["Kptfile"] = files["Kptfile"] + PIPELINE.format(namespace="web-dev")
    files["config.yaml"] = configmap("settings", color="blue")
    replace_files(porch, name, files)
    obj = rendered(porch, name)
    assert condition(obj, "Rendered")["status"] == "True", obj["status"]
    assert "namespace: web-dev" in obj["spec"]["resources"]["config.yaml"]
    branch = "refs/heads/drafts/web/dev"
    porch.wait_for("committed", lambda: "namespace: web-dev" in repo.show(branch, "web/config.yaml"))
    assert obj["metadata"]["annotations"]["porch.kpt.dev/commit"] == repo.refs()[branch]
    porch.wait_ready(name)

    # Applying the same content again changes nothing: no new generation, no new commit.
    commit = repo.refs()[branch]
    generation = obj["metadata"]["generation"]
    replace_files(porch, name, obj["spec"]["resources"])
    assert porch.admin.get("packagerevisionresources", name)["metadata"]["generation"] == generation
    assert repo.refs()[branch] == commit


def test_render_failure_is_reported_and_fixed_by_the_next_edit(porch: Porch) -> None:
    repo = porch.repo("broken")
    porch.register("broken", repo)
    name = porch.create_revision("broken", "app", "ws", {"init": {}})
    porch.wait_ready(name)
    files = porch.resources(name)
    good_kptfile = files["Kptfile"]
    files["Kptfile"] = good_kptfile + "pipeline:\n  mutators:\n    - image: no-such-function:v1\n"
    replace_files(porch, name, files)
    obj = rendered(porch, name)
    failed = condition(obj, "Rendered")
    assert failed["status"] == "False"
    assert "no-such-function" in failed["message"]
    assert obj["status"]["renderStatus"]["error"]
    revision = porch.wait_for(
        "revision not ready",
        lambda: (
            (r := porch.revision(name))
            and any(c["type"] == "Ready" and c["status"] == "False" for c in r["status"]["conditions"])
            and r
        ),
    )
    assert any(c["type"] == "Rendered" and c["status"] == "False" for c in revision["status"]["conditions"])
    # Nothing was pushed: the draft branch still has the good Kptfile.
    assert "no-such-function" not in repo.show("refs/heads/drafts/app/ws", "app/Kptfile")
    # Proposing is refused until the content renders.
    porch.set_lifecycle(name, "Proposed")
    porch.wait_for(
        "propose held back",
        lambda: any(
            c["type"] == "Ready" and c.get("reason") == "RenderFailed"
            for c in porch.revision(name)["status"]["conditions"]
        ),
    )
    assert "refs/heads/proposed/app/ws" not in repo.refs()
    files["Kptfile"] = good_kptfile
    replace_files(porch, name, files)
    obj = rendered(porch, name)
    assert condition(obj, "Rendered")["status"] == "True"
    porch.wait_for("proposed after the fix", lambda: "refs/heads/proposed/app/ws" in repo.refs())
    porch.wait_ready(name)


def test_push_on_render_failure(porch: Porch) -> None:
    repo = porch.repo("pushy")
    porch.register("pushy", repo)
    name = porch.create_revision("pushy", "app", "ws", {"init": {}})
    porch.wait_ready(name)
    porch.author.run("annotate", "packagerevision", name, "porch.kpt.dev/push-on-render-failure=true")
    files = porch.resources(name)
    files["Kptfile"] = kptfile("app") + "pipeline:\n  mutators:\n    - image: no-such-function:v1\n"
    replace_files(porch, name, files)
    obj = rendered(porch, name)
    assert condition(obj, "Rendered")["status"] == "False"
    assert "pushed anyway" in condition(obj, "Rendered")["message"]
    porch.wait_for(
        "pushed despite the failure",
        lambda: "no-such-function" in repo.show("refs/heads/drafts/app/ws", "app/Kptfile"),
    )
