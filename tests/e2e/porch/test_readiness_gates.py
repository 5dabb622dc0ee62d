"""Readiness gates: the API server refuses an approval while a gate in spec.readinessGates is not True, and
the operator refuses to publish while a gate in the Kptfile is not True; setting the condition in the
Kptfile (editing the draft) opens the gate."""

from __future__ import annotations

import json

from tests.e2e.porch.conftest import Porch

CONDITION = """status:
  conditions:
    - type: {type}
      status: "True"
      reason: Checked
"""


def edit_kptfile(porch: Porch, name: str, extra: str) -> None:
    body = porch.admin.get("packagerevisionresources", name)
    body["spec"]["resources"]["Kptfile"] += extra
    porch.author.run("replace", "-f", "-", stdin=json.dumps(body))


def test_gates_in_the_spec_are_checked_by_the_api_server(porch: Porch) -> None:
    repo = porch.repo("gated")
    porch.register("gated", repo)
    name = porch.create_revision(
        "gated", "app", "ws", {"init": {}}, readinessGates=[{"conditionType": "security-review"}]
    )
    porch.wait_ready(name)
    assert "security-review" in porch.resources(name)["Kptfile"]
    porch.set_lifecycle(name, "Proposed")
    porch.wait_ready(name)
    refused = porch.approver.run(
        "patch",
        "packagerevision",
        name,
        "--type=merge",
        "-p",
        '{"spec":{"lifecycle":"Published"}}',
        check=False,
    )
    assert refused.returncode != 0 and "security-review" in refused.stderr

    porch.set_lifecycle(name, "Draft")
    porch.wait_ready(name)
    edit_kptfile(porch, name, CONDITION.format(type="security-review"))
    porch.wait_for(
        "package condition mirrored",
        lambda: any(
            c["type"] == "security-review" and c["status"] == "True"
            for c in porch.revision(name)["status"].get("packageConditions", [])
        ),
    )
    porch.set_lifecycle(name, "Proposed")
    porch.wait_ready(name)
    porch.set_lifecycle(name, "Published", as_user=porch.approver)
    porch.wait_for("published", lambda: porch.revision(name)["status"].get("revision") == 1)


def test_gates_only_in_the_kptfile_are_checked_by_the_operator(porch: Porch) -> None:
    repo = porch.repo("kptgated")
    porch.register("kptgated", repo)
    name = porch.create_revision("kptgated", "app", "ws", {"init": {}})
    porch.wait_ready(name)
    edit_kptfile(
        porch,
        name,
        "  readinessGates:\n    - conditionType: load-test\n",
    )
    porch.wait_for("gate in git", lambda: "load-test" in repo.show("refs/heads/drafts/app/ws", "app/Kptfile"))
    porch.set_lifecycle(name, "Proposed")
    porch.wait_ready(name)
    porch.set_lifecycle(name, "Published", as_user=porch.approver)
    held = porch.wait_for(
        "held back",
        lambda: next(
            (
                c
                for c in porch.revision(name)["status"]["conditions"]
                if c.get("reason") == "ReadinessGatesPending"
            ),
            None,
        ),
    )
    assert "load-test" in held["message"]
    assert "refs/tags/app/v1" not in repo.refs()
    assert "refs/heads/proposed/app/ws" in repo.refs()
