"""kpt shapes that appear inside our kinds: pipeline functions, readiness gates and package conditions,
upstream locks, and the function result list a render produces (`kpt.dev/v1` FunctionResultList).

Leaf module. These mirror kpt's own Go types field by field, so Kptfiles, PackageVariants and render results
written by kpt or Porch parse unchanged.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field

from porch_operator.models import meta, schema


class Selector(meta.Model):
    """Selects resources of the package a function runs on; every field given must match."""

    api_version: str | None = Field(None, description="apiVersion of the selected resources.")
    kind: str | None = Field(None, description="Kind of the selected resources.")
    name: str | None = Field(None, description="Name of the selected resources.")
    namespace: str | None = Field(None, description="Namespace of the selected resources.")
    labels: dict[str, str] | None = Field(None, description="Labels the selected resources must carry.")
    annotations: dict[str, str] | None = Field(
        None, description="Annotations the selected resources must carry."
    )


class Function(meta.Model):
    """A KRM function in a kpt pipeline: a container image (or an executable) and its configuration."""

    image: str | None = Field(
        None,
        description="Container image of the function, e.g. ghcr.io/kptdev/krm-functions-catalog/set-labels.",
    )
    exec: str | None = Field(None, description="Path of an executable to run instead of an image.")
    tag: str | None = Field(None, description="Tag or semver range of the image, when `image` has none.")
    name: str | None = Field(None, description="Identifier of this function in the pipeline.")
    config_path: str | None = Field(None, description="A file of the package used as the function's config.")
    config_map: dict[str, str] | None = Field(
        None, description="Inline ConfigMap data used as the function's config."
    )
    selectors: list[Selector] | None = Field(None, description="Run only on resources matching any of these.")
    exclude: list[Selector] | None = Field(None, description="Skip resources matching any of these.")


class Pipeline(meta.Model):
    """The functions a package runs on render: mutators first, then validators."""

    mutators: list[Function] | None = Field(
        None, description="Functions that may change resources, in order."
    )
    validators: list[Function] | None = Field(
        None, description="Functions that only check resources, in order."
    )


class ReadinessGate(meta.Model):
    """A condition that must be True in the package before the revision may be published."""

    condition_type: str = Field(description="Type of the package condition to wait for.", max_length=316)


class PackageCondition(meta.Model):
    """A condition from the package's Kptfile (`status.conditions`), as kpt writes it."""

    type: str = Field(description="Type of the condition.", max_length=316)
    status: meta.ConditionStatus = Field(description="True, False or Unknown.")
    reason: str | None = Field(None, description="A CamelCase word for why the condition is in its status.")
    message: str | None = Field(None, description="A human readable message.")


class GitLock(meta.Model):
    """An exact git location of a package: repository, directory, ref and commit."""

    repo: str | None = Field(None, description="URL of the git repository.")
    directory: str | None = Field(None, description="Directory of the package in the repository.")
    ref: str | None = Field(None, description="Branch or tag name the commit was found at.")
    commit: str | None = Field(None, description="Commit SHA.")


class UpstreamLock(meta.Model):
    """Where a package came from (or where it lives), resolved to a commit (kpt's `upstreamLock`)."""

    type: str | None = Field(None, description="Kind of origin; `git`.")
    git: GitLock | None = Field(None, description="The git location.")


class Severity(enum.StrEnum):
    """How serious a function result is."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class ResourceRef(meta.Model):
    """The resource a result is about."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class FieldRef(meta.Model):
    """The field of a resource a result is about, with its current and proposed values."""

    path: str | None = Field(None, description="JSON path of the field.")
    current_value: Any = Field(
        None, description="The value now.", json_schema_extra=schema.k8s(preserve_unknown_fields=True)
    )
    proposed_value: Any = Field(
        None, description="The value proposed.", json_schema_extra=schema.k8s(preserve_unknown_fields=True)
    )


class FileRef(meta.Model):
    """The file (and document index in it) a result is about."""

    path: str | None = None
    index: int | None = None


class ResultItem(meta.Model):
    """One message a function reported."""

    message: str | None = None
    severity: Severity | None = None
    resource_ref: ResourceRef | None = None
    field: FieldRef | None = None
    file: FileRef | None = None
    tags: dict[str, str] | None = None


class FunctionResult(meta.Model):
    """What one function of a pipeline reported."""

    image: str | None = Field(None, description="The function's image (or `exec`).")
    exec: str | None = Field(None, description="The function's executable (or `image`).")
    stderr: str | None = Field(None, description="What the function wrote to stderr (may be truncated).")
    exit_code: int = Field(description="The function's exit code.")
    results: list[ResultItem] | None = Field(None, description="Structured results.")


class FunctionResultList(meta.Model):
    """The results of one render (`kpt.dev/v1` FunctionResultList)."""

    api_version: str | None = Field(None, description="kpt.dev/v1")
    kind: str | None = Field(None, description="FunctionResultList")
    exit_code: int = Field(0, description="0 when every function succeeded.")
    items: list[FunctionResult] | None = Field(None, description="One entry per function that ran.")


class RenderStatus(meta.Model):
    """The outcome of the last render of a package: the function results and an error, if it failed."""

    result: FunctionResultList | None = Field(None, description="Results of the functions that ran.")
    error: str | None = Field(None, description="Why the render failed; empty when it succeeded.")
