"""FunctionConfig (`config.porch.kpt.dev/v1alpha1`): how the function runner runs one KRM function.

Porch's schema field by field. The object name is the function's short image name (e.g. `set-namespace`);
the spec lists the registry prefixes it applies to and at least one executor: a function pod, an executable,
or an in-process implementation (`goExecutor`, served here by the runner's builtin Python functions).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from porch_operator.models import meta, schema

Quantity = int | str
"""A Kubernetes resource quantity: a number or a string such as `500m` or `1Gi`."""

_FREE_FORM = schema.k8s(preserve_unknown_fields=True)


class ResourceRequirements(meta.Model):
    """Compute resources of a container; requests and limits each replace the template's when given."""

    limits: dict[str, Quantity] | None = Field(None, description="Most a container may use, per resource.")
    requests: dict[str, Quantity] | None = Field(
        None, description="What a container is guaranteed, per resource."
    )


class ContainerOverrides(meta.Model):
    """Changes to a container of the function pod template."""

    resources: ResourceRequirements | None = Field(None, description="Compute resources.")
    env_from: list[dict[str, Any]] | None = Field(
        None, description="Replaces the container's envFrom (core EnvFromSource items)."
    )
    env: list[dict[str, Any]] | None = Field(
        None, description="Replaces the container's env (core EnvVar items)."
    )


class PodTemplateOverrides(meta.Model):
    """Changes to the function pod template for this function."""

    service_account_name: str | None = Field(None, description="Service account of the function pods.")
    security_context: dict[str, Any] | None = Field(
        None, description="Pod security context (core PodSecurityContext).", json_schema_extra=_FREE_FORM
    )
    init_container: ContainerOverrides | None = Field(None, description="Changes to the init container.")
    container: ContainerOverrides | None = Field(None, description="Changes to the function container.")


class PodExecutor(meta.Model):
    """Run the function in pods of its image, kept warm between calls."""

    tags: list[str] | None = Field(None, description="Image tags served this way; the first is pre-started.")
    time_to_live: str = Field("30m", description="How long an idle pod is kept (a duration such as 30m).")
    max_parallel_executions: int | None = Field(None, ge=1, description="Most pods of this function at once.")
    preferred_max_queue_length: int | None = Field(
        None, ge=0, description="Calls waiting for one pod before another pod is started."
    )
    template_overrides: PodTemplateOverrides | None = Field(None, description="Changes to the pod template.")


class BinaryExecutor(meta.Model):
    """Run the function as an executable on the runner."""

    tags: list[str] = Field(description="Image tags served by this executable.", min_length=1)
    path: str = Field(description="Path of the executable, absolute or relative to the functions directory.")


class GoExecutor(meta.Model):
    """Run the function in the runner's own process (builtin implementations)."""

    tags: list[str] = Field(description="Image tags served in process.", min_length=1)
    id: str | None = Field(None, description="Which builtin implementation (default: the object name).")


class FunctionConfigSpec(meta.Model):
    """Which function this is and how to run it: at least one executor."""

    model_config = ConfigDict(
        json_schema_extra=schema.k8s(
            schema.CelRule(
                "has(self.podExecutor) || has(self.binaryExecutor) || has(self.goExecutor)",
                message="a FunctionConfig needs at least one of podExecutor, binaryExecutor or goExecutor",
                reason="FieldValueRequired",
            )
        )
    )

    image: str = Field(description="Short image name of the function, without registry or tag.", min_length=1)
    prefixes: list[str] | None = Field(
        None, description="Registry prefixes this applies to; an empty string means the default prefix."
    )
    pod_executor: PodExecutor | None = Field(None, description="Run in function pods.")
    binary_executor: BinaryExecutor | None = Field(None, description="Run as an executable.")
    go_executor: GoExecutor | None = Field(None, description="Run in process.")


class FunctionConfigStatus(meta.Model):
    """Which generation each component has applied, or why it could not."""

    api_server_observed_generation: int | None = Field(
        None, description="Generation applied by the API side."
    )
    function_runner_observed_generation: int | None = Field(
        None, description="Generation applied by the function runner."
    )
    controller_observed_generation: int | None = Field(
        None, description="Generation applied by the operator."
    )
    error: str | None = Field(None, description="Why the configuration could not be applied.")


FUNCTION_CONFIG_CRD = schema.CRDInfo(
    group="config.porch.kpt.dev",
    version="v1alpha1",
    kind="FunctionConfig",
    plural="functionconfigs",
    singular="functionconfig",
    short_names=("fnconfig",),
    printer_columns=(
        schema.PrinterColumn("Image", "string", ".spec.image"),
        schema.AGE,
    ),
)


class FunctionConfig(meta.KubeObject):
    """How the function runner runs one KRM function (pods, an executable, or in process)."""

    crd: ClassVar[schema.CRDInfo] = FUNCTION_CONFIG_CRD

    api_version: str = Field(FUNCTION_CONFIG_CRD.api_version, description="config.porch.kpt.dev/v1alpha1")
    kind: str = Field(FUNCTION_CONFIG_CRD.kind, description="FunctionConfig")
    spec: FunctionConfigSpec = Field(description="Which function and how to run it.")
    status: FunctionConfigStatus | None = Field(None, description="What each component applied.")
