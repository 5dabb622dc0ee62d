"""PackageVariant changes to package files: package context keys and the prepended pipeline (Porch §6.5)."""

from __future__ import annotations

import pytest

from porch_operator.engine import variants
from porch_operator.engine.kptfile import Kptfile
from porch_operator.engine.resources import PackageResources
from porch_operator.errors import InvalidSpec

CONTEXT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: kptfile.kpt.dev
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  name: edge # the package name
  package-path: edge
  region: us
"""

KPTFILE = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: edge
info:
  description: an edge package # kept
pipeline:
  mutators:
  - image: set-namespace:v0.4
    configMap:
      namespace: edge
"""


def package(**files: str) -> PackageResources:
    return PackageResources({"Kptfile": KPTFILE, "package-context.yaml": CONTEXT, **files})


def functions(kptfile: str, stage: str) -> list[dict[str, object]]:
    node = Kptfile.parse(kptfile).node
    return variants.plain((node.get("pipeline") or {}).get(stage) or [])


# --- package context --------------------------------------------------------------------------------------


def test_context_sets_and_removes_keys_keeping_comments() -> None:
    result = variants.set_package_context(
        package(), data={"site": "paris", "region": "eu"}, remove_keys=["x"]
    )
    text = result["package-context.yaml"]
    assert "site: paris" in text
    assert "region: eu" in text
    assert "# the package name" in text
    again = variants.set_package_context(result, data={"site": "paris"}, remove_keys=["region"])
    assert "region" not in again["package-context.yaml"]


def test_context_unchanged_returns_the_same_package() -> None:
    original = package()
    assert variants.set_package_context(original, data={"region": "us"}, remove_keys=["absent"]) is original
    assert variants.set_package_context(original, data={}, remove_keys=[]) is original


def test_context_without_file_or_data_is_an_error() -> None:
    with pytest.raises(InvalidSpec, match=r"no package-context\.yaml"):
        variants.set_package_context(PackageResources({"Kptfile": KPTFILE}), data={"a": "b"}, remove_keys=[])
    no_data = CONTEXT.split("\ndata:", maxsplit=1)[0] + "\n"
    with pytest.raises(InvalidSpec, match="no data map"):
        variants.set_package_context(
            package(**{"package-context.yaml": no_data}), data={"a": "b"}, remove_keys=[]
        )
    other = CONTEXT.replace("kptfile.kpt.dev", "other")
    with pytest.raises(InvalidSpec, match="no ConfigMap named"):
        variants.set_package_context(
            package(**{"package-context.yaml": other}), data={"a": "b"}, remove_keys=[]
        )
    # Nothing to change: the file is not even needed.
    bare = PackageResources({"Kptfile": KPTFILE})
    assert variants.set_package_context(bare, data={}, remove_keys=[]) is bare


# --- pipeline ---------------------------------------------------------------------------------------------


LABELS = {"image": "set-labels:v0.2", "name": "labels", "configMap": {"tier": "edge"}}
CHECK = {"image": "kubeval:v0.3", "name": "check"}


def test_functions_are_prepended_and_named() -> None:
    result = variants.prepend_pipeline(
        package(), variant="pv1", mutators=[LABELS, LABELS], validators=[CHECK]
    )
    mutators = functions(result["Kptfile"], "mutators")
    assert [m.get("name") for m in mutators] == [
        "PackageVariant.pv1.labels.0",
        "PackageVariant.pv1.labels.1",
        None,
    ]
    assert mutators[0]["configMap"] == {"tier": "edge"}
    assert functions(result["Kptfile"], "validators") == [
        {"image": "kubeval:v0.3", "name": "PackageVariant.pv1.check.0"}
    ]
    assert "# kept" in result["Kptfile"]


def test_pipeline_is_idempotent_and_replaces_our_old_functions() -> None:
    first = variants.prepend_pipeline(package(), variant="pv1", mutators=[LABELS], validators=[CHECK])
    assert variants.prepend_pipeline(first, variant="pv1", mutators=[LABELS], validators=[CHECK]) is first
    changed = variants.prepend_pipeline(first, variant="pv1", mutators=[CHECK], validators=[])
    assert [m.get("name") for m in functions(changed["Kptfile"], "mutators")] == [
        "PackageVariant.pv1.check.0",
        None,
    ]
    assert "validators" not in changed["Kptfile"]


def test_other_variants_and_unnamed_functions_are_kept_in_order() -> None:
    first = variants.prepend_pipeline(package(), variant="a", mutators=[LABELS], validators=[])
    both = variants.prepend_pipeline(first, variant="b.with.dots", mutators=[CHECK], validators=[])
    names = [m.get("name") for m in functions(both["Kptfile"], "mutators")]
    assert names == ["PackageVariant.b.with.dots.check.0", "PackageVariant.a.labels.0", None]
    removed = variants.prepend_pipeline(both, variant="b.with.dots", mutators=[], validators=[])
    assert [m.get("name") for m in functions(removed["Kptfile"], "mutators")] == [
        "PackageVariant.a.labels.0",
        None,
    ]


def test_empty_pipeline_is_removed() -> None:
    plain = KPTFILE.split("pipeline:", maxsplit=1)[0]
    ours = variants.prepend_pipeline(package(Kptfile=plain), variant="v", mutators=[LABELS], validators=[])
    assert "pipeline:" in ours["Kptfile"]
    gone = variants.prepend_pipeline(ours, variant="v", mutators=[], validators=[])
    assert "pipeline" not in gone["Kptfile"]
    assert Kptfile.parse(gone["Kptfile"]).node == Kptfile.parse(plain).node


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("PackageVariant.v.fn.0", True),
        ("PackageVariant.v..12", True),
        ("PackageVariant.v.fn.x", False),
        ("PackageVariant.v.a.b.0", False),
        ("PackageVariant.vv.fn.0", False),
        ("Other.v.fn.0", False),
        (None, False),
    ],
)
def test_is_variant_function(name: object, ours: bool) -> None:
    assert variants.is_variant_function("v", name) is ours


def test_pipeline_needs_a_kptfile() -> None:
    with pytest.raises(InvalidSpec, match="no Kptfile"):
        variants.prepend_pipeline(
            PackageResources({"a.yaml": "a: 1\n"}), variant="v", mutators=[], validators=[]
        )
