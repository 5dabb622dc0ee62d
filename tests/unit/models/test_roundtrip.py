"""Porch-shaped manifests parse with our models and dump back without losing or inventing anything but
defaults (`tests/porch_manifests/`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from porch_operator import models
from tests.containment import missing

SAMPLES = Path(__file__).resolve().parents[2] / "porch_manifests"
BY_KIND = {(kind.crd.api_version, kind.crd.kind): kind for kind in models.ALL_KINDS}


def load(path: Path) -> tuple[dict[str, Any], models.KubeObject]:
    manifest = yaml.safe_load(path.read_text())
    kind = BY_KIND[(manifest["apiVersion"], manifest["kind"])]
    return manifest, kind.model_validate(manifest)


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_nothing_is_lost(sample: Path) -> None:
    manifest, parsed = load(sample)
    assert missing(manifest, parsed.to_wire()) == []


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_nothing_is_invented_but_defaults(sample: Path) -> None:
    manifest, parsed = load(sample)
    beyond_defaults = parsed.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    assert missing(beyond_defaults, manifest) == []


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_dump_parses_back_to_the_same_object(sample: Path) -> None:
    _, parsed = load(sample)
    assert type(parsed).model_validate(parsed.to_wire()) == parsed


def test_every_kind_has_a_sample() -> None:
    kinds = {load(path)[1].kind for path in SAMPLES.glob("*.yaml")}
    assert {"Repository", "PackageRevision", "PackageVariant", "PackageVariantSet", "FunctionConfig"} <= kinds


def test_parsed_values_are_typed() -> None:
    _, variant = load(SAMPLES / "packagevariant.yaml")
    assert isinstance(variant, models.PackageVariant)
    assert variant.spec.adoption_policy is models.AdoptionPolicy.ADOPT_EXISTING
    assert variant.spec.pipeline is not None and variant.spec.pipeline.mutators is not None
    assert variant.spec.pipeline.mutators[0].config_map == {"namespace": "free5gc"}
    _, config = load(SAMPLES / "functionconfig.yaml")
    assert isinstance(config, models.FunctionConfig)
    pod = config.spec.pod_executor
    assert (
        pod is not None
        and pod.template_overrides is not None
        and pod.template_overrides.container is not None
    )
    resources = pod.template_overrides.container.resources
    assert resources is not None and resources.limits == {"memory": "256Mi", "nvidia.com/gpu": 1}
