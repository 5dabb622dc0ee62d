"""The PackageRevision lifecycle and naming rules (architecture §3.1), as pure functions.

One definition for the operator, the CEL/admission rules' tests and the engine tests:

* lifecycles a revision may be created in (Draft, Proposed) and the allowed changes (Draft→Proposed,
  Proposed→Draft, Proposed→Published, Published→DeletionProposed, DeletionProposed→Published; unchanged is
  always allowed); publishing also needs every readiness gate True;
* revision numbers (highest published + 1; placeholders and drafts do not count) and the latest revision;
* workspace uniqueness, placeholder detection, package path nesting, content edits only in Draft, deletion;
* object names: `<repository>.<package path with / as .>.<workspace>` and the Package name.

Violations raise `Conflict` (the state forbids it) or `InvalidSpec` (the request itself is malformed), with
messages that name the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from porch_operator.engine.kptfile import Condition
from porch_operator.errors import Conflict, InvalidSpec
from porch_operator.models import Lifecycle

CREATION_LIFECYCLES: Final = frozenset({Lifecycle.DRAFT, Lifecycle.PROPOSED})
ALLOWED_TRANSITIONS: Final = frozenset(
    {
        (Lifecycle.DRAFT, Lifecycle.PROPOSED),
        (Lifecycle.PROPOSED, Lifecycle.DRAFT),
        (Lifecycle.PROPOSED, Lifecycle.PUBLISHED),
        (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED),
        (Lifecycle.DELETION_PROPOSED, Lifecycle.PUBLISHED),
    }
)
PUBLISHED_LIFECYCLES: Final = frozenset({Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED})
PLACEHOLDER_REVISION: Final = -1
UNPUBLISHED_REVISION: Final = 0
LATEST_REVISION_LABEL: Final = "porch.kpt.dev/latest-revision"

_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


# -- lifecycle
# ------------------------------------------------------------------------------------------------


def is_published(lifecycle: Lifecycle) -> bool:
    """Published or DeletionProposed: the revision has a number and its content is frozen."""
    return lifecycle in PUBLISHED_LIFECYCLES


def check_creation_lifecycle(lifecycle: Lifecycle) -> None:
    """A revision is created as Draft or Proposed; `InvalidSpec` otherwise."""
    if lifecycle not in CREATION_LIFECYCLES:
        raise InvalidSpec(
            f"A package revision cannot be created with lifecycle {lifecycle.value!r}; create it as Draft or "
            "Proposed."
        )


def unmet_readiness_gates(gates: Iterable[str], conditions: Iterable[Condition]) -> list[str]:
    """The gates whose condition is missing or not exactly "True", in gate order."""
    status = {condition.type: condition.status for condition in conditions}
    return [gate for gate in dict.fromkeys(gates) if status.get(gate) != "True"]


def check_transition(
    current: Lifecycle,
    desired: Lifecycle,
    *,
    readiness_gates: Iterable[str] = (),
    conditions: Iterable[Condition] = (),
) -> None:
    """Raise `Conflict` unless `current` → `desired` is allowed (and, for publishing, every gate is True)."""
    if current == desired:
        return
    if (current, desired) not in ALLOWED_TRANSITIONS:
        allowed = sorted(d.value for c, d in ALLOWED_TRANSITIONS if c == current)
        raise Conflict(
            f"A package revision cannot go from {current.value} to {desired.value}; "
            f"from {current.value} it can "
            f"only go to {', '.join(allowed)}."
        )
    if desired == Lifecycle.PUBLISHED and current == Lifecycle.PROPOSED:
        unmet = unmet_readiness_gates(readiness_gates, conditions)
        if unmet:
            raise Conflict(
                "The package revision cannot be published while these readiness gates are not True: "
                + ", ".join(unmet)
                + "."
            )


def check_content_editable(lifecycle: Lifecycle) -> None:
    """Package contents change only in Draft; `Conflict` otherwise."""
    if lifecycle != Lifecycle.DRAFT:
        raise Conflict(
            f"The contents of a package revision with lifecycle {lifecycle.value} cannot change; "
            "only a Draft's "
            "contents can."
        )


def check_deletable(lifecycle: Lifecycle, *, dependents: Sequence[str] = ()) -> None:
    """A Published revision is deleted only after DeletionProposed; one others were created from is kept."""
    if lifecycle == Lifecycle.PUBLISHED:
        raise Conflict(
            "A Published package revision cannot be deleted; set its lifecycle to DeletionProposed first."
        )
    if dependents:
        raise Conflict(
            "The package revision cannot be deleted: it is the upstream or source of "
            + ", ".join(dependents)
            + "."
        )


# -- revision numbers and latest
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionInfo:
    """What the rules need to know about one existing revision of a package."""

    name: str
    lifecycle: Lifecycle
    revision: int = UNPUBLISHED_REVISION
    workspace: str = ""
    deleting: bool = False


def next_revision(revisions: Iterable[RevisionInfo | int]) -> int:
    """Highest published revision number + 1 (placeholders, drafts and proposals do not count); 1 to start."""
    highest = 0
    for item in revisions:
        if isinstance(item, int):
            number = item
        elif is_published(item.lifecycle):
            number = item.revision
        else:
            continue
        highest = max(highest, number)
    return highest + 1


def latest(revisions: Iterable[RevisionInfo]) -> RevisionInfo | None:
    """The published revision with the highest number (objects being deleted and placeholders excluded)."""
    candidates = [r for r in revisions if is_published(r.lifecycle) and r.revision > 0 and not r.deleting]
    return max(candidates, key=lambda r: r.revision, default=None)


def latest_labels(revisions: Iterable[RevisionInfo]) -> dict[str, str]:
    """The `porch.kpt.dev/latest-revision` value for each published revision, by name ("true" on one)."""
    revisions = list(revisions)
    winner = latest(revisions)
    return {
        r.name: "true" if winner is not None and r.name == winner.name else "false"
        for r in revisions
        if is_published(r.lifecycle)
    }


def is_placeholder(*, revision: int, workspace: str, branch: str) -> bool:
    """The branch-tracking revision (`<repo>.<package>.<branch>`, revision -1)."""
    return revision == PLACEHOLDER_REVISION and workspace == branch


def check_not_placeholder(name: str, *, placeholder: bool, role: str) -> None:
    """Placeholders cannot be cloned, copied or upgraded from; `role` says which ("clone upstream", ...)."""
    if placeholder:
        raise InvalidSpec(f"The {role} may not be the placeholder package revision {name!r}.")


def check_workspace_unique(workspace: str, existing: Iterable[RevisionInfo | str]) -> None:
    """No two revisions of one package share a workspace (the placeholder's is the branch name)."""
    for item in existing:
        taken = item if isinstance(item, str) else item.workspace
        if taken == workspace:
            raise Conflict(
                f"Workspace {workspace!r} is already used by another revision of this package; "
                "workspace names "
                "must be unique per package."
            )


def check_published_source(name: str, lifecycle: Lifecycle, *, role: str) -> None:
    """Copy sources and upgrade inputs must be published."""
    if not is_published(lifecycle):
        raise Conflict(f"The {role} {name!r} must be published, but its lifecycle is {lifecycle.value}.")


def check_copy_source(*, source_repository: str, source_package: str, repository: str, package: str) -> None:
    """A copy (edit) comes from the same package of the same repository."""
    if (source_repository, source_package) != (repository, package):
        raise InvalidSpec(
            f"A copy must come from the same package: the source is {source_repository}/{source_package}, "
            f"the new revision is {repository}/{package}."
        )


# -- package paths
# --------------------------------------------------------------------------------------------


def check_new_package(package: str, existing_packages: Iterable[str], *, repository: str) -> None:
    """init and clone create new packages: no such package yet, and no package above or below its path."""
    for other in existing_packages:
        if other == package:
            raise Conflict(
                f"Package {package!r} already exists in repository {repository!r}; "
                "make new revisions of it with "
                "copy or upgrade."
            )
        if other.startswith(package + "/") or package.startswith(other + "/"):
            raise Conflict(
                f"Package path {package!r} conflicts with existing package {other!r} in repository "
                f"{repository!r}: packages cannot be nested."
            )


# -- names
# ----------------------------------------------------------------------------------------------------


def validate_repository_name(name: str) -> None:
    """A Repository name is a DNS-1123 label."""
    if len(name) > 63 or not _DNS_LABEL.match(name):
        raise InvalidSpec(
            f"Repository name {name!r} must be a DNS-1123 label (lowercase letters, digits, '-')."
        )


def validate_workspace(workspace: str) -> None:
    """A workspace name is a DNS-1123 label (so it has no dots)."""
    if len(workspace) > 63 or not _DNS_LABEL.match(workspace):
        raise InvalidSpec(
            f"Workspace name {workspace!r} must be a DNS-1123 label "
            "(lowercase letters, digits, '-', at most 63)."
        )


def validate_package_path(package: str) -> None:
    """A package path: segments separated by '/', no empty segment; without the slashes a DNS-1123 label."""
    segments = package.split("/")
    if not package or any(not segment for segment in segments):
        raise InvalidSpec(f"Package path {package!r} must be non-empty segments separated by single '/'.")
    joined = "".join(segments)
    if len(joined) > 63 or not all(_DNS_LABEL.match(segment) for segment in segments):
        raise InvalidSpec(
            f"Package path {package!r}: each segment must be lowercase letters, digits and '-' (no dots), "
            "and "
            "all segments together at most 63 characters."
        )


def package_object_name(repository: str, package: str) -> str:
    """`<repository>.<package path with / replaced by .>` (the Package object's name)."""
    return f"{repository}.{package.replace('/', '.')}"


def revision_object_name(repository: str, package: str, workspace: str) -> str:
    """`<repository>.<package path with / replaced by .>.<workspace>` (the PackageRevision's name)."""
    return f"{package_object_name(repository, package)}.{workspace}"


def compose_name(repository: str, package: str, workspace: str) -> str:
    """Validate the parts and return the PackageRevision name; `InvalidSpec` naming the bad part."""
    validate_repository_name(repository)
    validate_package_path(package)
    validate_workspace(workspace)
    name = revision_object_name(repository, package, workspace)
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise InvalidSpec(
            f"Package revision name {name!r} must be a DNS-1123 subdomain of at most 253 characters."
        )
    return name


def placeholder_name(repository: str, package: str, branch: str) -> str:
    """The name of the branch-tracking placeholder (branch names with '/' use '.')."""
    return revision_object_name(repository, package, branch.replace("/", "."))
