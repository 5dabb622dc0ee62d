"""The init task."""

from __future__ import annotations

import pytest
import yaml

from porch_operator.engine import packagecontext
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import init
from porch_operator.errors import Conflict, InvalidSpec


async def test_init_writes_kptfile_readme_and_package_context() -> None:
    task = init.InitTask(
        package_name="vpc", description="A VPC", keywords=("net", "gcp"), site="https://x.test"
    )
    package = await init.apply(PackageResources(), task)
    assert sorted(package) == ["Kptfile", "README.md", "package-context.yaml"]
    assert package["Kptfile"] == (
        "apiVersion: kpt.dev/v1\n"
        "kind: Kptfile\n"
        "metadata:\n"
        "  name: vpc\n"
        "  annotations:\n"
        '    config.kubernetes.io/local-config: "true"\n'
        "info:\n"
        "  site: https://x.test\n"
        "  description: A VPC\n"
        "  keywords:\n"
        "  - net\n"
        "  - gcp\n"
    )
    assert package["README.md"].startswith("# vpc\n\n## Description\nA VPC\n")
    context = yaml.safe_load(package["package-context.yaml"])
    assert context["metadata"]["name"] == packagecontext.CONFIGMAP_NAME
    assert context["data"] == {"name": "example"}


async def test_default_task_uses_porchs_description() -> None:
    package = await init.apply(PackageResources(), init.default_task("net/vpc"))
    kptfile = yaml.safe_load(package["Kptfile"])
    assert kptfile["metadata"]["name"] == "net/vpc"
    assert kptfile["info"] == {"description": "net/vpc description"}


async def test_without_info_there_is_no_info_section() -> None:
    package = await init.apply(PackageResources(), init.InitTask(package_name="bare"))
    assert "info" not in yaml.safe_load(package["Kptfile"])


async def test_subpackage_is_created_inside_the_working_set() -> None:
    root = await init.apply(PackageResources(), init.InitTask(package_name="root"))
    with_sub = await init.apply(root, init.InitTask(package_name="root", subpackage="apps/db"))
    assert {"apps/db/Kptfile", "apps/db/README.md", "apps/db/package-context.yaml"} <= set(with_sub)
    assert yaml.safe_load(with_sub["apps/db/Kptfile"])["metadata"]["name"] == "db"
    assert with_sub["Kptfile"] == root["Kptfile"]


async def test_init_refuses_an_existing_package_and_bad_paths() -> None:
    root = await init.apply(PackageResources(), init.InitTask(package_name="root"))
    with pytest.raises(Conflict, match="Kptfile exists"):
        await init.apply(root, init.InitTask(package_name="root"))
    with pytest.raises(InvalidSpec, match="File path"):
        await init.apply(root, init.InitTask(package_name="root", subpackage="../escape"))
    with pytest.raises(InvalidSpec, match="package name"):
        await init.apply(PackageResources(), init.InitTask(package_name=""))
