"""PackageRevisionResources (`porch.kpt.dev/v1alpha2`): the files of one package revision, editable as text.

One object per PackageRevision, with the same name. `spec.resources` maps each file path of the package to its
text. Users change it only while the revision is a Draft (admission policy on the `porch.kpt.dev/lifecycle`
label the operator mirrors); the operator renders the new content and records the outcome in status. The
content is bounded (`MAX_RESOURCES_CHARS` in total) so the object stays well inside etcd's limit; a larger
package still works in git, and its object says so in a condition instead of holding part of it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from porch_operator.models import kpt, meta, packagerevision, schema

MAX_RESOURCES_CHARS = 1024 * 1024
"""The most file text (in characters, summed over all files) one PackageRevisionResources may hold."""

MAX_FILES = 10000
"""The most files one PackageRevisionResources may hold."""

MAX_PATH_LENGTH = 1024
"""The longest file path in a package."""

_VALID_PATH = (
    f"path.size() <= {MAX_PATH_LENGTH} && path.matches(r'^[^/\\x00]+(/[^/\\x00]+)*$') && "
    "!path.split('/').exists(s, s == '.' || s == '..' || s == '.git')"
)
_TOTAL_CHARS = "self.map(path, self[path].size()).sum()"

# Static messages: a messageExpression naming the offending path or the total would cost more than the API
# server allows for a map this large.
RESOURCES_RULES = (
    schema.CelRule(
        f"self.all(path, {_VALID_PATH})",
        message=(
            "file paths in spec.resources must be relative and normalised: no leading '/', no empty, "
            f"'.', '..' or '.git' segments, no NUL characters, at most {MAX_PATH_LENGTH} characters"
        ),
    ),
    schema.CelRule(
        f"{_TOTAL_CHARS} <= {MAX_RESOURCES_CHARS}",
        message=(
            f"spec.resources holds more than {MAX_RESOURCES_CHARS} characters (1 MiB) of file text in total; "
            "a package this large is edited in git"
        ),
    ),
)


class PackageRevisionResourcesSpec(meta.Model):
    """The files of a package revision."""

    package_name: packagerevision.PackageName
    repository: packagerevision.RepositoryName
    workspace_name: packagerevision.WorkspaceName
    resources: dict[str, Annotated[str, Field(max_length=MAX_RESOURCES_CHARS)]] | None = Field(
        None,
        description=(
            "Every file of the package: path relative to the package root -> text. At most 1 MiB of text in "
            "total; changes are accepted only while the revision is a Draft."
        ),
        max_length=MAX_FILES,
        json_schema_extra=schema.k8s(*RESOURCES_RULES),
    )


class PackageRevisionResourcesStatus(meta.Model):
    """The outcome of the last render of these files."""

    observed_generation: int | None = Field(
        None,
        description="The metadata.generation whose content was last rendered.",
        json_schema_extra=meta.INT64,
    )
    render_status: kpt.RenderStatus | None = Field(None, description="Results of the last render.")
    conditions: meta.Conditions | None = Field(None, description="Rendered, plus Ready/Stalled as usual.")


PACKAGE_REVISION_RESOURCES_CRD = schema.CRDInfo(
    group="porch.kpt.dev",
    version="v1alpha2",
    kind="PackageRevisionResources",
    plural="packagerevisionresources",
    singular="packagerevisionresources",
    short_names=("prr",),
    printer_columns=(
        schema.PrinterColumn("Package", "string", ".spec.packageName"),
        schema.PrinterColumn("Workspace", "string", ".spec.workspaceName"),
        schema.PrinterColumn("Repository", "string", ".spec.repository"),
        schema.PrinterColumn("Lifecycle", "string", schema.label_path(meta.LIFECYCLE_LABEL)),
        schema.AGE,
    ),
    selectable_fields=(".spec.repository", ".spec.packageName", ".spec.workspaceName"),
    rules=(packagerevision.REVISION_NAME_RULE,),
)


class PackageRevisionResources(meta.KubeObject):
    """The files of one package revision (same name as the PackageRevision), editable while it is a Draft."""

    crd: ClassVar[schema.CRDInfo] = PACKAGE_REVISION_RESOURCES_CRD

    api_version: str = Field(PACKAGE_REVISION_RESOURCES_CRD.api_version, description="porch.kpt.dev/v1alpha2")
    kind: str = Field(PACKAGE_REVISION_RESOURCES_CRD.kind, description="PackageRevisionResources")
    spec: PackageRevisionResourcesSpec = Field(description="The files of the revision.")
    status: PackageRevisionResourcesStatus | None = Field(None, description="The outcome of the last render.")
