"""apply-setters: replace values marked by `# kpt-set: <pattern>` line comments with configured values.

Config: `ConfigMap` `data` mapping setter names to values (`kpt fn eval -- name=value` builds the same).
A pattern is a whole reference (`${replicas}`) or a partial one (`nginx:${tag}`); a field is set only when
every setter its pattern names is given. Sequence values are given as YAML flow or block strings
(`"[a, b]"`). A value keeps its kind: a number stays a number when the new text is one. Needs the
round-trip codec (comments); input without comments has no setters and passes through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fnrunner.evaluators.builtin import objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList

ROUND_TRIP = True
_MARKER = re.compile(r"#\s*kpt-set:\s*(\S.*?)\s*$")
_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def _pattern(token: Any) -> str | None:
    if token is None or not hasattr(token, "value"):
        return None
    first_line = str(token.value).strip().splitlines()[0] if str(token.value).strip() else ""
    match = _MARKER.match(first_line)
    return match.group(1) if match else None


def _typed(old: Any, text: str) -> Any:
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        if isinstance(old, bool):
            lowered = text.lower()
            return lowered == "true" if lowered in ("true", "false") else text
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else text


def _sequence(text: str) -> CommentedSeq | None:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(value, list):
        return None
    seq = CommentedSeq(value)
    seq.fa.set_flow_style() if text.lstrip().startswith("[") else seq.fa.set_block_style()
    return seq


class _Setter:
    def __init__(self, values: dict[str, str], context: Context, item: dict[str, Any]) -> None:
        self.values, self.context, self.item = values, context, item

    def substitute(self, pattern: str) -> str | None:
        names = _REFERENCE.findall(pattern)
        if not names or any(name not in self.values for name in names):
            return None
        return _REFERENCE.sub(lambda match: self.values[match.group(1)], pattern)

    def visit(self, node: Any, path: str) -> None:
        if isinstance(node, CommentedMap):
            for key in list(node.keys()):
                token = node.ca.items.get(key, [None, None, None])[2]
                child_path = f"{path}.{key}" if path else str(key)
                self.apply(node, key, _pattern(token), child_path)
                self.visit(node[key], child_path)
        elif isinstance(node, CommentedSeq):
            for index in range(len(node)):
                token = (node.ca.items.get(index) or [None])[0]
                self.apply(node, index, _pattern(token), f"{path}[{index}]")
                self.visit(node[index], f"{path}[{index}]")

    def apply(self, parent: Any, key: Any, pattern: str | None, path: str) -> None:
        if pattern is None:
            return
        text = self.substitute(pattern)
        if text is None:
            return
        old = parent[key]
        if isinstance(old, list):
            new: Any = _sequence(text)
            if new is None:
                raise ConfigError(f"The value for {path} must be a YAML list, got {text!r}.")
        elif isinstance(old, dict):
            return
        else:
            new = _typed(old, text)
        if new == old:
            return
        parent[key] = new
        self.context.result(f"set field value to {text!r}", obj=self.item, field_path=path, proposed=text)


def run(resource_list: ResourceList, context: Context) -> None:
    config = resource_list.function_config
    if config and not objects.is_kind(config, "ConfigMap"):
        raise ConfigError("apply-setters needs a ConfigMap functionConfig (data: {setter: value}).")
    values = objects.config_data(config)
    for item in resource_list.items:
        context.check_time()
        _Setter(values, context, item).visit(item, "")
