"""The base of every model and the Kubernetes shapes every kind shares: object metadata, conditions,
references, label selectors; and the label keys the operator and the admission policies agree on.

Leaf module (stdlib and pydantic only). Python names are snake_case, wire names camelCase; unknown fields are
ignored on parse, so an older operator can read objects written under a newer CRD during a rollout.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from porch_operator.models import schema

LATEST_REVISION_LABEL = "porch.kpt.dev/latest-revision"
"""On every published PackageRevision: "true" on the highest revision of its package, "false" on the others.
Maintained by the operator; only the operator identity may set or change it (admission policy)."""

LIFECYCLE_LABEL = "porch.kpt.dev/lifecycle"
"""On every PackageRevisionResources: the lifecycle of its PackageRevision, mirrored by the operator. Users
may change the resources only while it is "Draft"; only the operator identity may set or change it."""

REPOSITORY_LABEL = "porch.kpt.dev/repository"
"""On objects the operator derives from a Repository (revisions, resources, packages): its name."""

PUSH_ON_RENDER_FAILURE_ANNOTATION = "porch.kpt.dev/push-on-render-failure"
"""Annotation: "true" keeps the files of a Draft even when rendering them fails (Porch's meaning)."""

CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
INT64: dict[str, Any] = {"format": "int64"}


class Model(BaseModel):
    """Base of every model: camelCase on the wire, unknown fields ignored (rollouts of newer CRDs)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body Kubernetes expects: camelCase keys, unset (None) fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ConditionStatus(enum.StrEnum):
    """The status of a condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """One aspect of the object's state (the Kubernetes metav1.Condition shape)."""

    type: str = Field(
        description="Type of condition in CamelCase or in foo.example.com/CamelCase.",
        max_length=316,
        pattern=CONDITION_TYPE,
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    observed_generation: int | None = Field(
        None,
        ge=0,
        description="The metadata.generation the condition was set for.",
        json_schema_extra=INT64,
    )
    last_transition_time: datetime = Field(
        description="When the condition last changed from one status to another."
    )
    reason: str = Field(
        description="A CamelCase word for why the condition is in its status.",
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON,
    )
    message: str = Field(
        description="A human readable message about the transition (may be empty).", max_length=32768
    )


Conditions = Annotated[list[Condition], Field(json_schema_extra=schema.keyed_list("type"))]
"""A condition list, merged by `type` under server-side apply."""


class ObjectRef(Model):
    """A reference to another object of the same kind in the same namespace."""

    name: str = Field(description="Name of the object.", min_length=1, max_length=253)


class SecretRef(Model):
    """A reference to a Secret in the same namespace."""

    name: str = Field(description="Name of the Secret.", min_length=1, max_length=253)


class LabelSelectorRequirement(Model):
    """One requirement of a label selector: key, operator and values."""

    key: str = Field(description="The label key the requirement applies to.")
    operator: str = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[str] | None = Field(
        None, description="Values for In and NotIn; empty for Exists/DoesNotExist."
    )


class LabelSelector(Model):
    """A Kubernetes label selector (the requirements are ANDed)."""

    match_labels: dict[str, str] | None = Field(
        None, description="Labels that must all be present with these values."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        None, description="Set-based requirements."
    )


class OwnerReference(Model):
    """An owner of an object (Kubernetes garbage collection)."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Model):
    """The metadata of a Kubernetes object, as far as the operator uses it (not in the CRD schema)."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None
    owner_references: list[OwnerReference] | None = None


class KubeObject(Model):
    """Base of every kind: apiVersion, kind, metadata; subclasses add `spec`, `status` and the ClassVar `crd`.

    The schema of `metadata` is not generated from `ObjectMeta`: the API server owns it.
    """

    crd: ClassVar[schema.CRDInfo]

    api_version: str = Field(description="The versioned schema of this representation of the object.")
    kind: str = Field(description="The kind of the object.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
