"""What a PackageVariant changes in its downstream package's files: the package context and the pipeline.

Two pure transforms over `PackageResources` (config injection, the third kind of change, is in `injection`):

* `set_package_context`: set and remove keys of the `kptfile.kpt.dev` ConfigMap in `package-context.yaml`;
* `prepend_pipeline`: put the variant's own functions first in the Kptfile's mutators and validators, named
  `PackageVariant.<variant>.<function name>.<index>`, after removing the ones an earlier spec of the same
  variant put there (recognised by that name). A variant without functions removes its old ones.

Both compare what they would write with what is there as data, not as text, and return the very same package
when nothing differs: a variant whose changes are already in the package changes nothing, so the caller can
tell "changed" from `result != package`, and a package rendered after the change is not changed again.
Formatting and comments of the edited files are kept (the YAML trees are edited in place).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from porch_operator.engine import documents, packagecontext
from porch_operator.engine.kptfile import TOP_LEVEL_ORDER, Kptfile, set_key
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import InvalidSpec

FUNCTION_PREFIX: Final = "PackageVariant"
STAGES: Final = ("mutators", "validators")


def plain(node: Any) -> Any:
    """A YAML tree as plain dicts, lists and scalars (styles and comments dropped), for comparisons."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return documents.plain_value(node)


# --- package context --------------------------------------------------------------------------------------


def set_package_context(
    package: PackageResources, *, data: Mapping[str, str], remove_keys: Sequence[str]
) -> PackageResources:
    """Set `data` and then remove `remove_keys` in the package context's `data`.

    Nothing to do when both are empty. Otherwise `package-context.yaml` must hold the `kptfile.kpt.dev`
    ConfigMap with a `data` map (`InvalidSpec` when it does not).
    """
    if not data and not remove_keys:
        return package
    path = packagecontext.FILE_NAME
    if path not in package:
        raise InvalidSpec(f"The package has no {path}, so its package context cannot be changed.")
    docs = documents.parse_documents(package[path], path=path)
    context = next((doc.node for doc in docs if _is_context(doc.node)), None)
    if context is None:
        raise InvalidSpec(f"{path} holds no ConfigMap named {packagecontext.CONFIGMAP_NAME!r}.")
    values = context.get("data")
    if not isinstance(values, dict):
        raise InvalidSpec(f"The ConfigMap {packagecontext.CONFIGMAP_NAME!r} in {path} has no data map.")
    changed = False
    for key, value in data.items():
        if key not in values or documents.plain_value(values[key]) != value:
            values[key] = value
            changed = True
    for key in remove_keys:
        if key in values:
            del values[key]
            changed = True
    if not changed:
        return package
    return package.with_files({path: documents.emit_file(path, docs)})


def _is_context(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and node.get("kind") == "ConfigMap"
        and str(node.get("apiVersion")) == "v1"
        and isinstance(node.get("metadata"), dict)
        and str(node["metadata"].get("name")) == packagecontext.CONFIGMAP_NAME
    )


# --- pipeline ---------------------------------------------------------------------------------------------


def function_name(variant: str, name: str | None, index: int) -> str:
    """The name a variant's function gets in the downstream Kptfile."""
    return f"{FUNCTION_PREFIX}.{variant}.{name or ''}.{index}"


def is_variant_function(variant: str, name: object) -> bool:
    """Whether a pipeline entry named `name` was put there by the variant `variant`.

    The variant name may itself contain dots (it is an object name), so the rest after the prefix must be
    exactly `<function name without dots>.<index>`.
    """
    if not isinstance(name, str):
        return False
    prefix = f"{FUNCTION_PREFIX}.{variant}."
    return name.startswith(prefix) and re.fullmatch(r"[^.]*\.[0-9]+", name[len(prefix) :]) is not None


def prepend_pipeline(
    package: PackageResources,
    *,
    variant: str,
    mutators: Sequence[Mapping[str, Any]],
    validators: Sequence[Mapping[str, Any]],
) -> PackageResources:
    """Make the variant's functions (wire-format kpt Function dicts) the first of each pipeline stage.

    Functions other variants or people put in the pipeline keep their order after ours. A stage left empty is
    removed, and so is a pipeline left empty. `InvalidSpec` when the package has no valid root Kptfile.
    """
    if KPTFILE not in package:
        raise InvalidSpec("The package has no Kptfile at its root, so its pipeline cannot be changed.")
    kptfile = Kptfile.parse(package[KPTFILE], path=KPTFILE)
    pipeline = kptfile.node.get("pipeline")
    current = pipeline if isinstance(pipeline, dict) else {}
    wanted = {"mutators": mutators, "validators": validators}
    desired: dict[str, list[Any]] = {}
    for stage in STAGES:
        existing = current.get(stage) or []
        kept = [entry for entry in existing if not is_variant_function(variant, entry.get("name"))]
        ours = [_named(function, variant, index) for index, function in enumerate(wanted[stage])]
        desired[stage] = ours + kept
    if all(plain(desired[stage]) == plain(current.get(stage) or []) for stage in STAGES):
        return package
    _write_pipeline(kptfile, desired)
    return package.with_files({KPTFILE: kptfile.text()})


def _named(function: Mapping[str, Any], variant: str, index: int) -> Any:
    node = documents.new_map()
    node.update(function)
    node["name"] = function_name(variant, function.get("name"), index)
    return node


def _write_pipeline(kptfile: Kptfile, desired: Mapping[str, list[Any]]) -> None:
    node = kptfile.node
    pipeline = node.get("pipeline")
    if not isinstance(pipeline, dict):
        pipeline = documents.new_map()
    for stage in STAGES:
        functions = desired[stage]
        if not functions:
            pipeline.pop(stage, None)
            continue
        current = pipeline.get(stage)
        if isinstance(current, list):
            current[:] = functions  # keeps the sequence node (and its comments)
        else:
            sequence = documents.new_seq()
            sequence.extend(functions)
            set_key(pipeline, stage, sequence, STAGES)
    if pipeline:
        set_key(node, "pipeline", pipeline, TOP_LEVEL_ORDER)
    else:
        node.pop("pipeline", None)
