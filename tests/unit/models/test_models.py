"""The models as the operator uses them: construction by Python names, wire form, defaults, names, enums."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from porch_operator import models


@pytest.mark.parametrize("kind", models.ALL_KINDS, ids=lambda k: k.crd.kind)
def test_api_version_and_kind_default_to_the_crd(kind: type[models.KubeObject]) -> None:
    fields = kind.model_fields
    assert fields["api_version"].default == kind.crd.api_version
    assert fields["kind"].default == kind.crd.kind


def test_object_names() -> None:
    assert (
        models.revision_name("blueprints", "catalog/gcp/bucket", "v2") == "blueprints.catalog.gcp.bucket.v2"
    )
    assert models.package_object_name("blueprints", "catalog/gcp/bucket") == "blueprints.catalog.gcp.bucket"


def test_enum_values_other_engineers_rely_on() -> None:
    assert [v.value for v in models.Lifecycle] == ["Draft", "Proposed", "Published", "DeletionProposed"]
    assert [v.value for v in models.UpgradeStrategy] == [
        "resource-merge", "fast-forward", "force-delete-replace", "copy-merge",
    ]  # fmt: skip


def test_defaults() -> None:
    spec = models.PackageRevisionSpec(package_name="pkg", repository="repo", workspace_name="ws")
    assert spec.lifecycle is models.Lifecycle.DRAFT
    assert models.GitRepository(repo="https://example.com/r.git").branch == "main"
    variant = models.PackageVariantSpec.model_validate(
        {"upstream": {"repo": "a", "package": "b"}, "downstream": {"repo": "c", "package": "d"}}
    )
    assert (variant.adoption_policy, variant.deletion_policy) == (
        models.AdoptionPolicy.ADOPT_NONE,
        models.DeletionPolicy.DELETE,
    )
    upgrade = models.UpgradeSource.model_validate(
        {"oldUpstream": {"name": "a"}, "newUpstream": {"name": "b"}, "currentPackage": {"name": "c"}}
    )
    assert upgrade.strategy is models.UpgradeStrategy.RESOURCE_MERGE
    assert models.PodExecutor().time_to_live == "30m"


def test_wire_form_is_camel_case_without_unset_fields() -> None:
    condition = models.Condition(
        type="Ready",
        status=models.ConditionStatus.TRUE,
        reason="Published",
        message="",
        observed_generation=3,
        last_transition_time=datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
    )
    status = models.PackageRevisionStatus(revision=2, conditions=[condition])
    assert status.to_wire() == {
        "revision": 2,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "observedGeneration": 3,
                "lastTransitionTime": "2026-05-01T10:00:00Z",
                "reason": "Published",
                "message": "",
            }
        ],
    }


def test_whole_object_round_trip_and_unknown_fields_ignored() -> None:
    body = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": "repo.pkg.ws", "labels": {models.LATEST_REVISION_LABEL: "false"}, "uid": "u"},
        "spec": {"repository": "repo", "packageName": "pkg", "workspaceName": "ws", "futureField": 1},
        "status": {"revision": 0, "creationSource": "init"},
    }
    revision = models.PackageRevision.model_validate(body)
    assert revision.status is not None and revision.status.creation_source is models.CreationSource.INIT
    assert revision.metadata.labels == {models.LATEST_REVISION_LABEL: "false"}
    wire = revision.to_wire()
    assert "futureField" not in wire["spec"]
    assert wire["spec"]["lifecycle"] == "Draft"


def test_python_validation_matches_the_schema() -> None:
    with pytest.raises(pydantic.ValidationError):
        models.Condition.model_validate(
            {
                "type": "Ready",
                "status": "Maybe",
                "reason": "x",
                "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        )
    with pytest.raises(pydantic.ValidationError):
        models.PackageRevisionSpec(package_name="Bad_Name", repository="repo", workspace_name="ws")
    with pytest.raises(pydantic.ValidationError):
        models.BinaryExecutor(tags=[], path="x")
