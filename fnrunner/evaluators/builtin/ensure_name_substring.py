"""ensure-name-substring: prepend or append a substring to resource names where it is missing (idempotent).

Config: `ConfigMap` `data` with exactly one of `prepend` / `append`, or `fn.kpt.dev/v1alpha1
EnsureNameSubstring {substring, editMode: prepend|append, additionalNameFields: [{kind, path}]}`.
CustomResourceDefinition, Namespace and APIService keep their names, as do local-config resources. References
to renamed ConfigMaps, Secrets, ServiceAccounts, PersistentVolumeClaims and Roles/ClusterRoles in pod specs
and RoleBindings are renamed too (a subset of kustomize's name references; see docs/fnrunner.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fnrunner.evaluators.builtin import fieldspecs, objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList

SKIPPED_KINDS = frozenset({"CustomResourceDefinition", "Namespace", "APIService"})
# (referencing field inside a pod spec or binding, kind referred to)
_POD_REFERENCES = (
    (("volumes", "[]", "configMap", "name"), "ConfigMap"),
    (("volumes", "[]", "secret", "secretName"), "Secret"),
    (("volumes", "[]", "persistentVolumeClaim", "claimName"), "PersistentVolumeClaim"),
    (("containers", "[]", "envFrom", "[]", "configMapRef", "name"), "ConfigMap"),
    (("containers", "[]", "envFrom", "[]", "secretRef", "name"), "Secret"),
    (("containers", "[]", "env", "[]", "valueFrom", "configMapKeyRef", "name"), "ConfigMap"),
    (("containers", "[]", "env", "[]", "valueFrom", "secretKeyRef", "name"), "Secret"),
    (("serviceAccountName",), "ServiceAccount"),
)


def _config(config: dict[str, Any]) -> tuple[str, str, list[tuple[str | None, str]]]:
    if objects.is_kind(config, "EnsureNameSubstring"):
        substring, mode = config.get("substring"), config.get("editMode") or "prepend"
        extra = [
            (field.get("kind"), str(field.get("path", "")))
            for field in config.get("additionalNameFields") or []
            if isinstance(field, dict) and field.get("path")
        ]
    elif objects.is_kind(config, "ConfigMap"):
        data = objects.config_data(config)
        keys = [key for key in ("prepend", "append") if key in data]
        if len(keys) != 1:
            raise ConfigError("The ConfigMap must have exactly one of the keys `prepend` or `append`.")
        mode, substring, extra = keys[0], data[keys[0]], []
    else:
        raise ConfigError("ensure-name-substring needs a ConfigMap or an EnsureNameSubstring functionConfig.")
    if not isinstance(substring, str) or not substring:
        raise ConfigError("The substring to ensure must not be empty.")
    if mode not in ("prepend", "append"):
        raise ConfigError(f"editMode must be prepend or append, not {mode!r}.")
    return substring, mode, extra


def _ensure(name: str, substring: str, mode: str) -> str:
    if substring in name:
        return name
    return substring + name if mode == "prepend" else name + substring


def _pod_specs(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in (
        ("spec", "template", "spec"),
        ("spec", "jobTemplate", "spec", "template", "spec"),
        ("spec",),
    ):
        spec = objects.dig(item, *path)
        if (
            isinstance(spec, dict)
            and ("containers" in spec or path != ("spec",))
            and item.get("kind") != "Service"
        ):
            yield spec
            return


def _rename_references(item: dict[str, Any], renamed: dict[tuple[str, str], str]) -> None:
    for spec in _pod_specs(item):
        for path, kind in _POD_REFERENCES:
            *parent_path, key = path
            for _trail, parent in fieldspecs.maps_at(spec, "/".join(parent_path), create=False):
                if (kind, str(parent.get(key))) in renamed:
                    parent[key] = renamed[(kind, str(parent[key]))]
    if item.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
        role = item.get("roleRef")
        if isinstance(role, dict) and (str(role.get("kind")), str(role.get("name"))) in renamed:
            role["name"] = renamed[(str(role["kind"]), str(role["name"]))]
        for subject in item.get("subjects") or []:
            if isinstance(subject, dict) and (str(subject.get("kind")), str(subject.get("name"))) in renamed:
                subject["name"] = renamed[(str(subject["kind"]), str(subject["name"]))]


def run(resource_list: ResourceList, context: Context) -> None:
    substring, mode, extra = _config(resource_list.function_config)
    renamed: dict[tuple[str, str], str] = {}
    for item in resource_list.items:
        context.check_time()
        if item.get("kind") in SKIPPED_KINDS or objects.is_local_config(item):
            continue
        meta = objects.metadata(item)
        old = str(meta.get("name", ""))
        new = _ensure(old, substring, mode)
        if new != old:
            meta["name"] = new
            renamed[(str(item.get("kind")), old)] = new
            context.result(f"renamed {old!r} to {new!r}", obj=item, field_path="metadata.name")
        for kind, path in extra:
            if kind and item.get("kind") != kind:
                continue
            *parent_path, key = [step for step in path.strip("/").split("/") if step]
            for _trail, parent in fieldspecs.maps_at(item, "/".join(parent_path), create=False):
                if isinstance(parent.get(key), str):
                    parent[key] = _ensure(parent[key], substring, mode)
    for item in resource_list.items:
        _rename_references(item, renamed)
