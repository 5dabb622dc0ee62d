"""PackageVariant (`config.porch.kpt.dev/v1alpha1`) and PackageVariantSet (`config.porch.kpt.dev/v1alpha2`).

A PackageVariant keeps one downstream package a clone of one upstream package (plus its own labels, package
context, pipeline and injected configuration); a PackageVariantSet stamps out PackageVariants for many targets
from a template whose expressions are CEL. Porch's schemas field by field, so Porch manifests apply unchanged;
unlike Porch, enums and defaults are in the schema.
"""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field

from porch_operator.models import kpt, meta, schema

_RESERVED_CONTEXT_KEYS = "['name', 'package-path']"
# Bounds on the lists of a PackageVariantSet whose items carry CEL rules: the API server multiplies a rule's
# cost by how many times it can run, and refuses the CRD when the total is too high.
_MAX_TARGETS = 128
_MAX_ITEMS = 64
_MAX_EXPRS = 32


class AdoptionPolicy(enum.StrEnum):
    """Whether an existing downstream revision not created by this variant is taken over."""

    ADOPT_EXISTING = "adoptExisting"
    ADOPT_NONE = "adoptNone"


class DeletionPolicy(enum.StrEnum):
    """What happens to the downstream revisions when the variant is deleted."""

    DELETE = "delete"
    ORPHAN = "orphan"


class Upstream(meta.Model):
    """The upstream package revision: a package of a registered repository, by workspace or revision."""

    repo: str = Field(description="Name of the upstream Repository.", min_length=1, max_length=63)
    package: str = Field(description="Path of the upstream package.", min_length=1, max_length=253)
    revision: int | None = Field(None, description="Revision number of the upstream (when no workspaceName).")
    workspace_name: str | None = Field(None, description="Workspace of the upstream revision.", max_length=63)


class Downstream(meta.Model):
    """Where the variant lives: a repository and a package path."""

    repo: str = Field(description="Name of the downstream Repository.", min_length=1, max_length=63)
    package: str = Field(description="Path of the downstream package.", min_length=1, max_length=253)


class PackageContext(meta.Model):
    """Changes to the package's package-context.yaml (`name` and `package-path` are set by porch)."""

    data: dict[str, str] | None = Field(
        None,
        description="Keys to set in the package context.",
        max_length=256,
        json_schema_extra=schema.k8s(
            schema.CelRule(
                f"!self.exists(k, k in {_RESERVED_CONTEXT_KEYS})",
                message="spec.packageContext.data may not set name or package-path: porch sets them",
            )
        ),
    )
    remove_keys: list[Annotated[str, Field(max_length=253)]] | None = Field(
        None,
        description="Keys to remove from the package context.",
        max_length=256,
        json_schema_extra=schema.k8s(
            schema.CelRule(
                f"!self.exists(k, k in {_RESERVED_CONTEXT_KEYS})",
                message="spec.packageContext.removeKeys may not remove name or package-path: porch sets them",
            )
        ),
    )


class InjectionSelector(meta.Model):
    """An in-cluster object whose data is injected into matching injection points of the package."""

    group: str | None = Field(None, description="API group of the object.")
    version: str | None = Field(None, description="API version of the object.")
    kind: str | None = Field(None, description="Kind of the object.")
    name: str = Field(description="Name of the object (in the variant's namespace).", min_length=1)


class DownstreamTarget(meta.Model):
    """A downstream PackageRevision this variant created or adopted."""

    name: str = Field(description="Name of the PackageRevision.")
    render_status: kpt.RenderStatus | None = Field(
        None, description="Outcome of the last render of its resources."
    )


class PackageVariantSpec(meta.Model):
    """The desired downstream package and what is changed in it."""

    upstream: Upstream = Field(description="The upstream package revision.")
    downstream: Downstream = Field(description="The downstream repository and package.")
    adoption_policy: AdoptionPolicy = Field(
        AdoptionPolicy.ADOPT_NONE, description="Whether to adopt existing downstream revisions."
    )
    deletion_policy: DeletionPolicy = Field(
        DeletionPolicy.DELETE,
        description="What happens to the downstream revisions when the variant is deleted.",
    )
    labels: dict[str, str] | None = Field(None, description="Labels put on the downstream PackageRevisions.")
    annotations: dict[str, str] | None = Field(
        None, description="Annotations put on the downstream PackageRevisions."
    )
    package_context: PackageContext | None = Field(None, description="Changes to package-context.yaml.")
    pipeline: kpt.Pipeline | None = Field(
        None, description="Functions prepended to the downstream package's Kptfile pipeline."
    )
    injectors: list[InjectionSelector] | None = Field(
        None, description="In-cluster objects to inject, in order."
    )


class PackageVariantStatus(meta.Model):
    """How the variant is doing."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation last handled.", json_schema_extra=meta.INT64
    )
    conditions: meta.Conditions | None = Field(
        None, description="Ready, plus Reconciling and Stalled only while true."
    )
    downstream_targets: list[DownstreamTarget] | None = Field(
        None,
        description="The downstream revisions this variant manages.",
        json_schema_extra=schema.keyed_list("name"),
    )


PACKAGE_VARIANT_CRD = schema.CRDInfo(
    group="config.porch.kpt.dev",
    version="v1alpha1",
    kind="PackageVariant",
    plural="packagevariants",
    singular="packagevariant",
    short_names=("pvar",),
    printer_columns=(
        schema.PrinterColumn("Upstream Repo", "string", ".spec.upstream.repo"),
        schema.PrinterColumn("Upstream Package", "string", ".spec.upstream.package"),
        schema.PrinterColumn("Downstream Repo", "string", ".spec.downstream.repo"),
        schema.PrinterColumn("Downstream Package", "string", ".spec.downstream.package"),
        schema.READY,
        schema.AGE,
    ),
)


class PackageVariant(meta.KubeObject):
    """Keeps a downstream package a customised clone of an upstream package, upgraded as upstream moves."""

    crd: ClassVar[schema.CRDInfo] = PACKAGE_VARIANT_CRD

    api_version: str = Field(PACKAGE_VARIANT_CRD.api_version, description="config.porch.kpt.dev/v1alpha1")
    kind: str = Field(PACKAGE_VARIANT_CRD.kind, description="PackageVariant")
    spec: PackageVariantSpec = Field(description="The desired downstream package.")
    status: PackageVariantStatus | None = Field(None, description="How the variant is doing.")


# --- PackageVariantSet --------------------------------------------------------------------------------------


class MapExpr(meta.Model):
    """One map entry whose key and value are given literally or as CEL expressions."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "!(has(self.key) && has(self.keyExpr))", message="a map entry takes key or keyExpr, not both"
            ),
            schema.CelRule(
                "!(has(self.value) && has(self.valueExpr))",
                message="a map entry takes value or valueExpr, not both",
            ),
        )
    )

    key: str | None = Field(None, description="The key.")
    key_expr: str | None = Field(None, description="A CEL expression giving the key.")
    value: str | None = Field(None, description="The value.")
    value_expr: str | None = Field(None, description="A CEL expression giving the value.")


class DownstreamTemplate(meta.Model):
    """The downstream of each generated variant, literally or as CEL expressions."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "!(has(self.repo) && has(self.repoExpr))",
                message="template.downstream takes repo or repoExpr, not both",
            ),
            schema.CelRule(
                "!(has(self.package) && has(self.packageExpr))",
                message="template.downstream takes package or packageExpr, not both",
            ),
        )
    )

    repo: str | None = Field(None, description="Downstream repository name.")
    repo_expr: str | None = Field(None, description="A CEL expression giving the downstream repository.")
    package: str | None = Field(None, description="Downstream package path.")
    package_expr: str | None = Field(None, description="A CEL expression giving the downstream package.")


class PackageContextTemplate(meta.Model):
    """Package context changes of each generated variant."""

    data: dict[str, str] | None = Field(None, description="Keys to set.")
    remove_keys: list[str] | None = Field(None, description="Keys to remove.")
    data_exprs: list[MapExpr] | None = Field(
        None, description="Keys to set, from CEL expressions.", max_length=_MAX_EXPRS
    )
    remove_key_exprs: list[str] | None = Field(None, description="CEL expressions giving keys to remove.")


class FunctionTemplate(kpt.Function):
    """A pipeline function of each generated variant; its config map may use CEL expressions."""

    config_map_exprs: list[MapExpr] | None = Field(
        None, description="Config map entries from CEL expressions.", max_length=_MAX_EXPRS
    )


class PipelineTemplate(meta.Model):
    """The pipeline of each generated variant."""

    mutators: list[FunctionTemplate] | None = Field(
        None, description="Mutators, in order.", max_length=_MAX_ITEMS
    )
    validators: list[FunctionTemplate] | None = Field(
        None, description="Validators, in order.", max_length=_MAX_ITEMS
    )


class InjectionSelectorTemplate(meta.Model):
    """An injector of each generated variant; its name is literal or a CEL expression."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "has(self.name) != has(self.nameExpr)",
                message="each template injector needs exactly one of name or nameExpr",
            )
        )
    )

    group: str | None = Field(None, description="API group of the object.")
    version: str | None = Field(None, description="API version of the object.")
    kind: str | None = Field(None, description="Kind of the object.")
    name: str | None = Field(None, description="Name of the object.")
    name_expr: str | None = Field(None, description="A CEL expression giving the name of the object.")


class PackageVariantTemplate(meta.Model):
    """How each generated PackageVariant differs from the default (upstream as is, downstream by target)."""

    downstream: DownstreamTemplate | None = Field(None, description="The downstream of each variant.")
    adoption_policy: AdoptionPolicy | None = Field(None, description="Adoption policy of each variant.")
    deletion_policy: DeletionPolicy | None = Field(None, description="Deletion policy of each variant.")
    labels: dict[str, str] | None = Field(None, description="Labels of each variant's revisions.")
    label_exprs: list[MapExpr] | None = Field(
        None, description="Labels from CEL expressions.", max_length=_MAX_EXPRS
    )
    annotations: dict[str, str] | None = Field(None, description="Annotations of each variant's revisions.")
    annotation_exprs: list[MapExpr] | None = Field(
        None, description="Annotations from CEL expressions.", max_length=_MAX_EXPRS
    )
    package_context: PackageContextTemplate | None = Field(None, description="Package context changes.")
    pipeline: PipelineTemplate | None = Field(None, description="Functions prepended to each pipeline.")
    injectors: list[InjectionSelectorTemplate] | None = Field(
        None, description="Injectors of each variant.", max_length=_MAX_ITEMS
    )


class RepositoryTarget(meta.Model):
    """A repository to create variants in, and the package names to use there."""

    name: str = Field(description="Name of the Repository.", min_length=1)
    package_names: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="Downstream package names (default: the upstream package's name)."
    )


class ObjectSelector(meta.LabelSelector):
    """Selects objects of one kind by label; each selected object yields one variant."""

    api_version: str = Field(description="apiVersion of the objects.", min_length=1)
    kind: str = Field(description="Kind of the objects.", min_length=1)
    name: str | None = Field(None, description="Name of the object (not used for selection, as in Porch).")


class Target(meta.Model):
    """Where variants go: exactly one of repositories, repositorySelector or objectSelector."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "[has(self.repositories), has(self.repositorySelector), has(self.objectSelector)]"
                ".filter(x, x).size() == 1",
                message="each target needs exactly one of repositories, repositorySelector or objectSelector",
            )
        )
    )

    repositories: list[RepositoryTarget] | None = Field(
        None, description="Explicit repositories.", min_length=1
    )
    repository_selector: meta.LabelSelector | None = Field(
        None, description="Repositories selected by label."
    )
    object_selector: ObjectSelector | None = Field(None, description="Objects selected by label.")
    template: PackageVariantTemplate | None = Field(None, description="How the generated variants differ.")


class PackageVariantSetSpec(meta.Model):
    """One upstream and the targets to create PackageVariants for."""

    upstream: Upstream = Field(description="The upstream package revision of every variant.")
    targets: list[Target] = Field(
        description="Where to create variants.", min_length=1, max_length=_MAX_TARGETS
    )


class PackageVariantSetStatus(meta.Model):
    """How the set is doing."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation last handled.", json_schema_extra=meta.INT64
    )
    conditions: meta.Conditions | None = Field(
        None, description="Ready, plus Reconciling and Stalled only while true."
    )
    package_variants: int | None = Field(
        None, description="How many PackageVariants the set currently generates."
    )


PACKAGE_VARIANT_SET_CRD = schema.CRDInfo(
    group="config.porch.kpt.dev",
    version="v1alpha2",
    kind="PackageVariantSet",
    plural="packagevariantsets",
    singular="packagevariantset",
    short_names=("pvarset",),
    printer_columns=(
        schema.PrinterColumn("Upstream Repo", "string", ".spec.upstream.repo"),
        schema.PrinterColumn("Upstream Package", "string", ".spec.upstream.package"),
        schema.READY,
        schema.AGE,
    ),
)


class PackageVariantSet(meta.KubeObject):
    """Creates and keeps one PackageVariant per target (repositories, or objects selected by label)."""

    crd: ClassVar[schema.CRDInfo] = PACKAGE_VARIANT_SET_CRD

    api_version: str = Field(PACKAGE_VARIANT_SET_CRD.api_version, description="config.porch.kpt.dev/v1alpha2")
    kind: str = Field(PACKAGE_VARIANT_SET_CRD.kind, description="PackageVariantSet")
    spec: PackageVariantSetSpec = Field(description="The upstream and the targets.")
    status: PackageVariantSetStatus | None = Field(None, description="How the set is doing.")
