"""Parity of the upgrade task with the real `kpt pkg update` (kpt 1.0.0-beta.56) on local git repositories.

Each case builds an upstream repository with the package at tag `pkg/v1`, fetches it with `kpt pkg get` into a
downstream repository, applies local edits, moves upstream to `pkg/v2`, and runs `kpt pkg update`. Our upgrade
task gets the same three packages (v1, v2 and the edited local copy) and must produce the same files: every
file byte-identical except the root Kptfile, which must hold the same data (kpt re-serialises the Kptfile from
its Go struct, we keep the local file's formatting; and Porch writes the upstream repository URL with `.git`
and the directory without a leading slash, kpt 1.0.0-beta.56 the other way round).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from porch_operator.engine import resources
from porch_operator.engine.kptfile import GitLock
from porch_operator.engine.tasks import upgrade
from porch_operator.errors import Conflict
from porch_operator.models import UpgradeStrategy

KPT = shutil.which("kpt")
pytestmark = pytest.mark.skipif(KPT is None or shutil.which("git") is None, reason="kpt or git missing")

GIT_ENV = ["-c", "user.email=test@example.com", "-c", "user.name=Test", "-c", "commit.gpgsign=false"]


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(["git", *GIT_ENV, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def write_tree(directory: Path, files: dict[str, str]) -> None:
    if directory.exists():
        for child in directory.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def read_tree(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(directory).parts
    }


@dataclass
class Outcome:
    ours: dict[str, str] | Exception
    kpt: dict[str, str] | None
    kpt_error: str


def run_case(
    tmp_path: Path,
    v1: dict[str, str],
    v2: dict[str, str],
    edit: dict[str, str | Callable[[str], str] | None],
    strategy: UpgradeStrategy = UpgradeStrategy.RESOURCE_MERGE,
) -> Outcome:
    upstream = tmp_path / "upstream"
    (upstream / "pkg").mkdir(parents=True)
    git(upstream, "init", "-q", "-b", "main")
    write_tree(upstream / "pkg", v1)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "v1")
    git(upstream, "tag", "pkg/v1")

    downstream = tmp_path / "downstream"
    downstream.mkdir()
    git(downstream, "init", "-q", "-b", "main")
    assert KPT is not None
    subprocess.run(
        [KPT, "pkg", "get", f"file://{upstream}.git/pkg@pkg/v1", "local"],
        cwd=downstream,
        check=True,
        capture_output=True,
    )
    local_dir = downstream / "local"
    for path, text in edit.items():
        target = local_dir / path
        if text is None:
            target.unlink()
        elif callable(text):
            target.write_text(text(target.read_text()))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git(downstream, "add", "-A")
    git(downstream, "commit", "-qm", "local edits")
    local = read_tree(local_dir)

    write_tree(upstream / "pkg", v2)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "v2")
    git(upstream, "tag", "pkg/v2")
    commit = git(upstream, "rev-parse", "HEAD")

    completed = subprocess.run(
        [KPT, "pkg", "update", "local@pkg/v2", "--strategy", strategy.value],
        cwd=downstream,
        capture_output=True,
        text=True,
    )
    kpt_result = read_tree(local_dir) if completed.returncode == 0 else None

    task = upgrade.UpgradeTask(
        old_upstream=resources.PackageResources(v1),
        new_upstream=resources.PackageResources(v2),
        local=resources.PackageResources(local),
        new_upstream_lock=GitLock(repo=f"file://{upstream}", directory="/pkg", ref="pkg/v2", commit=commit),
        strategy=strategy,
    )
    try:
        import asyncio

        ours: dict[str, str] | Exception = dict(
            asyncio.run(upgrade.apply(resources.PackageResources(), task))
        )
    except Exception as exc:
        ours = exc
    return Outcome(ours=ours, kpt=kpt_result, kpt_error=completed.stderr)


def kptfile_data(text: str) -> dict[str, object]:
    data = yaml.safe_load(text)
    data.pop("upstream", None)
    data.pop("upstreamLock", None)
    return data


def assert_same(outcome: Outcome) -> dict[str, str]:
    assert outcome.kpt is not None, outcome.kpt_error
    assert isinstance(outcome.ours, dict), outcome.ours
    ours, theirs = outcome.ours, outcome.kpt
    assert sorted(ours) == sorted(theirs)
    for path in theirs:
        if path == "Kptfile":
            assert kptfile_data(ours[path]) == kptfile_data(theirs[path])
        else:
            assert ours[path] == theirs[path], path
    lock = yaml.safe_load(ours["Kptfile"])["upstreamLock"]["git"]
    assert lock["ref"] == "pkg/v2" and lock["directory"] == "pkg" and lock["repo"].endswith("upstream.git")
    return ours


def kptfile(name: str, extra: str = "") -> str:
    return f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n{extra}"


DEPLOY_V1 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: app
        image: nginx:1
        args:
        - --a
        env:
        - name: A
          value: "1"
        - name: GONE
          value: bye
"""

DEPLOY_V2 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels:
    tier: web
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: app
        image: nginx:2
        args:
        - --a
        - --b
        env:
        - name: A
          value: "2"
        - name: B
          value: x
      - name: sidecar
        image: envoy
"""

CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: "{value}"\n'


def test_edits_on_both_sides_merge_by_identity(tmp_path: Path) -> None:
    v1 = {
        "Kptfile": kptfile("pkg", "info:\n  description: v1\n"),
        "deploy.yaml": DEPLOY_V1,
        "cm.yaml": CM.format(name="cm", value="1"),
    }
    v2 = {
        "Kptfile": kptfile("pkg", "info:\n  description: v2\n"),
        "deploy.yaml": DEPLOY_V2,
        "cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: "2"\n  z: new\n',
        "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports:\n  - port: 80\n",
    }
    outcome = run_case(
        tmp_path,
        v1,
        v2,
        edit={
            "deploy.yaml": lambda t: t.replace("replicas: 1", "replicas: 5").replace("--a", "--local"),
            "cm.yaml": lambda t: t + "  mine: kept\n",
            "Kptfile": lambda t: t.replace("  name: local\n", "  name: local\n  labels:\n    team: local\n"),
        },
    )
    ours = assert_same(outcome)
    assert "replicas: 3" in ours["deploy.yaml"] and "mine: kept" in ours["cm.yaml"]


def test_conflicting_fields_take_upstream_and_local_additions_stay(tmp_path: Path) -> None:
    v1 = {"Kptfile": kptfile("pkg"), "deploy.yaml": DEPLOY_V1, "cm.yaml": CM.format(name="cm", value="1")}
    v2 = {"Kptfile": kptfile("pkg"), "deploy.yaml": DEPLOY_V2, "cm.yaml": CM.format(name="cm", value="2")}
    outcome = run_case(
        tmp_path,
        v1,
        v2,
        edit={
            "cm.yaml": lambda t: t.replace('a: "1"', 'a: "local"') + "  mine: local\n",
            "deploy.yaml": lambda t: t.replace('value: "1"', "value: local").replace(
                "        - name: GONE\n          value: bye\n", ""
            ),
        },
    )
    ours = assert_same(outcome)
    assert "mine: local" in ours["cm.yaml"] and 'a: "2"' in ours["cm.yaml"]


def test_deletions_on_either_side(tmp_path: Path) -> None:
    v1 = {
        "Kptfile": kptfile("pkg"),
        "gone-upstream.yaml": CM.format(name="gone-upstream", value="1"),
        "changed-locally.yaml": CM.format(name="changed-locally", value="1"),
        "deleted-locally.yaml": CM.format(name="deleted-locally", value="1"),
        "multi.yaml": CM.format(name="first", value="1") + "---\n" + CM.format(name="second", value="1"),
    }
    v2 = {
        "Kptfile": kptfile("pkg"),
        "deleted-locally.yaml": CM.format(name="deleted-locally", value="2"),
        "multi.yaml": CM.format(name="first", value="2"),
    }
    changed = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: # kpt-merge: /changed-locally\n  name: changed-locally\n"
        "  annotations:\n    internal.kpt.dev/upstream-identifier: '|ConfigMap|default|changed-locally'\n"
        'data:\n  a: "1"\n  local: edit\n'
    )
    outcome = run_case(tmp_path, v1, v2, edit={"changed-locally.yaml": changed, "deleted-locally.yaml": None})
    ours = assert_same(outcome)
    assert "gone-upstream.yaml" not in ours
    assert "changed-locally.yaml" in ours
    assert "deleted-locally.yaml" not in ours
    assert "second" not in ours["multi.yaml"]


def test_plain_files_and_kptfile_pipeline(tmp_path: Path) -> None:
    pipeline_v1 = "pipeline:\n  mutators:\n  - image: set-labels:v0.1\n    configMap:\n      app: a\n"
    pipeline_v2 = (
        "pipeline:\n  mutators:\n  - image: set-labels:v0.2\n    configMap:\n      app: b\n"
        "  - image: set-namespace:v0.4\n    configMap:\n      namespace: ns\n"
    )
    v1 = {
        "Kptfile": kptfile("pkg", "info:\n  description: d1\n" + pipeline_v1),
        "README.md": "v1 readme\n",
        "notes.txt": "v1 notes\n",
        "old.txt": "to be removed\n",
        "cm.yaml": CM.format(name="cm", value="1"),
    }
    v2 = {
        "Kptfile": kptfile("pkg", "info:\n  description: d2\n" + pipeline_v2),
        "README.md": "v2 readme\n",
        "notes.txt": "v2 notes\n",
        "new.txt": "brand new\n",
        "cm.yaml": CM.format(name="cm", value="1"),
    }
    outcome = run_case(
        tmp_path,
        v1,
        v2,
        edit={
            "notes.txt": "local notes\n",
            "Kptfile": lambda t: t.replace("  name: local\n", "  name: local\n  labels:\n    team: local\n"),
        },
    )
    ours = assert_same(outcome)
    assert ours["README.md"] == "v2 readme\n"
    assert ours["notes.txt"] == "local notes\n"
    assert "old.txt" not in ours and ours["new.txt"] == "brand new\n"


def test_subpackages_added_and_removed_upstream(tmp_path: Path) -> None:
    v1 = {
        "Kptfile": kptfile("pkg"),
        "cm.yaml": CM.format(name="cm", value="1"),
        "keep/Kptfile": kptfile("keep"),
        "keep/cm.yaml": CM.format(name="keep", value="1"),
        "drop/Kptfile": kptfile("drop"),
        "drop/cm.yaml": CM.format(name="drop", value="1"),
        "edited/Kptfile": kptfile("edited"),
        "edited/cm.yaml": CM.format(name="edited", value="1"),
    }
    v2 = {
        "Kptfile": kptfile("pkg"),
        "cm.yaml": CM.format(name="cm", value="1"),
        "keep/Kptfile": kptfile("keep", "info:\n  description: kept and changed\n"),
        "keep/cm.yaml": CM.format(name="keep", value="2"),
        "fresh/Kptfile": kptfile("fresh"),
        "fresh/cm.yaml": CM.format(name="fresh", value="1"),
    }
    edited = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: # kpt-merge: /edited\n  name: edited\n"
        "  annotations:\n    internal.kpt.dev/upstream-identifier: '|ConfigMap|default|edited'\n"
        'data:\n  a: "local"\n'
    )
    outcome = run_case(tmp_path, v1, v2, edit={"edited/cm.yaml": edited})
    ours = assert_same(outcome)
    assert "drop/Kptfile" not in ours and "fresh/Kptfile" in ours and "edited/Kptfile" in ours


def test_fast_forward_refuses_local_changes_like_kpt(tmp_path: Path) -> None:
    v1 = {"Kptfile": kptfile("pkg"), "cm.yaml": CM.format(name="cm", value="1")}
    v2 = {"Kptfile": kptfile("pkg"), "cm.yaml": CM.format(name="cm", value="2")}
    changed = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: # kpt-merge: /cm\n  name: cm\n  annotations:\n"
        "    internal.kpt.dev/upstream-identifier: '|ConfigMap|default|cm'\ndata:\n  a: \"local\"\n"
    )
    outcome = run_case(tmp_path, v1, v2, edit={"cm.yaml": changed}, strategy=UpgradeStrategy.FAST_FORWARD)
    assert outcome.kpt is None and "modified" in outcome.kpt_error
    assert isinstance(outcome.ours, Conflict)


def test_fast_forward_and_force_delete_replace_without_local_changes(tmp_path: Path) -> None:
    v1 = {
        "Kptfile": kptfile("pkg"),
        "cm.yaml": CM.format(name="cm", value="1"),
        "sub/Kptfile": kptfile("sub"),
    }
    v2 = {
        "Kptfile": kptfile("pkg"),
        "cm.yaml": CM.format(name="cm", value="2"),
        "other.yaml": CM.format(name="o", value="1"),
    }
    for strategy in (UpgradeStrategy.FAST_FORWARD, UpgradeStrategy.FORCE_DELETE_REPLACE):
        case_dir = tmp_path / strategy.value
        case_dir.mkdir()
        assert_same(run_case(case_dir, v1, v2, edit={}, strategy=strategy))
