"""Builders of the manifests the API tests send: small valid objects with one knob per rule under test.

Every builder returns a plain dict (what kubectl sends); defaults give a valid object, so a test changes only
what its rule is about.
"""

from __future__ import annotations

import copy
from typing import Any

from porch_operator import models

PR = models.PackageRevision.crd
PRR = models.PackageRevisionResources.crd
PKG = models.Package.crd

INIT: dict[str, Any] = {"init": {"description": "made by a test"}}
KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"


def revision(
    repository: str = "repo",
    package: str = "pkg",
    workspace: str = "ws",
    *,
    lifecycle: str | None = "Draft",
    source: dict[str, Any] | None = INIT,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    gates: list[str] | None = None,
    package_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"repository": repository, "packageName": package, "workspaceName": workspace}
    if lifecycle is not None:
        spec["lifecycle"] = lifecycle
    if source is not None:
        spec["source"] = copy.deepcopy(source)
    if gates is not None:
        spec["readinessGates"] = [{"conditionType": gate} for gate in gates]
    if package_labels is not None:
        spec["packageMetadata"] = {"labels": package_labels}
    return _object(PR, name or models.revision_name(repository, package, workspace), spec, labels)


def resources(
    repository: str = "repo",
    package: str = "pkg",
    workspace: str = "ws",
    *,
    files: dict[str, str] | None = None,
    lifecycle_label: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    spec = {
        "repository": repository,
        "packageName": package,
        "workspaceName": workspace,
        "resources": {"Kptfile": KPTFILE} if files is None else files,
    }
    labels = {models.LIFECYCLE_LABEL: lifecycle_label} if lifecycle_label else None
    return _object(PRR, name or models.revision_name(repository, package, workspace), spec, labels)


def package(repository: str = "repo", package: str = "pkg", *, name: str | None = None) -> dict[str, Any]:
    spec = {"repository": repository, "packageName": package}
    return _object(PKG, name or models.package_object_name(repository, package), spec, None)


def kind_object(crd: models.CRDInfo, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _object(crd, name, spec, None)


def _object(
    crd: models.CRDInfo, name: str, spec: dict[str, Any], labels: dict[str, str] | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": crd.api_version, "kind": crd.kind, "metadata": metadata, "spec": spec}
