"""PackageVariantSet templates: the PackageVariant spec of one target, with CEL expressions evaluated.

Pure (CPU only; the caller runs it in a worker thread). Expressions are Common Expression Language, evaluated
with cel-python (`celpy`) and the standard CEL functions only, as Porch does (no Kubernetes extension
libraries). The variables, as in Porch (porch-behaviour §6.10):

* `repoDefault`, `packageDefault`: the target's default downstream repository and package;
* `upstream`: name, namespace, labels and annotations of the upstream PackageRevision;
* `target`: name, namespace, labels and annotations of the selected object (`repositorySelector`,
  `objectSelector`), or `{repo, package}` for an explicit `repositories` entry;
* `repository`: name, namespace, labels and annotations of the downstream Repository (it must exist).

Every expression must give a string. Fields are rendered in Porch's order (downstream repo, then the
Repository is looked up, downstream package, policies, labels, annotations, package context, injectors,
pipeline); `...Expr` entries win over plain entries with the same key. Any failure is `InvalidSpec` naming the
field, e.g. `targets[0].template.labelExprs[2].valueExpr: no such key: 'region'`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from porch_operator import errors

Body = dict[str, Any]
RepositoryLookup = Callable[[str], Mapping[str, Any] | None]


def object_variable(body: Mapping[str, Any]) -> Body:
    """The CEL view of an object: name, namespace, labels and annotations."""
    meta = body.get("metadata") or {}
    return {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
    }


def _message(exc: Exception) -> str:
    if isinstance(exc, CELParseError):
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        return f"syntax error at line {line}, column {column}"
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    text = text.split(" (in activation", 1)[0]
    # celpy puts what was missing (a map key, say) in a third argument: name it.
    details = exc.args[2] if len(exc.args) >= 3 else None
    if isinstance(details, tuple) and details and all(isinstance(d, str) for d in details):
        text += ": " + ", ".join(repr(str(d)) for d in details)
    return text


class Expressions:
    """Compiles (once per expression text) and evaluates CEL expressions that must give strings."""

    def __init__(self) -> None:
        self._environment = celpy.Environment()
        self._programs: dict[str, Any] = {}

    def string(self, expression: str, variables: Mapping[str, Any], *, where: str) -> str:
        try:
            program = self._programs.get(expression)
            if program is None:
                program = self._programs[expression] = self._environment.program(
                    self._environment.compile(expression)
                )
            activation = {key: json_to_cel(value) for key, value in variables.items()}
            result = program.evaluate(activation)
        except Exception as exc:  # celpy raises its own errors and, for some bad input, plain Python ones
            raise errors.InvalidSpec(f"{where}: {_message(exc)}") from exc
        if isinstance(result, CELEvalError):  # some evaluation errors come back as values
            raise errors.InvalidSpec(f"{where}: {_message(result)}")
        if not isinstance(result, str):
            raise errors.InvalidSpec(
                f"{where}: the expression must give a string, not {type(result).__name__}"
            )
        return str(result)


@dataclass(frozen=True)
class TargetContext:
    """One unrolled target: the defaults it gives and the object that selected it (None for repositories)."""

    repo_default: str
    package_default: str
    selected: Mapping[str, Any] | None = None

    def target_variable(self) -> Body:
        if self.selected is None:
            return {"repo": self.repo_default, "package": self.package_default}
        return object_variable(self.selected)


def render_spec(
    expressions: Expressions,
    *,
    upstream_spec: Mapping[str, Any],
    upstream: Mapping[str, Any],
    template: Mapping[str, Any] | None,
    target: TargetContext,
    repository: RepositoryLookup,
    where: str,
) -> Body:
    """The PackageVariant spec for one target (see the module docstring); `where` prefixes error messages."""
    spec: Body = {
        "upstream": dict(upstream_spec),
        "downstream": {"repo": target.repo_default, "package": target.package_default},
    }
    if not template:
        return spec
    where = f"{where}.template"
    variables: Body = {
        "repoDefault": target.repo_default,
        "packageDefault": target.package_default,
        "upstream": object_variable(upstream),
        "target": target.target_variable(),
    }

    def value(plain: Any, expression: Any, field: str) -> Any:
        if expression:
            return expressions.string(str(expression), variables, where=f"{where}.{field}")
        return plain

    downstream = template.get("downstream") or {}
    repo = value(
        downstream.get("repo") or target.repo_default, downstream.get("repoExpr"), "downstream.repoExpr"
    )
    found = repository(repo)
    if found is None:
        raise errors.InvalidSpec(f"{where}.downstream: repository {repo!r} could not be loaded")
    variables["repository"] = object_variable(found)
    package = value(
        downstream.get("package") or target.package_default,
        downstream.get("packageExpr"),
        "downstream.packageExpr",
    )
    spec["downstream"] = {"repo": repo, "package": package}
    for policy in ("adoptionPolicy", "deletionPolicy"):
        if template.get(policy):
            spec[policy] = template[policy]
    for key in ("labels", "annotations"):
        rendered = _map(
            expressions,
            variables,
            template.get(key),
            template.get(f"{key[:-1]}Exprs"),
            f"{where}.{key[:-1]}Exprs",
        )
        if rendered:
            spec[key] = rendered
    context = _package_context(
        expressions, variables, template.get("packageContext"), f"{where}.packageContext"
    )
    if context:
        spec["packageContext"] = context
    injectors = _injectors(expressions, variables, template.get("injectors"), f"{where}.injectors")
    if injectors:
        spec["injectors"] = injectors
    pipeline = _pipeline(expressions, variables, template.get("pipeline"), f"{where}.pipeline")
    if pipeline:
        spec["pipeline"] = pipeline
    return spec


def _map(
    expressions: Expressions,
    variables: Mapping[str, Any],
    plain: Mapping[str, str] | None,
    entries: list[Mapping[str, Any]] | None,
    where: str,
) -> dict[str, str]:
    result = dict(plain or {})
    for index, entry in enumerate(entries or []):
        at = f"{where}[{index}]"
        key = (
            expressions.string(entry["keyExpr"], variables, where=f"{at}.keyExpr")
            if entry.get("keyExpr")
            else entry.get("key")
        )
        value = (
            expressions.string(entry["valueExpr"], variables, where=f"{at}.valueExpr")
            if entry.get("valueExpr")
            else entry.get("value")
        )
        if not key:
            raise errors.InvalidSpec(f"{at}: the entry needs a key or a keyExpr")
        result[str(key)] = str(value or "")
    return result


def _package_context(
    expressions: Expressions, variables: Mapping[str, Any], template: Mapping[str, Any] | None, where: str
) -> Body:
    if not template:
        return {}
    data = _map(expressions, variables, template.get("data"), template.get("dataExprs"), f"{where}.dataExprs")
    remove = set(template.get("removeKeys") or [])
    for index, expression in enumerate(template.get("removeKeyExprs") or []):
        remove.add(expressions.string(expression, variables, where=f"{where}.removeKeyExprs[{index}]"))
    context: Body = {}
    if data:
        context["data"] = data
    if remove:
        context["removeKeys"] = sorted(remove)
    return context


def _injectors(
    expressions: Expressions,
    variables: Mapping[str, Any],
    template: list[Mapping[str, Any]] | None,
    where: str,
) -> list[Body]:
    injectors = []
    for index, entry in enumerate(template or []):
        injector = {key: entry[key] for key in ("group", "version", "kind") if entry.get(key) is not None}
        name = entry.get("name")
        if entry.get("nameExpr"):
            name = expressions.string(entry["nameExpr"], variables, where=f"{where}[{index}].nameExpr")
        if not name:
            raise errors.InvalidSpec(f"{where}[{index}]: an injector needs a name or a nameExpr")
        injector["name"] = name
        injectors.append(injector)
    return injectors


def _pipeline(
    expressions: Expressions, variables: Mapping[str, Any], template: Mapping[str, Any] | None, where: str
) -> Body:
    pipeline: Body = {}
    for stage in ("mutators", "validators"):
        functions = []
        for index, entry in enumerate((template or {}).get(stage) or []):
            at = f"{where}.{stage}[{index}]"
            function = {key: value for key, value in entry.items() if key != "configMapExprs"}
            if entry.get("configMapExprs") or entry.get("configMap"):
                function["configMap"] = _map(
                    expressions,
                    variables,
                    entry.get("configMap"),
                    entry.get("configMapExprs"),
                    f"{at}.configMapExprs",
                )
            functions.append(function)
        if functions:
            pipeline[stage] = functions
    return pipeline
