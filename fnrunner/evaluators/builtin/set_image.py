"""set-image: change the image (name, tag or digest) of matching containers.

Config: `ConfigMap` `data {name, newName, newTag, digest}` or `fn.kpt.dev/v1alpha1 SetImage {image: {name,
newName, newTag, digest}, additionalImageFields: [{kind, path}]}`. A container matches when its image name
(without tag or digest) equals `name`. Containers and init containers of every pod spec are searched (any
`containers` / `initContainers` list in the resource), plus the additional fields (slash paths to
the image field itself). `digest` wins over
`newTag`, as in kustomize's images transformer.
"""

from __future__ import annotations

from typing import Any

from fnrunner.evaluators.builtin import fieldspecs, objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList


def _config(config: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str | None, str]]]:
    if objects.is_kind(config, "SetImage"):
        image = config.get("image")
        if not isinstance(image, dict):
            raise ConfigError("SetImage.image must be a map with name and newName, newTag or digest.")
        spec = {str(key): str(value) for key, value in image.items() if value is not None}
        extra = [
            (field.get("kind"), str(field["path"]))
            for field in config.get("additionalImageFields") or []
            if isinstance(field, dict) and field.get("path")
        ]
    elif objects.is_kind(config, "ConfigMap"):
        spec, extra = objects.config_data(config), []
    else:
        raise ConfigError("set-image needs a ConfigMap or a SetImage functionConfig.")
    if not spec.get("name"):
        raise ConfigError("The image name to match (`name`) must be given.")
    if not any(spec.get(key) for key in ("newName", "newTag", "digest")):
        raise ConfigError("At least one of newName, newTag or digest must be given.")
    return spec, extra


def split_image(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference; a registry port is not mistaken for a tag."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, "", digest


def updated(image: str, spec: dict[str, str]) -> str | None:
    name, tag, digest = split_image(image)
    if name != spec["name"]:
        return None
    name = spec.get("newName") or name
    if spec.get("digest"):
        return f"{name}@{spec['digest']}"
    if spec.get("newTag"):
        return f"{name}:{spec['newTag']}"
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def run(resource_list: ResourceList, context: Context) -> None:
    spec, extra = _config(resource_list.function_config)
    changed = 0
    for item in resource_list.items:
        context.check_time()
        targets: list[tuple[dict[str, Any], str]] = [
            (container, "image")
            for node in objects.walk_maps(item)
            for key in ("containers", "initContainers")
            if isinstance(node.get(key), list)
            for _trail, container in fieldspecs.maps_at(node, f"{key}/[]", create=False)
        ]
        for kind, path in extra:
            if not kind or item.get("kind") == kind:
                *parent_path, field = [step for step in path.strip("/").split("/") if step]
                targets.extend(
                    (parent, field)
                    for _trail, parent in fieldspecs.maps_at(item, "/".join(parent_path), create=False)
                )
        for parent, field in targets:
            image = parent.get(field)
            new = updated(image, spec) if isinstance(image, str) else None
            if new is not None and new != image:
                parent[field] = new
                changed += 1
                context.result(f"set image from {image!r} to {new!r}", obj=item)
    if not changed:
        context.result(f"no image named {spec['name']!r} was found")
