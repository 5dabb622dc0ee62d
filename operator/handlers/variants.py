"""PackageVariant reconcile: keep one downstream package a customised clone of an upstream package.

A client of the PackageRevision API, as Porch's controller is: it never touches git. Each reconcile reads the
variant, the upstream package's revisions and the downstream package's revisions (consistent LISTs with field
selectors), decides with `variantrules`, and makes at most one step of progress per target:

1. no downstream revision yet → create a Draft cloned from the upstream (`spec.source.cloneFrom`);
2. a published target behind the upstream → create an upgrade Draft (`spec.source.upgrade`, resource-merge, so
   the downstream's own edits are kept); a draft behind the upstream waits until it is published;
3. a Draft whose source is applied and whose content is rendered → write the variant's changes (package
   context, pipeline, injected configuration) into its PackageRevisionResources, guarded by resourceVersion;
   the operator's content reconcile renders and commits them;
4. a published target the variant's changes are not in (the variant's spec changed, or an injected object)
   → create an edit Draft (`spec.source.copyFrom`) and continue with 3 there;
5. a DeletionProposed target that is wanted again → back to Published.

The variant never proposes or approves. Progress comes back as watch events of the revisions (routed by
`variantcontroller`), so a reconcile never waits. Each step is idempotent: names are derived from what exists
(`packagevariant-<n>`), creation collides instead of duplicating, and the variant's own duplicate drafts (only
possible from a race with another writer) are deleted. Status: `Ready` (True once every target is up to date,
changed and rendered), `Reconciling`/`Stalled` only while true, `observedGeneration` everywhere, and
`downstreamTargets` with each target's last render status; nothing is written when nothing changed.

Deleting a variant applies its deletion policy to every revision it owns (`delete`: drafts and proposals are
deleted, published revisions are proposed for deletion and let go; `orphan`: all are let go), then removes the
finalizer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from porch_operator import errors, models
from porch_operator.engine import injection
from porch_operator.engine import variants as mutations
from porch_operator.engine.resources import PackageResources, total_size
from porch_operator.handlers import conditions, kube, outcomes
from porch_operator.handlers import variantrules as rules
from porch_operator.handlers.kube import KubeClient

Body = dict[str, Any]
logger = logging.getLogger(__name__)

_INLINE_BYTES = 256 * 1024
WAIT_RECHECK = 30.0
"""Seconds after which a variant that is waiting for a revision looks again, should an event be missed."""


@dataclass
class Report(conditions.Verdict):
    """The outcome of one reconcile, as conditions will show it."""

    targets: list[Body] = field(default_factory=list)

    @classmethod
    def waiting(cls, reason: str, message: str) -> Report:
        return cls(False, reason, message, reconciling=True)

    @classmethod
    def stuck(cls, reason: str, message: str) -> Report:
        return cls(False, reason, message, stalled=True)


def _revisions_of(namespace: str, repository: str, package: str, client: KubeClient) -> Any:
    return client.list_all(
        kube.PACKAGE_REVISIONS,
        namespace,
        field_selector=f"spec.repository={repository},spec.packageName={package}",
    )


# --- entry point ------------------------------------------------------------------------------------------


async def reconcile(client: KubeClient, namespace: str, name: str) -> float | None:
    """Reconcile one PackageVariant; returns when to look again (None: on the next event only).

    Transient failures are raised (the caller retries with backoff) after they are reported in status.
    """
    variant = await client.find(kube.PACKAGE_VARIANTS, namespace, name)
    if variant is None:
        return None
    if variant["metadata"].get("deletionTimestamp"):
        await finalize(client, variant)
        return None
    if rules.FINALIZER not in (variant["metadata"].get("finalizers") or []):
        variant = await _set_finalizers(
            client, variant, [*variant["metadata"].get("finalizers", []), rules.FINALIZER]
        )
    try:
        report = await ensure(client, variant)
    except Exception as exc:
        outcome = outcomes.classify(exc)
        report = Report(
            False,
            outcome.reason,
            outcome.message,
            stalled=outcome.permanent,
            reconciling=not outcome.permanent,
        )
        report.targets = list((variant.get("status") or {}).get("downstreamTargets") or [])
        await write_status(client, variant, report)
        if outcome.permanent:
            return None
        raise
    await write_status(client, variant, report)
    return WAIT_RECHECK if report.reconciling else None


async def _set_finalizers(client: KubeClient, variant: Body, finalizers: list[str]) -> Body:
    meta = variant["metadata"]
    return await client.patch(
        kube.PACKAGE_VARIANTS,
        meta["namespace"],
        meta["name"],
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "add", "path": "/metadata/finalizers", "value": finalizers},
        ],
    )


# --- status -----------------------------------------------------------------------------------------------


async def write_status(client: KubeClient, variant: Body, report: Report) -> None:
    """Write the report as status, only the fields that differ (nothing when nothing changed)."""
    status: Body = conditions.observed_status(variant, report)
    # An empty list where there was none is no change.
    if report.targets or "downstreamTargets" in (variant.get("status") or {}):
        status["downstreamTargets"] = report.targets
    await client.patch_changed_status(kube.PACKAGE_VARIANTS, variant, status)


# --- ensure -----------------------------------------------------------------------------------------------


async def ensure(client: KubeClient, variant: Body) -> Report:
    """One step towards the variant's desired downstream (see the module docstring)."""
    spec, namespace = variant["spec"], variant["metadata"]["namespace"]
    problems = rules.validate(spec)
    if problems:
        return Report.stuck("ValidationError", "; ".join(problems))
    upstream_spec, downstream = spec["upstream"], spec["downstream"]
    upstream_revisions = await _revisions_of(
        namespace, upstream_spec["repo"], upstream_spec["package"], client
    )
    upstream = rules.resolve_upstream(upstream_spec, upstream_revisions)
    if upstream is None:
        return Report.stuck(
            "UpstreamNotFound", f"Could not find the upstream: {rules.describe_upstream(upstream_spec)}."
        )
    if not rules.is_published(upstream):
        return Report(
            False,
            "UpstreamNotPublished",
            f"The upstream {rules.name_of(upstream)} is {rules.lifecycle(upstream)}; "
            "waiting until it is published.",
        )
    downstream_revisions = await _revisions_of(namespace, downstream["repo"], downstream["package"], client)
    owned = await client.list_all(
        kube.PACKAGE_REVISIONS,
        namespace,
        label_selector=f"{rules.VARIANT_LABEL}={variant['metadata']['uid']}",
    )
    selection = rules.select(variant, downstream_revisions, owned)
    await _tidy(client, variant, selection)
    if not selection.targets:
        return await _create(
            client,
            variant,
            downstream_revisions,
            rules.clone_source(upstream),
            what=f"cloned from {rules.name_of(upstream)}",
        )
    context = _Context(client, variant, upstream, upstream_revisions, downstream_revisions)
    results = [await context.ensure_target(target) for target in selection.targets]
    return _combine(results)


async def _tidy(client: KubeClient, variant: Body, selection: rules.Selection) -> None:
    """Release revisions the variant no longer targets, drop its duplicate drafts, adopt revisions."""
    namespace = variant["metadata"]["namespace"]
    for revision in selection.release:
        await release(client, variant, revision)
    for revision in selection.extra:
        logger.info(
            "Deleting %s: a duplicate draft of PackageVariant %s.",
            rules.name_of(revision),
            variant["metadata"]["name"],
        )
        await client.delete(
            kube.PACKAGE_REVISIONS, namespace, rules.name_of(revision), uid=revision["metadata"]["uid"]
        )
    for revision in selection.adopt:
        patch = rules.metadata_patch(variant, revision, adopt=True)
        if patch:
            await _patch_metadata(client, revision, patch)
            logger.info("PackageVariant %s adopted %s.", variant["metadata"]["name"], rules.name_of(revision))


async def _patch_metadata(
    client: KubeClient, revision: Body, fields: Mapping[str, Any], extra: Sequence[Body] = ()
) -> Body:
    meta = revision["metadata"]
    ops: list[Body] = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}]
    ops += [{"op": "add", "path": f"/metadata/{key}", "value": value} for key, value in fields.items()]
    return await client.patch(kube.PACKAGE_REVISIONS, meta["namespace"], meta["name"], [*ops, *extra])


async def _create(
    client: KubeClient,
    variant: Body,
    downstream_revisions: list[Body],
    source: Body,
    *,
    what: str,
    reason: str = "Creating",
) -> Report:
    body = rules.new_revision(variant, workspace=rules.next_workspace(downstream_revisions), source=source)
    name = body["metadata"]["name"]
    try:
        await client.create(kube.PACKAGE_REVISIONS, variant["metadata"]["namespace"], body)
    except errors.AlreadyExists as exc:  # made meanwhile by someone else: look again with what exists now
        raise errors.Conflict(f"{name} was created meanwhile by another writer; retrying") from exc
    logger.info("PackageVariant %s created %s (%s).", variant["metadata"]["name"], name, what)
    report = Report.waiting(reason, f"Created {name} ({what}); waiting for it to be ready.")
    report.targets = [{"name": name}]
    return report


def _combine(results: list[Report]) -> Report:
    targets = [entry for result in results for entry in result.targets]
    problem = next((r for r in results if r.stalled), None) or next((r for r in results if not r.ready), None)
    combined = problem or Report(
        True,
        "NoErrors",
        "The downstream is up to date: " + ", ".join(t["name"] for t in targets) + ".",
    )
    return Report(
        combined.ready, combined.reason, combined.message, combined.stalled, combined.reconciling, targets
    )


# --- one target -------------------------------------------------------------------------------------------


@dataclass
class _Context:
    client: KubeClient
    variant: Body
    upstream: Body
    upstream_revisions: list[Body]
    downstream_revisions: list[Body]

    @property
    def namespace(self) -> str:
        return str(self.variant["metadata"]["namespace"])

    async def ensure_target(self, target: Body) -> Report:
        report = await self._step(target)
        if not report.targets:
            report.targets = [_target_entry(target, None)]
        return report

    async def _step(self, target: Body) -> Report:
        name, lifecycle = rules.name_of(target), rules.lifecycle(target)
        patch = rules.metadata_patch(self.variant, target, adopt=False)
        if patch:
            target = await _patch_metadata(self.client, target, patch)
        if lifecycle == models.Lifecycle.DELETION_PROPOSED.value:
            await self.client.patch(
                kube.PACKAGE_REVISIONS,
                self.namespace,
                name,
                {"spec": {"lifecycle": models.Lifecycle.PUBLISHED.value}},
            )
            return Report.waiting(
                "Republishing", f"{name} is wanted again: its deletion proposal is withdrawn."
            )
        wanted = rules.number(self.upstream)
        if not rules.up_to_date(target, wanted):
            return await self._upgrade(target, wanted)
        if lifecycle == models.Lifecycle.PUBLISHED.value:
            return await self._check_published(target)
        return await self._change_draft(target)

    async def _upgrade(self, target: Body, wanted: int) -> Report:
        name = rules.name_of(target)
        locked = rules.locked_revision(target)
        if rules.lifecycle(target) in rules.UNPUBLISHED:
            return Report(
                False,
                "UpgradePending",
                f"{name} comes from upstream revision {locked} and is not published; "
                f"it is upgraded to revision {wanted} once it is.",
            )
        old = rules.old_upstream(target, self.upstream, self.upstream_revisions)
        if old is None:
            return Report.stuck(
                "UpgradeImpossible",
                f"{name} comes from upstream revision {locked}, which is not a published revision of "
                f"{self.upstream['spec']['packageName']!r} in {self.upstream['spec']['repository']!r}; "
                "it cannot be upgraded.",
            )
        source = rules.upgrade_source(old=old, new=self.upstream, current=target)
        return await _create(
            self.client,
            self.variant,
            self.downstream_revisions,
            source,
            what=f"an upgrade of {name} to {rules.name_of(self.upstream)}",
            reason="Upgrading",
        )

    async def _check_published(self, target: Body) -> Report:
        name = rules.name_of(target)
        resources = await self.client.find(kube.PACKAGE_REVISION_RESOURCES, self.namespace, name)
        if resources is None:
            return Report.waiting("Waiting", f"Waiting for the resources of {name}.")
        files = resources["spec"].get("resources") or {}
        if await mutate(self.client, self.variant, files) == files:
            return _ready(target, resources)
        return await _create(
            self.client,
            self.variant,
            self.downstream_revisions,
            rules.copy_source(target),
            what=f"an edit of {name}",
            reason="Editing",
        )

    async def _change_draft(self, target: Body) -> Report:
        name = rules.name_of(target)
        resources = await self.client.find(kube.PACKAGE_REVISION_RESOURCES, self.namespace, name)
        waiting = _not_created(target, resources)
        if waiting is not None:
            return waiting
        assert resources is not None
        files = resources["spec"].get("resources") or {}
        changed = await mutate(self.client, self.variant, files)
        if changed == files:
            return _ready(target, resources)
        if rules.lifecycle(target) == models.Lifecycle.PROPOSED.value:
            return Report(
                False,
                "ProposedOutOfDate",
                f"{name} is Proposed without the variant's latest changes; "
                "move it back to Draft to receive them.",
            )
        # Written even while an earlier content is still being rendered: that render's result is then
        # discarded (its write is guarded by resourceVersion), and only this content is rendered.
        meta = resources["metadata"]
        await self.client.patch(
            kube.PACKAGE_REVISION_RESOURCES,
            self.namespace,
            name,
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
                {"op": "replace", "path": "/spec/resources", "value": changed},
            ],
        )
        logger.info("PackageVariant %s changed the content of %s.", self.variant["metadata"]["name"], name)
        report = Report.waiting(
            "Rendering", f"Wrote the variant's changes into {name}; waiting for the render."
        )
        report.targets = [_target_entry(target, resources)]
        return report


def _target_entry(target: Mapping[str, Any], resources: Mapping[str, Any] | None) -> Body:
    entry: Body = {"name": rules.name_of(target)}
    render_status = ((resources or {}).get("status") or {}).get("renderStatus")
    if render_status:
        entry["renderStatus"] = render_status
    return entry


def _not_created(target: Mapping[str, Any], resources: Mapping[str, Any] | None) -> Report | None:
    """Why a draft cannot take the variant's changes yet (None when it can): its source is not applied, or
    it failed."""
    name = rules.name_of(target)
    status = target.get("status") or {}
    if conditions.is_true(status.get("conditions"), "Stalled"):
        stalled = conditions.find(status.get("conditions"), "Stalled") or {}
        report = Report.stuck("DownstreamFailed", f"{name}: {stalled.get('message', '')}")
        report.targets = [_target_entry(target, resources)]
        return report
    if not status.get("selfLock") or resources is None:
        return Report.waiting("Creating", f"Waiting for {name} to be created in git.")
    labels = resources["metadata"].get("labels") or {}
    if labels.get(models.LIFECYCLE_LABEL) not in (None, rules.lifecycle(target)):
        return Report.waiting("Waiting", f"Waiting for the resources of {name} to follow its lifecycle.")
    return None


def _ready(target: Mapping[str, Any], resources: Mapping[str, Any]) -> Report:
    """The report for a target that has the variant's changes: ready once they are rendered."""
    name = rules.name_of(target)
    entry = _target_entry(target, resources)
    status = resources.get("status") or {}
    rendered = conditions.find(status.get("conditions"), "Rendered")
    if status.get("observedGeneration") != resources["metadata"].get("generation"):
        report = Report.waiting("Rendering", f"Waiting for the content of {name} to be rendered.")
    elif rendered is not None and rendered.get("status") == "False":
        report = Report.stuck("RenderFailed", f"{name} does not render: {rendered.get('message', '')}")
    else:
        report = Report(True, "NoErrors", f"{name} is up to date.")
    report.targets = [entry]
    return report


# --- the changes ------------------------------------------------------------------------------------------


async def mutate(client: KubeClient, variant: Mapping[str, Any], files: Mapping[str, str]) -> dict[str, str]:
    """The files with the variant's changes applied (the same dict content when nothing changes)."""
    spec = variant["spec"]
    name = variant["metadata"]["name"]
    context = spec.get("packageContext") or {}
    pipeline = spec.get("pipeline") or {}

    def first_steps() -> tuple[PackageResources, list[injection.InjectionPoint]]:
        package = PackageResources(files)
        package = mutations.set_package_context(
            package, data=context.get("data") or {}, remove_keys=context.get("removeKeys") or []
        )
        package = mutations.prepend_pipeline(
            package,
            variant=name,
            mutators=pipeline.get("mutators") or [],
            validators=pipeline.get("validators") or [],
        )
        return package, injection.find_points(package)

    # Small packages (the usual case) take a few milliseconds: done on the event loop rather than queued
    # behind git reads in the shared thread pool. Large ones go to a thread.
    large = total_size(files) > _INLINE_BYTES
    package, points = await asyncio.to_thread(first_steps) if large else first_steps()
    if points:
        injectors = [
            injection.Injector(
                name=i["name"], group=i.get("group"), version=i.get("version"), kind=i.get("kind")
            )
            for i in spec.get("injectors") or []
        ]
        candidates = await lookup(client, variant["metadata"]["namespace"], points, injectors)
        if large:
            package = await asyncio.to_thread(injection.inject, package, points, candidates)
        else:
            package = injection.inject(package, points, candidates)
    return package.to_dict()


async def lookup(
    client: KubeClient,
    namespace: str,
    points: Sequence[injection.InjectionPoint],
    injectors: Sequence[injection.Injector],
) -> dict[str, injection.Candidate]:
    """For each injection point, the in-cluster object the first applicable injector names (Porch's rule)."""
    found: dict[str, injection.Candidate] = {}
    cache: dict[tuple[str, str, str], Body | None] = {}
    for point in points:
        if not injectors:
            found[point.condition_type] = injection.Candidate(None, ("no injectors defined",))
            continue
        try:
            resource = await client.discover(point.api_version, point.kind)
        except errors.NotFound as exc:
            found[point.condition_type] = injection.Candidate(None, (str(exc),))
            continue
        problems: list[str] = []
        chosen: Body | None = None
        for injector in injectors:
            if not injector.applies_to(point):
                continue
            key = (point.api_version, point.kind, injector.name)
            if key not in cache:
                try:
                    cache[key] = await client.find(resource, namespace, injector.name)
                except errors.Forbidden:
                    cache[key] = None
                    problems.append(
                        f"the operator may not read {point.kind} {injector.name!r} (grant it get on "
                        f"{resource.plural}.{resource.group or 'core'})"
                    )
            if cache[key] is not None:
                chosen = cache[key]
                break
        found[point.condition_type] = injection.Candidate(chosen, tuple(problems))
    return found


# --- release and deletion ---------------------------------------------------------------------------------


async def release(client: KubeClient, variant: Body, revision: Body) -> None:
    """Apply the deletion policy to one revision the variant owns (see the module docstring)."""
    uid, name = variant["metadata"]["uid"], rules.name_of(revision)
    policy = variant["spec"].get("deletionPolicy") or models.DeletionPolicy.DELETE.value
    lifecycle = rules.lifecycle(revision)
    let_go = rules.released_metadata(uid, revision)
    if policy == models.DeletionPolicy.ORPHAN.value or lifecycle == models.Lifecycle.DELETION_PROPOSED.value:
        await _patch_metadata(client, revision, let_go)
        logger.info("PackageVariant %s let go of %s.", variant["metadata"]["name"], name)
    elif lifecycle in rules.UNPUBLISHED:
        await client.delete(
            kube.PACKAGE_REVISIONS, revision["metadata"]["namespace"], name, uid=revision["metadata"]["uid"]
        )
        logger.info("PackageVariant %s deleted %s.", variant["metadata"]["name"], name)
    else:
        proposal = [
            {"op": "replace", "path": "/spec/lifecycle", "value": models.Lifecycle.DELETION_PROPOSED.value}
        ]
        await _patch_metadata(client, revision, let_go, proposal)
        logger.info(
            "PackageVariant %s proposed %s for deletion and let go of it.", variant["metadata"]["name"], name
        )


async def finalize(client: KubeClient, variant: Body) -> None:
    """Apply the deletion policy to every owned revision, then let the variant go."""
    meta = variant["metadata"]
    if rules.FINALIZER not in (meta.get("finalizers") or []):
        return
    spec, uid = variant["spec"], meta["uid"]
    labelled = await client.list_all(
        kube.PACKAGE_REVISIONS, meta["namespace"], label_selector=f"{rules.VARIANT_LABEL}={uid}"
    )
    downstream = spec.get("downstream") or {}
    in_package = []
    if downstream.get("repo") and downstream.get("package"):
        in_package = await _revisions_of(meta["namespace"], downstream["repo"], downstream["package"], client)
    owned = {
        rules.name_of(r): r
        for r in [*labelled, *in_package]
        if rules.owned_by(r, uid) and not rules.is_placeholder(r)
    }
    for revision in owned.values():
        if revision["metadata"].get("deletionTimestamp"):
            continue
        try:
            await release(client, variant, revision)
        except (errors.NotFound, errors.Forbidden, errors.InvalidSpec) as exc:
            logger.warning(
                "PackageVariant %s could not release %s: %s", meta["name"], rules.name_of(revision), exc
            )
    finalizers = [f for f in meta.get("finalizers") or [] if f != rules.FINALIZER]
    try:
        await _set_finalizers(client, variant, finalizers)
    except errors.NotFound:
        return
