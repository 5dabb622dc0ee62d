"""PackageVariantSet reconcile: one generated PackageVariant per target, created, updated and deleted as the
targets and the template change.

Safe under GitOps: the operator never writes a set's spec or metadata (users apply sets with Flux or Argo CD),
only its status through the status subresource, and only when it changed. The PackageVariants it generates
are the operator's own objects: named deterministically (`variantsetrules.variant_name`), labelled with the
set's UID, controlled by the set (deleting the set deletes them, and their deletion policy applies), and
written only when their spec differs from the rendered template (compared with the schema's defaults filled
in), so re-applying an unchanged set changes nothing anywhere.

Each reconcile: validate; resolve the upstream revision (for the template's `upstream` variable); unroll the
targets (explicit repositories, Repositories selected by label, or any objects selected by label, found
through API discovery); render every target's spec with CEL (`celtemplates`, in a worker thread); then create
the missing variants, update the changed ones and delete the ones no target produces any more. A template
that fails to render changes nothing: the set reports `Stalled=True` with the failing field until it is fixed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from porch_operator import errors
from porch_operator.handlers import celtemplates, conditions, kube, outcomes
from porch_operator.handlers import variantrules as pvrules
from porch_operator.handlers import variantsetrules as rules
from porch_operator.handlers.kube import KubeClient

Body = dict[str, Any]
logger = logging.getLogger(__name__)
_WRITE_CONCURRENCY = 8


@dataclass
class Report(conditions.Verdict):
    """The outcome of one reconcile, as conditions will show it."""

    variants: int | None = None


class _Stop(Exception):
    """Ends a reconcile early with a report (a problem the user must fix)."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.message)
        self.report = report


async def reconcile(client: KubeClient, namespace: str, name: str) -> float | None:
    """Reconcile one PackageVariantSet; transient failures are reported, then raised for a retry."""
    variant_set = await client.find(kube.PACKAGE_VARIANT_SETS, namespace, name)
    if variant_set is None or variant_set["metadata"].get("deletionTimestamp"):
        return None  # the generated variants go with it (they are owned by it)
    try:
        report = await ensure(client, variant_set)
    except _Stop as stop:
        report = stop.report
    except Exception as exc:
        outcome = outcomes.classify(exc)
        report = Report(
            False,
            outcome.reason,
            outcome.message,
            stalled=outcome.permanent,
            reconciling=not outcome.permanent,
        )
        await write_status(client, variant_set, report)
        if outcome.permanent:
            return None
        raise
    await write_status(client, variant_set, report)
    return None


async def write_status(client: KubeClient, variant_set: Body, report: Report) -> None:
    status: Body = conditions.observed_status(variant_set, report)
    if report.variants is not None:
        status["packageVariants"] = report.variants
    await client.patch_changed_status(kube.PACKAGE_VARIANT_SETS, variant_set, status)


async def ensure(client: KubeClient, variant_set: Body) -> Report:
    spec, namespace = variant_set["spec"], variant_set["metadata"]["namespace"]
    problems = rules.validate(spec)
    if problems:
        return Report(False, "ValidationError", "; ".join(problems), stalled=True)
    upstream_spec = spec["upstream"]
    upstream_revisions = await client.list_all(
        kube.PACKAGE_REVISIONS,
        namespace,
        field_selector=f"spec.repository={upstream_spec['repo']},spec.packageName={upstream_spec['package']}",
    )
    upstream = pvrules.resolve_upstream(upstream_spec, upstream_revisions)
    if upstream is None:
        return Report(
            False,
            "UpstreamNotFound",
            f"Could not find the upstream: {pvrules.describe_upstream(upstream_spec)}.",
            stalled=True,
        )
    repositories = {r["metadata"]["name"]: r for r in await client.list_all(kube.REPOSITORIES, namespace)}
    contexts = await _unroll(client, namespace, spec, upstream_spec["package"])
    try:
        specs = await asyncio.to_thread(_render_all, spec, upstream, contexts, repositories)
    except errors.InvalidSpec as exc:
        return Report(False, "TemplateError", str(exc), stalled=True)
    desired: dict[str, Body] = {}
    for index, variant_spec in specs:
        body = rules.desired_variant(variant_set, variant_spec)
        name = body["metadata"]["name"]
        if name in desired:
            downstream = variant_spec["downstream"]
            return Report(
                False,
                "DuplicateTarget",
                f"spec.targets[{index}] gives downstream package {downstream['package']!r} in repository "
                f"{downstream['repo']!r} a second time.",
                stalled=True,
            )
        desired[name] = body
    await _apply(client, variant_set, desired)
    return Report(
        True, "Reconciled", f"{len(desired)} package variants are as the set wants.", variants=len(desired)
    )


async def _unroll(
    client: KubeClient, namespace: str, spec: Mapping[str, Any], upstream_package: str
) -> list[tuple[int, celtemplates.TargetContext]]:
    contexts: list[tuple[int, celtemplates.TargetContext]] = []
    for index, target in enumerate(spec["targets"]):
        if target.get("repositories"):
            found = rules.repository_contexts(target, upstream_package=upstream_package)
        elif "repositorySelector" in target:
            objects = await client.list_all(
                kube.REPOSITORIES,
                namespace,
                label_selector=rules.label_selector(target["repositorySelector"]),
            )
            found = rules.selected_contexts(objects, upstream_package=upstream_package)
        else:
            found = rules.selected_contexts(
                await _selected_objects(client, namespace, index, target["objectSelector"]),
                upstream_package=upstream_package,
            )
        contexts += [(index, context) for context in found]
    return contexts


async def _selected_objects(
    client: KubeClient, namespace: str, index: int, selector: Mapping[str, Any]
) -> list[Body]:
    where = f"spec.targets[{index}].objectSelector"
    try:
        resource = await client.discover(selector["apiVersion"], selector["kind"])
        return await client.list_all(resource, namespace, label_selector=rules.label_selector(selector))
    except errors.NotFound as exc:
        raise _Stop(Report(False, "NoMatchingTargets", f"{where}: {exc}", stalled=True)) from exc
    except errors.Forbidden as exc:
        message = (
            f"{where}: the operator may not list {selector['kind']} objects; grant its ServiceAccount list "
            f"on them (see docs/variants.md). {exc}"
        )
        raise _Stop(Report(False, "Forbidden", message, stalled=True)) from exc


def _render_all(
    spec: Mapping[str, Any],
    upstream: Mapping[str, Any],
    contexts: list[tuple[int, celtemplates.TargetContext]],
    repositories: Mapping[str, Body],
) -> list[tuple[int, Body]]:
    expressions = celtemplates.Expressions()
    return [
        (
            index,
            celtemplates.render_spec(
                expressions,
                upstream_spec=spec["upstream"],
                upstream=upstream,
                template=spec["targets"][index].get("template"),
                target=context,
                repository=repositories.get,
                where=f"spec.targets[{index}]",
            ),
        )
        for index, context in contexts
    ]


async def _apply(client: KubeClient, variant_set: Body, desired: Mapping[str, Body]) -> None:
    """Create, update and delete generated variants so that exactly `desired` exist."""
    namespace, uid = variant_set["metadata"]["namespace"], variant_set["metadata"]["uid"]
    existing = {
        v["metadata"]["name"]: v
        for v in await client.list_all(
            kube.PACKAGE_VARIANTS, namespace, label_selector=f"{rules.SET_LABEL}={uid}"
        )
    }
    jobs: list[Awaitable[None]] = []
    for name, variant in existing.items():
        if name not in desired and not variant["metadata"].get("deletionTimestamp"):
            jobs.append(_delete(client, variant))
    for name, body in desired.items():
        current = existing.get(name)
        if current is None:
            jobs.append(_create(client, variant_set, body))
        else:
            updated = rules.updated_variant(current, body)
            if updated is not None:
                jobs.append(_replace(client, updated))
    semaphore = asyncio.Semaphore(_WRITE_CONCURRENCY)

    async def run(job: Awaitable[None]) -> None:
        async with semaphore:
            await job

    results = await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _delete(client: KubeClient, variant: Body) -> None:
    meta = variant["metadata"]
    await client.delete(kube.PACKAGE_VARIANTS, meta["namespace"], meta["name"], uid=meta["uid"])
    logger.info("Deleted PackageVariant %s: no target of its set produces it any more.", meta["name"])


async def _replace(client: KubeClient, variant: Body) -> None:
    await client.replace(kube.PACKAGE_VARIANTS, variant["metadata"]["namespace"], variant)
    logger.info("Updated PackageVariant %s from its set's template.", variant["metadata"]["name"])


async def _create(client: KubeClient, variant_set: Body, body: Body) -> None:
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        await client.create(kube.PACKAGE_VARIANTS, namespace, body)
    except errors.AlreadyExists:
        # A variant of that name exists without the set's label: take it over only if the set controls it.
        current = await client.get(kube.PACKAGE_VARIANTS, namespace, name)
        if not pvrules.owned_by(current, variant_set["metadata"]["uid"]):
            raise errors.InvalidSpec(
                f"A PackageVariant named {name!r} already exists and is not managed by this set."
            ) from None
        updated = rules.updated_variant(current, body)
        if updated is not None:
            await _replace(client, updated)
        return
    logger.info("Created PackageVariant %s for set %s.", name, variant_set["metadata"]["name"])
