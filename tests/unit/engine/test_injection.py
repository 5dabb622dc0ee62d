"""Config injection into a package (Porch §6.5 step 3): points, injectors, conditions and readiness gates."""

from __future__ import annotations

import pytest

from porch_operator.engine import documents, injection
from porch_operator.engine.injection import Candidate, InjectionPoint, Injector
from porch_operator.engine.kptfile import Condition, Kptfile
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.variants import plain
from porch_operator.errors import InvalidSpec

KPTFILE = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: edge
info:
  readinessGates:
  - conditionType: zz.manual
status:
  conditions:
  - type: zz.manual
    status: "True"
"""

POINTS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings # from upstream
  annotations:
    kpt.dev/config-injection: required
data:
  size: small
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gadget
  annotations:
    kpt.dev/config-injection: optional
spec:
  color: red
---
apiVersion: v1
kind: Service
metadata:
  name: plain
"""


def package() -> PackageResources:
    return PackageResources(
        {"Kptfile": KPTFILE, "points.yaml": POINTS, "README.md": "kpt.dev/config-injection\n"}
    )


def configmap(name: str, **data: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_find_points() -> None:
    points = injection.find_points(package())
    assert [(p.kind, p.name, p.required, p.index) for p in points] == [
        ("ConfigMap", "settings", True, 0),
        ("Widget", "gadget", False, 1),
    ]
    assert points[0].condition_type == "config.injection.ConfigMap.settings"
    assert (points[1].group, points[1].version) == ("example.com", "v1")
    assert (points[0].group, points[0].version) == ("", "v1")


def test_bad_annotation_and_duplicates_are_errors() -> None:
    bad = POINTS.replace("optional", "sometimes")
    with pytest.raises(InvalidSpec, match="'sometimes'"):
        injection.find_points(PackageResources({"Kptfile": KPTFILE, "p.yaml": bad}))
    twice = PackageResources({"Kptfile": KPTFILE, "a.yaml": POINTS, "b.yml": POINTS})
    with pytest.raises(InvalidSpec, match="duplicate injection condition type"):
        injection.find_points(twice)


def test_injector_matching() -> None:
    point = InjectionPoint("p.yaml", 0, "example.com/v1", "Widget", "gadget", required=False)
    assert Injector(name="x").applies_to(point)
    assert Injector(name="x", group="example.com", version="v1", kind="Widget").applies_to(point)
    assert not Injector(name="x", group="").applies_to(point)
    assert not Injector(name="x", version="v2").applies_to(point)
    assert not Injector(name="x", kind="ConfigMap").applies_to(point)


def test_inject_writes_fields_annotations_conditions_and_gates() -> None:
    points = injection.find_points(package())
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"color": "blue"},
    }
    result = injection.inject(
        package(),
        points,
        {
            "config.injection.ConfigMap.settings": Candidate(configmap("big", size="large", zone="b")),
            "config.injection.Widget.gadget": Candidate(widget),
        },
    )
    docs = [d.node for d in documents.parse_documents(result["points.yaml"], path="points.yaml")]
    assert plain(docs[0]["data"]) == {"size": "large", "zone": "b"}
    assert docs[0]["metadata"]["annotations"]["kpt.dev/injected-resource"] == "big"
    assert plain(docs[1]["spec"]) == {"color": "blue"}
    assert "# from upstream" in result["points.yaml"]
    kptfile = Kptfile.parse(result["Kptfile"])
    assert kptfile.readiness_gates == ["zz.manual", "config.injection.ConfigMap.settings"]
    assert kptfile.conditions == [
        Condition(
            "config.injection.ConfigMap.settings",
            "True",
            "ConfigInjected",
            'injected resource "big" from cluster',
        ),
        Condition(
            "config.injection.Widget.gadget", "True", "ConfigInjected", 'injected resource "w1" from cluster'
        ),
        Condition("zz.manual", "True"),
    ]
    again = injection.inject(
        result,
        injection.find_points(result),
        {
            "config.injection.ConfigMap.settings": Candidate(configmap("big", size="large", zone="b")),
            "config.injection.Widget.gadget": Candidate(widget),
        },
    )
    assert again is result


def test_points_without_an_object_get_false_conditions() -> None:
    points = injection.find_points(package())
    result = injection.inject(
        package(),
        points,
        {"config.injection.Widget.gadget": Candidate(None, ("no injectors defined",))},
    )
    assert result["points.yaml"] == POINTS
    conditions = {c.type: c for c in Kptfile.parse(result["Kptfile"]).conditions}
    assert conditions["config.injection.Widget.gadget"] == Condition(
        "config.injection.Widget.gadget", "False", "NoResourceSelected", "no injectors defined"
    )
    assert conditions["config.injection.ConfigMap.settings"].message == (
        "no resource matched any injection selector for this injection point"
    )
    assert "config.injection.Widget.gadget" not in Kptfile.parse(result["Kptfile"]).readiness_gates


def test_missing_field_is_reported() -> None:
    points = injection.find_points(package())
    empty = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}}
    result = injection.inject(package(), points, {"config.injection.Widget.gadget": Candidate(empty)})
    conditions = {c.type: c for c in Kptfile.parse(result["Kptfile"]).conditions}
    assert conditions["config.injection.Widget.gadget"].message == "field 'spec' not found in resource 'w2'"


def test_no_points_no_change() -> None:
    plain_package = PackageResources({"Kptfile": KPTFILE})
    assert injection.inject(plain_package, [], {}) is plain_package
    assert injection.injected_field("v1", "ConfigMap") == "data"
    assert injection.injected_field("example.com/v1", "ConfigMap") == "spec"
