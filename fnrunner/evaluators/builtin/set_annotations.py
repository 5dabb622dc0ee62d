"""set-annotations: add or override annotations on every resource and in its pod templates.

Config: `ConfigMap` `data` or `fn.kpt.dev/v1alpha1 SetAnnotations {annotations, additionalAnnotationFields:
[{group, version, kind, path, create}]}`. Fields: `fieldspecs.ANNOTATION_SPECS` plus the additional ones.
"""

from __future__ import annotations

from typing import Any

from fnrunner.evaluators.builtin import fieldspecs, objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.builtin.set_labels import apply_pairs
from fnrunner.evaluators.resourcelists import ResourceList


def _config(config: dict[str, Any]) -> tuple[dict[str, str], tuple[fieldspecs.FieldSpec, ...]]:
    if objects.is_kind(config, "ConfigMap"):
        return objects.config_data(config), ()
    if not objects.is_kind(config, "SetAnnotations"):
        raise ConfigError("set-annotations needs a ConfigMap or a SetAnnotations functionConfig.")
    notes = config.get("annotations") or {}
    if not isinstance(notes, dict):
        raise ConfigError("SetAnnotations.annotations must be a map of strings.")
    extra = []
    for field in config.get("additionalAnnotationFields") or []:
        if not isinstance(field, dict) or not field.get("path"):
            raise ConfigError("Each additionalAnnotationFields entry needs a path.")
        kinds = frozenset({str(field["kind"])}) if field.get("kind") else None
        path = tuple(step for step in str(field["path"]).strip("/").split("/") if step)
        extra.append(fieldspecs.FieldSpec(kinds, path, bool(field.get("create", False))))
    return {str(key): str(value) for key, value in notes.items()}, tuple(extra)


def run(resource_list: ResourceList, context: Context) -> None:
    notes, extra = _config(resource_list.function_config)
    if not notes:
        raise ConfigError("set-annotations needs at least one annotation in its functionConfig.")
    specs = fieldspecs.ANNOTATION_SPECS + extra
    count = apply_pairs(resource_list, context, pairs=notes, specs=specs)
    context.result(f"set {len(notes)} annotation(s) on {count} resource(s)")
