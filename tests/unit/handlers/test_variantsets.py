"""PackageVariantSet decisions and CEL templates (porch-behaviour §6.9-6.10): validation, selectors, target
unrolling, names, rendered specs and updates that leave unchanged variants alone."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from porch_operator.errors import InvalidSpec
from porch_operator.handlers import celtemplates
from porch_operator.handlers import variantsetrules as rules
from porch_operator.handlers.celtemplates import Expressions, TargetContext

UPSTREAM = {"metadata": {"name": "up.base.v2", "namespace": "ns", "labels": {"tier": "gold"}}}
REPOSITORIES = {
    "edge1": {
        "metadata": {
            "name": "edge1",
            "namespace": "ns",
            "labels": {"region": "eu"},
            "annotations": {"a": "1"},
        }
    },
    "edge2": {"metadata": {"name": "edge2", "namespace": "ns", "labels": {"region": "us"}}},
}
SET = {"metadata": {"name": "fleet", "namespace": "ns", "uid": "uid-set"}}


def render(template: dict[str, Any] | None, target: TargetContext | None = None) -> dict[str, Any]:
    return celtemplates.render_spec(
        Expressions(),
        upstream_spec={"repo": "up", "package": "base"},
        upstream=UPSTREAM,
        template=template,
        target=target or TargetContext("edge1", "base", selected=REPOSITORIES["edge1"]),
        repository=REPOSITORIES.get,
        where="spec.targets[0]",
    )


# --- validation and selectors -----------------------------------------------------------------------------


def test_validation() -> None:
    assert (
        rules.validate(
            {"upstream": {"repo": "u", "package": "p"}, "targets": [{"repositories": [{"name": "r"}]}]}
        )
        == []
    )
    spec = {
        "upstream": {"repo": "u"},
        "targets": [
            {},
            {"repositories": [{"name": "", "packageNames": [""]}], "repositorySelector": {}},
            {"objectSelector": {"matchExpressions": [{"key": "k", "operator": "Near"}]}},
            {
                "repositories": [{"name": "r"}],
                "template": {"pipeline": {"mutators": [{"name": "a.b"}], "validators": [{"image": "x"}]}},
            },
        ],
    }
    assert rules.validate(spec) == [
        "missing spec.upstream.package",
        "spec.targets[0] needs exactly one of repositories, repositorySelector or objectSelector",
        "spec.targets[1] needs exactly one of repositories, repositorySelector or objectSelector",
        "spec.targets[1].repositories[0].name is required",
        "spec.targets[1].repositories[0].packageNames may not hold empty names",
        "spec.targets[2].objectSelector: "
        "label selector operator 'Near' is not In, NotIn, Exists or DoesNotExist",
        "spec.targets[3].template.pipeline.mutators[0].image is required",
        "spec.targets[3].template.pipeline.mutators[0].name must not contain '.'",
    ]
    assert rules.validate({"upstream": {"repo": "u", "package": "p"}, "targets": []}) == [
        "spec.targets needs at least one target"
    ]


def test_label_selector() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "tier", "operator": "NotIn", "values": ["x"]},
            {"key": "has", "operator": "Exists"},
            {"key": "not", "operator": "DoesNotExist"},
        ],
    }
    assert rules.label_selector(selector) == "a=1,b=2,env in (dev,prod),tier notin (x),has,!not"
    assert rules.label_selector({}) == ""
    assert rules.label_selector(None) == ""


# --- unrolling and names ----------------------------------------------------------------------------------


def test_repository_targets_unroll_per_package_name() -> None:
    target = {"repositories": [{"name": "r1"}, {"name": "r2", "packageNames": ["a", "b/c"]}]}
    contexts = rules.repository_contexts(target, upstream_package="base")
    assert [(c.repo_default, c.package_default, c.selected) for c in contexts] == [
        ("r1", "base", None),
        ("r2", "a", None),
        ("r2", "b/c", None),
    ]
    assert contexts[0].target_variable() == {"repo": "r1", "package": "base"}


def test_selected_objects_unroll_by_name() -> None:
    contexts = rules.selected_contexts(list(reversed(REPOSITORIES.values())), upstream_package="base")
    assert [c.repo_default for c in contexts] == ["edge1", "edge2"]
    assert contexts[0].target_variable() == {
        "name": "edge1",
        "namespace": "ns",
        "labels": {"region": "eu"},
        "annotations": {"a": "1"},
    }


def test_variant_names() -> None:
    assert rules.variant_name("fleet", "edge1", "base") == "fleet-edge1-base"
    assert rules.variant_name("fleet", "edge1", "apps/web") == "fleet-edge1-apps.web"
    long_name = rules.variant_name(
        "a-very-long-set-name", "a-long-repository-name", "and/a/deep/package/path"
    )
    identity = "a-very-long-set-name-a-long-repository-name-and/a/deep/package/path"
    digest = hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:8]
    # The first 54 characters end in a dot, which a name may not end a segment with: it goes.
    assert long_name == "a-very-long-set-name-a-long-repository-name-and.a.deep-" + digest
    assert len(long_name) <= 63
    assert rules.variant_name("s", "r", "UPPER") != rules.variant_name("s", "r", "upper")


# --- templates --------------------------------------------------------------------------------------------


def test_no_template_gives_the_defaults() -> None:
    assert render(None) == {
        "upstream": {"repo": "up", "package": "base"},
        "downstream": {"repo": "edge1", "package": "base"},
    }


def test_full_template() -> None:
    template = {
        "downstream": {"packageExpr": "'app-' + repository.labels['region']"},
        "adoptionPolicy": "adoptExisting",
        "deletionPolicy": "orphan",
        "labels": {"team": "edge", "region": "plain"},
        "labelExprs": [
            {"key": "region", "valueExpr": "repository.labels['region']"},
            {"keyExpr": "'from-' + upstream.name", "value": "yes"},
        ],
        "annotations": {"a": "b"},
        "annotationExprs": [{"key": "target", "valueExpr": "target.name"}],
        "packageContext": {
            "data": {"x": "1"},
            "dataExprs": [{"key": "site", "valueExpr": "repoDefault + '/' + packageDefault"}],
            "removeKeys": ["old", "b"],
            "removeKeyExprs": ["'legacy-' + repository.labels['region']", "'b'"],
        },
        "injectors": [{"kind": "ConfigMap", "nameExpr": "repository.name + '-config'"}, {"name": "fallback"}],
        "pipeline": {
            "mutators": [
                {
                    "image": "set-labels:v0.2",
                    "name": "labels",
                    "configMap": {"a": "b"},
                    "configMapExprs": [{"key": "region", "valueExpr": "repository.labels['region']"}],
                }
            ]
        },
    }
    spec = render(template)
    assert spec == {
        "upstream": {"repo": "up", "package": "base"},
        "downstream": {"repo": "edge1", "package": "app-eu"},
        "adoptionPolicy": "adoptExisting",
        "deletionPolicy": "orphan",
        "labels": {"team": "edge", "region": "eu", "from-up.base.v2": "yes"},
        "annotations": {"a": "b", "target": "edge1"},
        "packageContext": {"data": {"x": "1", "site": "edge1/base"}, "removeKeys": ["b", "legacy-eu", "old"]},
        "injectors": [{"kind": "ConfigMap", "name": "edge1-config"}, {"name": "fallback"}],
        "pipeline": {
            "mutators": [
                {"image": "set-labels:v0.2", "name": "labels", "configMap": {"a": "b", "region": "eu"}}
            ]
        },
    }


def test_repo_expression_chooses_the_repository_variable() -> None:
    spec = render(
        {
            "downstream": {"repoExpr": "'edge2'"},
            "labelExprs": [{"key": "r", "valueExpr": "repository.labels['region']"}],
        },
        TargetContext("edge1", "base"),
    )
    assert spec["downstream"] == {"repo": "edge2", "package": "base"}
    assert spec["labels"] == {"r": "us"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"labelExprs": [{"key": "a", "valueExpr": "repository.labels['nope']"}]},
            r"labelExprs\[0\]\.valueExpr: no such key: 'nope'",
        ),
        (
            {"labelExprs": [{"key": "a", "valueExpr": "repository.labels["}]},
            r"labelExprs\[0\]\.valueExpr: syntax error at line 1",
        ),
        ({"annotationExprs": [{"key": "a", "valueExpr": "1 + 1"}]}, "must give a string, not IntType"),
        ({"downstream": {"repo": "missing"}}, "repository 'missing' could not be loaded"),
        (
            {"injectors": [{"nameExpr": "undefinedVariable"}]},
            r"injectors\[0\]\.nameExpr: undeclared reference to 'undefinedVariable'",
        ),
        ({"labelExprs": [{"valueExpr": "'x'"}]}, "needs a key or a keyExpr"),
    ],
)
def test_template_errors_name_the_field(template: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message) as caught:
        render(template)
    assert str(caught.value).startswith("spec.targets[0].template.")
    assert "activation" not in str(caught.value)


# --- the generated objects --------------------------------------------------------------------------------


def test_desired_variant_and_updates() -> None:
    spec = {"upstream": {"repo": "up", "package": "base"}, "downstream": {"repo": "edge1", "package": "base"}}
    desired = rules.desired_variant(SET, spec)
    assert desired["metadata"]["name"] == "fleet-edge1-base"
    assert desired["metadata"]["labels"] == {rules.SET_LABEL: "uid-set"}
    assert desired["metadata"]["ownerReferences"][0]["uid"] == "uid-set"
    assert desired["metadata"]["finalizers"] == ["config.porch.kpt.dev/packagevariants"]
    # As the API server stores it: schema defaults filled in, other fields added by others.
    existing = {
        **desired,
        "metadata": {**desired["metadata"], "resourceVersion": "7", "managedFields": [{"manager": "x"}]},
        "spec": {**spec, "adoptionPolicy": "adoptNone", "deletionPolicy": "delete"},
        "status": {"conditions": []},
    }
    assert rules.updated_variant(existing, desired) is None
    changed = rules.updated_variant(existing, rules.desired_variant(SET, {**spec, "labels": {"a": "b"}}))
    assert changed is not None
    assert changed["spec"]["labels"] == {"a": "b"}
    assert changed["metadata"]["resourceVersion"] == "7"
    assert "managedFields" not in changed["metadata"] and "status" not in changed
    relabelled = rules.updated_variant(
        {**existing, "metadata": {**existing["metadata"], "labels": {}}}, desired
    )
    assert relabelled is not None and relabelled["metadata"]["labels"] == {rules.SET_LABEL: "uid-set"}


def test_normalised_spec_fills_schema_defaults() -> None:
    spec = {"upstream": {"repo": "u", "package": "p"}, "downstream": {"repo": "r", "package": "p"}}
    assert rules.normalised_spec(spec) == {**spec, "adoptionPolicy": "adoptNone", "deletionPolicy": "delete"}
