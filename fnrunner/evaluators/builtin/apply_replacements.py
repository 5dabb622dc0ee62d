"""apply-replacements: copy a field of one resource into fields of others (kustomize `replacements`).

Config: `fn.kpt.dev/v1alpha1 ApplyReplacements {replacements: [{source, targets}]}`. A source selects exactly
one resource by `group`, `version`, `kind`, `name`, `namespace` and reads `fieldPath` (default
`metadata.name`), optionally a `delimiter`-split part (`options.index`). Each target `select`s resources
(minus any `reject` match) and writes each of its `fieldPaths`; `options.create` creates missing fields,
`options.delimiter`/`index` replace one part of a delimited value. Field paths are dotted, with list items
chosen by index (`containers.0`), by a `[key=value]` filter or all with `*`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fnrunner.evaluators.builtin import objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList

_TOKEN = re.compile(r"\[[^\]]*\]|[^.\[]+")


def _steps(path: str) -> list[str]:
    steps = _TOKEN.findall(path)
    if not steps or "".join(steps).replace("[", "").replace("]", "") == "":
        raise ConfigError(f"{path!r} is not a valid field path.")
    return steps


def _selected(item: dict[str, Any], selector: dict[str, Any]) -> bool:
    group, version = objects.group_version(item)
    meta = objects.metadata(item)
    actual = {
        "group": group,
        "version": version,
        "kind": item.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace", ""),
    }
    return all(selector.get(key) in (None, "", actual[key]) for key in actual)


def _children(node: Any, step: str) -> Iterator[tuple[Any, Any]]:
    """(container, key) pairs a step leads to from `node`."""
    if step.startswith("[") and isinstance(node, list):
        key, _, value = step[1:-1].partition("=")
        for index, entry in enumerate(node):
            if isinstance(entry, dict) and str(entry.get(key)) == value:
                yield node, index
    elif isinstance(node, list):
        if step == "*":
            yield from ((node, index) for index in range(len(node)))
        elif step.isdigit() and int(step) < len(node):
            yield node, int(step)
    elif isinstance(node, dict) and step in node:
        yield node, step


def locate(node: Any, steps: list[str], *, create: bool) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every field `steps` names under `node`."""
    step, rest = steps[0], steps[1:]
    found = list(_children(node, step))
    if not found and create and isinstance(node, dict) and not step.startswith("[") and step != "*":
        node[step] = {} if rest else None
        found = [(node, step)]
    for container, key in found:
        if not rest:
            yield container, key
        else:
            yield from locate(container[key], rest, create=create)


def _source_value(items: list[dict[str, Any]], source: dict[str, Any]) -> Any:
    matches = [item for item in items if _selected(item, source)]
    if len(matches) != 1:
        what = "nothing" if not matches else f"{len(matches)} resources"
        raise ConfigError(f"The replacement source {source} selects {what}; it must select exactly one.")
    path = str(source.get("fieldPath") or "metadata.name")
    fields = list(locate(matches[0], _steps(path), create=False))
    if not fields:
        raise ConfigError(f"The field {path} of the replacement source was not found.")
    container, key = fields[0]
    value = container[key]
    options = source.get("options") or {}
    if options.get("delimiter"):
        parts = str(value).split(str(options["delimiter"]))
        index = int(options.get("index") or 0)
        if not 0 <= index < len(parts):
            raise ConfigError(f"options.index {index} is out of range for the source value {value!r}.")
        return parts[index]
    return value


def _write(container: Any, key: Any, value: Any, options: dict[str, Any]) -> None:
    if options.get("delimiter") and isinstance(container[key], str):
        parts = container[key].split(str(options["delimiter"]))
        index = int(options.get("index") or 0)
        if index < 0 or index >= len(parts):
            parts = [str(value), *parts] if index < 0 else [*parts, str(value)]
        else:
            parts[index] = str(value)
        container[key] = str(options["delimiter"]).join(parts)
    else:
        container[key] = value


def _apply_target(items: list[dict[str, Any]], target: dict[str, Any], value: Any, context: Context) -> None:
    select = target.get("select")
    if not isinstance(select, dict):
        raise ConfigError("Each replacement target needs a `select`.")
    rejects = [reject for reject in target.get("reject") or [] if isinstance(reject, dict)]
    options = target.get("options") or {}
    for item in items:
        if not _selected(item, select) or any(_selected(item, reject) for reject in rejects):
            continue
        for path in target.get("fieldPaths") or ["metadata.name"]:
            for container, key in list(locate(item, _steps(str(path)), create=bool(options.get("create")))):
                _write(container, key, value, options)
                context.result(f"replaced {path}", obj=item, field_path=str(path))


def run(resource_list: ResourceList, context: Context) -> None:
    config = resource_list.function_config
    if not objects.is_kind(config, "ApplyReplacements"):
        raise ConfigError("apply-replacements needs an ApplyReplacements functionConfig.")
    replacements = config.get("replacements")
    if not isinstance(replacements, list) or not replacements:
        raise ConfigError("ApplyReplacements.replacements must be a non-empty list.")
    items = resource_list.items
    for replacement in replacements:
        context.check_time()
        if not isinstance(replacement, dict) or not isinstance(replacement.get("source"), dict):
            raise ConfigError("Each replacement needs a `source`.")
        value = _source_value(items, replacement["source"])
        for target in replacement.get("targets") or []:
            if isinstance(target, dict):
                _apply_target(items, target, value, context)
