"""Small helpers over KRM objects as plain mappings: identity, annotations, scope, nested access.

Shared by the builtin functions; pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

LOCAL_CONFIG = "config.kubernetes.io/local-config"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")

# Kinds the API server serves cluster-scoped (kyaml treats unknown kinds as namespaced, and so do we).
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeSnapshotClass",
    }
)


class ConfigError(ValueError):
    """The functionConfig is missing or malformed; the function fails with this message as an error result."""


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def annotations_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    found = meta.get("annotations") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def is_local_config(obj: dict[str, Any]) -> bool:
    return str(annotations_of(obj).get(LOCAL_CONFIG, "")).lower() == "true"


def is_namespaced(obj: dict[str, Any]) -> bool:
    return obj.get("kind") not in CLUSTER_SCOPED


def group_version(obj: dict[str, Any]) -> tuple[str, str]:
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    return group, version


def resource_ref(obj: dict[str, Any]) -> dict[str, str]:
    found = obj.get("metadata")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    ref = {
        "apiVersion": str(obj.get("apiVersion", "")),
        "kind": str(obj.get("kind", "")),
        "name": str(meta.get("name", "")),
    }
    if meta.get("namespace"):
        ref["namespace"] = str(meta["namespace"])
    return ref


def file_path(obj: dict[str, Any]) -> str:
    notes = annotations_of(obj)
    for key in PATH_ANNOTATIONS:
        if key in notes:
            return str(notes[key])
    return ""


def dig(node: Any, *path: str | int) -> Any:
    """The value at `path` under `node`, or None."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return None
        elif not isinstance(node, dict):
            return None
        node = node[step] if isinstance(step, int) else node.get(step)
    return node


def ensure_map(node: dict[str, Any], *path: str) -> dict[str, Any]:
    """The mapping at `path` under `node`, created (and replacing non-mappings) where missing."""
    for step in path:
        child = node.get(step)
        if not isinstance(child, dict):
            child = {}
            node[step] = child
        node = child
    return node


def walk_maps(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a tree, depth first."""
    if isinstance(node, dict):
        yield node
        for value in list(node.values()):
            yield from walk_maps(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_maps(value)


def config_data(config: dict[str, Any]) -> dict[str, str]:
    """`data` of a ConfigMap functionConfig as strings ({} when absent)."""
    data = config.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("functionConfig data must be a map of strings.")
    return {str(key): "" if value is None else str(value) for key, value in data.items()}


def is_kind(config: dict[str, Any], kind: str) -> bool:
    return config.get("kind") == kind
