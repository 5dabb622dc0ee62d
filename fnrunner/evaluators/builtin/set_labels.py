"""set-labels: add or override labels on every resource, and in its selectors and templates.

Config: `ConfigMap` `data` (each key a label) or `fn.kpt.dev/v1alpha1 SetLabels {labels}`. Fields come from
`fieldspecs.LABEL_SPECS` (kustomize commonLabels). One info result per resource changed.
"""

from __future__ import annotations

from typing import Any

from fnrunner.evaluators.builtin import fieldspecs, objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList


def _labels(config: dict[str, Any]) -> dict[str, str]:
    if objects.is_kind(config, "SetLabels"):
        labels = config.get("labels") or {}
        if not isinstance(labels, dict):
            raise ConfigError("SetLabels.labels must be a map of strings.")
        return {str(key): str(value) for key, value in labels.items()}
    if objects.is_kind(config, "ConfigMap"):
        return objects.config_data(config)
    raise ConfigError("set-labels needs a ConfigMap or a SetLabels functionConfig.")


def apply_pairs(
    resource_list: ResourceList,
    context: Context,
    *,
    pairs: dict[str, str],
    specs: tuple[fieldspecs.FieldSpec, ...],
) -> int:
    """Set `pairs` in every mapping the specs name; returns the number of resources changed."""
    changed_resources = 0
    for item in resource_list.items:
        context.check_time()
        changed = False
        for _path, target in fieldspecs.target_maps(item, specs):
            for key, value in pairs.items():
                if target.get(key) != value:
                    target[key] = value
                    changed = True
        changed_resources += changed
    return changed_resources


def run(resource_list: ResourceList, context: Context) -> None:
    labels = _labels(resource_list.function_config)
    if not labels:
        raise ConfigError("set-labels needs at least one label in its functionConfig.")
    count = apply_pairs(resource_list, context, pairs=labels, specs=fieldspecs.LABEL_SPECS)
    context.result(f"set {len(labels)} label(s) on {count} resource(s)")
