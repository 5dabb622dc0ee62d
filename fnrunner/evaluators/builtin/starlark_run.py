"""starlark: run a Starlark script over the ResourceList (the catalogue's `starlark` function).

Config: `ConfigMap` `data.source` (other `data` keys are parameters) or `fn.kpt.dev/v1alpha1 StarlarkRun
{source, params}`. The script sees `ctx.resource_list` (a dict with `items` and `functionConfig`) and
`ctx.environment`, mutates it in place or replaces `items`; `fail(msg)` fails the function. Results the
script writes are ignored, as in the catalogue. The interpreter is starlark-rust (PyPI `starlark-pyo3`);
it is cancelled cooperatively at the deadline. Comments do not survive a Starlark run (the script works on
plain data).
"""

from __future__ import annotations

import json
from typing import Any

import starlark as sl

from fnrunner.evaluators.builtin import objects
from fnrunner.evaluators.builtin.context import Cancelled, Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList

_PRELUDE = "ctx = struct(resource_list = __resource_list, environment = __environment)\n"


class ScriptFailed(Exception):
    """The script raised an error (including `fail()`)."""


def _source(config: dict[str, Any]) -> str:
    if objects.is_kind(config, "StarlarkRun"):
        source = config.get("source")
    elif objects.is_kind(config, "ConfigMap"):
        source = objects.config_data(config).get("source")
    else:
        raise ConfigError("starlark needs a ConfigMap (data.source) or a StarlarkRun functionConfig.")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError("The Starlark source must not be empty.")
    return source


def _globals() -> Any:
    extensions = [sl.LibraryExtension.StructType, sl.LibraryExtension.Json, sl.LibraryExtension.Print]
    return sl.Globals.extended_by(extensions)


def run(resource_list: ResourceList, context: Context) -> None:
    source = _source(resource_list.function_config)
    plain = json.loads(
        json.dumps({"items": resource_list.items, "functionConfig": resource_list.function_config})
    )
    module = sl.Module()
    module["__resource_list"] = plain
    module["__environment"] = {"kind": "kpt-fnrunner"}
    options = sl.EvalOptions(check_cancelled=context.expired)
    try:
        sl.eval_with(options, module, sl.parse("prelude.star", _PRELUDE), _globals())
        sl.eval_with(options, module, sl.parse("fn.star", source), _globals())
    except sl.StarlarkError as exc:
        if context.expired():
            raise Cancelled from exc
        raise ScriptFailed(str(exc)) from exc
    result = module["__resource_list"]
    items = result.get("items") if isinstance(result, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ScriptFailed("The script left ctx.resource_list['items'] that is not a list of objects.")
    resource_list.root["items"] = items
