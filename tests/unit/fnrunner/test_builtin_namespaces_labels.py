"""Builtin set-namespace, set-labels and set-annotations against the catalogue's documented behaviour."""

from __future__ import annotations

from typing import Any

from tests.unit.fnrunner.conftest import Builtins, config_map, deployment

CATALOGUE = "ghcr.io/kptdev/krm-functions-catalog/"


def _rbac() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": "old"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "sa", "namespace": "old"},
                {"kind": "User", "name": "u"},
            ],
        },
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr"}},
    ]


def test_set_namespace_moves_namespaced_resources_and_references(builtins: Builtins) -> None:
    items, results = builtins.run(
        CATALOGUE + "set-namespace:v0.4.1",
        [deployment(namespace="old"), *_rbac()],
        config_map({"namespace": "prod"}),
    )
    dep, binding, namespace, cluster_role = items
    assert dep["metadata"]["namespace"] == "prod"
    assert binding["metadata"]["namespace"] == "prod"
    assert binding["subjects"][0]["namespace"] == "prod"
    assert "namespace" not in binding["subjects"][1]
    assert namespace["metadata"]["name"] == "prod"
    assert "namespace" not in cluster_role["metadata"]
    assert results and results[0]["severity"] == "info"


def test_set_namespace_typed_config_and_resources_without_namespace(builtins: Builtins) -> None:
    config = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "SetNamespace",
        "metadata": {"name": "x"},
        "namespace": "a",
    }
    items, _ = builtins.run("set-namespace:v0.4", [deployment()], config)
    assert items[0]["metadata"]["namespace"] == "a"


def test_set_namespace_package_context_config(builtins: Builtins) -> None:
    items, _ = builtins.run(
        "set-namespace", [deployment()], config_map({"name": "from-context"}, name="kptfile.kpt.dev")
    )
    assert items[0]["metadata"]["namespace"] == "from-context"


def test_set_namespace_skips_local_config(builtins: Builtins) -> None:
    local = config_map({"a": "b"}, name="local")
    local["metadata"]["annotations"] = {"config.kubernetes.io/local-config": "true"}
    items, _ = builtins.run("set-namespace", [deployment(), local], config_map({"namespace": "n"}))
    assert "namespace" not in items[1]["metadata"]


def test_set_namespace_refuses_several_origin_namespaces(builtins: Builtins) -> None:
    failure = builtins.fail(
        "set-namespace", [deployment("a", "x"), deployment("b", "y")], config_map({"namespace": "n"})
    )
    assert failure.exit_code == 1
    assert "namespaceMatcher" in failure.stderr.decode()
    assert failure.results[-1]["severity"] == "error"


def test_set_namespace_matcher_selects_one_origin(builtins: Builtins) -> None:
    items, _ = builtins.run(
        "set-namespace",
        [deployment("a", "x"), deployment("b", "y"), deployment("c")],
        config_map({"namespace": "n", "namespaceMatcher": "x"}),
    )
    assert [item["metadata"].get("namespace") for item in items] == ["n", "y", None]


def test_set_namespace_depends_on_annotation(builtins: Builtins) -> None:
    dep = deployment(namespace="old")
    dep["metadata"]["annotations"] = {"config.kubernetes.io/depends-on": "apps/namespaces/old/Deployment/db"}
    items, _ = builtins.run("set-namespace", [dep], config_map({"namespace": "new"}))
    assert (
        items[0]["metadata"]["annotations"]["config.kubernetes.io/depends-on"]
        == "apps/namespaces/new/Deployment/db"
    )


def test_set_namespace_bad_config(builtins: Builtins) -> None:
    assert "namespace" in str(builtins.fail("set-namespace", [deployment()], config_map({})))
    assert builtins.fail("set-namespace", [deployment()], None).exit_code == 1


def test_set_labels_sets_metadata_selectors_and_templates(builtins: Builtins) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"selector": {"app": "x"}},
    }
    config = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "SetLabels",
        "metadata": {"name": "l"},
        "labels": {"tier": "web"},
    }
    items, results = builtins.run(CATALOGUE + "set-labels:v0.2.0", [deployment(), service], config)
    dep, svc = items
    assert dep["metadata"]["labels"] == {"tier": "web"}
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "app", "tier": "web"}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "app", "tier": "web"}
    assert svc["spec"]["selector"] == {"app": "x", "tier": "web"}
    assert "2 resource" in results[0]["message"]


def test_set_labels_configmap_overrides_existing(builtins: Builtins) -> None:
    dep = deployment()
    dep["metadata"]["labels"] = {"env": "dev", "keep": "me"}
    items, _ = builtins.run("gcr.io/kpt-fn/set-labels:v0.1", [dep], config_map({"env": "prod"}))
    assert items[0]["metadata"]["labels"] == {"env": "prod", "keep": "me"}


def test_set_labels_bad_config(builtins: Builtins) -> None:
    assert builtins.fail("set-labels", [deployment()], config_map({})).exit_code == 1
    bad = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "SetLabels",
        "metadata": {"name": "l"},
        "labels": ["x"],
    }
    assert "map" in str(builtins.fail("set-labels", [deployment()], bad))


def test_set_annotations_metadata_and_pod_template(builtins: Builtins) -> None:
    items, _ = builtins.run("set-annotations:v0.1.4", [deployment()], config_map({"owner": "team-a"}))
    assert items[0]["metadata"]["annotations"] == {"owner": "team-a"}
    assert items[0]["spec"]["template"]["metadata"]["annotations"] == {"owner": "team-a"}
    assert "annotations" not in items[0]["spec"]["selector"]


def test_set_annotations_additional_fields(builtins: Builtins) -> None:
    custom = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    config = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "SetAnnotations",
        "metadata": {"name": "a"},
        "annotations": {"x": "y"},
        "additionalAnnotationFields": [{"kind": "Widget", "path": "spec/extra/annotations", "create": True}],
    }
    items, _ = builtins.run("set-annotations", [custom], config)
    assert items[0]["spec"]["extra"]["annotations"] == {"x": "y"}
    assert items[0]["metadata"]["annotations"] == {"x": "y"}


def test_set_annotations_wrong_config_kind(builtins: Builtins) -> None:
    wrong = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    assert "SetAnnotations" in str(builtins.fail("set-annotations", [deployment()], wrong))
