"""The local control plane has every API-server feature the design relies on.

Each test exercises one feature through kubectl only, and fails if the feature is missing or broken: CRD
status subresource, printer columns and selectable fields; CEL transition rules with `oldSelf`; `kubectl
wait` on a status condition; garbage collection by the controller manager; a ValidatingAdmissionPolicy with
an authorizer check against minted users; server-side apply that is a no-op the second time.
"""

from __future__ import annotations

import copy
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, eventually

GROUP = "smoke.porch.test"
KIND_PLURAL = f"widgets.{GROUP}"


def widget_crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {
            "color": {"type": "string"},
            "size": {"type": "integer"},
            "approved": {"type": "boolean"},
            "stage": {
                "type": "string",
                "x-kubernetes-validations": [
                    {
                        "rule": "self == oldSelf || (oldSelf == 'draft' && self == 'final')",
                        "message": "stage may only move from draft to final",
                    }
                ],
            },
        },
    }
    status_schema = {
        "type": "object",
        "properties": {
            "phase": {"type": "string"},
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": KIND_PLURAL},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wdg"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "selectableFields": [{"jsonPath": ".spec.color"}],
                    "additionalPrinterColumns": [
                        {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": spec_schema, "status": status_schema},
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def widgets(admin: Kubectl) -> Iterator[None]:
    admin.apply(widget_crd())
    admin.run("wait", "--for=condition=Established", f"crd/{KIND_PLURAL}", "--timeout=60s")
    eventually(lambda: admin.run("get", "widgets", "-A", check=False).returncode == 0, what="widgets served")
    yield
    admin.run("delete", "crd", KIND_PLURAL, "--wait=false", check=False)


def widget(name: str, **spec: object) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": dict(spec)}


def patch_status(kubectl: Kubectl, name: str, status: dict[str, Any]) -> None:
    kubectl.run(
        "patch", "widget", name, "--subresource=status", "--type=merge", "-p", _json({"status": status})
    )


def _json(value: object) -> str:
    import json

    return json.dumps(value)


@pytest.mark.usefixtures("widgets")
class TestCustomResourceFeatures:
    def test_status_is_a_subresource(self, kubectl: Kubectl) -> None:
        kubectl.create(widget("a", color="red"))
        with_status = widget("a", color="red")
        obj = kubectl.get("widget", "a")
        with_status["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
        with_status["status"] = {"phase": "ignored-on-main-endpoint"}
        kubectl.run("replace", "-f", "-", stdin=_json(with_status))
        assert "status" not in kubectl.get("widget", "a")
        patch_status(kubectl, "a", {"phase": "Running"})
        assert kubectl.get("widget", "a")["status"]["phase"] == "Running"

    def test_printer_columns(self, kubectl: Kubectl) -> None:
        kubectl.create(widget("b", color="blue"))
        patch_status(kubectl, "b", {"phase": "Done"})
        header, row = kubectl.run("get", "widgets", "b").stdout.splitlines()
        assert header.split() == ["NAME", "COLOR", "PHASE", "AGE"]
        assert row.split()[:3] == ["b", "blue", "Done"]

    def test_field_selector_on_a_selectable_spec_field(self, kubectl: Kubectl) -> None:
        for name, color in [("r1", "red"), ("r2", "red"), ("g1", "green")]:
            kubectl.create(widget(name, color=color))
        names = kubectl.run("get", "widgets", "--field-selector=spec.color=red", "-o", "name").stdout.split()
        assert sorted(names) == [f"widget.{GROUP}/r1", f"widget.{GROUP}/r2"]
        # A field that is not selectable is refused, so the filter above really ran on the server.
        refused = kubectl.run("get", "widgets", "--field-selector=spec.size=1", check=False)
        assert refused.returncode != 0
        assert "field label not supported" in refused.stderr

    def test_cel_transition_rule_with_old_self(self, kubectl: Kubectl) -> None:
        kubectl.create(widget("c", stage="draft"))
        kubectl.run("patch", "widget", "c", "--type=merge", "-p", _json({"spec": {"stage": "final"}}))
        refused = kubectl.run(
            "patch", "widget", "c", "--type=merge", "-p", _json({"spec": {"stage": "draft"}}), check=False
        )
        assert refused.returncode != 0
        assert "stage may only move from draft to final" in refused.stderr
        assert kubectl.get("widget", "c")["spec"]["stage"] == "final"

    def test_kubectl_wait_returns_when_the_condition_is_set(self, kubectl: Kubectl) -> None:
        kubectl.create(widget("d"))
        argv = ["kubectl", f"--kubeconfig={kubectl.kubeconfig}", f"--namespace={kubectl.namespace}"]
        waiter = subprocess.Popen(
            [*argv, "wait", "--for=condition=Ready", "widget/d", "--timeout=90s"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1)
            assert waiter.poll() is None, "kubectl wait returned before the condition existed"
            condition = {
                "type": "Ready",
                "status": "True",
                "reason": "Smoke",
                "message": "set by the test",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
            patch_status(kubectl, "d", {"conditions": [condition]})
            out, err = waiter.communicate(timeout=60)
        finally:
            if waiter.poll() is None:
                waiter.kill()
        assert waiter.returncode == 0, err
        assert "condition met" in out

    def test_server_side_apply_twice_changes_nothing(self, kubectl: Kubectl) -> None:
        manifest = widget("e", color="teal", size=3)
        kubectl.apply(manifest, "--server-side", "--field-manager=smoke")
        first = kubectl.get("widget", "e")["metadata"]["resourceVersion"]
        kubectl.apply(copy.deepcopy(manifest), "--server-side", "--field-manager=smoke")
        assert kubectl.get("widget", "e")["metadata"]["resourceVersion"] == first
        # ...while a real change does write, so the comparison above is meaningful.
        manifest["spec"]["size"] = 4
        kubectl.apply(manifest, "--server-side", "--field-manager=smoke")
        assert kubectl.get("widget", "e")["metadata"]["resourceVersion"] != first


def test_garbage_collection_of_dependents_of_a_deleted_owner(kubectl: Kubectl) -> None:
    kubectl.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    owner_uid = kubectl.get("configmap", "owner")["metadata"]["uid"]
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}],
        },
    }
    kubectl.create(dependent)
    kubectl.run("delete", "configmap", "owner", "--cascade=background")
    eventually(lambda: not kubectl.exists("configmap", "dependent"), timeout=90, what="dependent collected")


APPROVAL_POLICY_NAME = "smoke-widget-approval"


@pytest.fixture
def approval_policy(admin: Kubectl, namespace: str) -> Iterator[str]:
    suffix = uuid.uuid4().hex[:6]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": f"{APPROVAL_POLICY_NAME}-{suffix}"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["widgets"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": (
                        "!(has(object.spec.approved) && object.spec.approved) || "
                        "(has(oldObject.spec.approved) && oldObject.spec.approved) || "
                        f"authorizer.group('{GROUP}').resource('widgets').subresource('approval')"
                        ".namespace(object.metadata.namespace).check('update').allowed()"
                    ),
                    "message": "only approvers may approve a widget",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{APPROVAL_POLICY_NAME}-{suffix}"},
        "spec": {
            "policyName": f"{APPROVAL_POLICY_NAME}-{suffix}",
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
            },
        },
    }
    admin.apply(policy)
    admin.apply(binding)
    yield f"{APPROVAL_POLICY_NAME}-{suffix}"
    admin.run("delete", "validatingadmissionpolicybinding", binding["metadata"]["name"], check=False)
    admin.run("delete", "validatingadmissionpolicy", policy["metadata"]["name"], check=False)


def _grant(kubectl: Kubectl, name: str, rules: list[dict[str, Any]], user: str) -> None:
    kubectl.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name},
            "rules": rules,
        }
    )
    kubectl.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
    )


@pytest.mark.usefixtures("widgets", "approval_policy")
def test_admission_policy_checks_the_users_permission(kubectl: Kubectl) -> None:
    edit = [
        {
            "apiGroups": [GROUP],
            "resources": ["widgets"],
            "verbs": ["get", "list", "create", "update", "patch"],
        }
    ]
    approve = [{"apiGroups": [GROUP], "resources": ["widgets/approval"], "verbs": ["update"]}]
    _grant(kubectl, "author", edit, "alice")
    _grant(kubectl, "approver", edit + approve, "bob")
    alice = kubectl.as_user("alice", ("authors",))
    bob = kubectl.as_user("bob", ("approvers",))
    approve_patch = _json({"spec": {"approved": True}})

    def policy_active() -> bool:
        # Admission policies are loaded asynchronously; probe with a throw-away object until one is refused.
        probe = f"probe-{uuid.uuid4().hex[:6]}"
        alice.create(widget(probe))
        refused = alice.run("patch", "widget", probe, "--type=merge", "-p", approve_patch, check=False)
        return refused.returncode != 0

    eventually(policy_active, timeout=60, interval=1, what="the admission policy is enforced")

    alice.create(widget("w1", color="red"))
    refused = alice.run("patch", "widget", "w1", "--type=merge", "-p", approve_patch, check=False)
    assert refused.returncode != 0
    assert "only approvers may approve a widget" in refused.stderr
    # The author may still make ordinary changes.
    alice.run("patch", "widget", "w1", "--type=merge", "-p", _json({"spec": {"color": "blue"}}))
    bob.run("patch", "widget", "w1", "--type=merge", "-p", approve_patch)
    assert kubectl.get("widget", "w1")["spec"]["approved"] is True
