"""The upgrade task: the four strategies and their failure cases (kpt parity is in test_upgrade_parity.py)."""

from __future__ import annotations

import pytest
import yaml

from porch_operator.engine.kptfile import GitLock
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import upgrade
from porch_operator.errors import Conflict, InvalidSpec
from porch_operator.models import UpgradeStrategy

LOCK = GitLock(repo="https://git.example/up", directory="pkg", ref="pkg/v2", commit="feed")


def kptfile(name: str, extra: str = "") -> str:
    return f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n{extra}"


CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: "{value}"\n'
LOCAL_KPTFILE = kptfile(
    "down",
    "upstream:\n  type: git\n  git:\n    repo: https://git.example/up.git\n"
    "    directory: pkg\n    ref: pkg/v1\n"
    "  updateStrategy: resource-merge\n"
    "upstreamLock:\n  type: git\n  git:\n    repo: https://git.example/up.git\n    directory: pkg\n"
    "    ref: pkg/v1\n    commit: beef\n"
    'status:\n  conditions:\n  - type: Rendered\n    status: "True"\n    reason: RenderSuccess\n',
)

OLD = PackageResources(
    {"Kptfile": kptfile("pkg"), "a.yaml": CM.format(name="a", value="1"), "gone.txt": "x\n"}
)
NEW = PackageResources(
    {
        "Kptfile": kptfile("pkg", "info:\n  description: v2\n"),
        "a.yaml": CM.format(name="a", value="2"),
        "b.yaml": CM.format(name="b", value="1"),
    }
)


def task(local: PackageResources, strategy: UpgradeStrategy) -> upgrade.UpgradeTask:
    return upgrade.UpgradeTask(
        old_upstream=OLD, new_upstream=NEW, local=local, new_upstream_lock=LOCK, strategy=strategy
    )


def unchanged_local() -> PackageResources:
    return PackageResources({**OLD, "Kptfile": LOCAL_KPTFILE})


def locked(package: PackageResources) -> dict[str, object]:
    kptfile = yaml.safe_load(package["Kptfile"])
    assert kptfile["metadata"]["name"] == "down"
    assert kptfile["upstreamLock"]["git"] == {
        "repo": "https://git.example/up.git",
        "directory": "pkg",
        "ref": "pkg/v2",
        "commit": "feed",
    }
    assert kptfile["upstream"]["git"]["ref"] == "pkg/v2"
    return kptfile


async def test_resource_merge_keeps_local_files_and_takes_upstream_changes() -> None:
    local = unchanged_local().with_files({"mine.yaml": CM.format(name="mine", value="m")})
    result = await upgrade.apply(PackageResources(), task(local, UpgradeStrategy.RESOURCE_MERGE))
    kptfile = locked(result)
    assert kptfile["info"] == {"description": "v2"}
    assert kptfile["status"]["conditions"][0]["type"] == "Rendered"
    assert 'a: "2"' in result["a.yaml"] and "b.yaml" in result and "mine.yaml" in result
    assert "gone.txt" not in result
    assert "kpt-merge: /mine" in result["mine.yaml"]


async def test_fast_forward_replaces_and_clears_render_status() -> None:
    result = await upgrade.apply(PackageResources(), task(unchanged_local(), UpgradeStrategy.FAST_FORWARD))
    kptfile = locked(result)
    assert "status" not in kptfile
    assert sorted(result) == ["Kptfile", "a.yaml", "b.yaml"]


async def test_fast_forward_refuses_local_changes() -> None:
    local = unchanged_local().with_files({"a.yaml": CM.format(name="a", value="local")})
    with pytest.raises(Conflict, match=r"modified \(a.yaml\)"):
        await upgrade.apply(PackageResources(), task(local, UpgradeStrategy.FAST_FORWARD))


async def test_force_delete_replace_drops_local_changes_but_keeps_the_local_kptfile() -> None:
    local = unchanged_local().with_files({"mine.yaml": CM.format(name="mine", value="m")})
    result = await upgrade.apply(PackageResources(), task(local, UpgradeStrategy.FORCE_DELETE_REPLACE))
    kptfile = locked(result)
    assert "info" not in kptfile
    assert sorted(result) == ["Kptfile", "a.yaml", "b.yaml"]


async def test_copy_merge_copies_upstream_and_keeps_purely_local_files() -> None:
    local = unchanged_local().with_files(
        {"mine.yaml": CM.format(name="mine", value="m"), "a.yaml": CM.format(name="a", value="local")}
    )
    result = await upgrade.apply(PackageResources(), task(local, UpgradeStrategy.COPY_MERGE))
    kptfile = locked(result)
    assert kptfile["info"] == {"description": "v2"}
    assert 'a: "2"' in result["a.yaml"]
    assert "mine.yaml" in result and "b.yaml" in result and "gone.txt" not in result


async def test_subpackage_added_on_both_sides_is_a_conflict() -> None:
    sub = {"sub/Kptfile": kptfile("sub")}
    local = unchanged_local().with_files(sub)
    new = NEW.with_files(sub)
    bad = upgrade.UpgradeTask(old_upstream=OLD, new_upstream=new, local=local, new_upstream_lock=LOCK)
    with pytest.raises(Conflict, match="'sub' was added both upstream and in the local package"):
        await upgrade.apply(PackageResources(), bad)


async def test_packages_without_kptfile_are_refused() -> None:
    no_kptfile = PackageResources({"a.yaml": CM.format(name="a", value="1")})
    for local, new in ((no_kptfile, NEW), (unchanged_local(), no_kptfile)):
        bad = upgrade.UpgradeTask(old_upstream=OLD, new_upstream=new, local=local, new_upstream_lock=LOCK)
        with pytest.raises(InvalidSpec, match="no Kptfile"):
            await upgrade.apply(PackageResources(), bad)


async def test_duplicate_resources_cannot_be_merged() -> None:
    twice = CM.format(name="a", value="1") + "---\n" + CM.format(name="a", value="1")
    local = unchanged_local().with_files({"a.yaml": twice})
    with pytest.raises(InvalidSpec, match="same identity"):
        await upgrade.apply(PackageResources(), task(local, UpgradeStrategy.RESOURCE_MERGE))


async def test_renamed_resource_is_still_matched_through_its_merge_comment() -> None:
    renamed = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: # kpt-merge: /a\n  name: a-renamed\n"
        "  annotations:\n    internal.kpt.dev/upstream-identifier: '|ConfigMap|default|a'\n"
        'data:\n  a: "1"\n'
    )
    local = unchanged_local().with_files({"a.yaml": renamed})
    result = await upgrade.apply(PackageResources(), task(local, UpgradeStrategy.RESOURCE_MERGE))
    assert "name: a-renamed" in result["a.yaml"] and 'a: "2"' in result["a.yaml"]


async def test_named_functions_merge_by_name() -> None:
    def with_pipeline(body: str) -> PackageResources:
        return PackageResources({"Kptfile": kptfile("pkg", "pipeline:\n  mutators:\n" + body)})

    old = with_pipeline("  - name: labels\n    image: set-labels:v1\n")
    new = with_pipeline(
        "  - name: labels\n    image: set-labels:v2\n  - name: ns\n    image: set-namespace:v1\n"
    )
    local = PackageResources(
        {
            "Kptfile": kptfile(
                "down",
                "pipeline:\n  mutators:\n  - name: mine\n    image: example.com/mine:v1\n"
                "  - name: labels\n    image: set-labels:v1\n",
            )
        }
    )
    result = await upgrade.apply(
        PackageResources(),
        upgrade.UpgradeTask(old_upstream=old, new_upstream=new, local=local, new_upstream_lock=LOCK),
    )
    mutators = yaml.safe_load(result["Kptfile"])["pipeline"]["mutators"]
    assert mutators == [
        {"name": "mine", "image": "example.com/mine:v1"},
        {"name": "labels", "image": "set-labels:v2"},
        {"image": "set-namespace:v1", "name": "ns"},
    ]
