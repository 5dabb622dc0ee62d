"""The package context file (`package-context.yaml`): a local-config ConfigMap named `kptfile.kpt.dev`.

`kpt pkg init` and Porch's init write an abstract one (`data.name: example`); for deployment repositories
Porch regenerates it on clone with the package's real name and path, so that functions such as
set-namespace can use it. Used by the init and clone tasks.
"""

from __future__ import annotations

from typing import Final

from porch_operator.engine import documents, resources
from porch_operator.engine.kptfile import Kptfile
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import InvalidSpec

FILE_NAME: Final = "package-context.yaml"
CONFIGMAP_NAME: Final = "kptfile.kpt.dev"


def text(name: str, package_path: str | None = None) -> str:
    """The ConfigMap as YAML text (`data` keys in sorted order, as kpt writes them)."""
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {CONFIGMAP_NAME}",
        "  annotations:",
        '    config.kubernetes.io/local-config: "true"',
        "data:",
        f"  name: {_scalar(name)}",
    ]
    if package_path:
        lines.append(f"  package-path: {_scalar(package_path)}")
    return "\n".join(lines) + "\n"


def _scalar(value: str) -> str:
    return documents.emit_document({"v": value}).removeprefix("v:").strip()


def abstract_text() -> str:
    """The placeholder context of a blueprint (`data.name: example`)."""
    return text("example")


def _is_context(node: object) -> bool:
    return (
        isinstance(node, dict)
        and node.get("kind") == "ConfigMap"
        and str(node.get("apiVersion")) == "v1"
        and isinstance(node.get("metadata"), dict)
        and str(node["metadata"].get("name")) == CONFIGMAP_NAME
    )


def regenerate(package: PackageResources, *, package_path: str) -> PackageResources:
    """Replace the root package's context with one naming its Kptfile's package and `package_path`.

    Existing `kptfile.kpt.dev` ConfigMaps in the root package's files are removed (a file left empty is
    deleted); the new context is written to `package-context.yaml` next to the root Kptfile.
    """
    if KPTFILE not in package:
        raise InvalidSpec("The package has no Kptfile at its root, so it has no package context.")
    name = Kptfile.parse(package[KPTFILE], path=KPTFILE).name
    packages = resources.package_dirs(package)
    changes: dict[str, str] = {}
    removed: list[str] = []
    for path, content in package.items():
        if path == KPTFILE or not path.endswith((".yaml", ".yml")):
            continue
        if resources.owning_package(path, packages) != "" or CONFIGMAP_NAME not in content:
            continue
        docs = documents.parse_documents(content, path=path)
        kept = [doc for doc in docs if not _is_context(doc.node)]
        if len(kept) == len(docs):
            continue
        if kept:
            changes[path] = documents.emit_documents(kept)
        else:
            removed.append(path)
    changes[FILE_NAME] = text(name, package_path)
    return package.without(removed).with_files(changes)
