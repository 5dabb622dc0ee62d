"""PackageRevision (`porch.kpt.dev/v1alpha2`): one revision of one package in one repository.

Porch's v1alpha2 schema. A revision is identified by (repository, packageName, workspaceName) and its object
name is derived from them (`revision_name`). Users create revisions from exactly one `spec.source` as Draft or
Proposed and move them through the lifecycle; the operator also creates revisions it discovers in git, in any
lifecycle and without a source. The CEL rules here hold for everyone; who may do what (approve, create without
a source, delete published revisions) is decided by the admission policies shipped next to the CRDs.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

from porch_operator.models import kpt, meta, schema


class Lifecycle(enum.StrEnum):
    """Where a package revision is in its life; see architecture §3.1 for the transitions."""

    DRAFT = "Draft"
    PROPOSED = "Proposed"
    PUBLISHED = "Published"
    DELETION_PROPOSED = "DeletionProposed"


class UpgradeStrategy(enum.StrEnum):
    """How an upgrade combines the new upstream with the local revision."""

    RESOURCE_MERGE = "resource-merge"
    FAST_FORWARD = "fast-forward"
    FORCE_DELETE_REPLACE = "force-delete-replace"
    COPY_MERGE = "copy-merge"


class CreationSource(enum.StrEnum):
    """Which kind of `spec.source` created a revision (recorded once it has been applied)."""

    INIT = "init"
    CLONE = "clone"
    COPY = "copy"
    UPGRADE = "upgrade"


def revision_name(repository: str, package_name: str, workspace_name: str) -> str:
    """The object name of a PackageRevision (and of its resources): `repo.path.to.pkg.workspace`."""
    return f"{repository}.{package_name.replace('/', '.')}.{workspace_name}"


def package_object_name(repository: str, package_name: str) -> str:
    """The object name of a Package: `repo.path.to.pkg`."""
    return f"{repository}.{package_name.replace('/', '.')}"


# --- identity fields, shared by PackageRevision, PackageRevisionResources and Package -----------------------

RepositoryName = Annotated[
    str,
    Field(
        description="Name of the Repository (in the same namespace) that holds the package.",
        min_length=1,
        max_length=63,
        pattern=schema.DNS_LABEL,
        json_schema_extra=schema.k8s(schema.immutable("spec.repository")),
    ),
]
PackageName = Annotated[
    str,
    Field(
        description="Path of the package in the repository's directory, e.g. catalog/gcp/bucket.",
        min_length=1,
        max_length=253,
        pattern=schema.PACKAGE_PATH,
        json_schema_extra=schema.k8s(schema.immutable("spec.packageName")),
    ),
]
WorkspaceName = Annotated[
    str,
    Field(
        description="Name of this revision among the revisions of the package; unique per package.",
        min_length=1,
        max_length=63,
        pattern=schema.WORKSPACE_NAME,
        json_schema_extra=schema.k8s(schema.immutable("spec.workspaceName")),
    ),
]

EXPECTED_REVISION_NAME = (
    "self.spec.repository + '.' + self.spec.packageName.replace('/', '.') + '.' + self.spec.workspaceName"
)
REVISION_NAME_RULE = schema.CelRule(
    f"self.metadata.name == {EXPECTED_REVISION_NAME}",
    message_expression=(
        f"'metadata.name must be ' + {EXPECTED_REVISION_NAME} + "
        "' (<repository>.<packageName with / replaced by .>.<workspaceName>)'"
    ),
    field_path=".metadata.name",
)
"""The root rule tying a revision's (and its resources') object name to its identity fields."""

PUBLISHED_LIFECYCLES = "['Published', 'DeletionProposed']"
DNS_LABEL_WORKSPACE = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


# --- spec ---------------------------------------------------------------------------------------------------


class InitSource(meta.Model):
    """Create a new package from nothing (a Kptfile and a package context)."""

    subpackage: str | None = Field(
        None, description="Initialise this subdirectory instead of the root.", max_length=1024
    )
    description: str | None = Field(
        None, description="Description written into the Kptfile.", max_length=4096
    )
    keywords: list[Annotated[str, Field(max_length=256)]] | None = Field(
        None, description="Keywords written into the Kptfile.", max_length=64
    )
    site: str | None = Field(None, description="Site URL written into the Kptfile.", max_length=2048)


class GitSource(meta.Model):
    """A package in a git repository that is not registered as a Repository."""

    repo: str = Field(description="URL of the git repository.", min_length=1, max_length=2048)
    ref: str = Field(description="Branch, tag or commit to clone.", min_length=1, max_length=1024)
    directory: str = Field("/", description="Directory of the package in the repository.", max_length=1024)
    secret_ref: meta.SecretRef | None = Field(
        None, description="Secret with the credentials for the repository."
    )


class CloneSource(meta.Model):
    """Create a new package as a clone of an upstream: a published revision, or a package in git."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "has(self.git) != has(self.upstreamRef)",
                message="spec.source.cloneFrom needs exactly one of git or upstreamRef",
            )
        )
    )

    type: Literal["git"] | None = Field(None, description="Type of the upstream; only git.")
    git: GitSource | None = Field(None, description="Clone a package from this git location.")
    upstream_ref: meta.ObjectRef | None = Field(
        None, description="Clone this PackageRevision (a published one)."
    )


class UpgradeSource(meta.Model):
    """Create a new revision of a downstream package by merging the changes between two upstream revisions."""

    old_upstream: meta.ObjectRef = Field(
        description="The upstream PackageRevision the package was cloned from."
    )
    new_upstream: meta.ObjectRef = Field(description="The upstream PackageRevision to upgrade to.")
    current_package: meta.ObjectRef = Field(description="The downstream PackageRevision to upgrade.")
    strategy: UpgradeStrategy = Field(UpgradeStrategy.RESOURCE_MERGE, description="How to merge.")


class PackageRevisionSource(meta.Model):
    """Where the content of a new revision comes from: exactly one of init, cloneFrom, copyFrom, upgrade."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "[has(self.init), has(self.cloneFrom), has(self.copyFrom), has(self.upgrade)]"
                ".filter(x, x).size() == 1",
                message="spec.source needs exactly one of init, cloneFrom, copyFrom or upgrade",
            )
        )
    )

    init: InitSource | None = Field(None, description="Create a new package.")
    clone_from: CloneSource | None = Field(None, description="Clone an upstream package.")
    copy_from: meta.ObjectRef | None = Field(
        None, description="Copy a published revision of the same package (a new revision of it)."
    )
    upgrade: UpgradeSource | None = Field(None, description="Upgrade a downstream package to a new upstream.")


class PackageMetadata(meta.Model):
    """Labels and annotations of the package's Kptfile."""

    labels: dict[str, Annotated[str, Field(max_length=256)]] | None = Field(
        None, description="Kptfile metadata.labels.", max_length=128
    )
    annotations: dict[str, Annotated[str, Field(max_length=8192)]] | None = Field(
        None, description="Kptfile metadata.annotations.", max_length=128
    )


class PackageRevisionSpec(meta.Model):
    """The desired state of a package revision."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "has(self.source) == has(oldSelf.source) && "
                "(!has(self.source) || self.source == oldSelf.source)",
                message="spec.source is immutable: it cannot be added, changed or removed after creation",
                field_path=".source",
            ),
            schema.CelRule(
                "oldSelf.hasValue() || !has(self.source) || self.lifecycle in ['Draft', 'Proposed']",
                optional_old_self=True,
                message_expression=(
                    "'a PackageRevision created from spec.source must start as Draft or Proposed, not ' "
                    "+ self.lifecycle"
                ),
                field_path=".lifecycle",
            ),
            schema.CelRule(
                f"!has(self.source) || self.workspaceName.matches('{DNS_LABEL_WORKSPACE}')",
                message=(
                    "spec.workspaceName of a new revision must be a DNS label: lowercase letters, digits and "
                    "'-', no dots"
                ),
                field_path=".workspaceName",
            ),
        )
    )

    package_name: PackageName
    repository: RepositoryName
    workspace_name: WorkspaceName
    lifecycle: Lifecycle = Field(
        Lifecycle.DRAFT,
        description="The desired lifecycle; the operator moves the revision in git to it.",
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "self == oldSelf || (oldSelf == 'Draft' && self == 'Proposed') || "
                "(oldSelf == 'Proposed' && self in ['Draft', 'Published']) || "
                "(oldSelf == 'Published' && self == 'DeletionProposed') || "
                "(oldSelf == 'DeletionProposed' && self == 'Published')",
                message_expression=(
                    "'spec.lifecycle cannot change from ' + oldSelf + ' to ' + self + '; allowed: "
                    "Draft->Proposed, Proposed->Draft, Proposed->Published, Published->DeletionProposed, "
                    "DeletionProposed->Published'"
                ),
                reason="FieldValueForbidden",
            )
        ),
    )
    source: PackageRevisionSource | None = Field(
        None, description="Where the content comes from; absent on revisions discovered in git. Immutable."
    )
    readiness_gates: list[kpt.ReadinessGate] | None = Field(
        None,
        description="Package conditions that must be True before publishing (from the Kptfile).",
        max_length=64,
        json_schema_extra=schema.keyed_list("conditionType"),
    )
    package_metadata: PackageMetadata | None = Field(
        None, description="Labels and annotations of the Kptfile."
    )


# --- status -------------------------------------------------------------------------------------------------


class PackageRevisionStatus(meta.Model):
    """What the operator knows about the revision: its number, where it lives in git, and how it is doing."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation last handled.", json_schema_extra=meta.INT64
    )
    revision: int | None = Field(
        None,
        ge=-1,
        description="0 while unpublished; 1, 2, ... once published; -1 for the branch placeholder.",
    )
    upstream_lock: kpt.UpstreamLock | None = Field(
        None, description="The upstream the package was cloned from."
    )
    self_lock: kpt.UpstreamLock | None = Field(None, description="Where this revision lives in git.")
    published_by: str | None = Field(None, description="Who approved the revision.")
    published_at: datetime | None = Field(None, description="When the revision was published.")
    deployment: bool | None = Field(None, description="Whether the repository is a deployment repository.")
    creation_source: CreationSource | None = Field(None, description="Which spec.source has been applied.")
    package_conditions: list[kpt.PackageCondition] | None = Field(
        None,
        description="Conditions of the package's Kptfile (readiness gates are checked against these).",
        json_schema_extra=schema.keyed_list("type"),
    )
    conditions: meta.Conditions | None = Field(
        None, description="Ready and Rendered, plus Reconciling/Stalled only while true."
    )


def _present(path: str, field: str, empty: str) -> str:
    """A CEL expression for an optional field that reads as `empty` when it is absent."""
    return f"(has({path}.{field}) ? {path}.{field} : {empty})"


def _metadata_map(root: str, which: str) -> str:
    path = f"{root}.spec.packageMetadata"
    return f"(has({path}) && has({path}.{which}) ? {path}.{which} : {{}})"


# Everything in spec but lifecycle. repository, packageName, workspaceName and source are immutable anyway;
# a new spec field must be added here too.
_FROZEN_SPEC_EQUAL = " && ".join(
    [
        _present("self.spec", "readinessGates", "[]")
        + " == "
        + _present("oldSelf.spec", "readinessGates", "[]"),
        f"{_metadata_map('self', 'labels')} == {_metadata_map('oldSelf', 'labels')}",
        f"{_metadata_map('self', 'annotations')} == {_metadata_map('oldSelf', 'annotations')}",
    ]
)

PACKAGE_REVISION_CRD = schema.CRDInfo(
    group="porch.kpt.dev",
    version="v1alpha2",
    kind="PackageRevision",
    plural="packagerevisions",
    singular="packagerevision",
    short_names=("rpkg",),
    printer_columns=(
        schema.PrinterColumn("Package", "string", ".spec.packageName"),
        schema.PrinterColumn("Workspace", "string", ".spec.workspaceName"),
        schema.PrinterColumn("Revision", "integer", ".status.revision"),
        schema.PrinterColumn("Latest", "string", schema.label_path(meta.LATEST_REVISION_LABEL)),
        schema.PrinterColumn("Lifecycle", "string", ".spec.lifecycle"),
        schema.PrinterColumn("Repository", "string", ".spec.repository"),
        schema.PrinterColumn("Ready", "string", schema.READY.json_path, priority=1),
        schema.AGE,
    ),
    selectable_fields=(
        ".spec.lifecycle",
        ".spec.repository",
        ".spec.packageName",
        ".spec.workspaceName",
        ".status.revision",
    ),
    rules=(
        REVISION_NAME_RULE,
        schema.CelRule(
            f"!(oldSelf.spec.lifecycle in {PUBLISHED_LIFECYCLES}) || "
            "(has(oldSelf.status) && has(oldSelf.status.revision) && oldSelf.status.revision == -1) || "
            f"({_FROZEN_SPEC_EQUAL})",
            message=(
                "a Published or DeletionProposed PackageRevision is frozen: only spec.lifecycle may change "
                "(readinessGates and packageMetadata cannot)"
            ),
            reason="FieldValueForbidden",
            field_path=".spec",
        ),
    ),
)


class PackageRevision(meta.KubeObject):
    """One revision of a kpt package in a repository, moving through Draft, Proposed, Published and
    DeletionProposed."""

    crd: ClassVar[schema.CRDInfo] = PACKAGE_REVISION_CRD

    api_version: str = Field(PACKAGE_REVISION_CRD.api_version, description="porch.kpt.dev/v1alpha2")
    kind: str = Field(PACKAGE_REVISION_CRD.kind, description="PackageRevision")
    spec: PackageRevisionSpec = Field(description="The desired state of the revision.")
    status: PackageRevisionStatus | None = Field(
        None, description="What the operator knows about the revision."
    )
