"""The CEL rules (and schema defaults) of Repository, PackageRevisionResources, Package, PackageVariant,
PackageVariantSet and FunctionConfig, against the real API server.

PackageRevisionResources are set up by the operator with the lifecycle label `Draft`, and Packages are written
by the operator, so the admission policies let the requests through and only the CEL rule under test decides.
"""

from __future__ import annotations

from typing import Any

import pytest

from porch_operator import models
from tests.e2e.api import cases, manifests
from tests.e2e.api.cases import Case, create, json_patch, patch
from tests.e2e.api.conftest import Actors

IMMUTABLE = "is immutable"


# --- Repository ---------------------------------------------------------------------------------------------


def repository(name: str = "blueprints", **spec: Any) -> dict[str, Any]:
    body = {"type": "git", "git": {"repo": "https://example.com/blueprints.git"}}
    body.update(spec)
    return manifests.kind_object(models.Repository.crd, name, body)


OCI = {"type": "oci", "oci": {"registry": "registry.example.com/packages"}}
REPO = "repo/blueprints"

REPOSITORY = [
    Case("DNS label name", create("admin", repository())),
    Case(
        "dotted name", create("admin", repository("my.repo")), refused="a Repository name must be a DNS label"
    ),
    Case(
        "64-character name",
        create("admin", repository("r" * 64)),
        refused="a Repository name must be a DNS label",
    ),
    Case(
        "type",
        patch("admin", REPO, {"spec": OCI}),
        refused=f"spec.type {IMMUTABLE}",
        setup=(create("admin", repository()),),
    ),
    Case(
        "git.repo",
        patch("admin", REPO, {"spec": {"git": {"repo": "https://example.com/other.git"}}}),
        refused=f"spec.git.repo {IMMUTABLE}",
        setup=(create("admin", repository()),),
    ),
    Case(
        "git.branch",
        patch("admin", REPO, {"spec": {"git": {"branch": "dev"}}}),
        refused=f"spec.git.branch {IMMUTABLE}",
        setup=(create("admin", repository()),),
    ),
    Case(
        "git.directory changed",
        patch("admin", REPO, {"spec": {"git": {"directory": "b"}}}),
        refused=f"spec.git.directory {IMMUTABLE}",
        setup=(create("admin", repository(git={"repo": "https://example.com/r.git", "directory": "a"})),),
    ),
    Case(
        "git.directory added",
        patch("admin", REPO, {"spec": {"git": {"directory": "a"}}}),
        refused=f"spec.git.directory {IMMUTABLE}",
        setup=(create("admin", repository()),),
    ),
    Case(
        "git.directory removed",
        json_patch("admin", REPO, [{"op": "remove", "path": "/spec/git/directory"}]),
        refused=f"spec.git.directory {IMMUTABLE}",
        setup=(create("admin", repository(git={"repo": "https://example.com/r.git", "directory": "a"})),),
    ),
    Case(
        "oci.registry",
        patch("admin", REPO, {"spec": {"oci": {"registry": "registry.example.com/other"}}}),
        refused=f"spec.oci.registry {IMMUTABLE}",
        setup=(create("admin", repository(**OCI)),),
    ),
    Case(
        "mutable fields change",
        patch(
            "admin",
            REPO,
            {"spec": {"description": "d", "deployment": True, "sync": {"schedule": "*/5 * * * *"}}},
        ),
        setup=(create("admin", repository()),),
    ),
    Case(
        "git without spec.git",
        create("admin", manifests.kind_object(models.Repository.crd, "r", {"type": "git"})),
        refused="spec.git is required when spec.type is git",
    ),
    Case(
        "oci without spec.oci",
        create("admin", manifests.kind_object(models.Repository.crd, "r", {"type": "oci"})),
        refused="spec.oci is required when spec.type is oci",
    ),
    Case("oci", create("admin", repository(**OCI))),
]


@pytest.mark.parametrize("case", cases.params(REPOSITORY))
def test_repository(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


def test_repository_defaults(actors: Actors) -> None:
    actors.admin.create(repository())
    spec = actors.admin.get("repo", "blueprints")["spec"]
    assert spec["git"]["branch"] == "main"
    assert spec["content"] == "Package"


# --- PackageRevisionResources -------------------------------------------------------------------------------

PRR_NAME = "prr/repo.pkg.ws"
MIB = models.MAX_RESOURCES_CHARS


def files(**paths: str) -> Any:
    return create("admin", manifests.resources(files={"Kptfile": manifests.KPTFILE, **paths}))


def draft_files() -> Any:
    return create("operator", manifests.resources(lifecycle_label="Draft"))


BAD_PATH = "file paths in spec.resources must be relative and normalised"
RESOURCES = [
    Case("name of the revision", files()),
    Case(
        "another name",
        create("admin", manifests.resources(name="files")),
        refused="metadata.name must be repo.pkg.ws",
    ),
    *(
        Case(
            f"{field} immutable",
            patch("admin", PRR_NAME, {"spec": {field: "other"}}),
            refused=f"spec.{field} {IMMUTABLE}",
            setup=(draft_files(),),
        )
        for field in ("repository", "packageName", "workspaceName")
    ),
    Case(
        "files change",
        patch("admin", PRR_NAME, {"spec": {"resources": {"a.yaml": "a: 1\n"}}}),
        setup=(draft_files(),),
    ),
    *(
        Case(f"path {path!r}", create("admin", manifests.resources(files={path: "x"})), refused=BAD_PATH)
        for path in [
            "/etc/passwd",
            "a/../b",
            "./a",
            "a//b",
            "a/",
            ".git/config",
            "sub/.git/HEAD",
            "a\u0000b",
            "p" * 1025,
        ]
    ),
    *(
        Case(f"path {path!r} accepted", create("admin", manifests.resources(files={path: "x"})))
        for path in ["Kptfile", "sub/dir/deploy.yaml", ".gitignore", "dir/.hidden", "a..b", "p" * 1024]
    ),
    Case(
        "more than 1 MiB of text",
        create("admin", manifests.resources(files={"a": "x" * (MIB // 2), "b": "x" * (MIB // 2 + 1)})),
        refused="spec.resources holds more than 1048576 characters (1 MiB) of file text in total",
    ),
    Case(
        "exactly 1 MiB of text",
        create("admin", manifests.resources(files={"a": "x" * (MIB // 2), "b": "x" * (MIB // 2)})),
    ),
]


@pytest.mark.parametrize("case", cases.params(RESOURCES))
def test_package_revision_resources(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


# --- Package ------------------------------------------------------------------------------------------------

PACKAGE = [
    Case("package name", create("operator", manifests.package())),
    Case("nested package name", create("operator", manifests.package(package="a/b/pkg"))),
    Case(
        "another name",
        create("operator", manifests.package(name="pkg")),
        refused="metadata.name must be repo.pkg (<repository>.<packageName with / replaced by .>)",
    ),
    *(
        Case(
            f"{field} immutable",
            patch("operator", "porchpkg/repo.pkg", {"spec": {field: "other"}}),
            refused=f"spec.{field} {IMMUTABLE}",
            setup=(create("operator", manifests.package()),),
        )
        for field in ("repository", "packageName")
    ),
]


@pytest.mark.parametrize("case", cases.params(PACKAGE))
def test_package(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


# --- PackageVariant -----------------------------------------------------------------------------------------


def variant(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "upstream": {"repo": "catalog", "package": "base", "workspaceName": "v1"},
        "downstream": {"repo": "deployments", "package": "site-a"},
    }
    body.update(spec)
    return manifests.kind_object(models.PackageVariant.crd, "pv", body)


VARIANT = [
    Case(
        "package context",
        create("admin", variant(packageContext={"data": {"site": "a"}, "removeKeys": ["old"]})),
    ),
    *(
        Case(
            f"packageContext.data sets {key}",
            create("admin", variant(packageContext={"data": {key: "x"}})),
            refused="spec.packageContext.data may not set name or package-path",
        )
        for key in ("name", "package-path")
    ),
    *(
        Case(
            f"packageContext.removeKeys removes {key}",
            create("admin", variant(packageContext={"removeKeys": ["other", key]})),
            refused="spec.packageContext.removeKeys may not remove name or package-path",
        )
        for key in ("name", "package-path")
    ),
]


@pytest.mark.parametrize("case", cases.params(VARIANT))
def test_package_variant(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


def test_package_variant_defaults(actors: Actors) -> None:
    actors.admin.create(variant())
    spec = actors.admin.get("pvar", "pv")["spec"]
    assert (spec["adoptionPolicy"], spec["deletionPolicy"]) == ("adoptNone", "delete")


# --- PackageVariantSet --------------------------------------------------------------------------------------


def variant_set(target: dict[str, Any]) -> dict[str, Any]:
    body = {"upstream": {"repo": "catalog", "package": "base", "revision": 2}, "targets": [target]}
    return manifests.kind_object(models.PackageVariantSet.crd, "pvs", body)


REPOS = {"repositories": [{"name": "site-a"}]}
ONE_TARGET = "each target needs exactly one of repositories, repositorySelector or objectSelector"


def templated(template: dict[str, Any]) -> Any:
    return create("admin", variant_set({**REPOS, "template": template}))


VARIANT_SET = [
    Case("repositories", create("admin", variant_set(REPOS))),
    Case(
        "repositorySelector",
        create("admin", variant_set({"repositorySelector": {"matchLabels": {"a": "b"}}})),
    ),
    Case(
        "objectSelector",
        create(
            "admin",
            variant_set({"objectSelector": {"apiVersion": "v1", "kind": "ConfigMap", "matchLabels": {}}}),
        ),
    ),
    Case("no target kind", create("admin", variant_set({"template": {}})), refused=ONE_TARGET),
    Case(
        "two target kinds",
        create("admin", variant_set({**REPOS, "repositorySelector": {"matchLabels": {"a": "b"}}})),
        refused=ONE_TARGET,
    ),
    Case("downstream repoExpr", templated({"downstream": {"repoExpr": "target.name", "package": "p"}})),
    Case(
        "downstream repo and repoExpr",
        templated({"downstream": {"repo": "r", "repoExpr": "target.name"}}),
        refused="template.downstream takes repo or repoExpr, not both",
    ),
    Case(
        "downstream package and packageExpr",
        templated({"downstream": {"package": "p", "packageExpr": "'p'"}}),
        refused="template.downstream takes package or packageExpr, not both",
    ),
    Case("injector nameExpr", templated({"injectors": [{"kind": "ConfigMap", "nameExpr": "target.name"}]})),
    Case(
        "injector name and nameExpr",
        templated({"injectors": [{"name": "a", "nameExpr": "target.name"}]}),
        refused="each template injector needs exactly one of name or nameExpr",
    ),
    Case(
        "injector without a name",
        templated({"injectors": [{"kind": "ConfigMap"}]}),
        refused="each template injector needs exactly one of name or nameExpr",
    ),
    Case("label expressions", templated({"labelExprs": [{"key": "site", "valueExpr": "repository.name"}]})),
    Case(
        "label key and keyExpr",
        templated({"labelExprs": [{"key": "a", "keyExpr": "'a'", "value": "v"}]}),
        refused="a map entry takes key or keyExpr, not both",
    ),
    Case(
        "config map value and valueExpr",
        templated(
            {
                "pipeline": {
                    "mutators": [
                        {"image": "f", "configMapExprs": [{"key": "a", "value": "v", "valueExpr": "'v'"}]}
                    ]
                }
            }
        ),
        refused="a map entry takes value or valueExpr, not both",
    ),
]


@pytest.mark.parametrize("case", cases.params(VARIANT_SET))
def test_package_variant_set(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


# --- FunctionConfig -----------------------------------------------------------------------------------------


def function_config(**spec: Any) -> dict[str, Any]:
    return manifests.kind_object(
        models.FunctionConfig.crd, "set-namespace", {"image": "set-namespace", **spec}
    )


FUNCTION_CONFIG = [
    Case("pod executor", create("admin", function_config(podExecutor={"tags": ["v0.4"]}))),
    Case(
        "binary executor",
        create("admin", function_config(binaryExecutor={"tags": ["v0.4"], "path": "set-ns"})),
    ),
    Case("go executor", create("admin", function_config(goExecutor={"tags": ["v0.4"]}))),
    Case(
        "no executor",
        create("admin", function_config(prefixes=[""])),
        refused="a FunctionConfig needs at least one of podExecutor, binaryExecutor or goExecutor",
    ),
]


@pytest.mark.parametrize("case", cases.params(FUNCTION_CONFIG))
def test_function_config(case: Case, actors: Actors) -> None:
    cases.check(case, actors)
