"""Parity of `porch_operator.engine.render` with the real `kpt fn render --allow-exec` (kpt 1.0.0-beta.56).

Each case is a package whose pipelines run `krmfn.py` (a real executable, see parity/krmfn.py). The same
package is rendered by kpt in a temporary directory and by our engine with `ExecRuntime`; the resulting files
must be byte-identical and the FunctionResultList (kpt's results.yaml) equal.

kpt 1.0.0-beta.56 predates `kpt.dev/save-on-render-failure`, so for that case the partially rendered package
is
compared with kpt's render of the same package in a directory where the failing executable is replaced by one
that changes nothing (what newer kpt versions write on failure).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from porch_operator.engine import render, resources
from tests.unit.engine.runtimes import ExecRuntime

KPT = shutil.which("kpt")
pytestmark = pytest.mark.skipif(KPT is None, reason="kpt is not installed")

FN = Path(__file__).parent / "parity" / "krmfn.py"

FAILER = """\
import sys
sys.stdin.read()
sys.stdout.write("apiVersion: config.kubernetes.io/v1\\nkind: ResourceList\\nitems: []\\n"
                 "results:\\n- message: cannot continue\\n  severity: error\\n")
sys.stderr.write("giving up\\n")
sys.exit(2)
"""


def install(directory: Path, name: str, body: str) -> None:
    target = directory / name
    target.write_text(f"#!{sys.executable}\n" + body)
    target.chmod(0o755)


def write_package(directory: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def read_package(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


def kpt_render(workdir: Path, package_dir: Path) -> tuple[int, dict[str, object]]:
    results_dir = workdir / "results"
    shutil.rmtree(results_dir, ignore_errors=True)
    results_dir.mkdir()
    assert KPT is not None
    completed = subprocess.run(
        [KPT, "fn", "render", "--allow-exec", "--results-dir", str(results_dir), package_dir.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results_file = results_dir / "results.yaml"
    parsed = yaml.safe_load(results_file.read_text()) if results_file.exists() else {}
    return completed.returncode, parsed


def normalise(data: object) -> object:
    return yaml.safe_load(yaml.safe_dump(data))


async def compare(tmp_path: Path, files: dict[str, str]) -> render.RenderResult:
    install(tmp_path, "krmfn.py", FN.read_text())
    install(tmp_path, "failer.py", FAILER)
    write_package(tmp_path / "ours", files)
    write_package(tmp_path / "kpt", files)

    code, kpt_results = kpt_render(tmp_path, tmp_path / "kpt")
    ours = await render.render(
        resources.PackageResources(read_package(tmp_path / "ours")),
        runtime=ExecRuntime(tmp_path),
        allow_exec=True,
    )

    assert (code == 0) == ours.ok, ours.error
    assert normalise(ours.results.to_dict()) == kpt_results
    if ours.ok or not ours.partial:
        assert dict(ours.resources) == read_package(tmp_path / "kpt")
    return ours


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # keep this name
  namespace: shop
  labels:
    pick: me
spec:
  # two is enough for the web tier
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.25 # pinned
          args:
            - --port=8080
"""

CONFIGMAPS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: "fast"
  retries: "3"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: skipped
  namespace: shop
  annotations:
    note: leave me
data:
  a: b
"""


def kptfile(name: str, pipeline: str = "", annotations: str = "") -> str:
    text = f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n"
    if annotations:
        text += "  annotations:\n" + annotations
    if pipeline:
        text += "pipeline:\n" + pipeline
    return text


async def test_subpackages_render_depth_first_with_config_path(tmp_path: Path) -> None:
    files = {
        "Kptfile": kptfile(
            "root",
            "  mutators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-label\n      key: app\n      value: demo\n"
            "  validators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: validate-label\n      key: app\n",
        ),
        "deploy.yaml": DEPLOYMENT,
        "README.md": "# root\n\nnot: [yaml\n",
        "sub/Kptfile": kptfile(
            "sub",
            "  mutators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-annotation\n      key: owner\n      value: team-sub\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: add\n      kind: ConfigMap\n      name: generated\n",
        ),
        "sub/cm.yaml": CONFIGMAPS,
        "sub/deeper/Kptfile": kptfile(
            "deeper",
            "  mutators:\n  - exec: ./krmfn.py\n    configPath: fn-config.yaml\n",
        ),
        "sub/deeper/fn-config.yaml": (
            "apiVersion: example.com/v1\nkind: FnConfig\nmetadata:\n  name: deeper-config\n"
            '  annotations:\n    config.kubernetes.io/local-config: "true"\n'
            "spec:\n  op: set-label\n  key: tier\n  value: deep\n"
        ),
        "sub/deeper/svc.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: backend\nspec:\n  ports:\n  - port: 80\n"
        ),
        "sub2/Kptfile": kptfile("sub2"),
        "sub2/notes.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json-cm"}}\n',
    }
    result = await compare(tmp_path, files)
    assert result.ok
    assert [item.exec for item in result.results.items] == ["./krmfn.py"] * 5
    assert "app: demo" in result.resources["sub/deeper/svc.yaml"]
    assert "tier: deep" in result.resources["sub/deeper/svc.yaml"]
    assert result.resources["README.md"] == files["README.md"]


async def test_selectors_and_exclusions(tmp_path: Path) -> None:
    files = {
        "Kptfile": kptfile(
            "sel",
            "  mutators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-label\n      key: team\n      value: checkout\n"
            "    selectors:\n    - kind: Deployment\n"
            "    - namespace: shop\n      kind: ConfigMap\n"
            "    exclude:\n    - name: skipped\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-annotation\n      key: reviewed\n      value: by-selector\n"
            "    selectors:\n    - apiVersion: v1\n      annotations:\n        note: leave me\n"
            "    - labels:\n        pick: me\n",
        ),
        "deploy.yaml": DEPLOYMENT,
        "cms.yaml": CONFIGMAPS,
        "other.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: untouched\n",
    }
    result = await compare(tmp_path, files)
    assert result.ok
    assert "team" not in result.resources["other.yaml"]
    assert result.resources["cms.yaml"].count("team: checkout") == 1
    assert "reviewed: by-selector" in result.resources["deploy.yaml"]


async def test_failing_validator_leaves_package_unchanged(tmp_path: Path) -> None:
    files = {
        "Kptfile": kptfile(
            "val",
            "  mutators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-label\n      key: app\n      value: demo\n"
            "  validators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: validate-label\n      key: cost-center\n",
        ),
        "deploy.yaml": DEPLOYMENT,
        "cms.yaml": CONFIGMAPS,
    }
    result = await compare(tmp_path, files)
    assert not result.ok
    assert result.results.exit_code == 1
    assert result.results.items[-1].exit_code == 1
    assert len(result.results.items[-1].results) == 4
    assert dict(result.resources) == files
    assert "missing label cost-center" in result.error


async def test_resources_added_deleted_and_moved(tmp_path: Path) -> None:
    files = {
        "Kptfile": kptfile(
            "moves",
            "  mutators:\n"
            "  - exec: ./krmfn.py --verbose\n"
            "    configMap:\n      op: add\n      kind: ConfigMap\n      name: extra\n      namespace: shop\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: add\n      kind: Secret\n      name: placed\n"
            "      path: generated/secret.yaml\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: delete\n      name: lonely\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: move\n      name: skipped\n      path: moved/skipped.yaml\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: note\n      message: all done\n",
        ),
        "deploy.yaml": DEPLOYMENT,
        "cms.yaml": CONFIGMAPS,
        "lonely.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lonely\n",
        "wide.yaml": ("apiVersion: v1\nkind: List\nmetadata:\n  name: wide\nitems:\n    - a\n    - b\n"),
    }
    result = await compare(tmp_path, files)
    assert result.ok
    assert "lonely.yaml" not in result.resources
    assert "moved/skipped.yaml" in result.resources
    assert "shop/configmap_extra.yaml" in result.resources
    assert result.results.items[-1].stderr == "all done\n"


async def test_save_on_render_failure_writes_partial_render(tmp_path: Path) -> None:
    files = {
        "Kptfile": kptfile(
            "partial",
            "  mutators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-label\n      key: step\n      value: one\n"
            "  - exec: ./failer.py\n",
            annotations='    kpt.dev/save-on-render-failure: "true"\n',
        ),
        "deploy.yaml": DEPLOYMENT,
        "sub/Kptfile": kptfile(
            "sub",
            "  mutators:\n  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-label\n      key: sub\n      value: done\n",
        ),
        "sub/cm.yaml": CONFIGMAPS,
    }
    result = await compare(tmp_path, files)
    assert not result.ok and result.partial
    assert result.results.items[-1].exit_code == 2
    assert result.results.items[-1].stderr == "giving up\n"

    # What newer kpt writes on failure: everything rendered before the failing function.
    identity = tmp_path / "identity"
    identity.mkdir()
    install(identity, "krmfn.py", FN.read_text())
    install(identity, "failer.py", FN.read_text())
    write_package(identity / "pkg", files)
    code, _ = kpt_render(identity, identity / "pkg")
    assert code == 0
    assert dict(result.resources) == read_package(identity / "pkg")


async def test_failure_without_save_keeps_package(tmp_path: Path) -> None:
    files = {
        "Kptfile": kptfile(
            "nosave",
            "  mutators:\n"
            "  - exec: ./krmfn.py\n"
            "    configMap:\n      op: set-label\n      key: step\n      value: one\n"
            "  - exec: ./krmfn.py\n"
            '    configMap:\n      op: fail\n      message: broken on purpose\n      code: "3"\n',
        ),
        "deploy.yaml": DEPLOYMENT,
    }
    result = await compare(tmp_path, files)
    assert not result.ok and not result.partial
    assert dict(result.resources) == files
    assert result.results.items[-1].exit_code == 3


def test_kpt_reads_a_json_resource_list_as_the_yaml_one(tmp_path: Path) -> None:
    """Functions built on kyaml (kpt's own reader) get the same resources from the list sent as one JSON
    document as from the YAML list with the items as JSON lines: `kpt fn sink` writes both out."""
    from porch_operator.engine import resourcelists

    hostile = 'a "quote", a \\ backslash, [brackets] {braces}, # not a comment, \U0001f600, \x85, é, \u2028'
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"c{number}", "annotations": {"note": hostile}},
            "data": {"text": hostile, "number": "1", "empty": "", "yes": "yes"},
            "list": [1, -2, True, None, {"nested": ["x", []]}, {}],
        }
        for number in range(4)
    ]
    items = [
        resourcelists.item_text(
            node,
            "compact",
            resourcelists.function_input_annotations(
                path=f"f{number % 2}.yaml",
                index=number // 2,
                item_id=number,
                seq_indent="compact",
                package_path="/",
            ),
        )
        for number, node in enumerate(nodes)
    ]
    assert all(as_json for _, as_json in items)
    config = resourcelists.config_map({"k": "v"})
    as_json = resourcelists.build(items, config)
    as_yaml = resourcelists.build([(text, False) for text, _ in items], config)
    assert as_json.startswith(b"{") and as_yaml.startswith(b"apiVersion:")
    written = {}
    for name, payload in (("json", as_json), ("yaml", as_yaml)):
        assert KPT is not None
        completed = subprocess.run(
            [KPT, "fn", "sink", name], cwd=tmp_path, input=payload, capture_output=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr
        written[name] = {
            path: list(yaml.safe_load_all(text)) for path, text in read_package(tmp_path / name).items()
        }
    assert sorted(written["json"]) == ["f0.yaml", "f1.yaml"]
    assert written["json"] == written["yaml"]
    assert written["json"]["f1.yaml"][0]["data"]["text"] == hostile
