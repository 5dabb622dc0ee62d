"""PackageVariantSet decisions as pure functions: validation, label selectors, how targets unroll into
downstream defaults, the name of each generated PackageVariant, and the object the set wants for it.

`variantsets` (the reconciler) lists Repositories and selected objects and calls these. Names are
deterministic, so a restart or a concurrent reconcile finds the variants it made instead of making more:
the identity of a generated variant is `<set>-<downstream repo>-<downstream package>` with the package's `/`
written as `.` (package paths never contain dots, so distinct identities stay distinct); it is the name when
it is a valid object name of at most 63 characters, else its first 54 characters, `-` and the first 8 hex
digits of the SHA-1 of the identity.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from porch_operator import models
from porch_operator.handlers import celtemplates
from porch_operator.handlers.variantrules import FINALIZER

Body = dict[str, Any]

SET_LABEL: Final = "config.porch.kpt.dev/packagevariantset"
"""On every PackageVariant a set generates: the set's UID."""
MAX_NAME: Final = 63
_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def identity(set_name: str, repo: str, package: str) -> str:
    return f"{set_name}-{repo}-{package}"


def variant_name(set_name: str, repo: str, package: str) -> str:
    """The name of the PackageVariant a set generates for a downstream (see the module docstring)."""
    full = identity(set_name, repo, package.replace("/", "."))
    if len(full) <= MAX_NAME and _NAME.match(full):
        return full
    cleaned = re.sub(r"[^a-z0-9.-]", "-", full.lower())[:54]
    cleaned = re.sub(r"[-.]+$", "", cleaned) or "pv"
    digest = hashlib.sha1(identity(set_name, repo, package).encode(), usedforsecurity=False).hexdigest()
    return f"{cleaned}-{digest[:8]}"


def label_selector(selector: Mapping[str, Any] | None) -> str:
    """A metav1.LabelSelector as the `labelSelector` query string ('' selects everything)."""
    parts = [f"{key}={value}" for key, value in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for requirement in (selector or {}).get("matchExpressions") or []:
        key, operator = requirement["key"], requirement["operator"]
        values = ",".join(sorted(requirement.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise ValueError(f"label selector operator {operator!r} is not In, NotIn, Exists or DoesNotExist")
    return ",".join(parts)


def _function_problems(where: str, functions: Iterable[Mapping[str, Any]] | None) -> list[str]:
    problems = []
    for index, function in enumerate(functions or []):
        if not function.get("image"):
            problems.append(f"{where}[{index}].image is required")
        if "." in str(function.get("name") or ""):
            problems.append(f"{where}[{index}].name must not contain '.'")
    return problems


def validate(spec: Mapping[str, Any]) -> list[str]:
    """What is wrong with a PackageVariantSet spec beyond what the CRD schema refuses."""
    problems: list[str] = []
    upstream = spec.get("upstream") or {}
    for key in ("repo", "package"):
        if not upstream.get(key):
            problems.append(f"missing spec.upstream.{key}")
    targets = spec.get("targets") or []
    if not targets:
        problems.append("spec.targets needs at least one target")
    for index, target in enumerate(targets):
        where = f"spec.targets[{index}]"
        kinds = [key for key in ("repositories", "repositorySelector", "objectSelector") if key in target]
        if len(kinds) != 1:
            problems.append(
                f"{where} needs exactly one of repositories, repositorySelector or objectSelector"
            )
        for r_index, repository in enumerate(target.get("repositories") or []):
            if not repository.get("name"):
                problems.append(f"{where}.repositories[{r_index}].name is required")
            if any(not name for name in repository.get("packageNames") or []):
                problems.append(f"{where}.repositories[{r_index}].packageNames may not hold empty names")
        for key in ("repositorySelector", "objectSelector"):
            try:
                label_selector(target.get(key))
            except ValueError as exc:
                problems.append(f"{where}.{key}: {exc}")
        template = target.get("template") or {}
        pipeline = template.get("pipeline") or {}
        for stage in ("mutators", "validators"):
            problems += _function_problems(f"{where}.template.pipeline.{stage}", pipeline.get(stage))
    return problems


def repository_contexts(
    target: Mapping[str, Any], *, upstream_package: str
) -> list[celtemplates.TargetContext]:
    """The downstream defaults of an explicit `repositories` target."""
    contexts = []
    for repository in target.get("repositories") or []:
        for package in repository.get("packageNames") or [upstream_package]:
            contexts.append(celtemplates.TargetContext(repository["name"], package))
    return contexts


def selected_contexts(
    objects: Iterable[Mapping[str, Any]], *, upstream_package: str
) -> list[celtemplates.TargetContext]:
    """The downstream defaults of selected objects (Repositories or others): repo = the object's name."""
    return [
        celtemplates.TargetContext(str(obj["metadata"]["name"]), upstream_package, selected=obj)
        for obj in sorted(objects, key=lambda o: str(o["metadata"]["name"]))
    ]


def desired_variant(variant_set: Mapping[str, Any], spec: Mapping[str, Any]) -> Body:
    """The PackageVariant the set wants for one rendered spec (for creation; see `needs_update`)."""
    meta = variant_set["metadata"]
    downstream = spec["downstream"]
    return {
        "apiVersion": models.PackageVariant.crd.api_version,
        "kind": models.PackageVariant.crd.kind,
        "metadata": {
            "name": variant_name(meta["name"], downstream["repo"], downstream["package"]),
            "namespace": meta["namespace"],
            "labels": {SET_LABEL: meta["uid"]},
            "ownerReferences": [
                {
                    "apiVersion": models.PackageVariantSet.crd.api_version,
                    "kind": models.PackageVariantSet.crd.kind,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
            # Set at creation, so that deleting the variant early still applies its deletion policy.
            "finalizers": [FINALIZER],
        },
        "spec": dict(spec),
    }


def normalised_spec(spec: Mapping[str, Any]) -> Body:
    """A PackageVariant spec with the schema's defaults filled in, for comparing desired with actual."""
    return models.PackageVariantSpec.model_validate(spec).to_wire()


def updated_variant(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> Body | None:
    """`existing` changed to match `desired` (spec, the set's label and owner reference; everything else
    kept), or None when it already does."""
    meta = existing["metadata"]
    want = desired["metadata"]
    labels = {**(meta.get("labels") or {}), **want["labels"]}
    owners = list(meta.get("ownerReferences") or [])
    owner = want["ownerReferences"][0]
    if not any(ref.get("uid") == owner["uid"] for ref in owners):
        owners = [ref for ref in owners if not ref.get("controller")] + [owner]
    same_spec = normalised_spec(existing.get("spec") or {}) == normalised_spec(desired["spec"])
    if same_spec and labels == (meta.get("labels") or {}) and owners == (meta.get("ownerReferences") or []):
        return None
    updated = dict(existing)
    updated["metadata"] = {**meta, "labels": labels, "ownerReferences": owners}
    updated["metadata"].pop("managedFields", None)  # omitted: the API server keeps and updates them
    updated.pop("status", None)
    updated["spec"] = dict(desired["spec"])
    return updated
