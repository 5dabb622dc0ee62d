"""Kptfile ↔ PackageRevision metadata (Porch §3.1 step 9 and §3.8)."""

from __future__ import annotations

import pytest

from porch_operator.engine import metadata
from porch_operator.engine.kptfile import Condition
from porch_operator.engine.resources import PackageResources
from porch_operator.errors import InvalidSpec

KPTFILE = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: pkg
  labels:
    old: label # from upstream
  annotations:
    note: kept
info:
  readinessGates:
  - conditionType: first
  - conditionType: second
status:
  conditions:
  - type: first
    status: "False"
    reason: Waiting
    message: not yet
"""


def package() -> PackageResources:
    return PackageResources({"Kptfile": KPTFILE, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"})


def test_read() -> None:
    meta = metadata.read(package())
    assert meta.labels == {"old": "label"}
    assert meta.annotations == {"note": "kept"}
    assert meta.readiness_gates == ["first", "second"]
    assert meta.conditions == [Condition(type="first", status="False", reason="Waiting", message="not yet")]


def test_spec_update_replaces_maps_and_none_leaves_them() -> None:
    updated = metadata.apply(package(), labels={"new": "one"}, readiness_gates=["second", "third"])
    meta = metadata.read(updated)
    assert meta.labels == {"new": "one"}
    assert meta.annotations == {"note": "kept"}
    assert meta.readiness_gates == ["second", "third"]
    assert updated["cm.yaml"] == package()["cm.yaml"]


def test_creation_merges_maps() -> None:
    updated = metadata.apply(package(), labels={"new": "one", "old": "changed"}, annotations={}, merge=True)
    meta = metadata.read(updated)
    assert meta.labels == {"old": "changed", "new": "one"}
    assert meta.annotations == {"note": "kept"}
    assert "# from upstream" in updated["Kptfile"]


def test_conditions_become_exactly_the_given_list() -> None:
    updated = metadata.apply(
        package(),
        conditions=[
            Condition(type="second", status="True"),
            Condition(type="first", status="True", reason="Ok"),
        ],
    )
    assert metadata.read(updated).conditions == [
        Condition(type="second", status="True"),
        Condition(type="first", status="True", reason="Ok"),
    ]
    assert "message" not in updated["Kptfile"]
    cleared = metadata.apply(updated, conditions=[], readiness_gates=[], labels={}, annotations={})
    assert "status" not in cleared["Kptfile"] and "info" not in cleared["Kptfile"]
    assert "labels" not in cleared["Kptfile"] and "annotations" not in cleared["Kptfile"]


def test_no_change_keeps_the_same_files() -> None:
    original = package()
    assert metadata.apply(original, labels={"old": "label"}) is original
    assert metadata.apply(original) is original


def test_missing_kptfile() -> None:
    with pytest.raises(InvalidSpec, match="no Kptfile"):
        metadata.read(PackageResources({"a.yaml": "x: 1\n"}))
