"""Porch's own manifests apply unchanged and keep every field; `kubectl get` shows the printer columns; field
selectors filter on every selectable field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from porch_operator import models
from tests.containment import missing
from tests.e2e.api import manifests
from tests.e2e.api.conftest import Actors

SAMPLES = Path(__file__).resolve().parents[2] / "porch_manifests"


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_porch_manifest_applies_unchanged_and_keeps_every_field(sample: Path, actors: Actors) -> None:
    manifest = yaml.safe_load(sample.read_text())
    actors.admin.run("apply", "-f", str(sample))
    stored = actors.admin.get(
        manifest["kind"].lower() + "." + manifest["apiVersion"].split("/")[0], manifest["metadata"]["name"]
    )
    assert missing(manifest["spec"], stored["spec"]) == []
    assert missing(manifest["metadata"], stored["metadata"]) == []


def _discovered(
    actors: Actors, repository: str, package: str, workspace: str, *, revision: int, latest: str
) -> None:
    manifest = manifests.revision(
        repository,
        package,
        workspace,
        lifecycle="Published",
        source=None,
        labels={models.LATEST_REVISION_LABEL: latest},
    )
    actors.operator.create(manifest)
    name = manifest["metadata"]["name"]
    actors.operator.run(
        "patch",
        "rpkg",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"revision": revision}}),
    )


def _table(actors: Actors, *args: str) -> list[list[str]]:
    """`kubectl get` output cut at the header's column starts (empty cells stay, as '')."""
    header, *lines = actors.admin.run("get", *args).stdout.splitlines()
    starts = [i for i, char in enumerate(header) if char != " " and (i == 0 or header[i - 1] == " ")]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [[line[a:b].strip() for a, b in bounds] for line in [header, *lines]]


def test_kubectl_get_rpkg_shows_the_columns(actors: Actors) -> None:
    _discovered(actors, "blueprints", "net/vpc", "v3", revision=3, latest="true")
    actors.admin.create(manifests.revision("blueprints", "net/vpc", "next"))
    header, *rows = _table(actors, "rpkg", "--sort-by=.metadata.name")
    assert header == ["NAME", "PACKAGE", "WORKSPACE", "REVISION", "LATEST", "LIFECYCLE", "REPOSITORY", "AGE"]
    assert [row[:7] for row in rows] == [
        ["blueprints.net.vpc.next", "net/vpc", "next", "", "", "Draft", "blueprints"],
        ["blueprints.net.vpc.v3", "net/vpc", "v3", "3", "true", "Published", "blueprints"],
    ]
    wide_header = _table(actors, "rpkg", "-o", "wide")[0]
    assert "READY" in wide_header


def test_kubectl_get_repo_shows_the_columns(actors: Actors) -> None:
    actors.admin.run("apply", "-f", str(SAMPLES / "repository-deployment.yaml"))
    actors.admin.run("apply", "-f", str(SAMPLES / "repository-oci.yaml"))
    header, *rows = _table(actors, "repo", "--sort-by=.metadata.name")
    assert header == ["NAME", "TYPE", "ADDRESS", "BRANCH", "DEPLOYMENT", "READY", "AGE"]
    assert [row[:5] for row in rows] == [
        ["edge1", "git", "http://gitea.example.com:3000/nephio/edge1.git", "main", "true"],
        ["oci-blueprints", "oci", "us-docker.pkg.dev/example-project/blueprints", "", ""],
    ]


def test_kubectl_get_porch_lists_every_kind(actors: Actors) -> None:
    actors.admin.run("apply", "-f", str(SAMPLES / "repository-git.yaml"))
    actors.admin.run("apply", "-f", str(SAMPLES / "functionconfig.yaml"))
    names = actors.admin.run("get", "porch", "-o", "name").stdout.split()
    assert "repository.config.porch.kpt.dev/blueprints" in names
    assert "functionconfig.config.porch.kpt.dev/set-namespace" in names


REVISION_SELECTIONS = [
    ("spec.lifecycle=Draft", ["repo.pkg.ws"]),
    ("spec.repository=other", ["other.pkg.v2"]),
    ("spec.packageName=a/b/pkg", ["repo.a.b.pkg.v1"]),
    ("spec.workspaceName=main", ["repo.pkg.main"]),
    ("status.revision=2", ["other.pkg.v2"]),
    ("status.revision=-1", ["repo.pkg.main"]),
    ("spec.repository=repo,spec.lifecycle=Published", ["repo.a.b.pkg.v1", "repo.pkg.main"]),
    ("spec.lifecycle!=Published", ["repo.pkg.ws"]),
]


def _names(actors: Actors, kind: str, selector: str) -> list[str]:
    out = actors.admin.run(
        "get", kind, f"--field-selector={selector}", "-o", "jsonpath={.items[*].metadata.name}"
    )
    return sorted(out.stdout.split())


def test_field_selectors_on_revisions(actors: Actors) -> None:
    actors.admin.create(manifests.revision())
    _discovered(actors, "repo", "a/b/pkg", "v1", revision=1, latest="true")
    _discovered(actors, "other", "pkg", "v2", revision=2, latest="true")
    _discovered(actors, "repo", "pkg", "main", revision=-1, latest="false")
    for selector, expected in REVISION_SELECTIONS:
        assert _names(actors, "rpkg", selector) == expected, selector
    refused = actors.admin.run("get", "rpkg", "--field-selector=spec.source.init.description=x", check=False)
    assert refused.returncode != 0 and "field label not supported" in refused.stderr


def test_field_selectors_on_resources_and_packages(actors: Actors) -> None:
    for repository, package, workspace in [
        ("repo", "pkg", "ws"),
        ("repo", "a/pkg", "ws"),
        ("other", "pkg", "v1"),
    ]:
        actors.operator.create(manifests.resources(repository, package, workspace, lifecycle_label="Draft"))
        if workspace == "ws" or repository == "other":
            actors.operator.create(manifests.package(repository, package))
    assert _names(actors, "prr", "spec.repository=other") == ["other.pkg.v1"]
    assert _names(actors, "prr", "spec.packageName=a/pkg") == ["repo.a.pkg.ws"]
    assert _names(actors, "prr", "spec.workspaceName=ws") == ["repo.a.pkg.ws", "repo.pkg.ws"]
    assert _names(actors, "porchpkg", "spec.repository=repo") == ["repo.a.pkg", "repo.pkg"]
    assert _names(actors, "porchpkg", "spec.packageName=pkg") == ["other.pkg", "repo.pkg"]
