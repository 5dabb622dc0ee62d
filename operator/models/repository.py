"""Repository (`config.porch.kpt.dev/v1alpha1`): a git (or OCI) repository that holds kpt packages.

Porch's schema field by field, so Porch's Repository manifests apply unchanged. The location of a repository
(type, git repo/branch/directory, OCI registry) is immutable: the operator's objects and git branches are
derived from it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from porch_operator.models import meta, schema


class RepositoryType(enum.StrEnum):
    """Where the packages are stored."""

    GIT = "git"
    OCI = "oci"


class GitRepository(meta.Model):
    """A git repository: its URL, the branch that holds published packages, and where packages live in it."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "(has(self.directory) ? self.directory : '') == "
                "(has(oldSelf.directory) ? oldSelf.directory : '')",
                message=(
                    "spec.git.directory is immutable: it cannot be added, changed or removed after creation"
                ),
                field_path=".directory",
            )
        )
    )

    repo: str = Field(
        description="URL of the repository, e.g. https://github.com/org/blueprints.git.",
        min_length=1,
        max_length=2048,
        json_schema_extra=schema.k8s(schema.immutable("spec.git.repo")),
    )
    branch: str = Field(
        "main",
        description="Branch holding the published packages.",
        min_length=1,
        max_length=253,
        json_schema_extra=schema.k8s(schema.immutable("spec.git.branch")),
    )
    create_branch: bool | None = Field(
        None, description="Create the branch (with an empty initial commit) when it does not exist."
    )
    directory: str | None = Field(
        None,
        description="Directory of the repository that holds the packages; empty or '/' means the root.",
        max_length=1024,
    )
    secret_ref: meta.SecretRef | None = Field(
        None, description="Secret with the credentials for the repository."
    )
    author: str | None = Field(None, description="Commit author name (defaults to the requesting user).")
    email: str | None = Field(None, description="Commit author email (defaults to the requesting user).")


class OciRepository(meta.Model):
    """An OCI registry holding packages as images (not served yet)."""

    registry: str = Field(
        description="Registry and repository prefix of the package images.",
        min_length=1,
        max_length=2048,
        json_schema_extra=schema.k8s(schema.immutable("spec.oci.registry")),
    )
    secret_ref: meta.SecretRef | None = Field(
        None, description="Secret with the credentials for the registry."
    )


class RepositorySync(meta.Model):
    """When the repository is read again in full."""

    schedule: str | None = Field(
        None, description="A 5-field cron schedule for full syncs, e.g. '*/10 * * * *'.", max_length=256
    )
    run_once_at: datetime | None = Field(None, description="Run one full sync at (or right after) this time.")


class RepositorySpec(meta.Model):
    """The desired state of a Repository."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "self.type != 'git' || has(self.git)",
                message="spec.git is required when spec.type is git",
                reason="FieldValueRequired",
                field_path=".git",
            ),
            schema.CelRule(
                "self.type != 'oci' || has(self.oci)",
                message="spec.oci is required when spec.type is oci",
                reason="FieldValueRequired",
                field_path=".oci",
            ),
        )
    )

    description: str | None = Field(None, description="Free text describing the repository.")
    deployment: bool | None = Field(
        None, description="A deployment repository: its packages are ready to be applied to a cluster."
    )
    type: RepositoryType = Field(
        description="Type of the repository: git or oci.",
        json_schema_extra=schema.k8s(schema.immutable("spec.type")),
    )
    content: Literal["Package", ""] = Field("Package", description="Deprecated; always Package.")
    sync: RepositorySync | None = Field(None, description="Schedule of full syncs.")
    git: GitRepository | None = Field(None, description="The git repository, when type is git.")
    oci: OciRepository | None = Field(None, description="The OCI registry, when type is oci.")


class RepositoryStatus(meta.Model):
    """What the operator last saw in the repository."""

    conditions: meta.Conditions | None = Field(
        None, description="Ready (plus Reconciling/Stalled only while true), each with observedGeneration."
    )
    observed_generation: int | None = Field(
        None, description="The metadata.generation last handled.", json_schema_extra=meta.INT64
    )
    last_full_sync_time: datetime | None = Field(None, description="When the last full sync succeeded.")
    next_full_sync_time: datetime | None = Field(None, description="When the next full sync is due.")
    observed_run_once_at: datetime | None = Field(None, description="The spec.sync.runOnceAt last acted on.")
    package_count: int | None = Field(None, description="Number of package revisions found at the last sync.")
    git_commit_hash: str | None = Field(None, description="Commit of the branch at the last sync.")


REPOSITORY_CRD = schema.CRDInfo(
    group="config.porch.kpt.dev",
    version="v1alpha1",
    kind="Repository",
    plural="repositories",
    singular="repository",
    short_names=("repo",),
    printer_columns=(
        schema.PrinterColumn("Type", "string", ".spec.type"),
        schema.PrinterColumn("Address", "string", ".spec['git','oci']['repo','registry']"),
        schema.PrinterColumn("Branch", "string", ".spec.git.branch"),
        schema.PrinterColumn("Deployment", "boolean", ".spec.deployment"),
        schema.READY,
        schema.AGE,
    ),
    rules=(
        schema.CelRule(
            f"self.metadata.name.size() <= 63 && self.metadata.name.matches('{schema.DNS_LABEL}')",
            message=(
                "a Repository name must be a DNS label: at most 63 lowercase letters, digits and '-', "
                "starting and ending with a letter or digit"
            ),
            field_path=".metadata.name",
        ),
    ),
)


class Repository(meta.KubeObject):
    """A git repository of kpt packages that porch manages (registers, syncs and publishes to)."""

    crd: ClassVar[schema.CRDInfo] = REPOSITORY_CRD

    api_version: str = Field(REPOSITORY_CRD.api_version, description="config.porch.kpt.dev/v1alpha1")
    kind: str = Field(REPOSITORY_CRD.kind, description="Repository")
    spec: RepositorySpec = Field(description="The desired state of the repository.")
    status: RepositoryStatus | None = Field(None, description="What the operator last saw in the repository.")
