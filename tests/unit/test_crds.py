"""`crds/` is exactly what the models generate, and every generated schema is structural.

The drift test renders `crds/` in memory and compares it with the files: `make crds` is the only way they
change. The structural walk checks what the API server requires of a CRD schema (a type on every node, no
references or junctors), plus our own conventions (keyed condition lists, one message per rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from crdgen import crds, policies, render

from porch_operator import models

CRDS = Path(__file__).resolve().parents[2] / "crds"
FORBIDDEN = {"$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "not", "title", "const", "nullable"}
KINDS = [pytest.param(kind, id=kind.crd.kind) for kind in models.ALL_KINDS]
# Short names of built-in kinds and of common add-ons a short name of ours must not shadow.
TAKEN_SHORT_NAMES = {
    "cm", "cs", "csr", "crd", "crds", "deploy", "ds", "ep", "ev", "hpa", "ing", "limits", "netpol", "no",
    "ns", "pdb", "po", "pc", "psp", "pv", "pvc", "quota", "rc", "rs", "sa", "sc", "sts", "svc", "vpa", "pkg",
    "pkgs",
}  # fmt: skip


def test_crds_directory_is_what_the_models_generate() -> None:
    expected = render.render_all()
    on_disk = {path.name: path.read_text() for path in CRDS.iterdir() if path.is_file()}
    assert sorted(on_disk) == sorted(expected), "run `make crds`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"crds/{name} differs from the models: run `make crds`"


def test_every_file_says_it_is_generated() -> None:
    for text in render.render_all().values():
        assert text.startswith(render.HEADER)


def test_kustomization_lists_every_manifest_and_is_not_read_by_kubectl_apply_f() -> None:
    files = render.render_all()
    kustomization = yaml.safe_load(files[render.KUSTOMIZATION_FILE])
    assert sorted(kustomization["resources"]) == sorted(name for name in files if name.endswith(".yaml"))
    assert not render.KUSTOMIZATION_FILE.endswith((".yaml", ".yml", ".json"))


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (walking properties, items and additionalProperties only)."""
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def root_schema(kind: type[models.KubeObject]) -> dict[str, Any]:
    return crds.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_structural(kind: type[models.KubeObject]) -> None:
    for path, node in nodes(root_schema(kind)):
        assert not FORBIDDEN & set(node), f"{path}: {sorted(FORBIDDEN & set(node))}"
        free = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
        assert "type" in node or free, f"{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("additionalProperties") is not False, path
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), f"{path}: an array needs a schema for its items"


@pytest.mark.parametrize("kind", KINDS)
def test_keyed_lists(kind: type[models.KubeObject]) -> None:
    for path, node in nodes(root_schema(kind)):
        if path.endswith(".conditions"):
            assert node["x-kubernetes-list-type"] == "map", path
            assert node["x-kubernetes-list-map-keys"] == ["type"], path
            assert set(node["items"]["required"]) == {
                "type",
                "status",
                "reason",
                "message",
                "lastTransitionTime",
            }
        if node.get("x-kubernetes-list-type") == "map":
            required = set(node["items"].get("required", []))
            assert set(node["x-kubernetes-list-map-keys"]) <= required, f"{path}: map keys must be required"


def rules(kind: type[models.KubeObject]) -> Iterator[dict[str, Any]]:
    for _, node in nodes(root_schema(kind)):
        yield from node.get("x-kubernetes-validations", [])


@pytest.mark.parametrize("kind", KINDS)
def test_each_rule_says_what_is_wrong_in_its_own_words(kind: type[models.KubeObject]) -> None:
    # The end-to-end cases recognise a rule by its message, so no two different rules of a CRD may share one
    # (one rule of a model used in several places, like a map entry's, appears several times).
    rule_of: dict[str, set[str]] = {}
    for rule in rules(kind):
        message = rule.get("messageExpression") or rule.get("message")
        assert message, f"{rule['rule']} needs a message"
        rule_of.setdefault(message, set()).add(rule["rule"])
    assert {message: found for message, found in rule_of.items() if len(found) > 1} == {}


def test_policies_have_distinct_messages_and_exempt_the_operator() -> None:
    messages = []
    for policy in policies.policies():
        for validation in policy["spec"]["validations"]:
            assert validation["expression"].startswith("variables.isOperator || ")
            assert validation["message"]
            messages.append(validation.get("messageExpression", validation["message"]))
    assert len(messages) == len(set(messages))


def test_every_binding_reads_the_identity_parameter_and_fails_closed() -> None:
    documents = policies.documents()
    bindings = [doc for doc in documents if doc["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert sorted(b["spec"]["policyName"] for b in bindings) == sorted(
        p["metadata"]["name"] for p in policies.policies()
    )
    for binding in bindings:
        assert binding["spec"]["validationActions"] == ["Deny"]
        assert binding["spec"]["paramRef"] == {
            "name": policies.IDENTITY_CONFIGMAP,
            "namespace": policies.OPERATOR_NAMESPACE,
            "parameterNotFoundAction": "Deny",
        }


@pytest.mark.parametrize("kind", KINDS)
def test_names_and_presentation(kind: type[models.KubeObject]) -> None:
    crd = crds.crd(kind)
    names = crd["spec"]["names"]
    version = crd["spec"]["versions"][0]
    assert names["categories"] == ["porch"]
    assert names["shortNames"] and not set(names["shortNames"]) & TAKEN_SHORT_NAMES
    assert version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"][-1]["name"] == "Age"
    declared = {path for path, _ in nodes(root_schema(kind))}
    for field in version.get("selectableFields", []):
        assert field["jsonPath"] in declared, field
        node = dict(nodes(root_schema(kind)))[field["jsonPath"]]
        assert node["type"] in {"string", "integer", "boolean"}


def test_short_names_are_unique() -> None:
    short = [name for kind in models.ALL_KINDS for name in kind.crd.short_names]
    assert len(short) == len(set(short))


def test_revision_selectable_fields_and_columns() -> None:
    version = crds.crd(models.PackageRevision)["spec"]["versions"][0]
    assert [f["jsonPath"] for f in version["selectableFields"]] == [
        ".spec.lifecycle", ".spec.repository", ".spec.packageName", ".spec.workspaceName", ".status.revision",
    ]  # fmt: skip
    columns = [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    assert [name for name, priority in columns if priority == 0] == [
        "Package", "Workspace", "Revision", "Latest", "Lifecycle", "Repository", "Age",
    ]  # fmt: skip
