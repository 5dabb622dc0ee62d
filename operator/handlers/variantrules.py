"""PackageVariant decisions as pure functions over raw objects: validation, upstream resolution, which
downstream revisions a variant manages, whether they are up to date, and the PackageRevisions it creates.

`variants` (the reconciler) lists the objects and calls these; nothing here does I/O, so every rule has a
unit test. The semantics are Porch's (porch-behaviour §6.2 to 6.6) without its quirks:

* **Upstream.** `upstream.workspaceName` names the revision (any lifecycle; cloning waits until it is
  published); else `upstream.revision` > 0 names a published revision by number; else the latest published
  revision of the package is used, so a variant follows its upstream as it is published.
* **Targets.** A variant manages the revisions it owns (ownerReference with its UID) in its downstream
  repository and package: all its drafts and proposals if there are any, else its latest published revision.
  Owned revisions elsewhere (the downstream moved) are released per the deletion policy; with
  `adoptExisting`, revisions of the downstream package that nobody else controls are adopted. Branch
  placeholders are never adopted or targeted.
* **Names.** New downstream revisions get workspace `packagevariant-<n>`, one more than the highest such
  number in the package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from porch_operator import models

Body = dict[str, Any]

FINALIZER: Final = "config.porch.kpt.dev/packagevariants"
"""On every PackageVariant: its downstream revisions are deleted or orphaned before it goes."""
VARIANT_LABEL: Final = "config.porch.kpt.dev/packagevariant"
"""On every downstream PackageRevision a variant created or adopted: the variant's UID."""
WORKSPACE_PREFIX: Final = "packagevariant-"
RESERVED_CONTEXT_KEYS: Final = ("name", "package-path")

PUBLISHED: Final = (models.Lifecycle.PUBLISHED.value, models.Lifecycle.DELETION_PROPOSED.value)
UNPUBLISHED: Final = (models.Lifecycle.DRAFT.value, models.Lifecycle.PROPOSED.value)

# Tracking metadata of GitOps tools: never copied onto generated objects, or the tool would think it manages
# (and prune) them.
GITOPS_PREFIXES: Final = ("argocd.argoproj.io/", "kustomize.toolkit.fluxcd.io/", "fluxcd.io/")
GITOPS_KEYS: Final = frozenset(
    {
        "app.kubernetes.io/instance",
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)


# Keys the operator maintains on revisions (latest-revision, repository, the variant's own label): a variant's
# labels never set them.
RESERVED_PREFIXES: Final = ("porch.kpt.dev/", "config.porch.kpt.dev/")


def without_gitops_tracking(values: Mapping[str, str] | None) -> dict[str, str]:
    """`values` without the keys GitOps tools use to track what they manage."""
    return {
        key: value
        for key, value in (values or {}).items()
        if key not in GITOPS_KEYS and not key.startswith(GITOPS_PREFIXES)
    }


def copied_metadata(values: Mapping[str, str] | None) -> dict[str, str]:
    """The labels or annotations of a variant's spec that are put on its revisions: without GitOps tracking
    keys and without the keys the operator maintains."""
    return {k: v for k, v in without_gitops_tracking(values).items() if not k.startswith(RESERVED_PREFIXES)}


# --- reading revisions ------------------------------------------------------------------------------------


def lifecycle(revision: Mapping[str, Any]) -> str:
    return str(revision.get("spec", {}).get("lifecycle") or models.Lifecycle.DRAFT.value)


def number(revision: Mapping[str, Any]) -> int:
    """`status.revision`: 0 unpublished, -1 a branch placeholder."""
    value = (revision.get("status") or {}).get("revision")
    return int(value) if isinstance(value, int) else 0


def is_placeholder(revision: Mapping[str, Any]) -> bool:
    return number(revision) == -1


def is_published(revision: Mapping[str, Any]) -> bool:
    return lifecycle(revision) in PUBLISHED and number(revision) > 0


def name_of(body: Mapping[str, Any]) -> str:
    return str(body["metadata"]["name"])


def owned_by(revision: Mapping[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in revision["metadata"].get("ownerReferences") or [])


def controller_of(revision: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in revision["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def workspace_number(workspace: str) -> int | None:
    """n of `packagevariant-<n>`; 0 for a non-numeric suffix; None for other workspaces."""
    if not workspace.startswith(WORKSPACE_PREFIX):
        return None
    suffix = workspace[len(WORKSPACE_PREFIX) :]
    return int(suffix) if suffix.isdigit() else 0


def next_workspace(revisions: Iterable[Mapping[str, Any]]) -> str:
    """The workspace of the next revision a variant creates in a package (`revisions`: all of it)."""
    numbers = [workspace_number(str(r.get("spec", {}).get("workspaceName", ""))) for r in revisions]
    highest = max((n for n in numbers if n is not None), default=0)
    return f"{WORKSPACE_PREFIX}{highest + 1}"


# --- validation -------------------------------------------------------------------------------------------


def _function_problems(where: str, functions: Sequence[Mapping[str, Any]] | None) -> list[str]:
    problems = []
    for index, function in enumerate(functions or []):
        if bool(function.get("image")) == bool(function.get("exec")):
            problems.append(f"{where}[{index}] needs exactly one of image or exec")
        if "." in str(function.get("name") or ""):
            problems.append(f"{where}[{index}].name must not contain '.'")
    return problems


def validate(spec: Mapping[str, Any]) -> list[str]:
    """What is wrong with a PackageVariant spec beyond what the CRD schema already refuses."""
    problems: list[str] = []
    upstream, downstream = spec.get("upstream") or {}, spec.get("downstream") or {}
    for where, ref in (("spec.upstream", upstream), ("spec.downstream", downstream)):
        for key in ("repo", "package"):
            if not ref.get(key):
                problems.append(f"missing {where}.{key}")
    if spec.get("adoptionPolicy", models.AdoptionPolicy.ADOPT_NONE.value) not in set(models.AdoptionPolicy):
        problems.append(
            f"spec.adoptionPolicy {spec.get('adoptionPolicy')!r} is not adoptNone or adoptExisting"
        )
    if spec.get("deletionPolicy", models.DeletionPolicy.DELETE.value) not in set(models.DeletionPolicy):
        problems.append(f"spec.deletionPolicy {spec.get('deletionPolicy')!r} is not delete or orphan")
    context = spec.get("packageContext") or {}
    for key in RESERVED_CONTEXT_KEYS:
        if key in (context.get("data") or {}):
            problems.append(f"spec.packageContext.data may not set {key!r}")
        if key in (context.get("removeKeys") or []):
            problems.append(f"spec.packageContext.removeKeys may not remove {key!r}")
    for index, injector in enumerate(spec.get("injectors") or []):
        if not injector.get("name"):
            problems.append(f"spec.injectors[{index}].name is required")
    pipeline = spec.get("pipeline") or {}
    problems += _function_problems("spec.pipeline.mutators", pipeline.get("mutators"))
    problems += _function_problems("spec.pipeline.validators", pipeline.get("validators"))
    return problems


# --- upstream ---------------------------------------------------------------------------------------------


def resolve_upstream(upstream: Mapping[str, Any], revisions: Iterable[Mapping[str, Any]]) -> Body | None:
    """The upstream revision `upstream` (spec.upstream) names among `revisions` (those of its package).

    By workspaceName if given, else by revision number if > 0, else the latest published revision.
    """
    candidates = [
        dict(r)
        for r in revisions
        if r.get("spec", {}).get("repository") == upstream.get("repo")
        and r.get("spec", {}).get("packageName") == upstream.get("package")
        and not is_placeholder(r)
        and not r["metadata"].get("deletionTimestamp")
    ]
    workspace = upstream.get("workspaceName")
    if workspace:
        return next((r for r in candidates if r["spec"].get("workspaceName") == workspace), None)
    wanted = upstream.get("revision") or 0
    if wanted > 0:
        return next((r for r in candidates if is_published(r) and number(r) == wanted), None)
    published = [r for r in candidates if lifecycle(r) == models.Lifecycle.PUBLISHED.value and number(r) > 0]
    return max(published, key=number, default=None)


def describe_upstream(upstream: Mapping[str, Any]) -> str:
    where = f"package {upstream.get('package')!r} of repository {upstream.get('repo')!r}"
    if upstream.get("workspaceName"):
        return f"workspace {upstream['workspaceName']!r} of {where}"
    if (upstream.get("revision") or 0) > 0:
        return f"revision {upstream['revision']} of {where}"
    return f"a published revision of {where}"


def locked_revision(revision: Mapping[str, Any]) -> int | None:
    """The upstream revision number a downstream revision came from, per its `status.upstreamLock`.

    None when it has no git lock (nothing to compare: up to date); -1 for a lock that is not a published
    revision (a draft branch, or a ref whose last segment is not `v<n>`).
    """
    git = ((revision.get("status") or {}).get("upstreamLock") or {}).get("git") or {}
    ref = str(git.get("ref") or "")
    if not ref:
        return None
    if ref.startswith("drafts"):
        return -1
    match = re.fullmatch(r"v?([0-9]+)", ref.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else -1


def up_to_date(revision: Mapping[str, Any], upstream_revision: int) -> bool:
    locked = locked_revision(revision)
    return locked is None or locked == upstream_revision


# --- downstream -------------------------------------------------------------------------------------------


@dataclass
class Selection:
    """What a variant does with the revisions it can see (see the module docstring)."""

    targets: list[Body] = field(default_factory=list)
    release: list[Body] = field(default_factory=list)
    adopt: list[Body] = field(default_factory=list)
    extra: list[Body] = field(default_factory=list)


def select(
    variant: Mapping[str, Any],
    downstream: Iterable[Mapping[str, Any]],
    owned_elsewhere: Iterable[Mapping[str, Any]] = (),
) -> Selection:
    """Sort the revisions of the downstream package (`downstream`) and the variant's revisions outside it.

    `extra` are duplicate drafts the variant created itself (two `packagevariant-<n>` drafts can only come
    from a race); the one with the lowest number is kept, the others are to be deleted.
    """
    uid = variant["metadata"]["uid"]
    spec = variant["spec"]
    adopt_existing = spec.get("adoptionPolicy") == models.AdoptionPolicy.ADOPT_EXISTING.value
    want = (spec["downstream"]["repo"], spec["downstream"]["package"])
    selection = Selection()
    seen = set()
    drafts: list[Body] = []
    published: list[Body] = []
    for revision in [*downstream, *owned_elsewhere]:
        name = name_of(revision)
        if name in seen or revision["metadata"].get("deletionTimestamp") or is_placeholder(revision):
            continue
        seen.add(name)
        owned = owned_by(revision, uid)
        where = (revision["spec"].get("repository"), revision["spec"].get("packageName"))
        if where != want:
            if owned:
                selection.release.append(dict(revision))
            continue
        if not owned:
            if not adopt_existing or controller_of(revision) is not None:
                continue
            selection.adopt.append(dict(revision))
        if lifecycle(revision) in UNPUBLISHED:
            drafts.append(dict(revision))
        else:
            published.append(dict(revision))
    ours = sorted(
        (d for d in drafts if _created_by(d, uid) and lifecycle(d) == models.Lifecycle.DRAFT.value),
        key=lambda d: workspace_number(d["spec"]["workspaceName"]) or 0,
    )
    selection.extra = ours[1:]
    extra = {name_of(d) for d in selection.extra}
    drafts = [d for d in drafts if name_of(d) not in extra]
    if drafts:
        selection.targets = drafts
    elif published:
        selection.targets = [max(published, key=number)]
    return selection


def _created_by(revision: Mapping[str, Any], uid: str) -> bool:
    """A draft this variant created: controlled by it, in a `packagevariant-<n>` workspace, from a source."""
    controller = controller_of(revision)
    return (
        controller is not None
        and controller.get("uid") == uid
        and workspace_number(str(revision["spec"].get("workspaceName", ""))) is not None
        and bool(revision["spec"].get("source"))
    )


def owner_reference(variant: Mapping[str, Any], *, controller: bool = True) -> Body:
    return {
        "apiVersion": models.PackageVariant.crd.api_version,
        "kind": models.PackageVariant.crd.kind,
        "name": variant["metadata"]["name"],
        "uid": variant["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": False,
    }


def new_revision(
    variant: Mapping[str, Any], *, workspace: str, source: Mapping[str, Any], package: str | None = None
) -> Body:
    """A Draft PackageRevision of the variant's downstream package made from `source` (a `spec.source`)."""
    spec = variant["spec"]
    repository = spec["downstream"]["repo"]
    package = package or spec["downstream"]["package"]
    labels = copied_metadata(spec.get("labels"))
    labels[VARIANT_LABEL] = variant["metadata"]["uid"]
    metadata: Body = {
        "name": models.revision_name(repository, package, workspace),
        "namespace": variant["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(variant)],
    }
    annotations = copied_metadata(spec.get("annotations"))
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": models.PackageRevision.crd.api_version,
        "kind": models.PackageRevision.crd.kind,
        "metadata": metadata,
        "spec": {
            "packageName": package,
            "repository": repository,
            "workspaceName": workspace,
            "lifecycle": models.Lifecycle.DRAFT.value,
            "source": dict(source),
        },
    }


def clone_source(upstream: Mapping[str, Any]) -> Body:
    return {"cloneFrom": {"upstreamRef": {"name": name_of(upstream)}}}


def upgrade_source(*, old: Mapping[str, Any], new: Mapping[str, Any], current: Mapping[str, Any]) -> Body:
    return {
        "upgrade": {
            "oldUpstream": {"name": name_of(old)},
            "newUpstream": {"name": name_of(new)},
            "currentPackage": {"name": name_of(current)},
            "strategy": models.UpgradeStrategy.RESOURCE_MERGE.value,
        }
    }


def copy_source(current: Mapping[str, Any]) -> Body:
    return {"copyFrom": {"name": name_of(current)}}


def old_upstream(
    target: Mapping[str, Any], upstream: Mapping[str, Any], revisions: Iterable[Mapping[str, Any]]
) -> Body | None:
    """The published upstream revision `target` was cloned or upgraded from (same upstream package)."""
    locked = locked_revision(target)
    if locked is None or locked <= 0:
        return None
    spec = upstream["spec"]
    for revision in revisions:
        same = (revision["spec"].get("repository"), revision["spec"].get("packageName")) == (
            spec["repository"],
            spec["packageName"],
        )
        if same and is_published(revision) and number(revision) == locked:
            return dict(revision)
    return None


def metadata_patch(variant: Mapping[str, Any], revision: Mapping[str, Any], *, adopt: bool) -> Body | None:
    """The labels, annotations and ownerReferences a managed revision should have (merged into what it has:
    keys are added or overwritten, never removed); None when it already has them."""
    spec, meta = variant["spec"], revision["metadata"]
    labels = {**(meta.get("labels") or {}), **copied_metadata(spec.get("labels"))}
    labels[VARIANT_LABEL] = variant["metadata"]["uid"]
    annotations = {**(meta.get("annotations") or {}), **copied_metadata(spec.get("annotations"))}
    owners = list(meta.get("ownerReferences") or [])
    if adopt and not owned_by(revision, variant["metadata"]["uid"]):
        owners.append(owner_reference(variant, controller=controller_of(revision) is None))
    patch: Body = {}
    if labels != (meta.get("labels") or {}):
        patch["labels"] = labels
    if annotations != (meta.get("annotations") or {}):
        patch["annotations"] = annotations
    if owners != (meta.get("ownerReferences") or []):
        patch["ownerReferences"] = owners
    return patch or None


def released_metadata(variant_uid: str, revision: Mapping[str, Any]) -> Body:
    """The ownerReferences and labels of a revision let go by the variant (its reference and label gone)."""
    meta = revision["metadata"]
    owners = [ref for ref in meta.get("ownerReferences") or [] if ref.get("uid") != variant_uid]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != VARIANT_LABEL}
    return {"ownerReferences": owners, "labels": labels}
