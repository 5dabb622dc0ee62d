"""search-replace: find fields by path, value, value regex or file, and optionally set a value or a comment.

Config (`ConfigMap` `data`): matchers `by-path` (`a.b.c`, `a.*.c` one level, `a.**.c` any depth,
`a.b[1]`, `a.b[*]`), `by-value`, `by-value-regex` (full match), `by-file-path` (glob on the file path
annotation), ANDed; mutators `put-value` (`${1}`-style capture groups of `by-value-regex` expand) and
`put-comment`. Without a mutator it is a search that reports each match as an info result. A `by-path` with
no wildcard and `put-value` creates the field where it is missing. Only scalar fields match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedBase

from fnrunner.evaluators.builtin import objects
from fnrunner.evaluators.builtin.apply_setters import _typed
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList

ROUND_TRIP = True
Step = str | int
_SEGMENT = re.compile(r"^([^\[\]]*)((?:\[[^\]]*\])*)$")


def _parse_path(pattern: str) -> list[str]:
    steps: list[str] = []
    for segment in pattern.split("."):
        match = _SEGMENT.match(segment)
        if not match or (not match.group(1) and not match.group(2)):
            raise ConfigError(f"by-path {pattern!r} is not a valid field path.")
        if match.group(1):
            steps.append(match.group(1))
        steps.extend(f"[{inner}]" for inner in re.findall(r"\[([^\]]*)\]", match.group(2)))
    return steps


def _step_matches(pattern: str, step: Step) -> bool:
    if pattern.startswith("["):
        inner = pattern[1:-1]
        return isinstance(step, int) and (inner == "*" or inner == str(step))
    return isinstance(step, str) and pattern in ("*", step)


def path_matches(pattern: list[str], path: list[Step]) -> bool:
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(path_matches(pattern[1:], path[index:]) for index in range(len(path) + 1))
    return bool(path) and _step_matches(pattern[0], path[0]) and path_matches(pattern[1:], path[1:])


def _render(path: list[Step]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _leaves(node: Any, path: list[Step]) -> Iterator[tuple[Any, Step, list[Step]]]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(children):
        if isinstance(value, (dict, list)):
            yield from _leaves(value, [*path, key])
        else:
            yield node, key, [*path, key]


@dataclass
class _Query:
    by_path: list[str] | None
    by_value: str | None
    by_regex: re.Pattern[str] | None
    by_file: str | None
    put_value: str | None
    put_comment: str | None

    def match(self, value: Any, path: list[Step]) -> re.Match[str] | bool:
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        if self.by_path is not None and not path_matches(self.by_path, path):
            return False
        if self.by_value is not None and text != self.by_value:
            return False
        if self.by_regex is not None:
            return self.by_regex.fullmatch(text) or False
        return True

    def expand(self, template: str, found: re.Match[str] | bool) -> str:
        if isinstance(found, re.Match):
            return re.sub(r"\$\{(\d+)\}", lambda ref: found.group(int(ref.group(1))) or "", template)
        return template


def _query(config: dict[str, Any]) -> _Query:
    if config and not objects.is_kind(config, "ConfigMap"):
        raise ConfigError("search-replace needs a ConfigMap functionConfig.")
    data = objects.config_data(config)
    if not any(key in data for key in ("by-path", "by-value", "by-value-regex", "by-file-path")):
        raise ConfigError(
            "at least one of [by-value, by-value-regex, by-path, by-file-path] must be provided"
        )
    if "by-value" in data and "by-value-regex" in data:
        raise ConfigError("only one of [by-value, by-value-regex] can be provided")
    try:
        regex = re.compile(data["by-value-regex"]) if "by-value-regex" in data else None
    except re.error as exc:
        raise ConfigError(f"by-value-regex is not a valid regular expression: {exc}") from exc
    return _Query(
        by_path=_parse_path(data["by-path"]) if "by-path" in data else None,
        by_value=data.get("by-value"),
        by_regex=regex,
        by_file=data.get("by-file-path"),
        put_value=data.get("put-value"),
        put_comment=data.get("put-comment"),
    )


def _create(item: dict[str, Any], query: _Query, context: Context) -> None:
    assert query.by_path is not None and query.put_value is not None
    steps = query.by_path
    if any(step in ("*", "**") or step.startswith("[") for step in steps):
        return
    parent = objects.ensure_map(item, *steps[:-1])
    if steps[-1] not in parent:
        parent[steps[-1]] = query.put_value
        context.result(f"Created field {'.'.join(steps)} with value {query.put_value!r}", obj=item)


def _mutate(parent: Any, key: Step, found: re.Match[str] | bool, query: _Query) -> str:
    message = "Matched field"
    if query.put_value is not None:
        text = query.expand(query.put_value, found)
        parent[key] = _typed(parent[key], text)
        message = f"Mutated field value to {text!r}"
    if query.put_comment is not None and isinstance(parent, CommentedBase):
        comment = query.expand(query.put_comment, found)
        parent.yaml_add_eol_comment(comment if comment.startswith("#") else f"# {comment}", key)
        message = f"{message}; added comment {comment!r}" if query.put_value else f"Added comment {comment!r}"
    return message


def run(resource_list: ResourceList, context: Context) -> None:
    query = _query(resource_list.function_config)
    for item in resource_list.items:
        context.check_time()
        if query.by_file is not None and not fnmatch.fnmatchcase(objects.file_path(item), query.by_file):
            continue
        matched = False
        for parent, key, path in list(_leaves(item, [])):
            found = query.match(parent[key], path)
            if found is False:
                continue
            matched = True
            current = parent[key]
            message = _mutate(parent, key, found, query)
            context.result(message, obj=item, field_path=_render(path), current=current)
        no_value_matcher = query.by_value is None and query.by_regex is None
        if not matched and query.put_value is not None and query.by_path is not None and no_value_matcher:
            _create(item, query, context)
