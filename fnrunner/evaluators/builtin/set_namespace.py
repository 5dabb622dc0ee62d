"""set-namespace: move namespaced resources (and references to their namespace) to a new namespace.

Config: `ConfigMap` `data.namespace` (+ `data.namespaceMatcher`), the package-context `ConfigMap` named
`kptfile.kpt.dev` (`data.name`), or `fn.kpt.dev/v1alpha1 SetNamespace {namespace, namespaceMatcher}`.
Local-config resources are skipped. The "origin" namespace is `namespaceMatcher` when given; otherwise all
namespaced resources must share one namespace (resources without one count as in it), or the function fails.
Besides `metadata.namespace` it updates: a Namespace object named like the origin, ServiceAccount subjects of
RoleBindings/ClusterRoleBindings, CRD conversion-webhook and APIService service namespaces, and the namespace
part of `config.kubernetes.io/depends-on` annotations.
"""

from __future__ import annotations

from typing import Any

from fnrunner.evaluators.builtin import objects
from fnrunner.evaluators.builtin.context import Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.resourcelists import ResourceList

DEPENDS_ON = "config.kubernetes.io/depends-on"
PACKAGE_CONTEXT = "kptfile.kpt.dev"


def _config(config: dict[str, Any]) -> tuple[str, str | None]:
    if objects.is_kind(config, "SetNamespace"):
        namespace, matcher = config.get("namespace"), config.get("namespaceMatcher")
    elif objects.is_kind(config, "ConfigMap"):
        data = objects.config_data(config)
        if objects.dig(config, "metadata", "name") == PACKAGE_CONTEXT and "namespace" not in data:
            namespace, matcher = data.get("name"), None
        else:
            namespace, matcher = data.get("namespace"), data.get("namespaceMatcher")
    else:
        raise ConfigError("set-namespace needs a ConfigMap or a SetNamespace functionConfig.")
    if not isinstance(namespace, str) or not namespace:
        raise ConfigError("The functionConfig must set `namespace` (or `data.namespace`).")
    return namespace, str(matcher) if matcher else None


def _origin(items: list[dict[str, Any]], matcher: str | None) -> str:
    if matcher is not None:
        return matcher
    found = sorted(
        {
            str(objects.metadata(item).get("namespace"))
            for item in items
            if objects.is_namespaced(item) and objects.metadata(item).get("namespace")
        }
    )
    if len(found) > 1:
        raise ConfigError(
            "All namespace-scoped resources must be in one namespace to set a new one, but found "
            f"{found}; use namespaceMatcher to pick one."
        )
    return found[0] if found else ""


def _update_references(item: dict[str, Any], origin: str, namespace: str) -> int:
    changed = 0
    kind = item.get("kind")
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        for subject in item.get("subjects") or []:
            is_account = isinstance(subject, dict) and subject.get("kind") == "ServiceAccount"
            if is_account and subject.get("namespace", "") in (origin, ""):
                subject["namespace"] = namespace
                changed += 1
    service: Any = None
    if kind == "CustomResourceDefinition":
        service = objects.dig(item, "spec", "conversion", "webhook", "clientConfig", "service")
    elif kind == "APIService":
        service = objects.dig(item, "spec", "service")
    if isinstance(service, dict) and service.get("namespace", "") in (origin, ""):
        service["namespace"] = namespace
        changed += 1
    return changed + _update_depends_on(item, origin, namespace)


def _update_depends_on(item: dict[str, Any], origin: str, namespace: str) -> int:
    notes = objects.annotations_of(item)
    value = notes.get(DEPENDS_ON)
    if not isinstance(value, str):
        return 0
    refs = []
    changed = 0
    for ref in value.split(","):
        parts = ref.strip().split("/")
        # group/namespaces/<ns>/kind/name form names a namespaced object.
        if len(parts) == 5 and parts[1] == "namespaces" and parts[2] == origin:
            parts[2] = namespace
            changed += 1
        refs.append("/".join(parts))
    if changed:
        notes[DEPENDS_ON] = ",".join(refs)
    return changed


def run(resource_list: ResourceList, context: Context) -> None:
    namespace, matcher = _config(resource_list.function_config)
    items = [item for item in resource_list.items if not objects.is_local_config(item)]
    origin = _origin(items, matcher)
    # Without a matcher, resources that name no namespace belong to the origin; with one, only its own do.
    movable = {origin} if matcher is not None else {origin, ""}
    changed = 0
    for item in items:
        context.check_time()
        meta = objects.metadata(item)
        if item.get("kind") == "Namespace" and origin and meta.get("name") == origin:
            meta["name"] = namespace
            changed += 1
        current = meta.get("namespace", "")
        if objects.is_namespaced(item) and current in movable and current != namespace:
            meta["namespace"] = namespace
            changed += 1
        changed += _update_references(item, origin, namespace)
    context.result(f"namespace {origin!r} updated to {namespace!r}, {changed} value(s) changed")
