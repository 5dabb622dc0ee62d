"""The clone task."""

from __future__ import annotations

import pytest
import yaml

from porch_operator.engine.kptfile import GitLock
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import clone
from porch_operator.errors import InvalidSpec

UPSTREAM = PackageResources(
    {
        "Kptfile": (
            "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: basens # upstream name\n"
            "info:\n  description: base namespace\n"
        ),
        "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: example\n",
        "deploy.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n"
            "spec:\n  replicas: 1\n"
        ),
        "package-context.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kptfile.kpt.dev\n  annotations:\n"
            '    config.kubernetes.io/local-config: "true"\ndata:\n  name: example\n'
        ),
        "sub/Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: sub\n",
        "notes.txt": "# not yaml: [\n",
    }
)
LOCK = GitLock(repo="https://git.example/blueprints", directory="/basens", ref="basens/v1", commit="0123abc")


async def test_clone_sets_name_upstream_lock_and_merge_keys() -> None:
    task = clone.CloneTask(upstream=UPSTREAM, lock=LOCK, package_name="my-ns")
    package = await clone.apply(PackageResources(), task)
    assert set(package) == set(UPSTREAM)
    kptfile = yaml.safe_load(package["Kptfile"])
    assert kptfile["metadata"]["name"] == "my-ns"
    assert kptfile["upstream"] == {
        "type": "git",
        "git": {"repo": "https://git.example/blueprints.git", "directory": "basens", "ref": "basens/v1"},
        "updateStrategy": "resource-merge",
    }
    assert kptfile["upstreamLock"] == {
        "type": "git",
        "git": {
            "repo": "https://git.example/blueprints.git",
            "directory": "basens",
            "ref": "basens/v1",
            "commit": "0123abc",
        },
    }
    assert list(kptfile) == ["apiVersion", "kind", "metadata", "upstream", "upstreamLock", "info"]
    assert "# upstream name" in package["Kptfile"]
    assert package["deploy.yaml"].startswith(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: # kpt-merge: prod/web\n"
    )
    assert "internal.kpt.dev/upstream-identifier: 'apps|Deployment|prod|web'" in package["deploy.yaml"]
    assert "internal.kpt.dev/upstream-identifier: '|Namespace|default|example'" in package["ns.yaml"]
    assert package["notes.txt"] == UPSTREAM["notes.txt"]
    assert package["sub/Kptfile"] == UPSTREAM["sub/Kptfile"]
    # not a deployment repository: the abstract context stays as it was (plus merge keys)
    assert "name: example" in package["package-context.yaml"]


async def test_clone_into_a_deployment_repository_regenerates_the_package_context() -> None:
    task = clone.CloneTask(
        upstream=UPSTREAM,
        lock=LOCK,
        package_name="istions-deployment",
        deployment=True,
        package_path="team/ns",
    )
    package = await clone.apply(PackageResources(), task)
    context = yaml.safe_load(package["package-context.yaml"])
    assert context["data"] == {"name": "istions-deployment", "package-path": "team/ns"}
    assert package["package-context.yaml"].startswith(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: # kpt-merge: /kptfile.kpt.dev\n"
    )


async def test_existing_files_not_produced_by_the_clone_are_kept() -> None:
    existing = PackageResources({"extra.txt": "mine\n"})
    package = await clone.apply(existing, clone.CloneTask(upstream=UPSTREAM, lock=LOCK, package_name="x"))
    assert package["extra.txt"] == "mine\n"


async def test_clone_needs_an_upstream_kptfile() -> None:
    task = clone.CloneTask(upstream=PackageResources({"a.yaml": "a: 1\n"}), lock=LOCK, package_name="x")
    with pytest.raises(InvalidSpec, match="no Kptfile"):
        await clone.apply(PackageResources(), task)


def test_lock_normalisation() -> None:
    assert clone.normalise_lock(GitLock("https://h/r.git", "/a/b", "v1", "c")) == GitLock(
        "https://h/r.git", "a/b", "v1", "c"
    )
