"""Package (`porch.kpt.dev/v1alpha2`): a read-only summary of one package in one repository.

The operator keeps one per package, named `<repository>.<package path with / replaced by .>`
(`packagerevision.package_object_name`): which revision is the latest published one, and how many revisions
the package has in each lifecycle. Only the operator identity may create or change it (admission policy).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from porch_operator.models import meta, packagerevision, schema


class PackageSpec(meta.Model):
    """Which package this summary is about."""

    repository: packagerevision.RepositoryName
    package_name: packagerevision.PackageName


class LifecycleCounts(meta.Model):
    """How many revisions of the package are in each lifecycle (the branch placeholder not counted)."""

    draft: int = Field(0, ge=0, description="Draft revisions.")
    proposed: int = Field(0, ge=0, description="Proposed revisions.")
    published: int = Field(0, ge=0, description="Published revisions.")
    deletion_proposed: int = Field(0, ge=0, description="DeletionProposed revisions.")


class PackageStatus(meta.Model):
    """The state of the package, derived from its revisions."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation last handled.", json_schema_extra=meta.INT64
    )
    latest_revision: int | None = Field(
        None, ge=0, description="Revision number of the latest published revision (0: none published)."
    )
    latest_revision_name: str | None = Field(
        None, description="Object name of the latest published PackageRevision.", max_length=253
    )
    revision_counts: LifecycleCounts | None = Field(None, description="Number of revisions per lifecycle.")
    conditions: meta.Conditions | None = Field(None, description="Ready, as usual.")


PACKAGE_CRD = schema.CRDInfo(
    group="porch.kpt.dev",
    version="v1alpha2",
    kind="Package",
    plural="packages",
    singular="package",
    short_names=("porchpkg",),
    printer_columns=(
        schema.PrinterColumn("Package", "string", ".spec.packageName"),
        schema.PrinterColumn("Repository", "string", ".spec.repository"),
        schema.PrinterColumn("Latest Revision", "integer", ".status.latestRevision"),
        schema.PrinterColumn("Latest", "string", ".status.latestRevisionName", priority=1),
        schema.AGE,
    ),
    selectable_fields=(".spec.repository", ".spec.packageName"),
    rules=(
        schema.CelRule(
            "self.metadata.name == self.spec.repository + '.' + self.spec.packageName.replace('/', '.')",
            message_expression=(
                "'metadata.name must be ' + self.spec.repository + '.' + "
                "self.spec.packageName.replace('/', '.') + "
                "' (<repository>.<packageName with / replaced by .>)'"
            ),
            field_path=".metadata.name",
        ),
    ),
)


class Package(meta.KubeObject):
    """A read-only summary of one package in a repository, kept by the operator."""

    crd: ClassVar[schema.CRDInfo] = PACKAGE_CRD

    api_version: str = Field(PACKAGE_CRD.api_version, description="porch.kpt.dev/v1alpha2")
    kind: str = Field(PACKAGE_CRD.kind, description="Package")
    spec: PackageSpec = Field(description="Which package this is.")
    status: PackageStatus | None = Field(None, description="The state of the package.")
