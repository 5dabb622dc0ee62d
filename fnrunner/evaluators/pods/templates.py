"""Function pod manifests: the base PodTemplate, the per-pod patches, FunctionConfig template overrides.

Pure functions (porch-behaviour §5.6 with our differences): the base template is
`PodTemplate/base-pod-template` in the pod namespace, created from `default_template()` when missing. Its
init container copies the wrapper binary out of the wrapper image into a shared emptyDir (the wrapper copies
itself: `--install`, so the wrapper image needs no shell); the `function` container runs the wrapper with
the function's entrypoint after `--`. Readiness uses the kubelet's native gRPC probe on the wrapper's health
service, so no probe binary is needed either. Pods are reached by pod IP, so no per-pod Service is created
(unlike Porch).
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

from fnrunner.api import limits
from fnrunner.evaluators.images import ImageRef

TEMPLATE_NAME = "base-pod-template"
IMAGE_LABEL = "fn.kpt.dev/image"
TEMPLATE_VERSION_ANNOTATION = "fn.kpt.dev/template-version"
# The full image reference (a label value cannot hold one); read back when pods are listed.
FULL_IMAGE_ANNOTATION = "fnrunner.porch.kpt.dev/image"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "porch-fnrunner"
FUNCTION_CONTAINER = "function"
TOOLS_VOLUME = "wrapper-tools"
TOOLS_DIR = "/wrapper-tools"
WRAPPER_BINARY = f"{TOOLS_DIR}/fnwrapper"
# Where the wrapper image keeps the binary (fnrunner/wrapper is built to this path in its image).
WRAPPER_IN_IMAGE = "/fnwrapper"
_LABEL_VALUE_MAX = 63


def default_template(wrapper_image: str) -> dict[str, Any]:
    """The inline base PodTemplate."""
    mount = {"name": TOOLS_VOLUME, "mountPath": TOOLS_DIR}
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": TEMPLATE_NAME},
        "template": {
            "metadata": {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}},
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "initContainers": [
                    {
                        "name": "copy-wrapper",
                        "image": wrapper_image,
                        "command": [WRAPPER_IN_IMAGE, "--install", WRAPPER_BINARY],
                        "volumeMounts": [mount],
                    }
                ],
                "containers": [
                    {
                        "name": FUNCTION_CONTAINER,
                        "image": "function-image-placeholder",
                        "command": [WRAPPER_BINARY],
                        "readinessProbe": {"grpc": {"port": limits.WRAPPER_PORT}, "periodSeconds": 2},
                        "livenessProbe": {"grpc": {"port": limits.WRAPPER_PORT}, "periodSeconds": 10},
                        "volumeMounts": [mount],
                    }
                ],
                "volumes": [{"name": TOOLS_VOLUME, "emptyDir": {}}],
            },
        },
    }


def pod_id(ref: ImageRef, slot: int) -> str:
    """`<name>-<tag without dots>-<slot>-<hash8>`: a DNS label, also used as the `fn.kpt.dev/image` value.

    Porch appends the first 8 hex digits of the image digest; with no registry access we hash the full image
    reference instead, which keeps different registries' same-named images apart.
    """
    version = ref.tag or ref.digest.partition(":")[2][:12] or "latest"
    digest = hashlib.sha256(ref.qualified.encode()).hexdigest()[:8]
    suffix = f"-{slot}-{digest}"
    stem = re.sub(r"[^a-z0-9-]", "-", f"{ref.name.replace('_', '-')}-{version.replace('.', '')}".lower())
    stem = re.sub(r"-+", "-", stem).strip("-")[: _LABEL_VALUE_MAX - len(suffix) - 1].rstrip("-")
    return f"{stem}{suffix}"


def _container(spec: dict[str, Any], name: str | None = None, init: bool = False) -> dict[str, Any] | None:
    containers = spec.get("initContainers" if init else "containers") or []
    for container in containers:
        if name is None or container.get("name") == name:
            return container if isinstance(container, dict) else None
    return None


def apply_overrides(spec: dict[str, Any], overrides: dict[str, Any]) -> None:
    """FunctionConfig `podExecutor.templateOverrides`: service account, pod security context, and for the
    function container and the (first) init container: resources requests/limits replaced independently,
    env and envFrom replaced."""
    if overrides.get("serviceAccountName"):
        spec["serviceAccountName"] = overrides["serviceAccountName"]
    if overrides.get("securityContext"):
        spec["securityContext"] = copy.deepcopy(overrides["securityContext"])
    for key, target in (
        ("container", _container(spec, FUNCTION_CONTAINER)),
        ("initContainer", _container(spec, init=True)),
    ):
        wanted = overrides.get(key)
        if not isinstance(wanted, dict) or target is None:
            continue
        resources = wanted.get("resources") or {}
        for part in ("requests", "limits"):
            if resources.get(part):
                target.setdefault("resources", {})[part] = copy.deepcopy(resources[part])
        for part in ("env", "envFrom"):
            if wanted.get(part) is not None:
                target[part] = copy.deepcopy(wanted[part])


def function_pod(
    template: dict[str, Any],
    *,
    ref: ImageRef,
    pod_name: str,
    entrypoint: list[str],
    fixed_name: bool = False,
    overrides: dict[str, Any] | None = None,
    pull_secrets: list[str] | None = None,
) -> dict[str, Any]:
    """The Pod for one slot of `ref`, from the base PodTemplate object `template`."""
    pod_template = copy.deepcopy(template.get("template") or {})
    metadata = pod_template.get("metadata") or {}
    spec = pod_template.get("spec") or {}
    container = _container(spec, FUNCTION_CONTAINER)
    if container is None:
        raise ValueError(f"The pod template has no container named {FUNCTION_CONTAINER!r}.")
    container["image"] = ref.qualified
    container["args"] = [
        "--port",
        str(limits.WRAPPER_PORT),
        "--max-request-body-size",
        str(limits.MAX_MESSAGE_BYTES),
        "--",
        *entrypoint,
    ]
    metadata.setdefault("labels", {}).update({IMAGE_LABEL: pod_name, MANAGED_BY_LABEL: MANAGED_BY})
    metadata.setdefault("annotations", {}).update(
        {
            TEMPLATE_VERSION_ANNOTATION: str((template.get("metadata") or {}).get("resourceVersion", "")),
            FULL_IMAGE_ANNOTATION: ref.qualified,
        }
    )
    metadata.pop("name", None)
    metadata.pop("generateName", None)
    metadata["name" if fixed_name else "generateName"] = pod_name if fixed_name else f"{pod_name}-"
    apply_overrides(spec, overrides or {})
    if pull_secrets:
        existing = {entry.get("name") for entry in spec.get("imagePullSecrets") or []}
        spec.setdefault("imagePullSecrets", []).extend(
            {"name": name} for name in pull_secrets if name not in existing
        )
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    return any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in status.get("conditions") or []
    )


def is_dead(pod: dict[str, Any]) -> bool:
    """Failed, succeeded (a function pod must not end) or being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Failed", "Succeeded") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))
