"""The sample git repositories `make run` registers: a catalogue of blueprints and an empty deployment repo.

They are plain bare repositories on disk (reached over file://), written with the git CLI the way Porch
publishes: packages committed on `main`, each published revision tagged `<package>/v<N>` with Porch's `kpt:`
commit annotation. Re-running reuses what exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Sample Author",
    "GIT_AUTHOR_EMAIL": "samples@example.com",
    "GIT_COMMITTER_NAME": "Sample Author",
    "GIT_COMMITTER_EMAIL": "samples@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
}

_KPTFILE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: {name}
  annotations:
    config.kubernetes.io/local-config: "true"
info:
  description: {description}
pipeline:
  mutators:
    - image: set-labels:v0.2.0
      configMap:
        app.kubernetes.io/part-of: {name}
"""

_NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: {name}
"""

_CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-settings
data:
  replicas: "{replicas}"
"""

# package -> published versions (each version's description and data)
_CATALOG = {
    "basens": [("a namespace", 1), ("a namespace with settings", 2)],
    "apps/web": [("a small web application", 1)],
}


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=_GIT_ENV,
        check=True,
        capture_output=True,
    )


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def create(root: Path) -> dict[str, Path]:
    """Create (once) the sample repositories under `root`; returns name → bare repository path."""
    catalog, deployments = root / "blueprints.git", root / "deployments.git"
    if not catalog.exists():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "work"
            _git("init", "--quiet", str(work))
            _git("commit", "--quiet", "--allow-empty", "-m", "Initial commit", cwd=work)
            for package, versions in _CATALOG.items():
                name = package.rsplit("/", 1)[-1]
                for number, (description, replicas) in enumerate(versions, start=1):
                    _write(
                        work / package,
                        {
                            "Kptfile": _KPTFILE.format(name=name, description=description),
                            "namespace.yaml": _NAMESPACE.format(name=name),
                            "settings.yaml": _CONFIGMAP.format(name=name, replicas=replicas),
                        },
                    )
                    annotation = {"package": package, "workspaceName": f"v{number}", "revision": str(number)}
                    message = (
                        f"Approving package revision {package}/{number}\n\nkpt:{json.dumps(annotation)}\n"
                    )
                    _git("add", "--all", cwd=work)
                    _git("commit", "--quiet", "-m", message, cwd=work)
                    _git("tag", f"{package}/v{number}", cwd=work)
            _git("clone", "--quiet", "--bare", str(work), str(catalog))
    if not deployments.exists():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "work"
            _git("init", "--quiet", str(work))
            _git("commit", "--quiet", "--allow-empty", "-m", "Initial commit", cwd=work)
            _git("clone", "--quiet", "--bare", str(work), str(deployments))
    return {"blueprints": catalog, "deployments": deployments}


def repository(name: str, path: Path, *, deployment: bool = False) -> str:
    """The Repository manifest (YAML) registering `path`."""
    return json.dumps(
        {
            "apiVersion": "config.porch.kpt.dev/v1alpha1",
            "kind": "Repository",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "type": "git",
                "deployment": deployment,
                "description": "a sample repository created by make run",
                "git": {"repo": f"file://{path}", "branch": "main"},
            },
        }
    )
